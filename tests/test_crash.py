"""Appending to the board is one transaction: a writer killed at any moment leaves either the
whole entry (with its ballot row and chain head) or nothing, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import crash_worker
from tests.store_fixtures import BACKENDS, backend_database
from verivote.store import Store, make_engine, migrate

E = "crash-test"


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with backend_database(request.param, tmp_path) as database:
        engine = make_engine(database)
        migrate(engine)
        Store(engine).create_election(E, "ab" * 32, b"{}")
        engine.dispose()
        yield database


def consistent(store: Store) -> int:
    """Check the board and the casting state agree; returns the board size."""
    entries = store.entries(E)
    assert len(entries) == store.entry_count(E)
    heads: dict[str, str] = {}
    for raw in entries:
        doc = json.loads(raw)
        code = doc["tracking_code"]
        station = code.split("-")[0]
        ballot = store.ballot(E, code)
        assert ballot is not None
        assert entries[ballot.board_idx] == raw
        assert doc["previous"] == heads.get(station, "start")
        heads[station] = code
    for station, head in heads.items():
        assert store.station_head(E, station) == head
    return len(entries)


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
    assert store.entry_count(E) == 0
    assert store.station_head(E, "s0") is None
    # The lock died with the writer: the next writer goes through.
    store.append_entry(E, b'{"type":"after"}', "after")
    assert store.entries(E) == [b'{"type":"after"}']
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
