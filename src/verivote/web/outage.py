"""A database outage, told apart from a bug and answered as what it is (issue 15, "Faults").

When PostgreSQL restarts, or a SQLite file cannot be opened, every request that needs the
database fails until it is back. Such a failure is not the server's bug: the answer is a 503
with `Retry-After`, in the API's JSON error shape (pages: the friendly error page), so that a
station's device keeps the check-in in its journal and uploads it later, and the log gets one
line when the outage starts and one when it ends, not a traceback per request (a restart under
load once wrote about 1,600 traceback lines in a few seconds).

The outage ends at the first transaction the database commits again: an engine event, so that
a request that never touches the database (a stylesheet) says nothing about it.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import weakref

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import OperationalError as SqlOperationalError

from verivote.web.asgi import json_error

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5
"""Seconds a client is told to wait: PostgreSQL restarts in a few."""
DETAIL = "the database is unreachable for the moment; try again shortly"
DATABASE_ERRORS: tuple[type[Exception], ...] = (DBAPIError, psycopg.Error, sqlite3.Error)
"""What a database failure is raised as: SQLAlchemy's wrapper, or a driver's own error where
the store uses the driver directly (the check-in batch on PostgreSQL)."""


def is_outage(exc: BaseException) -> bool:
    """Whether `exc` (or what it was raised from) says the database cannot be reached or used
    at all, rather than that a statement was wrong."""
    seen: BaseException | None = exc
    for _ in range(5):  # the chain of causes, a few links deep
        if seen is None:
            return False
        if isinstance(seen, SqlOperationalError | psycopg.OperationalError):
            return True
        if isinstance(seen, sqlite3.OperationalError):
            return True
        if isinstance(seen, DBAPIError) and seen.connection_invalidated:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class OutageMonitor:
    """Whether an engine's database is down, logged once as it goes down and once as it comes
    back. Shared by every request of a process (`monitor`); thread-safe, since requests fail
    in worker threads as well as in the event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._failures = 0

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def failed(self, exc: BaseException) -> None:
        """A request failed for `exc`, an outage (`is_outage`)."""
        with self._lock:
            self._failures += 1
            if self._down_since is not None:
                return
            self._down_since = time.monotonic()
        # The error's class and the driver's first line only: no statement, no parameters.
        log.warning("database unreachable (%s): answering 503 until it is back", _summary(exc))

    def recovered(self) -> None:
        """The database committed a transaction."""
        if self._down_since is None:  # the common case: no lock, nothing to do
            return
        with self._lock:
            if self._down_since is None:
                return
            lasted = time.monotonic() - self._down_since
            failures, self._down_since, self._failures = self._failures, None, 0
        log.warning("database reachable again after %.1f s; %d requests answered 503",
                    lasted, failures)  # fmt: skip


def _summary(exc: BaseException) -> str:
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    first = str(orig).strip().splitlines()[0] if str(orig).strip() else ""
    return f"{type(orig).__name__}: {first[:200]}" if first else type(orig).__name__


_monitors: weakref.WeakKeyDictionary[Engine, OutageMonitor] = weakref.WeakKeyDictionary()
_monitors_lock = threading.Lock()


def monitor(engine: Engine) -> OutageMonitor:
    """The outage monitor of `engine`'s database (one per engine, made on first use)."""
    with _monitors_lock:
        found = _monitors.get(engine)
        if found is None:
            found = _monitors[engine] = OutageMonitor()
            watched = found

            def on_commit(_conn: Connection) -> None:
                watched.recovered()

            event.listen(engine, "commit", on_commit)
        return found


RETRY_AFTER = {"Retry-After": str(RETRY_AFTER_S)}
"""The header of a 503 for an outage."""


def log_failure(where: str, exc: BaseException) -> None:
    """A database error that is not an outage (a bug): its class and the driver's first line,
    without a traceback, whose text would hold the driver's detail (PostgreSQL's DETAIL names
    the key values of a violated constraint: national codes)."""
    log.error("%s failed: %s", where, _summary(exc))


def install_json_outage(app: FastAPI, watched: OutageMonitor) -> None:
    """Database errors of a JSON API as 503 + Retry-After (an outage) or 500, in its error
    shape; handled here, never re-raised to the server, which would log a traceback."""

    async def database_failed(request: Request, exc: Exception) -> JSONResponse:
        if is_outage(exc):
            watched.failed(exc)
            return json_error(503, DETAIL, RETRY_AFTER)
        log_failure(f"{request.method} {request.url.path}", exc)
        return json_error(500, "the request could not be completed")

    for kind in DATABASE_ERRORS:
        app.add_exception_handler(kind, database_failed)
