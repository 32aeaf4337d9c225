"""`verivote sim national`'s run (issue 17, item 5): the national shape at scale F through the
whole flow of round 1, each stage measured (`verivote.sim.meter`), then the projection of the
verification to F = 1 (`verivote.sim.projection`).

The flow is the one `verivote.sim.election` runs for the demonstration province, with its
guardians and witnesses played in this process (`InProcessParties`): manifest, key ceremony
and lot contributions, the roll and the stations opened, every voter checked in, their
devices encrypting in a process pool while this process (the station server) checks and
casts each ballot, the polls closed, the tally, the mix of every mixnet district by the
manifest's mixers, the present guardians' decryptions of the tally and of the mix, the
combination and the count, the checkpoint and the published record; then `verify_record` on
it, and the verifier's work again by kind on one core (`verivote.sim.verify_kinds`); last, a
process pool's overhead per task, measured in the same run.

Not run: Benaloh challenges, voters coming back, and the runoff (round 2): the projection is
that of round 1's record. The plaintext truth of every ballot is kept beside the encrypted
path (`count_truth`), so the run ends by comparing the decrypted tally and the count with it.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verivote.bench.ray_overhead import ray_task_core_s
from verivote.board.record import CHUNK_BYTES
from verivote.cluster import Cluster
from verivote.crypto.groups import get_group
from verivote.crypto.keyfile import read_key_share
from verivote.crypto.written import written_width
from verivote.election.count import find_entry, run_count
from verivote.election.decryption import combine, decrypt_as_guardian
from verivote.election.district_logs import authority_signer
from verivote.election.mixing import decrypt_mix_as_guardian
from verivote.election.polls import close_polls
from verivote.election.report import publish
from verivote.election.service import (
    ElectionContext,
    PreparedBallot,
    init_election,
    load_context,
    prepare_cast,
    record_cast,
)
from verivote.election.tally import run_tally
from verivote.model.manifest import Manifest
from verivote.rules.districts import count_districts
from verivote.sim.ballots import iter_ballots
from verivote.sim.election import (
    GUARDIANS,
    VOTER_MODEL,
    InProcessParties,
    RoundOutcome,
    as_written,
    count_truth,
    encrypt_job,
    init_device,
    normalise,
    open_day,
)
from verivote.sim.meter import Meter, Stage
from verivote.sim.national import (
    TURNOUT,
    DistrictShape,
    national_manifest,
    national_shape,
)
from verivote.sim.projection import Kind, Projection, project
from verivote.sim.verify_kinds import (
    BOARD,
    BOARD_READ,
    HOMOMORPHIC,
    MIX_COMBINE,
    MIX_DECRYPTIONS,
    SHUFFLES,
    WRITTEN,
    Sizes,
    measure_kinds,
)
from verivote.store import Store
from verivote.store.roll import Checkin, CheckinResult, check_in_many
from verivote.verify import verify_record
from verivote.verify.ballot_pool import MAX_CHUNK
from verivote.verify.check_mix import BATCH, SPLIT_ROWS, TASKS_A_CALL
from verivote.verify.loader import SCAN_PART_BYTES
from verivote.verify.report import Report

Progress = Callable[[str, int, int], None]
"""progress(stage, done, total)."""

ABSENT = 4
"""The guardian absent at decryption, as in the demo: four of five decrypt."""

PROBE_TASKS = 400
PROBE_PAYLOAD = 64 * 1024
"""The pool-overhead probe: this many tasks, each sending this many bytes (about a chunk of
100 ballot entries) and getting a few back."""


class FlowError(Exception):
    """The run went wrong: a check-in refused, the record invalid, or the count different
    from the plaintext count. The message says which, in one line."""


@dataclass
class NationalRun:
    """What `run_national` measured and found."""

    scale: float
    seed: int
    shape: tuple[DistrictShape, ...]
    outcome: RoundOutcome
    meter: Meter
    report: Report
    kinds: list[Kind] = field(default_factory=list)
    overhead_s: float = 0.0
    overhead_source: str = ""
    pool_overhead_s: float = 0.0
    ray_overhead_s: float | None = None
    """Ray's overhead a task (core seconds), when measured on a cluster in this run."""
    projection: Projection | None = None
    today: Projection | None = None
    """The projection with the verifier's own split, as it is written (`_kinds`)."""
    split_main: tuple[float, float] = (0.0, 0.0)
    """The main process's part of a split shuffle's check: (s a shuffle, s a ciphertext)."""
    national_read: dict[str, tuple[int, float, float]] = field(default_factory=dict)
    """The main process's reading of the national log by class of line (`Sizes.national`):
    (bytes, CPU seconds, bytes at F = 1)."""
    verify_main_s: float = 0.0
    """The CPU of `verify`'s main process (its threads, not its workers) in this run, its
    entry files read by tasks (the median of the verifications without progress drawn when
    there were several)."""
    main_per_ballot_s: float = 0.0
    """What the verifier's main process spends a ballot (its entry files read by tasks):
    with a `calibration`, the slope between the two runs; without, all of `verify_main_s`
    over the ballots (an upper bound, its fixed part weighing most at small scales)."""
    main_fixed_s: float = 0.0
    """With a `calibration`: the main process's CPU that does not grow with the ballots."""
    main_per_task_s: float = 0.0
    """The main process's CPU a task of a process pool in calls of `TASKS_A_CALL` (the
    probe's), for the mix's tasks that grow with the rows only beyond this run's scale (a
    batch per 500 rows)."""
    calibration: tuple[float, int, float, int] | None = None
    """(scale, ballots, verify_main_s, the mix's batches) of a second, smaller run
    (`calibrate`)."""
    sizes: Sizes | None = None


