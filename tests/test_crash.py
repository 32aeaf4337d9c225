"""Casting is one transaction: a writer killed at any moment leaves either the whole ballot
(admitted to its batch with its counter, or its batch on the board with its ballot rows and
its log's stored tree) or nothing, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests import crash_worker
from tests.store_fixtures import BACKENDS, backend_database
from verivote.board.merkle import MerkleLog, leaf_hash
from verivote.store import Store, make_engine, migrate
from verivote.store.schema import pending_ballots

E = "crash-test"


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with backend_database(request.param, tmp_path) as database:
        engine = make_engine(database)
        migrate(engine)
        store = Store(engine)
        store.create_election(E, "ab" * 32, b"{}")
        crash_worker.open_stations(store, E)
        engine.dispose()
        yield database


def consistent(store: Store) -> int:
    """Check the board, its stored tree, the batches and the counters agree; returns the
    ballots admitted."""
    d = crash_worker.DISTRICT  # the log of every ballot and polls statement here
    entries = store.entries(E, log=d)
    assert len(entries) == store.entry_count(E, log=d)
    # The tree's tiles are written in the entries' transaction (issue 17): never behind them.
    log = MerkleLog(leaf_hash(e) for e in entries)
    assert store.tree_root(E, log=d) == log.root()
    if entries:
        last = len(entries) - 1
        assert store.inclusion_proof(E, last, log=d) == log.inclusion_proof(last)
    on_board: dict[str, int] = {}
    for raw in entries:
        doc = json.loads(raw)
        if doc["type"] != "b":
            continue
        code = doc["tracking_code"]
        ballot = store.ballot(E, code)
        assert ballot is not None
        assert entries[ballot.board_idx] == raw
        on_board[ballot.station_id] = on_board.get(ballot.station_id, 0) + 1
    with store.engine.begin() as conn:
        waiting = dict(
            conn.execute(
                select(pending_ballots.c.station_id, func.count()).group_by(
                    pending_ballots.c.station_id
                )
            ).all()
        )
    counts = store.station_counts(E)
    for station in crash_worker.STATIONS:
        admitted = on_board.get(station, 0) + waiting.get(station, 0)
        assert counts.get(station, (0, 0))[1] == admitted, station
        assert on_board.get(station, 0) % 3 == 0  # whole batches only
    return sum(n for _, n in counts.values())


def test_a_writer_killed_between_append_and_commit_leaves_nothing(url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    child = ctx.Process(target=crash_worker.stall_mid_append, args=(url, E, ready))
    child.start()
    assert ready.wait(60), "the writer never reached its append"
    os.kill(child.pid or 0, signal.SIGKILL)
    child.join(30)
    engine = make_engine(url)
    store = Store(engine)
    d = crash_worker.DISTRICT
    assert store.entry_count(E, log=d) == 3  # the three polls-open entries, nothing more
    assert consistent(store) == 0
    # The lock of the district's log died with the writer: the next writer goes through.
    store.append_entry(E, b'{"type":"after"}', "after", log=d)
    assert store.entries(E, 3, log=d) == [b'{"type":"after"}']
    engine.dispose()


@pytest.mark.slow
def test_writers_killed_at_random_moments_never_leave_a_half_entry(url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    rng = random.Random(7)
    engine = make_engine(url)
    store = Store(engine)
    size = 0
    for _ in range(4):
        started = ctx.Event()
        child = ctx.Process(target=crash_worker.cast_forever, args=(url, E, started))
        child.start()
        assert started.wait(60)
        child.join(rng.uniform(0.05, 0.4))
        os.kill(child.pid or 0, signal.SIGKILL)
        child.join(30)
        now = consistent(store)
        assert now > size
        size = now
    engine.dispose()
