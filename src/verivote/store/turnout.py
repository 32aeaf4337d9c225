"""Provable turnout in the database (issue 19; migration 0015): the roll's blinded batches and
the guardians' answers, each voter's blinding and pseudonym, the hashes of the voters' status
codes, and the complaints voters file. `verivote.polling.turnout` is the authority's logic over
these; everything here is plain reads and writes, streamed in chunks so that a national roll is
never held in memory.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice

from sqlalchemy import Engine, func, insert, select, update

from verivote.store.ceremony import keep_once
from verivote.store.db import StoreError
from verivote.store.schema import (
    checkins,
    pseudonym_answers,
    pseudonym_batches,
    voter_complaints,
    voter_pseudonyms,
    voter_status,
    voters,
)

_ROWS = 5000


class AnswerConflict(StoreError):
    """A guardian answered a batch a second time with other content."""


def roll_counts(engine: Engine, election_id: str) -> dict[str, int]:
    """Voters on the roll, per district."""
    v = voters.c
    with engine.begin() as conn:
        rows = conn.execute(
            select(v.district_id, func.count())
            .where(v.election_id == election_id)
            .group_by(v.district_id)
        ).all()
    return {str(d): int(n) for d, n in rows}


def unblinded(engine: Engine, election_id: str) -> Iterator[list[tuple[str, str]]]:
    """Chunks of the voters (national code, district) not yet in a batch, by national code."""
    v, p = voters.c, voter_pseudonyms.c
    after = ""
    while True:
        with engine.begin() as conn:
            rows = conn.execute(
                select(v.national_code, v.district_id)
                .outerjoin(
                    voter_pseudonyms,
                    (p.election_id == v.election_id) & (p.national_code == v.national_code),
                )
                .where(v.election_id == election_id, v.national_code > after, p.batch.is_(None))
                .order_by(v.national_code)
                .limit(_ROWS)
            ).all()
        if not rows:
            return
        yield [(str(code), str(district)) for code, district in rows]
        after = str(rows[-1][0])


def next_batch(engine: Engine, election_id: str) -> int:
    """The number the next batch gets (0 for the first)."""
    b = pseudonym_batches.c
    with engine.begin() as conn:
        top = conn.execute(select(func.max(b.batch)).where(b.election_id == election_id)).scalar()
    return 0 if top is None else int(top) + 1


def add_batch(
    engine: Engine,
    election_id: str,
    batch: int,
    blinded_json: str,
    members: Sequence[tuple[str, int, str]],
) -> None:
    """One batch of blinded elements, and each member voter's (code, position, blind)."""
    with engine.begin() as conn:
        conn.execute(
            insert(pseudonym_batches).values(
                election_id=election_id, batch=batch, blinded=blinded_json
            )
        )
        if members:
            conn.execute(
                insert(voter_pseudonyms),
                [
                    {
                        "election_id": election_id,
                        "national_code": code,
                        "batch": batch,
                        "position": position,
                        "blind": blind,
                    }
                    for code, position, blind in members
                ],
            )


def batches(engine: Engine, election_id: str, start: int, limit: int) -> list[tuple[int, str]]:
    """Batches numbered `start` on (at most `limit`): (batch, blinded JSON)."""
    b = pseudonym_batches.c
    with engine.begin() as conn:
        rows = conn.execute(
            select(b.batch, b.blinded)
            .where(b.election_id == election_id, b.batch >= start)
            .order_by(b.batch)
            .limit(limit)
        ).all()
    return [(int(n), str(body)) for n, body in rows]


def batch_count(engine: Engine, election_id: str) -> int:
    b = pseudonym_batches.c
    with engine.begin() as conn:
        n = conn.execute(select(func.count()).where(b.election_id == election_id)).scalar()
    return int(n or 0)


def put_answer(engine: Engine, election_id: str, batch: int, guardian: int, body: str) -> bool:
    """Keep a guardian's answer to a batch: True if stored now, False if the same text was
    already there (a retry); AnswerConflict if another text was."""
    key = {"election_id": election_id, "batch": batch, "guardian": guardian}
    stored = keep_once(engine, pseudonym_answers, key, body)
    if stored is None:
        raise AnswerConflict(f"guardian {guardian} already answered batch {batch} otherwise")
    return stored


