"""`verivote bench mix` (issue 16, "Speed"): the verifiable shuffle against its floor.

N ciphertexts are built as N/W rows of W (fresh encryptions of random elements under a random
election key). In one run, on this machine, it measures:

- prove: `shuffle` + `prove_shuffle`, and verify: `check_shuffle`, per ciphertext, on one
  core (no pool) and on J processes (a `shuffle_pool`, started and warmed up before the
  clock runs, as a mixer keeps its pool);
- the floor: exactly the exponentiations the prover and the verifier compute
  (`verivote.crypto.shuffle.exponentiations`), performed one by one, each with the function
  the code uses for its base: `pow_g` for g, the election key's fixed-base `pow_k`, `power_of`
  for h, and `group.pow` for every variable base (distinct random elements).

The ratio floor ÷ step is 1.0 when the step costs nothing but its exponentiations; below 1 is
overhead (for ristretto255 mostly libsodium's point additions, ~12 µs each, and hashing).
Where the group has a multi-exponentiation (eg4096), the step computes the products ∏ aᵢ^kᵢ
for far less than their powers one by one, and the ratio exceeds 1.

The generators h, h₀ … are derived before the clock runs (public, the same for every mixer
and verifier of a district, and cached per process), and so are the fixed-base tables.
"""

from __future__ import annotations

import contextlib
import os
import platform
import time
from collections.abc import Callable
from typing import Any

from verivote.crypto.elgamal import Ciphertext, ElectionKey, encrypt_element
from verivote.crypto.groups import get_group
from verivote.crypto.shuffle import (
    check_shuffle,
    exponentiations,
    generators,
    power_of,
    prove_shuffle,
    shuffle,
    shuffle_pool,
)

CONTEXT = b"verivote bench mix"
Step = Callable[[str, float], None]
"""step(what comes next, phases just completed): the progress callback; `phases` gives the
total."""


def validate(ciphertexts: int, width: int, jobs: int | None) -> str | None:
    """The one-line reason the figures cannot be measured for these sizes, or None."""
    if width < 1:
        return f"--width must be at least 1, not {width}"
    if ciphertexts < 2:
        return f"--ciphertexts must be at least 2, not {ciphertexts}"
    if ciphertexts % width:
        return (
            f"--ciphertexts ({ciphertexts}) must be a multiple of --width ({width}): "
            f"rows of {width} ciphertexts"
        )
    if jobs is not None and jobs < 1:
        return f"--jobs must be at least 1, not {jobs}"
    return None


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = None
    with contextlib.suppress(ValueError, OSError, AttributeError):
        memory = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": memory,
        "system": f"{platform.system()} {platform.release()}",
        "arch": platform.machine(),
        "python": platform.python_version(),
    }


def phases(jobs: int) -> int:
    """Phases of a run, for the progress bar: build, prove and verify on one core, the two
    floors, and prove and verify on `jobs` processes when there are more than one."""
    return 5 + (2 if jobs > 1 else 0)


