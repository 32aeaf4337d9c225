"""`verivote bench cast-api`: ballots cast per second over HTTP into PostgreSQL (issue 15).

The benchmark creates the demo's election (`verivote.sim.election.province`, its roll as it
is) in the given database, holds a key ceremony, opens every station, imports one voter per
ballot it will send and checks each one in at the ballot's station beforehand, so that every
ballot has its check-in. Ballots are the demo's (its voter model, encrypted by the demo's device
code in a process pool) and are made before any timing. Then, in up to two phases, a real
server (`verivote.web.app.live_app` under uvicorn, in a process of its own) is driven by N
concurrent devices, each on its own keep-alive connection, one ballot at a time:

- proofs: every proof checked in the server's process pool, as `verivote serve` does;
- append-only (`--no-proofs`, the benchmark's own server, never a server option): the ballots
  are taken as checked (`BallotService(check_proofs=False)`), to measure the append path
  alone. Its ballots are real ballots whose nonce is replaced by a fresh one (distinct tracking
  codes and nonces at no encryption cost; their proofs would no longer verify, which this
  server does not look at).

The CPU time each ballot costs is read from /proc: the pool's workers (proof checking), the
server's own process (HTTP, JSON, and the database driver), the PostgreSQL backends of the
server's connections (found by their application name) and the load generator.

In the same run, the machine's proof-checking capacity, three ways, the largest kept (the
strictest for the share): cores ÷ the CPU time `prepare_cast` takes for one ballot in this
process, before the phases; and ballots/s of a pool of one process a core doing nothing but
check the proofs phase's ballots as the server's workers do (`prepare_body` on the request's
bytes), before and after the phase that checks them. The machine is shared and its speed
drifts by a fifth within minutes (the CPU time of a check moved from 14 to 19 ms between
runs): one measurement before the phases could be taken in a slow minute and flatter the
share.

At the end every station is closed (which puts every open batch on the board), and the
acknowledged ballots are counted from the database and the record: `lost` are tracking codes
answered `accepted` (or `already_accepted`) that are not in `ballots` with exactly one board
entry, `duplicated` the tracking codes with more than one `ballot-cast` entry on the board.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import secrets
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from verivote.election.polls import close_polls, open_polls
from verivote.election.service import (
    ElectionContext,
    hold_ceremony,
    init_election,
    load_context,
    prepare_cast,
)
from verivote.sim.election import _voters, encrypt_job, init_device, province
from verivote.store import Store, make_engine, migrate
from verivote.store.access import issue_token
from verivote.store.roll import Checkin, CheckinResult, check_in_many, import_voters
from verivote.store.schema import ballots, board_entries, pending_ballots
from verivote.web.benchkit import (
    descendants,
    free_port,
    post_json,
    postgres_cpu,
    process_cpu,
    wait_for,
)

SEED = 1
CAPACITY_SAMPLE = 24
"""Ballots whose checking time gives the machine's capacity (after one for warming up)."""
APPEND_GOAL = 3000
"""Ballots/s the append path should take (the issue's goal), which sizes its pool of ballots."""
NONCE_MARK = "0" * 63 + "x"


@dataclass
class Phase:
    """What one phase measured."""

    name: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    codes: list[str] = field(default_factory=list)
    warm_codes: list[str] = field(default_factory=list)
    """Acknowledged while warming up (not timed; counted for lost and duplicated)."""
    cpu: dict[str, float] = field(default_factory=dict)
    exhausted: bool = False

    def figures(self) -> dict[str, Any]:
        n = len(self.codes)
        lat = sorted(self.latencies)
        per = {k: round(1000 * v / n, 3) if n else None for k, v in self.cpu.items()}
        return {
            "ballots_per_s": round(n / self.seconds, 1) if self.seconds else 0.0,
            "acknowledged": n,
            "requests": len(lat),
            "p50_ms": round(1000 * statistics.median(lat), 2) if lat else None,
            "p99_ms": round(1000 * lat[int(0.99 * (len(lat) - 1))], 2) if lat else None,
            "seconds": round(self.seconds, 2),
            "statuses": dict(self.statuses),
            "pool_exhausted": self.exhausted,
            "warm_up_acknowledged": len(self.warm_codes),
            "cpu_ms_per_ballot": per,
        }