def answers(engine: Engine, election_id: str, batch: int) -> dict[int, str]:
    """Every guardian's answer to `batch`: guardian → body."""
    a = pseudonym_answers.c
    with engine.begin() as conn:
        rows = conn.execute(
            select(a.guardian, a.body).where(a.election_id == election_id, a.batch == batch)
        ).all()
    return {int(g): str(body) for g, body in rows}


def answered_batches(engine: Engine, election_id: str, guardian: int) -> int:
    """How many batches `guardian` has answered."""
    a = pseudonym_answers.c
    with engine.begin() as conn:
        n = conn.execute(
            select(func.count()).where(a.election_id == election_id, a.guardian == guardian)
        ).scalar()
    return int(n or 0)


def members(engine: Engine, election_id: str, batch: int) -> list[tuple[str, int, str]]:
    """The voters of a batch: (national code, position, blind), by position."""
    p = voter_pseudonyms.c
    with engine.begin() as conn:
        rows = conn.execute(
            select(p.national_code, p.position, p.blind)
            .where(p.election_id == election_id, p.batch == batch)
            .order_by(p.position)
        ).all()
    return [(str(c), int(pos), str(r)) for c, pos, r in rows]


def set_pseudonyms(engine: Engine, election_id: str, found: Iterable[tuple[str, str]]) -> None:
    """Record each voter's pseudonym: (national code, pseudonym hex)."""
    p = voter_pseudonyms.c
    rows = iter(found)
    while chunk := list(islice(rows, _ROWS)):
        with engine.begin() as conn:
            for code, pseudonym in chunk:
                conn.execute(
                    update(voter_pseudonyms)
                    .where(p.election_id == election_id, p.national_code == code)
                    .values(pseudonym=pseudonym)
                )


def missing_pseudonyms(engine: Engine, election_id: str) -> int:
    """Voters on the roll without a pseudonym yet."""
    v, p = voters.c, voter_pseudonyms.c
    with engine.begin() as conn:
        n = conn.execute(
            select(func.count())
            .select_from(voters)
            .outerjoin(
                voter_pseudonyms,
                (p.election_id == v.election_id) & (p.national_code == v.national_code),
            )
            .where(v.election_id == election_id, p.pseudonym.is_(None))
        ).scalar()
    return int(n or 0)


def roll_pairs(engine: Engine, election_id: str) -> Iterator[tuple[str, str]]:
    """(district, pseudonym) of every voter with a pseudonym, sorted by both."""
    v, p = voters.c, voter_pseudonyms.c
    last = ("", "")
    while True:
        with engine.begin() as conn:
            rows = conn.execute(
                select(v.district_id, p.pseudonym)
                .join(
                    voter_pseudonyms,
                    (p.election_id == v.election_id) & (p.national_code == v.national_code),
                )
                .where(
                    v.election_id == election_id,
                    p.pseudonym.is_not(None),
                    (v.district_id > last[0])
                    | ((v.district_id == last[0]) & (p.pseudonym > last[1])),
                )
                .order_by(v.district_id, p.pseudonym)
                .limit(_ROWS)
            ).all()
        if not rows:
            return
        for district, pseudonym in rows:
            yield str(district), str(pseudonym)
        last = (str(rows[-1][0]), str(rows[-1][1]))


def station_checkins(engine: Engine, election_id: str, station: str) -> list[tuple[int, str]]:
    """(hour, pseudonym) of every voter checked in at `station`, sorted."""
    c, p = checkins.c, voter_pseudonyms.c
    with engine.begin() as conn:
        rows = conn.execute(
            select(c.hour, p.pseudonym)
            .join(
                voter_pseudonyms,
                (p.election_id == c.election_id) & (p.national_code == c.national_code),
            )
            .where(c.election_id == election_id, c.station_id == station)
            .order_by(c.hour, p.pseudonym)
        ).all()
    return [(int(h), str(ps)) for h, ps in rows]


