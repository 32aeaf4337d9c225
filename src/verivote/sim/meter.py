"""Measuring a stage of `verivote sim national` (issue 17, item 5): wall time, CPU seconds of
this process and of its worker processes, and peak resident memory, from the kernel (Linux
/proc and getrusage), as `verivote.bench.tehran` measures its steps.

A stage's CPU is this process's (`time.process_time`), plus that of the children it reaped
during the stage (`RUSAGE_CHILDREN`: a process pool started and shut down inside the stage),
plus what its live children spent during the stage (/proc/<pid>/stat: a pool still running).
Peak memory is this process's VmHWM, reset at the stage's start (/proc/self/clear_refs), and
the largest child's: a live child's VmHWM, or the largest reaped child's ru_maxrss (the
largest ever reaped, not only during the stage).
"""

from __future__ import annotations

import contextlib
import resource
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from verivote.bench.procfs import children, cpu_of, peak_kib, reset_peak


def _reaped() -> tuple[float, int]:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss


@dataclass
class Stage:
    """One stage's figures: `items` of `unit` in `wall_s` seconds and `cpu_s` CPU seconds,
    `items_f1` of them in the whole national election; `cores`: the processes it may use."""

    name: str
    unit: str
    items: int = 0
    items_f1: float = 0.0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_mib: float = 0.0
    peak_child_mib: float = 0.0
    cores: int = 1
    note: str = ""

    @property
    def per_core_s(self) -> float:
        """Items per CPU second (0 if it took no measurable CPU)."""
        return self.items / self.cpu_s if self.cpu_s > 0 else 0.0

    @property
    def core_hours_f1(self) -> float:
        """This stage's CPU at F = 1, linear in its items."""
        return self.cpu_s * self.items_f1 / self.items / 3600 if self.items else 0.0

    def as_json(self) -> dict[str, object]:
        return {
            "stage": self.name, "unit": self.unit, "items": self.items,
            "wall_s": round(self.wall_s, 3), "cpu_s": round(self.cpu_s, 3),
            "items_per_core_s": round(self.per_core_s, 2),
            "peak_rss_mib": round(self.peak_mib, 1),
            "peak_rss_worker_mib": round(self.peak_child_mib, 1),
            "processes": self.cores, "items_f1": round(self.items_f1),
            "core_hours_f1": round(self.core_hours_f1, 4), "note": self.note,
        }  # fmt: skip


@dataclass
class Meter:
    """`with meter.stage(name, unit) as s: ...; s.items = n`: measures the block."""

    stages: list[Stage] = field(default_factory=list)

    @contextlib.contextmanager
    def stage(self, name: str, unit: str, cores: int = 1) -> Iterator[Stage]:
        live = children()
        reset_peak("self")
        for pid in live:
            reset_peak(pid)
        before = {pid: cpu_of(pid) for pid in live}
        reaped0, _ = _reaped()
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        stage = Stage(name, unit, cores=cores)
        yield stage
        stage.wall_s = time.perf_counter() - t0
        now = children()
        reaped, reaped_rss = _reaped()
        spent = sum(cpu_of(pid) - before.get(pid, 0.0) for pid in now)
        stage.cpu_s = max(0.0, time.process_time() - cpu0 + reaped - reaped0 + spent)
        stage.peak_mib = peak_kib("self") / 1024
        child = max((peak_kib(pid) for pid in now), default=0)
        stage.peak_child_mib = max(child, reaped_rss if reaped > reaped0 else 0) / 1024
        self.stages.append(stage)