def measure_cast_api(
    url: str,
    seconds: float,
    devices: int,
    proofs: bool = True,
    append_only: bool = True,
    cast_workers: int | None = None,
) -> dict[str, Any]:
    """Run the benchmark (see the module docstring) in the database at `url` (PostgreSQL, an
    empty scratch schema) and return its figures."""
    cores = os.cpu_count() or 1
    engine = make_engine(url)
    migrate(engine)
    store = Store(engine)
    manifest, models = province(SEED, turnout=False)
    init_election(store, manifest)
    with tempfile.TemporaryDirectory() as keys:
        hold_ceremony(store, load_context(store, manifest.election_id), 1, 1, Path(keys))
    ctx = load_context(store, manifest.election_id)
    assert ctx.key is not None
    stations = [s.id for s in manifest.stations]
    open_polls(store, ctx, stations)
    tokens = {s: issue_token(engine, ctx.election_id, s) for s in stations}
    setup0 = time.perf_counter()

    # The machine's proof-checking capacity, measured here on ballots of the demo's shape.
    # The homomorphic districts' ballots only, as when the figures of issue 15 were measured:
    # the mixnet district's written ballots (issue 16) are a few hundred bytes, not comparable.
    marked = {s.id for s in manifest.stations
              if manifest.district(s.district).counted_by == "homomorphic"}  # fmt: skip
    jobs = (job for job in _voters(manifest, models, 1_000_000, _rng()) if job[0] in marked)
    with ProcessPoolExecutor(
        cores, initializer=init_device, initargs=(ctx.manifest, ctx.key, ctx.base_hash)
    ) as pool:
        first = _take(jobs, CAPACITY_SAMPLE + 1)
        sample = [b for b, _ in pool.map(encrypt_job, first, chunksize=4)]
        prepare_cast(ctx, sample[0])  # warm-up: fixed-base tables are built on first use
        t0 = time.process_time()
        for ballot in sample[1:]:
            prepare_cast(ctx, ballot)
        check_s = (time.process_time() - t0) / CAPACITY_SAMPLE
        capacity = cores / check_s
        # Enough ballots for the proofs phase at full capacity, and a few to warm up with.
        wanted = int(capacity * seconds * 1.3) + 4 * devices if proofs else 0
        made = [b for b, _ in pool.map(encrypt_job, _take(jobs, wanted), chunksize=8)]
    real = sample + made
    proof_items = [(tokens[b["station"]], _body(b)) for b in made]
    checks = [(_body(b), b["station"]) for b in made[:CAPACITY_POOL_BALLOTS]]
    templates = [(b["station"], _template(b)) for b in real]
    append_n = int(APPEND_GOAL * 1.5 * seconds) + 4 * devices if append_only else 0
    append_stations = [templates[i % len(templates)][0] for i in range(append_n)]

    # One voter per ballot, checked in at the ballot's station before any ballot is sent.
    station_district = {s.id: s.district for s in manifest.stations}
    at = [b["station"] for b in made] + append_stations
    voters = [f"{n:010d}" for n in range(len(at))]
    import_voters(engine, ctx.election_id, (
        (code, station_district[s], None) for code, s in zip(voters, at, strict=True)
    ))  # fmt: skip
    for start in range(0, len(at), 5000):
        batch = [
            Checkin(voters[n], at[n], station_district[at[n]], 9, f"bench-{n}")
            for n in range(start, min(start + 5000, len(at)))
        ]
        for answer in check_in_many(engine, ctx.election_id, batch):
            assert isinstance(answer, CheckinResult), answer
            assert answer.status == "accepted", answer
    setup_s = time.perf_counter() - setup0

    pooled = [_pool_capacity(ctx, checks, cores)] if proofs else []
    phases: list[Phase] = []
    if proofs:
        phases.append(
            _run_phase("proofs", url, ctx, True, iter(proof_items), devices, seconds, cast_workers)
        )
        pooled.append(_pool_capacity(ctx, checks, cores))
    if append_only:

        def fresh() -> Iterator[tuple[str, bytes]]:
            for i in range(append_n):
                station, (head, tail) = templates[i % len(templates)]
                yield tokens[station], head + secrets.token_hex(32).encode() + tail

        phases.append(
            _run_phase("append_only", url, ctx, False, fresh(), devices, seconds, cast_workers)
        )

    capacity = max([capacity, *pooled])
    floor = _append_floor(engine, real[0], cores) if append_only else None
    close_polls(store, ctx, stations)  # every open batch goes onto the board
    acknowledged = [c for p in phases for c in p.codes + p.warm_codes]
    lost, duplicated = _count(engine, ctx.election_id, acknowledged)
    engine.dispose()
    by = {p.name: p.figures() for p in phases}
    main = by.get("proofs") or by["append_only"]
    rate = by["proofs"]["ballots_per_s"] if "proofs" in by else None
    return {
        "ballots_per_s": rate,
        "capacity_per_s": round(capacity, 1),
        "capacity_share": round(rate / capacity, 3) if rate is not None else None,
        "pool_share": round(rate / max(pooled), 3) if rate is not None and pooled else None,
        "append_only_per_s": by["append_only"]["ballots_per_s"] if "append_only" in by else None,
        "p50_ms": main["p50_ms"],
        "p99_ms": main["p99_ms"],
        "lost": lost,
        "duplicated": duplicated,
        "check_ms_per_ballot": round(1000 * check_s, 3),
        "capacity_serial_per_s": round(cores / check_s, 1),
        "capacity_pool_per_s": [round(c, 1) for c in pooled],
        "cores": cores,
        "devices": devices,
        "cast_workers": cast_workers or cores,
        "seconds": seconds,
        "setup_seconds": round(setup_s, 1),
        "ballot_bytes": len(_body(real[0])),
        "backend": engine.dialect.name,
        "append_floor": floor,
        "phases": by,
    }