def measure_mix(
    group_name: str,
    ciphertexts: int,
    width: int,
    jobs: int | None = None,
    step: Step | None = None,
) -> dict[str, Any]:
    """The figures of `verivote bench mix` (see the module docstring)."""
    problem = validate(ciphertexts, width, jobs)
    if problem:
        raise ValueError(problem)
    report = step or (lambda _what, _done: None)
    workers = jobs or os.cpu_count() or 1
    group = get_group(group_name)
    ek = ElectionKey(group, group.pow_g(group.random_scalar()))
    n = ciphertexts // width
    h, _ = generators(group, n)  # public, derived once: not part of the figures

    report(f"building {ciphertexts:,} ciphertexts", 0)
    rows: list[tuple[Ciphertext[Any], ...]] = []
    for _ in range(n):
        rows.append(
            tuple(
                encrypt_element(ek, group.pow_g(group.random_scalar()), group.random_scalar())
                for _ in range(width)
            )
        )
        report(f"building {ciphertexts:,} ciphertexts", 1 / n)

    def run(pool: Any, label: str, then: str) -> tuple[float, float]:
        report(f"shuffle + proof, {label}", 0)
        t0 = time.perf_counter()
        outputs, witness = shuffle(ek, rows, jobs=workers if pool else 1, executor=pool)
        proof = prove_shuffle(
            ek, CONTEXT, rows, outputs, witness, jobs=workers if pool else 1, executor=pool
        )
        prove_s = time.perf_counter() - t0
        report(f"checking the proof, {label}", 1)
        t0 = time.perf_counter()
        ok = check_shuffle(ek, CONTEXT, rows, outputs, proof, jobs=workers if pool else 1,
                           executor=pool)  # fmt: skip
        verify_s = time.perf_counter() - t0
        report(then, 1)
        if not ok:
            raise RuntimeError("a shuffle proof made by the benchmark did not verify")
        return prove_s, verify_s

    # warm-up (tables, code paths) on a small shuffle, then one core
    small = rows[: min(n, 4)]
    out, wit = shuffle(ek, small)
    check_shuffle(ek, CONTEXT, small, out, prove_shuffle(ek, CONTEXT, small, out, wit))
    prove_1, verify_1 = run(None, "1 core", "floor: the prover's exponentiations one by one")

    counts = exponentiations(n, width)
    floors = {}
    for which, then in (
        ("prove", "floor: the verifier's exponentiations one by one"),
        ("verify", f"starting {workers} processes" if workers > 1 else "done"),
    ):
        floors[which] = _floor(group_name, ek, h, counts[which])
        report(then, 1)

    prove_j, verify_j = prove_1, verify_1
    if workers > 1:
        with shuffle_pool(ek, workers) as pool:
            o, w = shuffle(ek, small, jobs=workers, executor=pool)  # start every worker
            check_shuffle(ek, CONTEXT, small, o,
                          prove_shuffle(ek, CONTEXT, small, o, w, jobs=workers, executor=pool),
                          jobs=workers, executor=pool)  # fmt: skip
            prove_j, verify_j = run(pool, f"{workers} processes", "done")

    def ms(seconds: float) -> float:
        return round(1000 * seconds / ciphertexts, 4)

    return {
        "group": group_name,
        "ciphertexts": ciphertexts,
        "width": width,
        "rows": n,
        "jobs": workers,
        "prove_ms_per_ciphertext": ms(prove_1),
        "verify_ms_per_ciphertext": ms(verify_1),
        "prove_floor_ms_per_ciphertext": ms(floors["prove"]),
        "verify_floor_ms_per_ciphertext": ms(floors["verify"]),
        "prove_floor_ratio": round(floors["prove"] / prove_1, 3),
        "verify_floor_ratio": round(floors["verify"] / verify_1, 3),
        "prove_ms_per_ciphertext_jobs": ms(prove_j),
        "verify_ms_per_ciphertext_jobs": ms(verify_j),
        "prove_speedup_jobs": round(prove_1 / prove_j, 3),
        "verify_speedup_jobs": round(verify_1 / verify_j, 3),
        "exponentiations": counts,
        "machine": machine(),
    }


def _floor(group_name: str, ek: ElectionKey[Any], h: Any, counts: dict[str, int]) -> float:
    """Seconds that exactly `counts` exponentiations take one by one (module docstring)."""
    group = get_group(group_name)
    scalars = [group.random_scalar() for _ in range(64)]
    bases = [group.pow_g(group.random_scalar()) for _ in range(64)]
    pow_h = power_of(group, h, counts["h"])
    pow_g, pow_k, pow_ = group.pow_g, ek.pow_k, group.pow
    total = 0.0
    for kind, count in counts.items():
        t0 = time.perf_counter()
        if kind == "g":
            for i in range(count):
                pow_g(scalars[i % 64])
        elif kind == "key":
            for i in range(count):
                pow_k(scalars[i % 64])
        elif kind == "h":
            for i in range(count):
                pow_h(scalars[i % 64])
        else:
            for i in range(count):
                pow_(bases[i % 64], scalars[i % 64])
        total += time.perf_counter() - t0
    return total
