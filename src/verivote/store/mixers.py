"""The factions' mix servers' bearer tokens, in the database (issue 16, item 2; migration 0011).

The authority issues one token per mixer (a faction id of the manifest) and election; only its
SHA-256 is kept, as for guardians (`verivote.store.ceremony`) and stations
(`verivote.store.access`). A mixer that lost its token gets a new one with `replace`, which
deletes the old one in the same transaction: a copy of the database lets nobody mix.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError

from verivote.store.access import token_hash
from verivote.store.db import StoreError
from verivote.store.schema import mixer_tokens


def issue_mixer_tokens(
    engine: Engine, election_id: str, mixers: Sequence[str], replace: bool = False
) -> dict[str, str]:
    """One new token per mixer in `mixers` (shown once; only hashes are stored), in one
    transaction. StoreError if a mixer already holds a token, unless `replace`: then its old
    token stops working."""
    if not mixers:
        raise ValueError("no mixer to issue a token to")
    if len(set(mixers)) != len(mixers):
        raise ValueError(f"a mixer is named twice in {list(mixers)}")
    tokens = {m: secrets.token_urlsafe(32) for m in mixers}
    t = mixer_tokens.c
    try:
        with engine.begin() as conn:
            if replace:
                conn.execute(
                    delete(mixer_tokens).where(
                        t.election_id == election_id, t.mixer.in_(list(mixers))
                    )
                )
            conn.execute(
                insert(mixer_tokens),
                [
                    {"token_hash": token_hash(token), "election_id": election_id, "mixer": m}
                    for m, token in tokens.items()
                ],
            )
    except IntegrityError:
        held = sorted(set(mixers) & set(mixers_with_tokens(engine, election_id)))
        raise StoreError(
            f"mixer(s) {', '.join(held) or '?'} of {election_id} already hold a token "
            "(replace it to revoke the old one)"
        ) from None
    return tokens


def mixer_of_token(engine: Engine, token: str) -> tuple[str, str] | None:
    """(election, mixer) of a mixer's token, or None for an unknown (or replaced) token."""
    t = mixer_tokens.c
    with engine.begin() as conn:
        row = conn.execute(
            select(t.election_id, t.mixer).where(t.token_hash == token_hash(token))
        ).first()
    return None if row is None else (str(row.election_id), str(row.mixer))


def mixers_with_tokens(engine: Engine, election_id: str) -> list[str]:
    """The mixers of an election that hold a token, sorted."""
    t = mixer_tokens.c
    with engine.begin() as conn:
        rows = conn.execute(
            select(t.mixer).where(t.election_id == election_id).order_by(t.mixer)
        ).all()
    return [str(row.mixer) for row in rows]


def revoke_mixer(engine: Engine, election_id: str, mixer: str) -> bool:
    """Delete a mixer's token; whether it held one."""
    t = mixer_tokens.c
    with engine.begin() as conn:
        gone = conn.execute(
            delete(mixer_tokens).where(t.election_id == election_id, t.mixer == mixer)
        ).rowcount
    return bool(gone)