FLOOR_BALLOTS = 1000
CAPACITY_POOL_BALLOTS = 300
"""Ballots the pool checks, each time it measures the capacity: about 2 s of 2 cores."""


_checker_ctx: ElectionContext | None = None


def _init_checker(pieces: Any) -> None:
    from verivote.web.ballots import rebuild_context

    global _checker_ctx
    _checker_ctx = rebuild_context(pieces)


def _check_in_worker(body: bytes, station_id: str) -> Any:
    from verivote.web.ballots import prepare_body

    assert _checker_ctx is not None, "the worker was not initialised"
    return prepare_body(_checker_ctx, body, station_id)


def _pool_capacity(ctx: ElectionContext, checks: list[tuple[bytes, str]], cores: int) -> float:
    """Ballots/s of `cores` spawned processes that only check proofs, as the server's pool
    does (each ballot's request body and station), once every worker has checked one."""
    from verivote.web.ballots import context_pieces

    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        cores, mp_context=spawn, initializer=_init_checker, initargs=(context_pieces(ctx),)
    ) as pool:
        # every worker builds its fixed-base tables before the clock starts
        warm = checks[: 4 * cores]
        list(pool.map(_check_in_worker, *zip(*warm, strict=True)))
        t0 = time.perf_counter()
        list(pool.map(_check_in_worker, *zip(*checks, strict=True), chunksize=2))
        return len(checks) / (time.perf_counter() - t0)