def draw_jobs(
    manifest: Manifest,
    models: dict[str, Any],
    scale: float,
    seed: int,
    shape: tuple[DistrictShape, ...],
) -> list[tuple[str, list[str]]]:
    """(station, codes) of every voter who casts a ballot at scale F, district by district,
    drawn from `seed` (the same every time): the codes as the voter wrote them on a mixnet
    district's ballot, normalised by the device on a homomorphic one."""
    rng = random.Random(seed + 1)
    by_district: dict[str, list[str]] = {}
    for s in manifest.stations:
        by_district.setdefault(s.district, []).append(s.id)
    jobs: list[tuple[str, list[str]]] = []
    for plan, district in zip(shape, manifest.districts, strict=True):
        model = models[district.id]
        codes = {label: label.split(" ", 1)[0] for label in model.candidates}
        write = as_written if district.counted_by == "mixnet" else normalise
        stations = by_district[district.id]
        for ballot in iter_ballots(model, plan.ballots(scale), rng, **VOTER_MODEL):
            jobs.append((rng.choice(stations), write(ballot.names(), codes, district.seats)))
    return jobs


def _echo(payload: bytes) -> int:
    return len(payload)


def pool_overhead(processes: int, meter: Meter) -> tuple[float, float]:
    """CPU seconds a task costs a process pool of `processes` beyond its own work: a no-op
    task carrying PROBE_PAYLOAD bytes, PROBE_TASKS of them, all processes' CPU counted; and
    this (the main) process's CPU a task when tasks go in calls of `TASKS_A_CALL`, as the
    mix's steps send them from 1,024 tasks (`check_mix._map`): what each of the mix's
    tasks beyond this run's costs the main process (`_mix_tasks_added`)."""
    payload = bytes(PROBE_PAYLOAD)
    with ProcessPoolExecutor(max_workers=max(1, processes)) as pool:
        list(pool.map(_echo, [payload] * 8))  # the workers started before the probe
        with meter.stage("pool overhead (probe)", "tasks", cores=processes) as s:
            list(pool.map(_echo, [payload] * PROBE_TASKS))
            s.items = PROBE_TASKS
            s.items_f1 = PROBE_TASKS
        started = time.process_time()
        list(pool.map(_echo, [payload] * PROBE_TASKS, chunksize=TASKS_A_CALL))
        main = time.process_time() - started
        s.note = f"main CPU {main:.3f} s for as many in calls of {TASKS_A_CALL}"
    return s.cpu_s / PROBE_TASKS, main / PROBE_TASKS


