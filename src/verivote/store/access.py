"""Who may act for a station, and until when (issues 7 and 15): tokens, revocation, sessions.

Only hashes are kept: a station's token (SHA-256, shown once when issued), a console session's
id. A copy of the database lets nobody act as a station or take over a session.

- A station token expires when polling day ends (`expires_at`, from the manifest) and is
  revoked by deleting it: `revoke_station` deletes every token and every console session of a
  station in one transaction, and bumps the election's revocation counter (`access_epochs`).
  Server processes cache the tokens they trusted; they read the counter at most twice a
  second and forget them all when it moved, so a revocation reaches every process within a
  second without a database round trip per request.
- A console session lives in `console_sessions` and is checked on each console request
  (human-speed traffic): it ends at logout, at its expiry, at its token's expiry, and when
  its token is revoked (the token's row is gone).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, insert, select, update

from verivote.store.schema import (
    access_epochs,
    console_sessions,
    station_tokens,
    supervisor_tokens,
)


@dataclass(frozen=True)
class Grant:
    """What a station token allows: acting for `station` of `election` until `expires_at`
    (seconds since the epoch; None: until revoked)."""

    election: str
    station: str
    expires_at: int | None

    def valid_at(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at


def token_hash(token: str) -> str:
    """What is stored of a token: its SHA-256 (the token itself is shown once, never kept)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(
    engine: Engine, election_id: str, station_id: str, expires_at: int | None = None
) -> str:
    """A new random token for a station's device, valid until `expires_at` (seconds since the
    epoch; None: until revoked); only its hash is stored. Shown once."""
    return _issue(engine, station_tokens, election_id=election_id, station_id=station_id,
                  expires_at=expires_at)  # fmt: skip


def issue_supervisor_token(engine: Engine, election_id: str, name: str) -> str:
    """A new random token for a supervisor (who reads the conflicts); only its hash is kept."""
    return _issue(engine, supervisor_tokens, election_id=election_id, name=name)


def _issue(engine: Engine, table: Table, **owner: Any) -> str:
    token = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(insert(table).values(token_hash=token_hash(token), **owner))
    return token


def grant_of_token(engine: Engine, token: str) -> Grant | None:
    """The grant of a station token, expired or not, or None for an unknown (or revoked) one."""
    t = station_tokens.c
    with engine.begin() as conn:
        row = conn.execute(
            select(t.election_id, t.station_id, t.expires_at).where(
                t.token_hash == token_hash(token)
            )
        ).first()
    return None if row is None else Grant(row[0], row[1], row[2])


def station_of_token(
    engine: Engine, token: str, now: float | None = None
) -> tuple[str, str] | None:
    """(election, station) of a station token valid at `now` (default: the present), or None
    for an unknown, revoked or expired token."""
    grant = grant_of_token(engine, token)
    if grant is None or not grant.valid_at(_now() if now is None else now):
        return None
    return grant.election, grant.station


def supervisor_of_token(engine: Engine, token: str) -> tuple[str, str] | None:
    """(election, supervisor's name) of a supervisor token, or None for an unknown token."""
    t = supervisor_tokens.c
    with engine.begin() as conn:
        row = conn.execute(
            select(t.election_id, t.name).where(t.token_hash == token_hash(token))
        ).first()
    return None if row is None else (str(row[0]), str(row[1]))


def station_tokens_count(engine: Engine, election_id: str, station_id: str) -> int:
    """How many tokens a station holds now (revoked ones are gone)."""
    t = station_tokens.c
    with engine.begin() as conn:
        rows = conn.execute(
            select(t.token_hash).where(t.election_id == election_id, t.station_id == station_id)
        ).all()
    return len(rows)


@dataclass(frozen=True)
class Revoked:
    """What one revocation ended."""

    tokens: int
    sessions: int


def revoke_station(engine: Engine, election_id: str, station_id: str) -> Revoked:
    """Delete every token and console session of a station and bump the election's
    revocation counter, in one transaction (see the module docstring)."""
    t, s = station_tokens.c, console_sessions.c
    with engine.begin() as conn:
        tokens = conn.execute(
            delete(station_tokens).where(t.election_id == election_id, t.station_id == station_id)
        ).rowcount
        sessions = conn.execute(
            delete(console_sessions).where(s.election_id == election_id, s.station_id == station_id)
        ).rowcount
        _bump(conn, election_id)
    return Revoked(tokens, sessions)


def _bump(conn: Connection, election_id: str) -> None:
    e = access_epochs.c
    moved = conn.execute(
        update(access_epochs).where(e.election_id == election_id).values(epoch=e.epoch + 1)
    ).rowcount
    if not moved:
        conn.execute(insert(access_epochs).values(election_id=election_id, epoch=1))


def access_epoch(engine: Engine, election_id: str) -> int:
    """The election's revocation counter (0 before the first revocation): one tiny query."""
    with engine.connect() as conn:
        found = conn.execute(
            select(access_epochs.c.epoch).where(access_epochs.c.election_id == election_id)
        ).scalar()
    return 0 if found is None else int(found)


# -- console sessions ---------------------------------------------------------------------------


def open_session(
    engine: Engine,
    election_id: str,
    token: str,
    expires_at: int,
    now: float | None = None,
    station_id: str | None = None,
) -> tuple[str, str] | None:
    """A new console session for the station of `token`, read from the database now (no
    cache), ending at `expires_at` or at the token's own expiry if sooner: (session id,
    station), or None if the token is unknown, revoked, expired, of another election or (if
    `station_id` is given) of another station. Sessions already over are cleared on the way."""
    when = _now() if now is None else now
    grant = grant_of_token(engine, token)
    if grant is None or grant.election != election_id or not grant.valid_at(when):
        return None
    if station_id is not None and grant.station != station_id:
        return None
    ends = expires_at if grant.expires_at is None else min(expires_at, grant.expires_at)
    session_id = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(delete(console_sessions).where(console_sessions.c.expires_at <= int(when)))
        conn.execute(
            insert(console_sessions).values(
                session_hash=token_hash(session_id), election_id=election_id,
                station_id=grant.station, token_hash=token_hash(token), expires_at=ends,
            )
        )  # fmt: skip
    return session_id, grant.station


def session_station(
    engine: Engine, election_id: str, session_id: str, now: float | None = None
) -> str | None:
    """The station of a console session that is still on (not logged out, not expired, its
    token neither revoked nor expired), else None."""
    when = int(_now() if now is None else now)
    s, t = console_sessions.c, station_tokens.c
    query = (
        select(s.station_id, t.expires_at)
        .join(station_tokens, t.token_hash == s.token_hash)
        .where(
            s.session_hash == token_hash(session_id), s.election_id == election_id,
            s.expires_at > when, t.station_id == s.station_id,
        )
    )  # fmt: skip
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None or (row[1] is not None and row[1] <= when):
        return None
    return str(row[0])


def end_session(engine: Engine, session_id: str) -> None:
    """Log a console session out: its row is deleted, so its cookie is worth nothing."""
    with engine.begin() as conn:
        s = console_sessions.c
        conn.execute(delete(console_sessions).where(s.session_hash == token_hash(session_id)))


def _now() -> float:
    return time.time()
