"""Databases for the store tests: a SQLite file, or a fresh schema in the development PostgreSQL
(DESIGN.md, "Persistence and services": 127.0.0.1:5432, trust auth, database `test`).

PostgreSQL being unreachable fails the tests that need it, with the way to start it: the store
must be tested on both backends, and a silent skip would hide that it was not.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from verivote.store import Batching, NoCheckin, Pending, Store, make_engine, migrate
from verivote.store.db import scratch_database

POSTGRES_URL = os.environ.get(
    "VERIVOTE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("sqlite", "postgresql")


@contextmanager
def sqlite_database(directory: Path) -> Iterator[str]:
    """The URL of a new SQLite database file in `directory`."""
    yield f"sqlite:///{directory / 'store.db'}"


@contextmanager
def postgres_database() -> Iterator[str]:
    """The URL of a new, empty schema (its own search_path), dropped with its contents after."""
    probe = make_engine(POSTGRES_URL)
    try:
        probe.connect().close()
    except OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_URL} ({exc.orig}); the store "
            "tests need it: start it with `pg_ctlcluster --skip-systemctl-redirect "
            "$(ls /etc/postgresql) main start`, or set VERIVOTE_TEST_POSTGRES_URL",
            pytrace=False,
        )
    finally:
        probe.dispose()
    with scratch_database(POSTGRES_URL) as url:
        yield url


@contextmanager
def backend_database(backend: str, directory: Path) -> Iterator[str]:
    """A fresh, empty database of `backend` ("sqlite" or "postgresql"), as a URL."""
    if backend == "sqlite":
        with sqlite_database(directory) as url:
            yield url
    elif backend == "postgresql":
        with postgres_database() as url:
            yield url
    else:
        raise ValueError(backend)


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new database of each backend (a store test's `url` fixture)."""
    with backend_database(request.param, tmp_path) as database:
        yield database


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    """An engine on `url`, migrated to the newest schema."""
    engine = make_engine(url)
    migrate(engine)
    yield engine
    engine.dispose()


def cast_in_process(
    url: str,
    election_id: str,
    station_id: str,
    tracking_code: str,
    barrier: Barrier,
    results: Queue[tuple[str, str]],
) -> None:
    """Run in a child process: wait for the others, then cast a ballot of its own at a station
    of an election with a roll; report "ok", "no check-in" or the unexpected error."""
    engine = make_engine(url)
    try:
        store = Store(engine)
        store.entry_count(election_id)  # connect before the start line, not after it
        barrier.wait(timeout=30)
        entry = f'{{"ballot":"{tracking_code}"}}'.encode()
        pending = Pending(station_id, "d1", tracking_code, f"n-{tracking_code}", entry, "ballot",
                          "cast")  # fmt: skip
        try:
            store.accept_ballot(election_id, pending, Batching(), roll=True)
        except NoCheckin:
            results.put((tracking_code, "no check-in"))
        except Exception as exc:
            results.put((tracking_code, f"error: {exc!r}"))
        else:
            results.put((tracking_code, "ok"))
    finally:
        engine.dispose()
