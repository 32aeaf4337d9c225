"""`verivote bench oprf` (issue 19, provable turnout): the pseudonyms of a whole roll.

The pseudonyms of a synthetic roll of N voters are computed as the real flow will compute
them (`verivote.crypto.oprf`, 2HashDH over ristretto255, its key shared 3 of 5):

- the authority blinds each national code: B = H1(code)^r (`oprf.blind`);
- each of the 3 guardians of the quorum answers the blinded codes in batches (`--batch`,
  default 256) with its key share and one batched DLEQ proof per batch (`oprf.evaluate`);
- the authority checks every guardian's proof (`oprf.verify_evaluation`), combines the 3
  answers of each voter by Lagrange coefficients (`oprf.combine`) and unblinds
  (`oprf.unblind`).

The key is a random one, split 3 of 5 by a random polynomial of degree 2 (Shamir) here, so
the shares are real ones; after the clock stops, a few voters' pseudonyms (the first, the last
and some drawn at random) must equal `oprf.pseudonym` with the whole key, or the run fails:
the benchmark cannot measure wrong work. The codes are valid national codes, the n-th voter's
being its number n + 1 in nine digits and its check digit (`verivote.polling.roll`).

The work is spread over P processes (`--processes`, default every core), a batch per task,
each task doing the whole flow for its batch, so only codes' numbers go out and pseudonyms come
back (the guardians are other machines in the real flow; here their work shares the cores).

Figures, each measured in the same run on this machine:

- `per_voter_ms`: the single-core cost of one voter's pseudonym, wall time × P / N;
- `floor_per_voter_ms`: the same for the work no protocol of this kind can avoid, 8
  variable-base scalar multiplications per voter (`group.pow`): 1 to blind, 1 per guardian
  to answer (3), 1 per answer to combine (3), 1 to unblind; done by the same P processes over
  the same batches, on distinct random bases and scalars;
- `floor_ratio` = floor_per_voter_ms / per_voter_ms (at most about 1; the issue's goal
  is ≥ 0.80);
- `projected_national_hours_32x16` = 61,200,000 voters × per_voter_ms / 1000 / (32 machines ×
  16 cores) / 3600: the hours the national roll would take on 32 machines of 16 cores like
  these, counting every core as busy all the time (no transfer, no waiting);
- `stage_ms_per_voter`: where the time goes, per step of the flow (each task's own clock per
  step, summed over tasks, per voter), beside `stage_floor_ms_per_voter` (the step's share
  of the 8 multiplications).

Beyond the floor, each guardian's batch proof costs its guardian and the authority two
multi-exponentiations over the batch, M = Π Bⱼ^zⱼ and Z = Π Eⱼ^zⱼ (`oprf._combined`), and
libsodium has none: each is one `group.pow` and one point addition per voter, so the proofs
alone cost 12 multiplications per voter beside the floor's 8.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import random
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from typing import Any

from verivote.bench.mix import machine
from verivote.crypto import oprf
from verivote.crypto.groups import get_group
from verivote.crypto.hashing import Item
from verivote.polling.roll import check_digit

GUARDIANS, QUORUM = 5, 3
NATIONAL_VOTERS = 61_200_000
MACHINES, CORES_PER_MACHINE = 32, 16
MAX_VOTERS = 100_000_000
"""Codes are the voter's number in nine digits: below 111,111,111, whose code repeats one
digit and is refused (`national_code_valid`)."""
STAGES = ("blind", "evaluate", "verify", "combine", "unblind")
FLOOR_POWS = {"blind": 1, "evaluate": QUORUM, "verify": 0, "combine": QUORUM, "unblind": 1}
"""The unavoidable scalar multiplications of one voter, per step (8 in all)."""
FLOOR_PER_VOTER = sum(FLOOR_POWS.values())
ELECTION = hashlib.sha256(b"verivote bench oprf").digest()
"""The election's base hash stand-in: it only separates one election's pseudonyms."""
CHECKED = 8
"""Voters whose pseudonym is recomputed with the whole key after the run."""

Step = Callable[[str, float], None]
"""step(what comes next, batches just completed): the progress callback; `units` gives the
total."""


class WrongPseudonym(RuntimeError):
    """A guardian's proof that does not check, or a pseudonym that is not H1(code)^k: the run
    measured wrong work."""


def validate(voters: int, batch: int, processes: int | None) -> str | None:
    """The one-line reason the figures cannot be measured with these sizes, or None."""
    if not 1 <= voters <= MAX_VOTERS:
        return f"--voters must be between 1 and {MAX_VOTERS:,}, not {voters}"
    if batch < 1:
        return f"--batch must be at least 1, not {batch}"
    if processes is not None and processes < 1:
        return f"--processes must be at least 1, not {processes}"
    return None


def national_code(n: int) -> str:
    """The synthetic roll's n-th voter (0-based): a valid national code."""
    nine = f"{n + 1:09d}"
    return nine + check_digit(nine)


