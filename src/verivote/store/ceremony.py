"""The key ceremony held over HTTP, in the database (issue 14, item 1; migration 0008).

The authority opens a ceremony (its guardians n and quorum k) and gets one bearer token per
guardian, of which only the SHA-256 is kept, as for station tokens (`verivote.store.roll`).
Each guardian then posts one public message per round (`CEREMONY_ROUNDS`); a message is kept as
posted, once: posting the same text again is a harmless retry, another text is refused. What is
stored is public: the guardians' secrets never reach the server.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from sqlalchemy import Engine, Table, insert, select
from sqlalchemy.exc import IntegrityError

from verivote.store.access import token_hash
from verivote.store.db import StoreError
from verivote.store.schema import CEREMONY_ROUNDS, ceremonies, ceremony_messages, guardian_tokens


class MessageConflict(StoreError):
    """A guardian posted a round's message a second time with other content."""


def open_ceremony(engine: Engine, election_id: str, guardians: int, quorum: int) -> list[str]:
    """Record the ceremony's parameters and issue one token per guardian (1..n, in order);
    only their hashes are stored. StoreError if this election's ceremony was opened before."""
    if guardians < 1 or not 1 <= quorum <= guardians:
        raise ValueError(f"a ceremony of {guardians} guardians cannot have the quorum {quorum}")
    tokens = [secrets.token_urlsafe(32) for _ in range(guardians)]
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(ceremonies).values(
                    election_id=election_id, guardians=guardians, quorum=quorum
                )
            )
            conn.execute(
                insert(guardian_tokens),
                [
                    {"token_hash": token_hash(t), "election_id": election_id, "guardian": i}
                    for i, t in enumerate(tokens, start=1)
                ],
            )
    except IntegrityError:
        raise StoreError(f"the key ceremony of {election_id} was already opened") from None
    return tokens


def ceremony_parameters(engine: Engine, election_id: str) -> tuple[int, int] | None:
    """(guardians, quorum) of the election's opened ceremony, or None."""
    c = ceremonies.c
    with engine.begin() as conn:
        row = conn.execute(
            select(c.guardians, c.quorum).where(c.election_id == election_id)
        ).first()
    return None if row is None else (int(row.guardians), int(row.quorum))


def guardian_of_token(engine: Engine, token: str) -> tuple[str, int] | None:
    """(election, guardian index) of a guardian's token, or None for an unknown token."""
    t = guardian_tokens.c
    with engine.begin() as conn:
        row = conn.execute(
            select(t.election_id, t.guardian).where(t.token_hash == token_hash(token))
        ).first()
    return None if row is None else (str(row.election_id), int(row.guardian))


def keep_once(engine: Engine, table: Table, key: Mapping[str, object], body: str) -> bool | None:
    """Insert the row `key` with `body` once: True if stored now, False if that row already
    holds the same body (a retry), None if it holds another (the caller's conflict)."""
    try:
        with engine.begin() as conn:
            conn.execute(insert(table).values(**key, body=body))
        return True
    except IntegrityError:
        pass
    with engine.begin() as conn:
        old = conn.execute(
            select(table.c.body).where(*(table.c[k] == v for k, v in key.items()))
        ).scalar_one_or_none()
    return False if old == body else None


def put_message(
    engine: Engine,
    election_id: str,
    round_: str,
    guardian: int,
    body: str,
    table: Table = ceremony_messages,
) -> bool:
    """Keep guardian `guardian`'s message of `round_`; True if stored now, False if the same
    text was already there (a retry). MessageConflict if another text was. `table` is the
    ceremony's: the election key's, or the pseudonym key's (`pseudonym_messages`, issue 19)."""
    if round_ not in CEREMONY_ROUNDS:
        raise ValueError(f"no ceremony round {round_!r}")
    key = {"election_id": election_id, "round": round_, "guardian": guardian}
    stored = keep_once(engine, table, key, body)
    if stored is None:
        raise MessageConflict(
            f"guardian {guardian} already posted another message in the {round_} round"
        )
    return stored


def messages(
    engine: Engine, election_id: str, table: Table = ceremony_messages
) -> dict[str, dict[int, str]]:
    """Every message posted so far: round → guardian → body (every round present)."""
    m = table.c
    out: dict[str, dict[int, str]] = {r: {} for r in CEREMONY_ROUNDS}
    with engine.begin() as conn:
        rows = conn.execute(
            select(m.round, m.guardian, m.body)
            .where(m.election_id == election_id)
            .order_by(m.round, m.guardian)
        ).all()
    for row in rows:
        out[str(row.round)][int(row.guardian)] = str(row.body)
    return out