def _check_in(
    store: Store,
    election: str,
    jobs: list[tuple[str, list[str]]],
    voters: list[str],
    district_of: dict[str, str],
    progress: Progress,
) -> None:
    """Every voter checks in at their station, in batches of 500 (as the check-in server
    groups them); FlowError if one is refused."""
    items = [
        Checkin(code, station, district_of[station], 8 + 10 * n // len(jobs), f"nat-{n:08d}")
        for n, (code, (station, _)) in enumerate(zip(voters, jobs, strict=True))
    ]
    for start in range(0, len(items), 500):
        batch = items[start : start + 500]
        for item, answer in zip(batch, check_in_many(store.engine, election, batch), strict=True):
            if not isinstance(answer, CheckinResult) or answer.status != "accepted":
                raise FlowError(f"check-in of request {item.request_id} refused: {answer}")
        progress("check-in", start + len(batch), len(items))


_SERVER: ElectionContext | None = None
"""A pool worker's election context, for the server's checks (`_device_and_check`)."""


def _init_worker(ctx: ElectionContext) -> None:
    global _SERVER
    _SERVER = ctx
    init_device(ctx.manifest, ctx.key, ctx.base_hash)


def _device_and_check(job: tuple[str, list[str]]) -> tuple[PreparedBallot, float]:
    """A device encrypts the job's ballot, then the server's checker (a worker of its pool, as
    the cast API's) checks every proof; with the CPU seconds of the check, which are the
    server's."""
    assert _SERVER is not None, "the worker was not initialised"
    ballot, _ = encrypt_job(job)
    started = time.process_time()
    prepared = prepare_cast(_SERVER, ballot)
    return prepared, time.process_time() - started


def _poll(store: Store, outcome: RoundOutcome, jobs: list[tuple[str, list[str]]],
          processes: int, meter: Meter, progress: Progress) -> None:  # fmt: skip
    """Devices encrypt and the server's checkers check in one pool, as the cast API checks in
    its pool, while this process records each checked ballot: one measured block, split into
    the devices' stage (the pool's CPU but the checks') and the server's (the checks' CPU,
    measured in the workers, and this process's CPU in `record_cast`)."""
    ctx = outcome.ctx
    cast_cpu = check_cpu = 0.0
    cast_wall = 0.0
    with meter.stage("encrypt (devices)", "ballots", cores=processes) as devices:
        with ProcessPoolExecutor(
            max_workers=max(1, processes), initializer=_init_worker, initargs=(ctx,)
        ) as pool:
            for n, (prepared, checked_s) in enumerate(
                pool.map(_device_and_check, jobs, chunksize=16), 1
            ):
                c0, w0 = time.process_time(), time.perf_counter()
                record_cast(store, ctx, prepared)
                cast_cpu += time.process_time() - c0
                cast_wall += time.perf_counter() - w0
                check_cpu += checked_s
                progress("encrypt and cast", n, len(jobs))
        devices.items = len(jobs)
    devices.cpu_s = max(0.0, devices.cpu_s - cast_cpu - check_cpu)
    devices.note = "the pool's CPU but the server's checks; wall: all of polling day"
    server = Stage("cast (server checks, appends)", "ballots", len(jobs), 0.0,
                   cast_wall, cast_cpu + check_cpu, devices.peak_mib, 0.0, 1,
                   "checks in the pool, appends here; wall: the appends")  # fmt: skip
    meter.stages.append(server)


def run_national(
    store: Store,
    directory: Path,
    scale: float,
    seed: int,
    processes: int,
    progress: Progress,
    overhead_s: float | None = None,
    group: str = "ristretto255",
    cluster: Cluster | None = None,
    repeats: int = 1,
) -> NationalRun:
    """The whole flow at scale F (module docstring); FlowError if anything fails. The
    projection's task overhead is `overhead_s` if given, else Ray's measured on `cluster`,
    else this run's process pool's. `repeats`: verifications of the record, the median of
    their main process's CPU kept (the first one's report)."""
    meter = Meter()
    shape = national_shape()
    with meter.stage("manifest", "districts") as s:
        manifest, models = national_manifest(shape, scale, seed, group)
        s.items = len(manifest.districts)
    parties = InProcessParties(directory)
    with meter.stage("ceremony and lot", "guardians") as s:
        keys = parties.signers(manifest, 1)
        init_election(store, manifest)
        parties.ceremony(store, load_context(store, manifest.election_id), keys)
        ctx = load_context(store, manifest.election_id)
        s.items = GUARDIANS
    outcome = RoundOutcome(ctx)
    with meter.stage("draw the voters' choices (sim)", "ballots") as s:
        jobs = draw_jobs(manifest, models, scale, seed, shape)
        s.items = len(jobs)
    with meter.stage("roll and open", "voters") as s:
        voters = open_day(store, ctx, jobs)
        s.items = len(jobs)
    district_of = {st.id: st.district for st in manifest.stations}
    with meter.stage("check-in", "voters") as s:
        _check_in(store, ctx.election_id, jobs, voters, district_of, progress)
        s.items = len(jobs)
    _poll(store, outcome, jobs, processes, meter, progress)
    with meter.stage("close polls", "stations") as s:
        close_polls(store, ctx, [st.id for st in manifest.stations])
        s.items = len(manifest.stations)
    count_truth(outcome, jobs)
    with meter.stage("tally", "ballots", cores=processes) as s:
        run_tally(store, ctx, processes=processes, signer=authority_signer(keys),
                  progress=lambda d, t: progress("tally", d, t))  # fmt: skip
        s.items = len(jobs)
    written = sum(outcome.ballots[d.id] for d in manifest.mixnet_districts())
    mixers = len(manifest.mixers())
    with meter.stage("mix", "rows shuffled") as s:
        parties.mix(store, ctx, keys, progress)
        s.items = written * mixers
    present = [g for g in range(1, GUARDIANS + 1) if g != ABSENT]
    homomorphic = [d for d in manifest.districts if d.counted_by == "homomorphic"]
    with meter.stage("decrypt the tally", "shares") as s:
        for g in present:
            decrypt_as_guardian(store, ctx, read_key_share(keys / f"guardian-{g}.key"))
        s.items = len(present) * sum(len(d.candidates) for d in homomorphic)
    with meter.stage("decrypt the mix", "rows × guardians") as s:
        for g in present:
            decrypt_mix_as_guardian(
                store,
                ctx,
                read_key_share(keys / f"guardian-{g}.key"),
                progress=lambda d, t: progress("decrypt the mix", d, t),
            )
        s.items = written * len(present)
    with meter.stage("combine and count", "districts") as s:
        combine(store, ctx)
        outcome.decrypted = find_entry(store, ctx.election_id, "decrypted-tally") or {}
        outcome.count = run_count(store, ctx)
        s.items = len(manifest.districts)
    record = directory / "record"
    with meter.stage("checkpoint and publish", "ballots") as s:
        parties.checkpoint(store, ctx, keys)
        publish(store, ctx, keys, record)
        s.items = len(jobs)
    outcome.record = record
    problems = plaintext_mismatches(outcome)
    if problems:
        raise FlowError(f"the count differs from the plaintext count: {problems[0]}")
    with meter.stage("verify", "ballots", cores=processes) as s:
        main_started = time.process_time()  # this process alone (its threads included)
        # the entry files read by tasks, as in a national record (and in both runs of
        # `calibrate`, which compares their main process's CPU)
        report = verify_record(record, jobs=processes, scan_tasks=True,
                               progress=lambda d, t: progress("verify", d, t))  # fmt: skip
        mains = [time.process_time() - main_started]
        s.items = len(jobs)
    if not report.valid:
        raise FlowError(f"the published record does not verify: {report.failed()}")
    # The main process's CPU again, with no progress drawn as it goes: a progress bar's
    # drawing costs this process CPU (about 1 s in a 110 s verification here, when it was
    # drawn ten times a second), which on 2 cores grows with the ballots and on a cluster
    # would not. The median of those runs.
    again = []
    for n in range(1, repeats):
        progress(f"verify again ({n})", 0, 1)
        again.append(_verify_main_s(record, processes))
        progress(f"verify again ({n})", 1, 1)
    verify_main_s = statistics.median(again or mains)
    sizes = measure_kinds(record, lambda name, unit: meter.stage(name, unit))
    run = NationalRun(scale, seed, shape, outcome, meter, report)
    run.verify_main_s = verify_main_s
    run.sizes = sizes
    run.pool_overhead_s, run.main_per_task_s = pool_overhead(processes, meter)
    run.overhead_s = run.pool_overhead_s if overhead_s is None else overhead_s
    run.overhead_source = (
        f"local process pool of {processes}, measured in this run" if overhead_s is None
        else "given (--task-overhead-ms)"
    )  # fmt: skip
    if cluster is not None and overhead_s is None:
        with meter.stage("Ray overhead (probe)", "tasks") as s:
            run.ray_overhead_s = ray_task_core_s(cluster, PROBE_TASKS, PROBE_PAYLOAD)
            s.items = s.items_f1 = PROBE_TASKS
        run.overhead_s = run.ray_overhead_s
        run.overhead_source = (
            f"Ray at {cluster.address} ({cluster.cpus} CPUs), measured in this run: wall time "
            f"a task of {PROBE_TASKS} submitted at once × the cluster's CPUs"
        )
    fill_f1(run, sizes)
    return run


def _verify_main_s(record: Path, processes: int) -> float:
    """The CPU of this process (its threads, not its workers) verifying `record` again."""
    started = time.process_time()
    verify_record(record, jobs=processes, scan_tasks=True)
    return time.process_time() - started


def plaintext_mismatches(outcome: RoundOutcome) -> list[str]:
    """How the decrypted tally and the count differ from the plaintext truth (empty: they
    do not): every district's ballots, void ballots and votes, and its seats by the law."""
    manifest = outcome.ctx.manifest
    decrypted = outcome.decrypted.get("districts", {})
    plain: dict[str, Any] = {}
    out = []
    for d in manifest.districts:
        votes: Counter[str] = outcome.votes.get(d.id) or Counter()
        plain[d.id] = {"ballots": outcome.ballots[d.id], "blank": outcome.blank[d.id],
                       "votes": {c.code: votes.get(c.code, 0) for c in d.candidates}}  # fmt: skip
        got = decrypted.get(d.id, {})
        for key in ("ballots", "blank", "votes"):
            if got.get(key) != plain[d.id][key]:
                out.append(f"district {d.id}: decrypted {key} differ")
    if out:
        return out
    expected = count_districts(manifest, {"districts": plain}, bytes.fromhex(outcome.count["seed"]))
    for d in manifest.districts:
        if outcome.count["districts"][d.id] != expected[d.id].to_json_dict():
            out.append(f"district {d.id}: the count differs from the law on the plaintext")
    return out


def _f1(run: NationalRun) -> dict[str, float]:
    """Items of each unit in the whole national election (F = 1)."""
    manifest = run.outcome.ctx.manifest
    ballots = {d.id: d.ballots(1.0) for d in run.shape}
    mixnet = {d.id for d in manifest.mixnet_districts()}
    written = sum(n for d, n in ballots.items() if d in mixnet)
    present = GUARDIANS - 1
    return {
        "districts": len(run.shape),
        "guardians": GUARDIANS,
        "ballots": sum(ballots.values()),
        "voters": sum(ballots.values()),
        "stations": sum(d.stations for d in run.shape),
        "rows shuffled": written * len(manifest.mixers()),
        "rows × guardians": written * present,
        "shares": present
        * sum(len(d.candidates) for d in manifest.districts if d.id not in mixnet),
        "tasks": PROBE_TASKS,
    }  # fmt: skip


BOARD_CHUNK = 64 * 2**20
"""Bytes of entries a task of the planned verifier reads, parses and hashes (entries are
independent until the tree's few inner nodes)."""

SPLIT_SHUFFLE = 16
"""The cores one shuffle's check is split over in the planned verifier (`crypto.shuffle.
check_shuffle` takes an executor: one machine's cores)."""

MACHINES, CORES = 32, 16
"""The cluster of the projection."""


def _kinds(run: NationalRun, sizes: Sizes) -> tuple[list[Kind], list[Kind]]:
    """The kinds of verification work measured in this run, with their units and tasks at
    F = 1: as the README's plan splits them (by district and chunk: the board's entries in
    chunks, the largest entry, one JSON document, the longest task; a shuffle's check over
    one machine's cores; the mix's shares combined batch by batch, as they are posted), and
    as the verifier now splits them, from its own constants: the national log read by byte
    ranges, each district's log by a task; its main process does the fixed rest, its part
    of each ballot and task (`calibrate`), and for each shuffle of `SPLIT_ROWS` rows or more
    the part measured in `Sizes.split_main_cpu_s`, one after the other; the board's lines in
    chunks of `CHUNK_BYTES`; a smaller shuffle a task, a larger one over every core of the
    cluster (`check_shuffle`'s executor cuts it into as many parts as the pool is wide);
    decryptions and their combination in batches of `BATCH` rows."""
    manifest = run.outcome.ctx.manifest
    group = get_group(manifest.group)
    stages = {s.name: s for s in run.meter.stages}
    mixnet = {d.id for d in manifest.mixnet_districts()}
    width = {d.id: written_width(group, d) for d in manifest.mixnet_districts()}
    cands = {d.id: len(d.candidates) for d in manifest.districts}
    full = {d.id: d.ballots(1.0) for d in run.shape}
    now = run.outcome.ballots
    ballots_f1 = sum(full.values())
    hom_units = sum(n * cands[d] for d, n in full.items() if d not in mixnet)
    hom_ballots = sum(n for d, n in full.items() if d not in mixnet)
    wr_units = sum(n * width[d] for d, n in full.items() if d in mixnet)
    wr_units_now = sum(now[d] * width[d] for d in mixnet)
    wr_ballots = sum(n for d, n in full.items() if d in mixnet)
    mixers = len(manifest.mixers())
    present = GUARDIANS - 1
    stations_f1 = sum(d.stations for d in run.shape)
    groups = sizes.groups
    board_f1 = (
        groups["ballots"] * ballots_f1 / max(1, sum(now.values()))
        + groups["polls"] * stations_f1 / max(1, len(manifest.stations))
        + groups["mix"] * wr_units / max(1, wr_units_now)
        + groups["fixed"]
    )
    big = sizes.largest_district
    largest_entry = sizes.largest * (full[big] / max(1, now[big]) if big in full else 1.0)
    biggest_shuffle = max((full[d] * width[d] for d in mixnet), default=0)
    widest = max(width.values(), default=0)
    cluster = MACHINES * CORES
    # the verifier's shuffles: whole below SPLIT_ROWS rows, split over the cluster from it
    split = {d for d in mixnet if full[d] >= SPLIT_ROWS}
    whole_units = sum(full[d] * width[d] for d in mixnet - split) * mixers
    split_units = sum(full[d] * width[d] for d in split) * mixers
    biggest_whole = max((full[d] * width[d] for d in mixnet - split), default=0)
    board_tasks = math.ceil(board_f1 / BOARD_CHUNK)
    board_largest = max(BOARD_CHUNK, largest_entry)
    # name: (units at F = 1, tasks, largest task) as planned
    plan: dict[str, tuple[float, float, float]] = {
        BOARD_READ: (board_f1, board_tasks, board_largest),
        BOARD: (board_f1, board_tasks, board_largest),
        HOMOMORPHIC: (hom_units, math.ceil(hom_ballots / MAX_CHUNK),
                      MAX_CHUNK * max((cands[d] for d in full if d not in mixnet), default=0)),
        WRITTEN: (wr_units, math.ceil(wr_ballots / MAX_CHUNK), MAX_CHUNK * widest),
        SHUFFLES: (wr_units * mixers, len(mixnet) * mixers * SPLIT_SHUFFLE,
                   biggest_shuffle / SPLIT_SHUFFLE),
        MIX_DECRYPTIONS: (wr_units * present,
                          sum(math.ceil(full[d] / BATCH) for d in mixnet) * present,
                          BATCH * widest),
        MIX_COMBINE: (wr_units, sum(math.ceil(full[d] / BATCH) for d in mixnet),
                      BATCH * widest),
    }  # fmt: skip
    # The district logs at F = 1, each read, hashed and parsed by a task of its own
    # (`load_board` with a pool); the national log by byte ranges (NATIONAL_READ below).
    district_f1 = {
        d: n * full.get(d, 0) / max(1, now.get(d, 0)) for d, n in sizes.district_bytes.items()
    }
    # as the verifier is written: what differs from the plan
    verifier: dict[str, tuple[float, float, float]] = {
        BOARD_READ: (
            sum(district_f1.values()),
            len(district_f1),
            max(district_f1.values(), default=0.0),
        ),
        BOARD: (board_f1, math.ceil(board_f1 / CHUNK_BYTES), max(CHUNK_BYTES, largest_entry)),
        SHUFFLES: (whole_units, len(mixnet - split) * mixers, biggest_whole),
        SPLIT_SHUFFLES: (split_units, len(split) * mixers * cluster, biggest_shuffle / cluster),
    }
    planned: list[Kind] = []
    today: list[Kind] = []
    for name, (units_f1, tasks, largest) in plan.items():
        stage = stages.get(name)
        if stage is None or not stage.items:
            continue
        stage.items_f1 = units_f1
        planned.append(Kind(name, stage.unit, stage.items, stage.cpu_s, units_f1, tasks, largest))
        if name not in verifier:
            today.append(planned[-1])
    shuffles = stages.get(SHUFFLES)
    main_s = 0.0
    if shuffles is not None and shuffles.items:
        for name, (units_f1, tasks, largest) in verifier.items():
            # a split shuffle's workers do what its main process does not
            main_now = sizes.split_main_per_unit_s * shuffles.items
            cpu = shuffles.cpu_s - main_now if name == SPLIT_SHUFFLES else None
            stage = stages[name] if name in (BOARD, BOARD_READ) else shuffles
            today.append(Kind(name, stage.unit, stage.items,
                              stage.cpu_s if cpu is None else max(0.0, cpu),
                              units_f1, tasks, largest))  # fmt: skip
        main_s = sizes.split_main_s * len(split) * mixers + sizes.split_main_per_unit_s * (
            split_units
        )
    # What `verify` spent beyond the kinds (the manifest, the ceremony, the tally's and the
    # decryption's checks, the count, its pools' start): one election's worth, not scaled.
    rest = max(0.0, stages["verify"].cpu_s - sum(k.cpu_s for k in planned))
    planned.append(Kind(REST, "elections", 1, rest, 1, 1, 1))
    # The national log is read, hashed and typed by tasks of the verifier's pool, a byte
    # range of at most SCAN_PART_BYTES each (a longer line whole; `loader._scan`): the mix's
    # large entries unparsed, the mix's inputs and the fixed entries parsed, each class at
    # its own rate measured here, the mix's at F = 1 as the written ciphertexts grow (this
    # run's `verify` reads it so too, `scan_tasks`: none of it is in `verify_main_s`).
    mix_scale = wr_units / max(1, wr_units_now)
    run.national_read = {
        name: (n, cpu, n * (mix_scale if name in ("mix", "mix-input") else 1.0))
        for name, (n, cpu) in sizes.national.items()
    }
    read = sum(cpu * f1 / n for n, cpu, f1 in run.national_read.values() if n)
    national_f1 = sum(f1 for _, _, f1 in run.national_read.values())
    if national_f1 > 0:
        today.append(
            Kind(NATIONAL_READ, "bytes", national_f1, read, national_f1,
                 math.ceil(national_f1 / SCAN_PART_BYTES),
                 max(float(SCAN_PART_BYTES), largest_entry))
        )  # fmt: skip
    # The main process does its part of each split shuffle, the rest and its part of each
    # ballot and task one after the other: one task, their sum.
    # Everything else the main process did in this run's `verify` (merging the tasks'
    # results, the checks' own loops, handing out the tasks, starting pools): with a
    # calibration, its fixed part and its slope a ballot between two runs (`calibrate`);
    # without, all of it counted as growing with the ballots (an upper bound). The mix's
    # batches of rows grow in number only beyond a batch per district: their tasks' main
    # CPU (the probe's a task) is added for the batches there are at F = 1 and not here.
    if run.calibration is None:
        run.main_per_ballot_s = run.verify_main_s / max(1, sum(now.values()))
        run.main_fixed_s = 0.0
    main = main_s + run.main_fixed_s + run.main_per_ballot_s * ballots_f1
    main += run.main_per_task_s * _mix_tasks_added(run)
    today.append(Kind(MAIN, "runs", 1, main, 1, 1, 1))
    return planned, today


def _batches(run: NationalRun, ballots: Mapping[str, float] | None = None) -> int:
    """The mix's batches of `BATCH` rows with `ballots` a district (default: this run's)."""
    counts = run.outcome.ballots if ballots is None else ballots
    mixnet = [d.id for d in run.outcome.ctx.manifest.mixnet_districts()]
    return sum(math.ceil(counts.get(d, 0) / BATCH) for d in mixnet)


def _mix_tasks_added(run: NationalRun) -> float:
    """The mix's batch tasks at F = 1 beyond this run's (per batch of `BATCH` rows, a head
    and a check of each present guardian's partial decryption, and the combination), less
    those the slope a ballot of `calibrate` already counts: the batches gained between its
    two runs, at the same rate a ballot up to F = 1."""
    full = {d.id: d.ballots(1.0) for d in run.shape}
    batches_f1 = _batches(run, full)
    batches_now = _batches(run)
    added = float(max(0, batches_f1 - batches_now))
    if run.calibration is not None:
        _, fewer, _, batches_small = run.calibration
        ballots = sum(run.outcome.ballots.values())
        rate = (batches_now - batches_small) / max(1, ballots - fewer)
        added = max(0.0, added - rate * (sum(full.values()) - ballots))
    return added * (2 * (GUARDIANS - 1) + 1)


def two_point(big: tuple[int, float], small: tuple[int, float]) -> tuple[float, float]:
    """(fixed, a unit) of a cost measured at two sizes (units, cost), `big` the larger: the
    line through both, neither part below 0 (a measurement's noise can tilt it)."""
    (n, cost), (m, cost_small) = big, small
    if n <= m:
        raise ValueError("the first size must be the larger")
    slope = max(0.0, (cost - cost_small) / (n - m))
    return max(0.0, cost_small - slope * m), slope


def calibrate(run: NationalRun, small: NationalRun) -> None:
    """Split the main process's CPU of `verify` (its entry files read by tasks) into a
    fixed part and a part a ballot from `run` and a second run at a smaller scale,
    and project again with them. Unchanged if the two runs have the same ballots."""
    ballots, fewer = sum(run.outcome.ballots.values()), sum(small.outcome.ballots.values())
    if ballots <= fewer or run.sizes is None:
        return
    # both runs read their entry files by tasks (`run_national`): the main process's CPU
    # is its own part only, the national log's reading not in it
    run.main_fixed_s, run.main_per_ballot_s = two_point(
        (ballots, run.verify_main_s), (fewer, small.verify_main_s)
    )
    run.calibration = (small.scale, fewer, small.verify_main_s, _batches(small))
    fill_f1(run, run.sizes)


MAIN = "verify: its main process (split shuffles' main part, fixed, per ballot and task)"

NATIONAL_READ = "verify: national log read by tasks"

SPLIT_SHUFFLES = "verify: shuffles split over the cluster (workers)"

REST = "verify: the rest (fixed)"


def fill_f1(run: NationalRun, sizes: Sizes) -> None:
    """Each stage's items at F = 1, the kinds of verification work, and the projections."""
    f1 = _f1(run)
    kinds = {BOARD_READ, BOARD, HOMOMORPHIC, WRITTEN, SHUFFLES, MIX_DECRYPTIONS, MIX_COMBINE}
    for s in run.meter.stages:
        if s.name not in kinds:
            s.items_f1 = f1.get(s.unit, s.items)
    run.kinds, today = _kinds(run, sizes)
    run.split_main = (sizes.split_main_s, sizes.split_main_per_unit_s)
    run.projection = project(run.kinds, run.overhead_s)
    run.today = project(today, run.overhead_s)


def summary_json(run: NationalRun) -> dict[str, Any]:
    """The contract's JSON (issue 17, "Interfaces other tools rely on") and more."""
    p, t = run.projection, run.today
    assert p is not None
    assert t is not None
    ballots_f1 = sum(d.ballots(1.0) for d in run.shape)
    return {
        "districts": len(run.shape),
        "seats": sum(d.seats for d in run.shape),
        "candidates": sum(d.candidates for d in run.shape),
        "electorate": sum(d.electorate for d in run.shape),
        "stations": len(run.outcome.ctx.manifest.stations),
        "scale": run.scale,
        "seed": run.seed,
        "turnout": TURNOUT,
        "ballots": sum(run.outcome.ballots.values()),
        "ballots_f1": ballots_f1,
        "mixnet_districts": len(run.outcome.ctx.manifest.mixnet_districts()),
        "verified": run.report.valid,
        "count_equals_plaintext": True,
        "stages": [s.as_json() for s in run.meter.stages],
        "kinds": [
            {
                "kind": k.name,
                "unit": k.unit,
                "units": k.units,
                "cpu_s": round(k.cpu_s, 3),
                "cpu_us_per_unit": round(1e6 * k.cpu_per_unit, 2),
                "units_f1": k.units_f1,
                "tasks_f1": k.tasks_f1,
                "core_hours_f1": round(k.core_s_f1 / 3600, 3),
                "longest_task_s": round(k.longest_task_s, 2),
            }
            for k in run.kinds
        ],
        "task_overhead_ms": round(1000 * run.overhead_s, 4),
        "task_overhead_source": run.overhead_source,
        "pool_overhead_ms": round(1000 * run.pool_overhead_s, 4),
        "ray_overhead_ms": (
            None if run.ray_overhead_s is None else round(1000 * run.ray_overhead_s, 4)
        ),
        "main_national_read": {
            name: {
                "bytes": n,
                "cpu_s": round(cpu, 3),
                "bytes_f1": round(f1),
                "ns_per_byte": round(1e9 * cpu / n, 3) if n else None,
            }
            for name, (n, cpu, f1) in run.national_read.items()
        },
        "verify_main": {
            "cpu_s": round(run.verify_main_s, 3),
            "us_per_ballot": round(1e6 * run.main_per_ballot_s, 2),
            "hours_f1": round(run.main_per_ballot_s * ballots_f1 / 3600, 4),
            "fixed_s": round(run.main_fixed_s, 3),
            "us_per_task": round(1e6 * run.main_per_task_s, 2),
            "mix_tasks_added_f1": _mix_tasks_added(run),
            "model": "two runs" if run.calibration else "upper bound (one run)",
            "calibration": _calibration_json(run),
        },
        "split_shuffle_main": {
            "ms_per_shuffle": round(1000 * run.split_main[0], 3),
            "us_per_ciphertext": round(1e6 * run.split_main[1], 2),
            "from_rows": SPLIT_ROWS,
        },
        "projected_verify_hours_32x16": round(p.hours, 4),
        "projection": _projection_json(
            p,
            "tasks as the README's plan splits them: the board in chunks of 64 MiB of "
            f"entries (the largest entry whole), ballots in chunks of {MAX_CHUNK}, a "
            "shuffle's check over one machine's 16 cores, decryptions in batches of 500, "
            "and combined in "
            "those batches",
        ),
        "projection_today": _projection_json(
            t,
            "tasks as the verifier now splits them: the national log read by tasks of "
            f"{SCAN_PART_BYTES // 2**20} MiB (parsing its small entries only); its main "
            "process does its part of each shuffle of "
            f"{SPLIT_ROWS} rows or more, which is checked by chunks over every core, and all "
            "the rest it did in this run, a fixed part and a part a ballot from two runs "
            "(without a second run, all of it a ballot), and a task of the mix's batches "
            "beyond this run's (verify_main); "
            "the entry files read and checked by tasks, their lines in chunks "
            f"of {CHUNK_BYTES // 2**20} MiB, smaller shuffles a task each, decryptions and "
            f"their combination in batches of {BATCH}",
        ),
    }


def _calibration_json(run: NationalRun) -> dict[str, Any] | None:
    if run.calibration is None:
        return None
    scale, ballots, cpu, batches = run.calibration
    return {"scale": scale, "ballots": ballots, "cpu_s": round(cpu, 3), "mix_batches": batches}


def _projection_json(p: Projection, split: str) -> dict[str, Any]:
    return {
        "hours": round(p.hours, 4), "machines": p.machines, "cores": p.cores,
        "core_hours": round(p.core_hours, 3),
        "overhead_core_hours": round(p.overhead_core_hours, 4), "tasks": p.tasks,
        "spread_hours": round(p.spread_hours, 4),
        "longest_task_hours": round(p.longest_task_hours, 4), "bound": p.bound, "split": split,
    }  # fmt: skip