def split_key(key: int, rng: random.Random) -> dict[int, int]:
    """Shamir shares of `key` for guardians 1 … 5, any 3 of which rebuild it: the values at
    1 … 5 of a polynomial of degree 2 whose constant term is the key."""
    q = get_group("ristretto255").q
    coefficients = [key] + [rng.randrange(1, q) for _ in range(QUORUM - 1)]
    return {
        i: sum(c * pow(i, e, q) for e, c in enumerate(coefficients)) % q
        for i in range(1, GUARDIANS + 1)
    }


def batches(voters: int, batch: int) -> list[tuple[int, int]]:
    """(first voter, count) of each task."""
    return [(start, min(batch, voters - start)) for start in range(0, voters, batch)]


def units(voters: int, batch: int) -> int:
    """Steps of the progress bar: every batch twice (the floor, then the flow)."""
    return 2 * len(batches(voters, batch))


# --- the work of one process ------------------------------------------------------------

_SHARES: dict[int, tuple[int, bytes]] = {}
_FLOOR: tuple[list[bytes], list[int]] = ([], [])


def _init(shares: dict[int, tuple[int, bytes]]) -> None:
    """A process's state: the quorum's (secret, public) shares, and the floor's random bases
    and scalars (distinct ones, as the flow's are, drawn before any clock runs)."""
    global _SHARES, _FLOOR
    group = get_group("ristretto255")
    _SHARES = shares
    _FLOOR = ([group.pow_g(group.random_scalar()) for _ in range(64)],
              [group.random_scalar() for _ in range(64)])  # fmt: skip


def pseudonyms(first: int, count: int) -> tuple[list[bytes], dict[str, float]]:
    """The pseudonyms of voters first … first + count − 1 through the whole flow, with the
    seconds each step took. Raises if a guardian's proof does not check."""
    group = get_group("ristretto255")
    # bound to the election and the batch, as `verivote.polling.turnout` binds a batch's proofs
    context: list[Item] = [ELECTION, first]
    clock = time.perf_counter
    seconds = dict.fromkeys(STAGES, 0.0)

    t0 = clock()
    blinded = [oprf.blind(group, ELECTION, national_code(n)) for n in range(first, first + count)]
    elements = [b for _, b in blinded]
    t1 = clock()
    seconds["blind"] = t1 - t0

    answers: dict[int, tuple[list[bytes], oprf.BatchProof]] = {}
    for i, (secret, public) in _SHARES.items():
        answers[i] = oprf.evaluate(group, secret, public, elements, context)
    t2 = clock()
    seconds["evaluate"] = t2 - t1

    for i, (evaluated, proof) in answers.items():
        if not oprf.verify_evaluation(group, _SHARES[i][1], elements, evaluated, proof, context):
            raise WrongPseudonym(f"guardian {i}'s proof of batch {first} does not check")
    t3 = clock()
    seconds["verify"] = t3 - t2

    combined = [
        oprf.combine(group, QUORUM, {i: answers[i][0][j] for i in answers}) for j in range(count)
    ]
    t4 = clock()
    seconds["combine"] = t4 - t3

    result = [oprf.unblind(group, r, c) for (r, _), c in zip(blinded, combined, strict=True)]
    seconds["unblind"] = clock() - t4
    return result, seconds


def floor(count: int) -> float:
    """Seconds of the 8 scalar multiplications of `count` voters, one by one."""
    group = get_group("ristretto255")
    bases, scalars = _FLOOR
    pow_ = group.pow
    t0 = time.perf_counter()
    # 64 bases against 63 scalars: no (base, scalar) pair comes back before 4,032 calls
    for n in range(FLOOR_PER_VOTER * count):
        pow_(bases[n % 64], scalars[n % 63])
    return time.perf_counter() - t0


# --- the run ----------------------------------------------------------------------------


