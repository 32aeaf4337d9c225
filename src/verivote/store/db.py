"""Connecting to the election's database and bringing its schema up to date (DESIGN.md,
"Persistence and services").

`VERIVOTE_DATABASE_URL` selects the database: SQLite (`sqlite:///verivote.db` in the working
directory by default) or PostgreSQL through psycopg 3 (`postgresql+psycopg://user@host/db`).
The schema is owned by the Alembic migrations shipped inside this package; `migrate` runs them
programmatically, so no alembic.ini is needed anywhere.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry

if TYPE_CHECKING:
    from alembic.config import Config

ENV_VAR = "VERIVOTE_DATABASE_URL"
DEFAULT_URL = "sqlite:///verivote.db"

# How long a SQLite writer waits for another writer's transaction before giving up. Writers
# serialize on the database lock (BEGIN IMMEDIATE), so under load this is a queue, not an error.
SQLITE_BUSY_TIMEOUT_S = 30.0

# Execution option that marks read-only work: on SQLite such transactions begin DEFERRED, so
# readers run beside the one writer (WAL) instead of queueing for the write lock.
READ_ONLY = "verivote_read_only"

# A pooled PostgreSQL connection idle this long is pinged before use (`_ping_when_idle`).
PING_AFTER_IDLE_S = 1.0

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class StoreError(Exception):
    """A request the store refuses: the database is left as it was."""


class ReplayError(StoreError):
    """A tracking code that this election's board already carries."""


class UnknownElection(StoreError):
    """An election id that the store does not hold."""


def database_url() -> str:
    """The database to use: `VERIVOTE_DATABASE_URL`, else SQLite `verivote.db` in the cwd."""
    return os.environ.get(ENV_VAR) or DEFAULT_URL


def _normalise(url: URL) -> URL:
    # A bare postgresql:// URL would pick psycopg2, which verivote does not depend on.
    if url.drivername in ("postgres", "postgresql"):
        return url.set(drivername="postgresql+psycopg")
    return url


def make_engine(url: str | None = None) -> Engine:
    """An engine for `url` (default `database_url()`), configured for the store's concurrency.

    SQLite: foreign keys enforced, WAL journal, a busy timeout, and every read-write
    transaction opened with BEGIN IMMEDIATE so that writers take the database lock up front and
    run one after another (a deferred BEGIN would let two writers both read the next board index
    and then fail or deadlock on upgrading their locks). PostgreSQL: psycopg 3; writers
    serialize per election on a row lock taken by the repository.

    Every engine hides its statements' parameters from error messages and logs: they are
    national codes and station tokens, and an error's text ends up in the server's log.
    """
    parsed = _normalise(make_url(url or database_url()))
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed)
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            raise StoreError(
                "PostgreSQL is used through psycopg 3 (postgresql+psycopg://), "
                f"not {parsed.drivername}"
            )
        engine = create_engine(parsed, hide_parameters=True)
        _ping_when_idle(engine)
        return engine
    raise StoreError(f"unsupported database {parsed.drivername!r}: use sqlite or postgresql")


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection before handing it out only if it sat idle PING_AFTER_IDLE_S:
    a long-running server outlives PostgreSQL restarts and idle timeouts, but a ping on every
    checkout (pool_pre_ping) is a round trip per call, a third of a tracker's proof. A
    connection that fails its ping is replaced; one that dies while in use fails that call
    once and makes the pool start afresh (SQLAlchemy's disconnect handling)."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi: Any, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_S:
            return
        try:
            alive = engine.dialect.do_ping(dbapi)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"a pooled connection failed its ping: {exc}") from exc
        if not alive:
            raise DisconnectionError("a pooled connection failed its ping")


def _sqlite_engine(url: URL) -> Engine:
    engine = create_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}, hide_parameters=True
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy's "begin" hook below issue BEGIN; sqlite3's own transaction handling
        # would open a deferred transaction, and only at the first write.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        # WAL: readers do not block the writer nor the writer them. (An in-memory database
        # answers "memory" and stays as it is.)
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def alembic_config(engine: Engine | None = None) -> Config:
    """The Alembic configuration of the packaged migrations (for `migrate` and tooling)."""
    # Imported here: Alembic costs 0.3 s to import, and the parties' programs (a guardian,
    # a mixer, an official), each its own process, never migrate a database.
    from alembic.config import Config

    config = Config()
    # configparser interpolation: a literal % in the path must be doubled.
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Bring the database to the newest schema (`alembic upgrade head`); a no-op when it is.

    The whole upgrade runs in one transaction: on SQLite it holds the write lock (BEGIN
    IMMEDIATE), on PostgreSQL env.py takes an advisory lock first, so processes that start
    together migrate once and the others then find the schema current.
    """
    from alembic import command

    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@contextmanager
def scratch_database(url: str, prefix: str = "verivote_scratch") -> Iterator[str]:
    """For a benchmark or a test: on PostgreSQL, a new empty schema of the database `url`
    names (the URL yielded sets it as the search path of every connection), dropped with all
    it holds afterwards, so that nothing is left in the database; on SQLite, `url` itself
    (the caller named the file). The schema's name starts with `prefix` (benchmarks use their
    own, so a test can tell their schemas from those of tests running beside them)."""
    parsed = _normalise(make_url(url))
    if parsed.get_backend_name() != "postgresql":
        yield url
        return
    admin = make_engine(url)
    schema = f"{prefix}_{secrets.token_hex(6)}"
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        try:
            yield parsed.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
                hide_password=False
            )
        finally:
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    finally:
        admin.dispose()
