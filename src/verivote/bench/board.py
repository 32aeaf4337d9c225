"""`verivote bench board` (issue 17, "Speed"): the board's logs and their stored trees.

In one run, in a new election of the database, on this machine:

- appends: A ballot-sized entries (about 800 bytes of canonical JSON each, their proofs taken
  as checked; A = N unless `--appends` says otherwise) appended into D district logs at once,
  one writer thread per district, each committing a batch of entries per transaction (group
  commit), tiles included: `appends_per_s`. Its floor, `append_hash_floor_per_s`: the
  SHA-256 work of the tree alone (a leaf hash per entry and the node hashes of its full
  tiles) on one core.
- proofs: a log of N entries (loaded at once, `load_per_s`: through COPY on PostgreSQL,
  `Store.bulk_append` on SQLite), then inclusion proofs at random indices by R reader
  PROCESSES at once (a tracker's workers serving its visitors: threads would share one
  interpreter's lock, and the client's work is half a proof's CPU), each read from the
  stored tree with its entry (`Store.proved_entry`: one query, only the proof's hashes of
  each tile) and verified against the log's root: `proofs_per_s`, the machine's. Floor,
  `proof_verify_floor_per_s`: verifying the same proofs alone, one thread.
- checkpoint: the root of the whole log of N from its stored tiles, `checkpoint_ms` (median
  of repeated reads); floor, `checkpoint_hash_ms`: the same from tiles already in memory.

A proof or a root reads O(log n) stored hashes: from the tiles of the ⌈log₂ n / 8⌉ tile
levels the path crosses (3 at 65,536 < n ≤ 16.7 M), one query each time, whatever n is.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import random
import secrets
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any

from verivote.board import merkle, tiles
from verivote.store import Store, bulk, make_engine, migrate
from verivote.store.txn import append_many

Step = Callable[[str, float], None]
"""step(what comes next, phases just completed): the progress callback."""

PHASES = 4
ENTRY_TYPE = "ballot-cast"
PROOF_SECONDS = 5.0
"""How long proofs are drawn for (at least 200 of them)."""
CHECKPOINT_READS = 50


def validate(entries: int, districts: int, batch: int, readers: int = 1,
             appends: int | None = None) -> str | None:  # fmt: skip
    """The one-line reason the run cannot be made with these sizes, or None."""
    if entries < 1:
        return f"--entries must be at least 1, not {entries}"
    if appends is not None and appends < 1:
        return f"--appends must be at least 1, not {appends}"
    if not 1 <= districts <= 1000:
        return f"--districts must be between 1 and 1000, not {districts}"
    if batch < 1:
        return f"--batch must be at least 1, not {batch}"
    if not 1 <= readers <= 64:
        return f"--readers must be between 1 and 64, not {readers}"
    return None


def ballot_entry(district: str, n: int, filler: str) -> bytes:
    """A ballot-sized board entry: canonical JSON (sorted keys, no spaces), about 800 bytes."""
    doc = {"ballot": filler, "district": district, "n": n, "type": ENTRY_TYPE}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def _entries(district: str, start: int, count: int) -> Iterator[bytes]:
    filler = secrets.token_hex(370)  # the encrypted ballot's bytes stand-in: 740 hex digits
    # ballot_entry's bytes around the number, made once: 10 million entries are made here
    head, tail = ballot_entry(district, 0, filler).split(b'"n":0,')
    if b'%s"n":%d,%s' % (head, start, tail) != ballot_entry(district, start, filler):
        raise AssertionError("the entry template differs from ballot_entry")
    for n in range(start, start + count):
        yield b'%s"n":%d,%s' % (head, n, tail)


def _append_log(store: Store, election: str, log: str, count: int, batch: int) -> None:
    made = _entries(log, 0, count)
    while chunk := [(e, ENTRY_TYPE) for e in (next(made, None) for _ in range(batch)) if e]:
        with store.engine.begin() as conn:
            append_many(conn, election, chunk, log)


def measure_appends(store: Store, election: str, entries: int, districts: int, batch: int
                    ) -> dict[str, Any]:  # fmt: skip
    """D writers append N entries into D district logs, a transaction per batch."""
    shares = [entries // districts + (d < entries % districts) for d in range(districts)]
    errors: list[BaseException] = []
    start = threading.Barrier(districts + 1)

    def writer(d: int) -> None:
        start.wait()
        try:
            _append_log(store, election, f"d{d}", shares[d], batch)
        except BaseException as exc:  # reported after the join, never swallowed
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(d,)) for d in range(districts)]
    for thread in threads:
        thread.start()
    start.wait()
    t0 = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - t0
    if errors:
        raise errors[0]
    logs = store.logs(election)
    if [logs.get(f"d{d}", 0) for d in range(districts)] != shares:
        raise RuntimeError(f"the district logs hold {logs}, not {shares}")
    return {"append_seconds": round(seconds, 3), "appends_per_s": round(entries / seconds, 1)}


def append_hash_floor(entries: Sequence[bytes]) -> float:
    """Entries per second for the tree's SHA-256 work alone: leaf hashes and full tiles."""
    t0 = time.perf_counter()
    tiles.append_leaves(0, {}, [merkle.leaf_hash(e) for e in entries])
    return len(entries) / (time.perf_counter() - t0)