def _append_floor(engine: Any, ballot: dict[str, Any], cores: int) -> dict[str, float]:
    """The cost of what the append path cannot avoid, per ballot: its canonical JSON and
    tracking code (in this process), and PostgreSQL storing its entry twice, once in its
    station's batch and once on the board, committed 32 at a time (two logged tables in the
    benchmark's scratch schema, one connection, the backend's CPU read from /proc).
    `floor_per_s` is the rate the machine's cores would reach if the append path cost only
    that."""
    from verivote.crypto.tracking import tracking_code
    from verivote.election.service import cast_entry
    from verivote.model.canonical import canonical_json

    t0 = time.process_time()
    for _ in range(200):
        body = canonical_json(ballot)
        entry = cast_entry(body, tracking_code(b"\x00" * 32, body))
    canonical_s = (time.process_time() - t0) / 200
    with engine.connect() as conn:
        backend = int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
        conn.exec_driver_sql("CREATE TABLE floor_a (k bigint PRIMARY KEY, e bytea NOT NULL)")
        conn.exec_driver_sql("CREATE TABLE floor_b (k bigint PRIMARY KEY, e bytea NOT NULL)")
        conn.commit()
        pg0, me0 = process_cpu(backend), time.process_time()
        for start in range(0, FLOOR_BALLOTS, 32):
            rows = [{"k": k, "e": entry} for k in range(start, start + 32)]
            conn.execute(text("INSERT INTO floor_a (k, e) VALUES (:k, :e)"), rows)
            conn.execute(
                text("INSERT INTO floor_b SELECT k, e FROM floor_a WHERE k >= :a AND k < :b"),
                {"a": start, "b": start + 32},
            )
            conn.commit()
        pg_s = (process_cpu(backend) - pg0) / FLOOR_BALLOTS
        client_s = (time.process_time() - me0) / FLOOR_BALLOTS
        conn.exec_driver_sql("DROP TABLE floor_a, floor_b")
        conn.commit()
    per_ballot = canonical_s + pg_s + client_s
    return {
        "canonical_ms": round(1000 * canonical_s, 3),
        "postgres_ms": round(1000 * pg_s, 3),
        "driver_ms": round(1000 * client_s, 3),
        "floor_per_s": round(cores / per_ballot, 1),
    }


def _rng() -> Any:
    import random

    return random.Random(SEED)


def _take(items: Iterator[tuple[str, list[str]]], n: int) -> list[tuple[str, list[str]]]:
    return [next(items) for _ in range(n)]


def _body(ballot: dict[str, Any]) -> bytes:
    return json.dumps({"ballot": ballot}).encode()


def _template(ballot: dict[str, Any]) -> tuple[bytes, bytes]:
    """A cast request's body around its ballot's nonce, to put a fresh nonce in."""
    head, tail = _body({**ballot, "nonce": NONCE_MARK}).split(NONCE_MARK.encode())
    return head, tail


def _app_url(url: str, name: str) -> str:
    """`url` whose connections carry `name` as their application name (to find their
    PostgreSQL backends)."""
    return (
        make_url(url)
        .update_query_dict({"application_name": name})
        .render_as_string(hide_password=False)
    )


def _serve(url: str, election_id: str, port: int, check_proofs: bool, workers: int | None) -> None:
    """The benchmark's server process: the live application under uvicorn."""
    import uvicorn

    from verivote.web.app import live_app

    store = Store(make_engine(url))
    ctx = load_context(store, election_id)
    app = live_app(store, ctx, cast_workers=workers, check_proofs=check_proofs)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _backends(engine: Any, name: str) -> list[int]:
    with engine.begin() as conn:
        rows = conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE application_name = :n"), {"n": name}
        )
        return [int(r[0]) for r in rows]


