"""The projection of `verivote sim national` (issue 17, "Speed and memory"): how long the
whole national election's verification would take on M machines of C cores, from the per-core
rate of each kind of work measured at scale F and a per-task overhead (a process pool's or
Ray's).

The model: each kind of work (a ballot's proofs, a shuffle, a partial decryption, ...) costs
`cpu_s / units` CPU seconds per unit, linear in its units (ciphertexts, so that a 30-seat
row weighs 30 times a 1-seat one); at F = 1 it has `units_f1` units in `tasks_f1` tasks (the
verifier's own split), each task also costing the overhead. Spread over M·C cores, the time is
the total CPU over M·C, but never less than the longest single task (a task runs on one
core); the projection is the larger of the two, and says which one bounds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """One kind of verification work: measured `cpu_s` for `units` at scale F; at F = 1,
    `units_f1` units in `tasks_f1` tasks, the largest task `largest_task_units_f1` units."""

    name: str
    unit: str
    units: float
    cpu_s: float
    units_f1: float
    tasks_f1: float
    largest_task_units_f1: float

    @property
    def cpu_per_unit(self) -> float:
        return self.cpu_s / self.units if self.units > 0 else 0.0

    @property
    def core_s_f1(self) -> float:
        return self.cpu_per_unit * self.units_f1

    @property
    def longest_task_s(self) -> float:
        return self.cpu_per_unit * self.largest_task_units_f1


@dataclass(frozen=True)
class Projection:
    """Hours of the whole verification on `machines` × `cores`; `bound`: "cores" when the
    total work bounds it, else the name of the kind whose single task does."""

    hours: float
    spread_hours: float
    longest_task_hours: float
    bound: str
    core_hours: float
    overhead_core_hours: float
    tasks: float
    machines: int
    cores: int
    overhead_s: float


def project(
    kinds: Sequence[Kind], overhead_s: float, machines: int = 32, cores: int = 16
) -> Projection:
    """The projection of `kinds` (module docstring) with `overhead_s` core seconds a task."""
    if machines < 1 or cores < 1 or overhead_s < 0:
        raise ValueError("machines and cores must be at least 1 and the overhead at least 0")
    work = sum(k.core_s_f1 for k in kinds)
    tasks = sum(k.tasks_f1 for k in kinds)
    overhead = tasks * overhead_s
    spread = (work + overhead) / (machines * cores)
    longest = max(kinds, key=lambda k: k.longest_task_s + overhead_s, default=None)
    longest_s = 0.0 if longest is None else longest.longest_task_s + overhead_s
    bound = "cores" if spread >= longest_s or longest is None else longest.name
    return Projection(
        hours=max(spread, longest_s) / 3600,
        spread_hours=spread / 3600,
        longest_task_hours=longest_s / 3600,
        bound=bound,
        core_hours=work / 3600,
        overhead_core_hours=overhead / 3600,
        tasks=tasks,
        machines=machines,
        cores=cores,
        overhead_s=overhead_s,
    )