class _InProcess(Executor):
    """One process: the tasks run where they are submitted (no pool, no transfer)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to the caller through the future
            future.set_exception(exc)
        return future


@contextmanager
def _pool(processes: int, shares: dict[int, tuple[int, bytes]]) -> Iterator[Executor]:
    if processes == 1:
        _init(shares)
        yield _InProcess()
        return
    with ProcessPoolExecutor(processes, initializer=_init, initargs=(shares,)) as pool:
        # every worker started and its state made before a clock runs
        for done in [pool.submit(floor, 1) for _ in range(4 * processes)]:
            done.result()
        yield pool


def _run(pool: Executor, fn: Callable[..., Any], jobs: Sequence[tuple[Any, ...]],
         take: Callable[[tuple[Any, ...], Any], None], report: Step, what: str,
         window: int) -> float:  # fmt: skip
    """Wall seconds of fn(*job) for every job on the pool, each result handed to `take` as it
    comes (at most `window` jobs in flight: results are not piled up, and the bar moves)."""
    t0 = time.perf_counter()
    waiting = iter(jobs)
    running: dict[Future[Any], tuple[Any, ...]] = {}
    while True:
        for job in itertools.islice(waiting, window - len(running)):
            running[pool.submit(fn, *job)] = job
        if not running:
            return time.perf_counter() - t0
        finished, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in finished:
            take(running.pop(future), future.result())
            report(what, 1)


def _ignore(_job: tuple[Any, ...], _result: Any) -> None:
    pass


def measure_oprf(
    voters: int, batch: int = 256, processes: int | None = None, step: Step | None = None
) -> dict[str, Any]:
    """The figures of `verivote bench oprf` (see the module docstring)."""
    problem = validate(voters, batch, processes)
    if problem:
        raise ValueError(problem)
    report = step or (lambda _what, _done: None)
    workers = processes or os.cpu_count() or 1
    group = get_group("ristretto255")
    rng = random.Random()
    key = group.random_scalar() or 1
    shares = split_key(key, rng)
    quorum = sorted(rng.sample(sorted(shares), QUORUM))
    held = {i: (shares[i], group.pow_g(shares[i])) for i in quorum}
    jobs = batches(voters, batch)
    # checked after the clock: the first voter, the last, and some at random
    sample = {
        0,
        voters - 1,
        *rng.sample(range(1, max(voters - 1, 1)), min(max(voters - 2, 0), CHECKED - 2)),
    }
    found: dict[int, bytes] = {}
    stages = dict.fromkeys(STAGES, 0.0)
    made = 0

    def take(job: tuple[Any, ...], answer: tuple[list[bytes], dict[str, float]]) -> None:
        nonlocal made
        (first, count), (result, seconds) = job, answer
        made += len(result)
        for name in STAGES:
            stages[name] += seconds[name]
        for n in sample & set(range(first, first + count)):
            found[n] = result[n - first]

    floor_what = f"floor: {FLOOR_PER_VOTER * voters:,} scalar multiplications"
    flow_what = f"pseudonyms of {voters:,} voters"
    report(f"starting {workers} process(es)", 0)
    with _pool(workers, held) as pool:
        # the floor in two halves, before and after the flow: a machine whose speed drifts
        # during the run (shared cores, clock changes) weighs on both alike
        sizes = [(count,) for _, count in jobs]
        half = len(sizes) // 2

        window = 4 * workers
        floor_s = _run(pool, floor, sizes[:half], _ignore, report, floor_what, window)
        flow_s = _run(pool, pseudonyms, jobs, take, report, flow_what, window)
        floor_s += _run(pool, floor, sizes[half:], _ignore, report, floor_what, window)

    if made != voters:
        raise WrongPseudonym(f"{made:,} pseudonyms for {voters:,} voters")
    for n in sorted(sample):
        if found[n] != oprf.pseudonym(group, key, ELECTION, national_code(n)):
            raise WrongPseudonym(f"voter {n}'s pseudonym is not H1(code)^k")

    def per_voter_ms(seconds: float) -> float:
        return 1000 * seconds / voters

    cost = per_voter_ms(flow_s * workers)
    floor_cost = per_voter_ms(floor_s * workers)
    pow_ms = floor_cost / FLOOR_PER_VOTER
    return {
        "voters": voters,
        "guardians": GUARDIANS,
        "quorum": QUORUM,
        "quorum_guardians": quorum,
        "batch": batch,
        "processes": workers,
        "seconds": round(flow_s, 3),
        "floor_seconds": round(floor_s, 3),
        "voters_per_s": round(voters / flow_s, 1),
        "per_voter_ms": round(cost, 4),
        "floor_per_voter_ms": round(floor_cost, 4),
        "floor_ratio": round(floor_cost / cost, 3),
        "floor_pows_per_voter": FLOOR_PER_VOTER,
        "pow_ms": round(pow_ms, 4),
        "stage_ms_per_voter": {k: round(per_voter_ms(v), 4) for k, v in stages.items()},
        "stage_floor_ms_per_voter": {k: round(FLOOR_POWS[k] * pow_ms, 4) for k in STAGES},
        "projected_national_hours_32x16": round(
            NATIONAL_VOTERS * cost / 1000 / (MACHINES * CORES_PER_MACHINE) / 3600, 3
        ),
        "checked_voters": len(sample),
        "machine": machine(),
    }
