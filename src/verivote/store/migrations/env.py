"""Alembic environment of verivote's store, run by `verivote.store.migrate` (DESIGN.md,
"Persistence and services").

`migrate` hands over a connection inside its own transaction (config.attributes["connection"]),
so the whole upgrade commits or rolls back at once. Run any other way (Alembic's own command
line with an ini file naming this directory), it connects to `sqlalchemy.url`, else to
`VERIVOTE_DATABASE_URL`, through `make_engine`.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from verivote.store.db import database_url, make_engine
from verivote.store.schema import metadata

# Key of the PostgreSQL advisory lock that serializes migrations ("verivote" in ASCII, as a
# 64-bit integer): two processes starting at once must not both create the tables.
MIGRATION_LOCK = int.from_bytes(b"verivote", "big")

config = context.config


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or database_url()


def _configure_and_run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Held until the transaction ends; a second migrator waits here, then reads the
            # version table its predecessor committed and finds nothing to do.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.run_migrations()


def run_offline() -> None:
    """Write the migration SQL instead of running it (`alembic upgrade head --sql`)."""
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as own:
            _configure_and_run(own)
            own.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