Proved = tuple[bytes, int, list[bytes]]
"""A proof drawn: the entry's leaf hash, its index and its inclusion proof."""


@dataclass(frozen=True)
class ReaderRun:
    """What a reader process did, between `started` and `ended` (perf_counter, the same
    clock in every process), with the CPU seconds it and its database server process spent
    (`server_cpu` None: no server process of its own visible here, or SQLite's, which is
    the reader's own)."""

    started: float
    ended: float
    proofs: list[Proved]
    client_cpu: float
    server_cpu: float | None
    error: str = ""


def _server_process(store: Store) -> int | None:
    """The PostgreSQL server process of the store's (one) pooled connection, if its CPU
    times can be read here (/proc: a server on this machine), else None."""
    if store.engine.dialect.name != "postgresql":
        return None
    with store.engine.connect() as conn:
        pid = int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
    return pid if _cpu_seconds(pid) is not None else None


def _cpu_seconds(pid: int | None) -> float | None:
    """User and system CPU seconds of process `pid` (proc(5), fields 14 and 15)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _reader(url: str, election: str, log: str, size: int, root: bytes, seed: int,
            start: Barrier, results: Queue[ReaderRun]) -> None:  # fmt: skip
    """One reader process (a tracker's worker): its own engine, proofs at random indices,
    each with its entry and verified, for PROOF_SECONDS after the start line; puts its
    `ReaderRun` on `results`."""
    engine = make_engine(url)
    mine: list[Proved] = []
    t0 = t1 = cpu = 0.0
    try:
        store = Store(engine)
        store.proved_entry(election, 0, size, log)  # connect before the start line
        server = _server_process(store)
        rng = random.Random(seed)
        start.wait(timeout=120)
        t0 = time.perf_counter()  # CLOCK_MONOTONIC: comparable between processes
        cpu, server_cpu = time.process_time(), _cpu_seconds(server)
        while len(mine) < 200 // start.parties + 1 or time.perf_counter() - t0 < PROOF_SECONDS:
            index = rng.randrange(size)
            entry, proof = store.proved_entry(election, index, size, log)
            leaf = merkle.leaf_hash(entry)
            if not merkle.verify_inclusion(leaf, index, size, proof, root):
                raise RuntimeError(f"the proof of entry {index} does not verify")
            mine.append((leaf, index, proof))
        t1 = time.perf_counter()
        cpu = time.process_time() - cpu
        server_after = _cpu_seconds(server)
        spent = None if server_cpu is None or server_after is None else server_after - server_cpu
        results.put(ReaderRun(t0, t1, mine, cpu, spent))
    except BaseException as exc:  # reported to the parent, never swallowed
        results.put(ReaderRun(t0, t1, [], cpu, None, f"{type(exc).__name__}: {exc}"))
    finally:
        engine.dispose()


def measure_proofs(url: str, store: Store, election: str, log: str, size: int, readers: int,
                   seed: int) -> dict[str, Any]:  # fmt: skip
    """Inclusion proofs at random indices of the log, each with its entry and verified, by
    `readers` processes at once (as a tracker's workers serve its visitors): the machine's
    proofs per second, not one interpreter's (a thread holds the GIL for the client's work,
    about half of a proof's CPU). Beside it, the CPU a proof took: the readers' own
    (`proof_client_cpu_ms`, verifying included) and their database server processes'
    (`proof_server_cpu_ms`, when on this machine), whatever else the machine was doing."""
    root = store.tree_root(election, size, log)
    context = multiprocessing.get_context("spawn")  # no engine or pool inherited
    start = context.Barrier(readers)
    results: Queue[ReaderRun] = context.Queue()
    processes = [
        context.Process(
            target=_reader,
            args=(url, election, log, size, root, seed * 1000 + r, start, results),
        )
        for r in range(readers)
    ]
    for process in processes:
        process.start()
    runs = [results.get(timeout=PROOF_SECONDS + 600) for _ in processes]
    for process in processes:
        process.join()
    errors = [run.error for run in runs if run.error]
    if errors:
        raise RuntimeError(f"a reader failed: {errors[0]}")
    seconds = max(run.ended for run in runs) - min(run.started for run in runs)
    proofs = [item for run in runs for item in run.proofs]
    t1 = time.perf_counter()
    for leaf, index, proof in proofs:
        merkle.verify_inclusion(leaf, index, size, proof, root)
    floor = time.perf_counter() - t1
    server = [run.server_cpu for run in runs]
    return {
        "readers": readers,
        "proofs": len(proofs),
        "proofs_per_s": round(len(proofs) / seconds, 1),
        "proof_verify_floor_per_s": round(len(proofs) / floor, 1),
        "proof_hashes": max(len(p) for _, _, p in proofs),
        "proof_client_cpu_ms": round(sum(run.client_cpu for run in runs) / len(proofs) * 1e3, 3),
        "proof_server_cpu_ms": None
        if None in server
        else round(sum(s for s in server if s is not None) / len(proofs) * 1e3, 3),
    }


def measure_checkpoint(store: Store, election: str, log: str, size: int) -> dict[str, Any]:
    """The root of the whole log from the store, and from its tiles already in memory."""
    times = []
    root = b""
    for _ in range(CHECKPOINT_READS):
        t0 = time.perf_counter()
        root = store.tree_root(election, size, log)
        times.append(time.perf_counter() - t0)
    read = store.read_tiles(election, log)
    wanted = tiles.tiles_for(tiles.range_hashes(0, size), size)
    rows = dict(zip(wanted, read(wanted), strict=True))

    def cached(asked: Sequence[tiles.Tile]) -> list[bytes | tiles.TileRow]:
        return [rows[tile] for tile in asked]

    hash_times = []
    for _ in range(CHECKPOINT_READS):
        t0 = time.perf_counter()
        tiles.tree_root(size, cached)
        hash_times.append(time.perf_counter() - t0)
    return {
        "checkpoint_ms": round(statistics.median(times) * 1000, 3),
        "checkpoint_hash_ms": round(statistics.median(hash_times) * 1000, 3),
        "root": root.hex(),
    }


def load_log(store: Store, election: str, log: str, entries: int) -> float:
    """Load a log of `entries` ballot entries at once; returns entries per second. PostgreSQL
    through COPY (`verivote.store.bulk`: 10 million entries in minutes, not an hour of
    INSERTs), SQLite with `Store.bulk_append`."""
    made = _entries(log, 0, entries)
    t0 = time.perf_counter()
    if store.engine.dialect.name == "postgresql":
        with store.engine.begin() as conn:
            bulk.copy_append(conn, election, made, ENTRY_TYPE, log)
    else:
        store.bulk_append(election, made, ENTRY_TYPE, log)
    return entries / (time.perf_counter() - t0)


def measure_board(url: str, entries: int, districts: int, batch: int, readers: int,
                  step: Step, seed: int = 1, appends: int | None = None
                  ) -> dict[str, Any]:  # fmt: skip
    """Every figure of the module docstring, in a new election of the database at `url`;
    `appends` (default `entries`) entries are appended in the appends' phase."""
    appends = entries if appends is None else appends
    engine = make_engine(url)
    try:
        migrate(engine)
        store = Store(engine)
        election = f"bench-board-{secrets.token_hex(4)}"
        store.create_election(election, "00" * 32, b"{}")
        step(f"appending {appends:,} entries into {districts} district logs", 0)
        figures: dict[str, Any] = {
            "backend": engine.dialect.name,
            "entries": entries,
            "appends": appends,
            "districts": districts,
            "batch": batch,
            "entry_bytes": len(ballot_entry("d0", entries, secrets.token_hex(370))),
        }
        figures |= measure_appends(store, election, appends, districts, batch)
        sample = list(_entries("d0", 0, min(appends, 50_000)))
        figures["append_hash_floor_per_s"] = round(append_hash_floor(sample), 1)
        step(f"loading a log of {entries:,} entries", 1)
        figures["load_per_s"] = round(load_log(store, election, "", entries), 1)
        step("inclusion proofs", 1)
        figures |= measure_proofs(url, store, election, "", entries, readers, seed)
        step("checkpoints", 1)
        figures |= measure_checkpoint(store, election, "", entries)
        step("done", 1)
        figures |= {
            "python": platform.python_version(),
            "cores": os.cpu_count(),
            "machine": platform.machine(),
        }
        return figures
    finally:
        engine.dispose()