def _run_phase(
    name: str,
    url: str,
    ctx: ElectionContext,
    check_proofs: bool,
    items: Iterator[tuple[str, bytes]],
    devices: int,
    seconds: float,
    workers: int | None,
) -> Phase:
    """Start a server, warm it up, drive it for `seconds`, stop it; the phase's figures."""
    app_name = f"verivote_bench_{secrets.token_hex(4)}"
    port = free_port()
    spawn = multiprocessing.get_context("spawn")
    server = spawn.Process(
        target=_serve,
        args=(_app_url(url, app_name), ctx.election_id, port, check_proofs, workers),
    )
    server.start()
    assert server.pid is not None
    base = f"http://127.0.0.1:{port}"
    phase = Phase(name)
    admin = make_engine(url)
    try:
        wait_for(f"{base}/api/turnout")
        # Warm-up, not timed: the pool's workers start and build their tables, connections open.
        warm = Phase("warm-up")
        _drive(base, items, devices, 2 * devices, warm, time.perf_counter() + 60)
        pid = server.pid
        pg0 = {p: process_cpu(p) for p in _backends(admin, app_name)}
        all0, main0 = postgres_cpu(), process_cpu(pid)
        kids0 = {c: process_cpu(c) for c in descendants(pid)}
        client0 = time.process_time()
        measured = Phase(name)
        t0 = time.perf_counter()
        _drive(base, items, devices, None, measured, t0 + seconds)
        measured.seconds = time.perf_counter() - t0
        kids = {c: process_cpu(c) - kids0.get(c, 0.0) for c in descendants(pid)}
        pg = {p: process_cpu(p) - pg0.get(p, 0.0) for p in _backends(admin, app_name)}
        measured.cpu = {
            "proof_checking": sum(kids.values()),
            "http_server": process_cpu(pid) - main0,
            "database": sum(pg.values()),
            "postgres_all": postgres_cpu() - all0,
            "load_generator": time.process_time() - client0,
        }
        measured.warm_codes = warm.codes
        phase = measured
    finally:
        server.terminate()
        server.join(60)
        if server.is_alive():
            server.kill()
            server.join()
        admin.dispose()
    return phase


def _drive(
    base: str,
    items: Iterator[tuple[str, bytes]],
    devices: int,
    limit: int | None,
    phase: Phase,
    deadline: float,
) -> None:
    try:
        import uvloop

        uvloop.run(_drive_async(base, items, devices, limit, phase, deadline))
    except ImportError:  # pragma: no cover - uvloop is a dependency on every POSIX system
        asyncio.run(_drive_async(base, items, devices, limit, phase, deadline))


async def _drive_async(
    base: str,
    items: Iterator[tuple[str, bytes]],
    devices: int,
    limit: int | None,
    phase: Phase,
    deadline: float,
) -> None:
    """`devices` devices, each on its own keep-alive connection, one ballot at a time, until
    the deadline, `limit` ballots sent, or no ballot left. HTTP/1.1 by hand, as `bench
    checkin` does: the load generator shares the machine and must cost little."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    sent = [0]

    async def device() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while time.perf_counter() < deadline and (limit is None or sent[0] < limit):
                item = next(items, None)
                if item is None:
                    phase.exhausted = True
                    return
                sent[0] += 1
                token, body = item
                t0 = time.perf_counter()
                answer = await post_json(reader, writer, host, "/api/ballots", token, body)
                status = answer["status"]
                phase.latencies.append(time.perf_counter() - t0)
                phase.statuses[status] += 1
                if status in ("accepted", "already_accepted"):
                    phase.codes.append(answer["tracking_code"])
                elif status == "error":
                    return
        finally:
            writer.close()

    await asyncio.gather(*(device() for _ in range(devices)))


def _count(engine: Any, election_id: str, acknowledged: list[str]) -> tuple[int, int]:
    """(lost, duplicated) after every station closed: acknowledged tracking codes missing from
    `ballots` or from the board, or still pending; tracking codes on the board more than once."""
    with engine.begin() as conn:
        rows = set(
            conn.execute(
                select(ballots.c.tracking_code).where(ballots.c.election_id == election_id)
            ).scalars()
        )
        pending = set(
            conn.execute(
                select(pending_ballots.c.tracking_code).where(
                    pending_ballots.c.election_id == election_id
                )
            ).scalars()
        )
        on_board: Counter[str] = Counter()
        entries = conn.execute(
            select(board_entries.c.entry).where(
                board_entries.c.election_id == election_id,  # every log: each district's
                board_entries.c.entry_type == "ballot-cast",
            )
        ).scalars()
        for entry in entries:
            on_board[json.loads(bytes(entry))["tracking_code"]] += 1
    lost = sum(1 for c in set(acknowledged) if c not in rows or c in pending or c not in on_board)
    duplicated = sum(1 for n in on_board.values() if n > 1)
    return lost, duplicated
