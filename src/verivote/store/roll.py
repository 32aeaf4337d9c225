"""The voter roll and the check-ins in the database (issue 7).

`check_in` is the one national check that stops a person from voting twice at any of the
59,000 stations: the check-ins table's primary key is (election, national code), so two
stations checking in one voter at the same instant can never both insert, on SQLite or on
PostgreSQL; the loser reads the winner's row. A retried request (the same request id) finds its
own row and gets the same answer, without a second record.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice
from typing import Literal

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from verivote.store.schema import checkins, station_tokens, voters

Status = Literal["accepted", "already_voted", "not_eligible", "wrong_district"]
_ROWS = 5000


@dataclass(frozen=True)
class CheckinResult:
    """The answer to a check-in; for `already_voted`, where and in which hour it happened."""

    status: Status
    station: str | None = None
    hour: int | None = None


def import_voters(
    engine: Engine, election_id: str, roll: Iterable[tuple[str, str, str | None]]
) -> int:
    """Add (national code, district, minority) rows to the roll, in batches; returns how many.

    A code already on the roll is an IntegrityError: the roll reader refuses duplicates first.
    """
    total = 0
    rows = iter(roll)
    while batch := list(islice(rows, _ROWS)):
        with engine.begin() as conn:
            conn.execute(
                insert(voters),
                [
                    {"election_id": election_id, "national_code": code, "district_id": district,
                     "minority": minority}
                    for code, district, minority in batch
                ],
            )  # fmt: skip
        total += len(batch)
    return total


def check_in(
    engine: Engine,
    election_id: str,
    national_code: str,
    station_id: str,
    station_district: str,
    hour: int,
    request_id: str,
) -> CheckinResult:
    """Check a voter in at a station, once in the whole election (see the module docstring)."""
    if not 0 <= hour <= 23:
        raise ValueError(f"the hour is 0..23, not {hour}")
    with engine.begin() as conn:
        voter = conn.execute(
            select(voters.c.district_id).where(
                voters.c.election_id == election_id, voters.c.national_code == national_code
            )
        ).first()
    if voter is None:
        return CheckinResult("not_eligible")
    if voter.district_id != station_district:
        return CheckinResult("wrong_district")
    row = {
        "election_id": election_id,
        "national_code": national_code,
        "station_id": station_id,
        "hour": hour,
        "request_id": request_id,
    }
    try:
        with engine.begin() as conn:
            conn.execute(insert(checkins).values(**row))
        return CheckinResult("accepted")
    except IntegrityError:
        pass  # someone (perhaps this very request, retried) checked this voter in first
    with engine.begin() as conn:
        first = conn.execute(
            select(checkins.c.station_id, checkins.c.hour, checkins.c.request_id).where(
                checkins.c.election_id == election_id,
                checkins.c.national_code == national_code,
            )
        ).first()
    if first is None:  # the conflict was on the request id: reused for another voter
        raise ValueError(f"request id {request_id!r} was already used for another voter")
    if first.request_id == request_id:
        return CheckinResult("accepted")
    return CheckinResult("already_voted", first.station_id, first.hour)


def turnout(engine: Engine, election_id: str) -> dict[str, int]:
    """Check-ins per station so far."""
    with engine.begin() as conn:
        rows = conn.execute(
            select(checkins.c.station_id, func.count())
            .where(checkins.c.election_id == election_id)
            .group_by(checkins.c.station_id)
        ).all()
    return {station: int(n) for station, n in rows}


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(engine: Engine, election_id: str, station_id: str) -> str:
    """A new random token for a station's device; only its hash is stored. Shown once."""
    token = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(
            insert(station_tokens).values(
                token_hash=_token_hash(token), election_id=election_id, station_id=station_id
            )
        )
    return token


def station_of_token(engine: Engine, token: str) -> tuple[str, str] | None:
    """(election, station) of a token, or None for an unknown token."""
    with engine.begin() as conn:
        row = conn.execute(
            select(station_tokens.c.election_id, station_tokens.c.station_id).where(
                station_tokens.c.token_hash == _token_hash(token)
            )
        ).first()
    return None if row is None else (row.election_id, row.station_id)
