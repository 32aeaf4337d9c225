"""A pooled PostgreSQL connection that sat idle is pinged before use, and replaced when its
server process is gone (a restart, an idle timeout); one used a moment ago is not pinged, so
a busy server saves a round trip per call (`verivote.store.db._ping_when_idle`)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from tests.store_fixtures import postgres_database
from verivote.store import db, make_engine


def _pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_an_idle_connection_whose_server_died_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    with postgres_database() as url:
        engine, other = make_engine(url), make_engine(url)
        try:
            first = _pid(engine)
            assert _pid(engine) == first  # the pool hands the same connection back
            with other.connect() as conn:
                conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": first})
            monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)  # every checkout is after idling
            second = _pid(engine)  # not an error: the ping found it dead, a new one served
            assert second != first
            monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 3600.0)
            with other.connect() as conn:
                conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": second})
            # used a moment ago, not pinged: this call fails once, and the pool starts afresh
            with pytest.raises(OperationalError, match=r"terminat|closed|lost"):
                _pid(engine)
            assert _pid(engine) not in (first, second)
        finally:
            engine.dispose()
            other.dispose()