def unpseudonymous_checkins(engine: Engine, election_id: str, station: str) -> int:
    """Check-ins at `station` of voters without a pseudonym (none in an honest election)."""
    c, p = checkins.c, voter_pseudonyms.c
    with engine.begin() as conn:
        n = conn.execute(
            select(func.count())
            .select_from(checkins)
            .outerjoin(
                voter_pseudonyms,
                (p.election_id == c.election_id) & (p.national_code == c.national_code),
            )
            .where(c.election_id == election_id, c.station_id == station, p.pseudonym.is_(None))
        ).scalar()
    return int(n or 0)


# --- the voters' status codes and complaints ------------------------------------------------


def set_status_hashes(engine: Engine, election_id: str, rows: Iterable[tuple[str, str]]) -> int:
    """Record the hash of each voter's status code: (national code, hash hex)."""
    total = 0
    it = iter(rows)
    while chunk := list(islice(it, _ROWS)):
        with engine.begin() as conn:
            conn.execute(
                insert(voter_status),
                [
                    {"election_id": election_id, "national_code": c, "code_hash": h}
                    for c, h in chunk
                ],
            )
        total += len(chunk)
    return total


def without_status(engine: Engine, election_id: str) -> Iterator[list[str]]:
    """Chunks of the national codes of voters without a status code yet."""
    v, s = voters.c, voter_status.c
    after = ""
    while True:
        with engine.begin() as conn:
            rows = conn.execute(
                select(v.national_code)
                .outerjoin(
                    voter_status,
                    (s.election_id == v.election_id) & (s.national_code == v.national_code),
                )
                .where(v.election_id == election_id, v.national_code > after, s.code_hash.is_(None))
                .order_by(v.national_code)
                .limit(_ROWS)
            ).all()
        if not rows:
            return
        yield [str(r[0]) for r in rows]
        after = str(rows[-1][0])


def status_hash(engine: Engine, election_id: str, code: str) -> str | None:
    s = voter_status.c
    with engine.begin() as conn:
        found = conn.execute(
            select(s.code_hash).where(s.election_id == election_id, s.national_code == code)
        ).scalar_one_or_none()
    return None if found is None else str(found)


def voter_pseudonym(
    engine: Engine, election_id: str, code: str
) -> tuple[str, int, int, str, str | None] | None:
    """(district, batch, position, blind, pseudonym) of a voter of the roll, or None."""
    v, p = voters.c, voter_pseudonyms.c
    with engine.begin() as conn:
        row = conn.execute(
            select(v.district_id, p.batch, p.position, p.blind, p.pseudonym)
            .join(
                voter_pseudonyms,
                (p.election_id == v.election_id) & (p.national_code == v.national_code),
            )
            .where(v.election_id == election_id, v.national_code == code)
        ).first()
    if row is None:
        return None
    return (
        str(row[0]),
        int(row[1]),
        int(row[2]),
        str(row[3]),
        None if row[4] is None else str(row[4]),
    )


def checkin_of(engine: Engine, election_id: str, code: str) -> tuple[str, int] | None:
    """(station, hour) of the voter's check-in, or None."""
    c = checkins.c
    with engine.begin() as conn:
        row = conn.execute(
            select(c.station_id, c.hour).where(
                c.election_id == election_id, c.national_code == code
            )
        ).first()
    return None if row is None else (str(row[0]), int(row[1]))


def add_complaint(
    engine: Engine,
    election_id: str,
    code: str,
    station: str | None,
    hour: int | None,
    text: str,
) -> int:
    """Record a voter's complaint for the supervisors; its number."""
    with engine.begin() as conn:
        result = conn.execute(
            insert(voter_complaints).values(
                election_id=election_id,
                national_code=code,
                station_id=station,
                hour=hour,
                text=text,
                filed_at=int(time.time()),
            )
        )
        key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def complaints(engine: Engine, election_id: str) -> list[dict[str, object]]:
    """Every complaint filed, oldest first (for the supervisors)."""
    k = voter_complaints.c
    with engine.begin() as conn:
        rows = conn.execute(
            select(k.id, k.national_code, k.station_id, k.hour, k.text, k.filed_at)
            .where(k.election_id == election_id)
            .order_by(k.id)
        ).all()
    return [
        {
            "id": int(r[0]),
            "national_code": str(r[1]),
            "station": r[2],
            "hour": r[3],
            "text": str(r[4]),
            "filed_at": int(r[5]),
        }
        for r in rows
    ]
