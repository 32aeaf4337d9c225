"""The voter roll and the check-ins in the database (issue 7).

`check_in_many` is the one national check that stops a person from voting twice at any of the
59,000 stations: the check-ins table's primary key is (election, national code), so two
stations checking in one voter at the same instant can never both insert, on SQLite or on
PostgreSQL; the loser reads the winner's row. A retried request (the same request id) finds its
own row and gets the same answer, without a second record.

A batch of check-ins is one transaction of a few statements whatever its size (on PostgreSQL:
one that keeps the items of stations whose polls are open, looks the voters up, inserts the
eligible ones with ON CONFLICT DO NOTHING and reads the first check-in of those refused; then
one adding the new check-ins to their stations' counters, issue 15): the web server gathers
the requests that arrive together into one batch, so the database commits once for many
check-ins. Rows are inserted in national-code order, so that
two batches racing on the same voters take their locks in the same order and cannot deadlock.

Check-ins recorded offline by a station and uploaded later go through the same check; those it
refuses are not lost but kept in `checkin_conflicts` for the supervisors. An upload that would
be mostly conflicts (`conflicts_allowed`) is refused whole, with nothing written.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any, Literal

from sqlalchemy import (
    Connection,
    Dialect,
    Engine,
    Table,
    bindparam,
    func,
    insert,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from verivote.store.access import (  # the tokens moved there (issue 15); imported from here too
    issue_supervisor_token,
    issue_token,
    station_of_token,
    supervisor_of_token,
    token_hash,
)
from verivote.store.schema import (
    checkin_conflicts,
    checkins,
    station_counts,
    voters,
)

__all__ = [
    "Checkin", "CheckinResult", "RequestIdReused", "check_in", "check_in_many", "conflicts",
    "has_roll", "import_voters", "issue_supervisor_token", "issue_token", "station_of_token",
    "supervisor_of_token", "token_hash", "turnout",
]  # fmt: skip

Status = Literal["accepted", "already_voted", "not_eligible", "wrong_district", "polls_closed"]
_ROWS = 5000
_RETRIES = 5
_RETRYABLE = {"40P01", "40001"}
"""PostgreSQL's deadlock_detected and serialization_failure: the batch is simply run again."""


@dataclass(frozen=True)
class Checkin:
    """One check-in asked for: the voter, the station (and its district), the hour, and the
    request id the station's device chose (the same id again is a retry)."""

    national_code: str
    station_id: str
    station_district: str
    hour: int
    request_id: str


@dataclass(frozen=True)
class CheckinResult:
    """The answer to a check-in; for `already_voted`, where and in which hour it happened.
    `conflict` marks an offline record that was refused and kept for the supervisors.

    Where and when are for the supervisors' conflict list only: a station is told the status
    alone (`verivote.web.checkin`), else it could probe whether, where and when anyone voted."""

    status: Status
    station: str | None = None
    hour: int | None = None
    conflict: bool = False


class RequestIdReused(ValueError):
    """A request id that was already used for another voter (a device bug, never a retry)."""


class TooManyConflicts(ValueError):
    """An offline upload that would be mostly conflicts: refused whole, nothing written."""


CONFLICTS_ALWAYS_ALLOWED = 25


def conflicts_allowed(records: int) -> int:
    """How many of an offline upload's `records` may be refused and kept as conflicts.

    A station cut off checks voters in on their word, so a few of its records turn out to be
    double check-ins or voters of another roll, a handful in a day: up to 25 are always kept.
    An upload mostly refused (more than half of its records beyond that) is not a station's day
    but a device uploading another station's journal, a wrong roll, or a forgery; kept, it
    would bury the supervisors' list under one request's worth of rows (an upload holds up to
    2,000). It is refused whole instead, and stays in the device's journal, so nothing a
    station recorded is lost while the supervisors look at the device.
    """
    return max(CONFLICTS_ALWAYS_ALLOWED, records // 2)


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
    if engine.dialect.name == "postgresql":
        # Fresh statistics now, not when autovacuum gets to it: without them the check-in
        # statement's plan may read the whole roll for every batch (measured: 3-6 times the
        # database's CPU per check-in right after a million voters were loaded).
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE voters")
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
    """Check one voter in at a station, once in the whole election (see the module docstring).
    Raises RequestIdReused for a request id already used for another voter."""
    item = Checkin(national_code, station_id, station_district, hour, request_id)
    result = check_in_many(engine, election_id, [item])[0]
    if isinstance(result, RequestIdReused):
        raise result
    return result


def check_in_many(
    engine: Engine, election_id: str, items: Sequence[Checkin], *, offline: bool = False
) -> list[CheckinResult | RequestIdReused]:
    """Check a batch of voters in, in one transaction; one answer per item, in order.

    With `offline`, the items are records a station made while it was cut off and the voters
    have already voted on their word: each one refused is also kept in `checkin_conflicts`
    (marked `conflict`), so that the supervisors see both records. Raises TooManyConflicts,
    with nothing written, if more than `conflicts_allowed` of them would be.
    """
    for item in items:
        if not 0 <= item.hour <= 23:
            raise ValueError(f"the hour is 0..23, not {item.hour}")
    if not items:
        return []
    for attempt in range(_RETRIES):
        try:
            with engine.begin() as conn:
                return _check_in_batch(conn, election_id, items, offline)
        except _ClosedMeanwhile:
            continue  # run again: this time the closed station's items are refused
        except DBAPIError as exc:
            # A deadlock or serialization failure that PostgreSQL resolved by aborting this
            # transaction: the batch is simply run again.
            if getattr(exc.orig, "sqlstate", None) not in _RETRYABLE or attempt == _RETRIES - 1:
                raise
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class _Facts:
    """What the database says about one item: the voter's district (None: not on the roll),
    whether this item's row was inserted, the voter's check-in row if one was found, and
    which voter's check-in holds the item's request id (read for refused items only)."""

    district: str | None
    inserted: bool
    first: tuple[str, int, str] | None  # station, hour, request id
    request_owner: str | None = None


def _check_in_batch(
    conn: Connection, election_id: str, items: Sequence[Checkin], offline: bool
) -> list[CheckinResult | RequestIdReused]:
    if conn.dialect.name == "postgresql":
        every, allowed = _facts_postgresql(conn, election_id, items, offline)
        facts = [f for f, ok in zip(every, allowed, strict=True) if ok]
        taken = [i for i, ok in zip(items, allowed, strict=True) if ok]
    else:
        open_here = _stations_checking_in(conn, election_id, {i.station_id for i in items}, offline)
        allowed = [item.station_id in open_here for item in items]
        taken = [item for item in items if item.station_id in open_here]
        facts = _facts_portable(conn, election_id, taken)
    facts = _settle(conn, election_id, taken, facts)
    inserted = [i for i, f in zip(taken, facts, strict=True) if f.inserted]
    _count_checkins(conn, election_id, inserted, offline)
    answered = iter([_answer(item, f) for item, f in zip(taken, facts, strict=True)])
    answers = [next(answered) if ok else CheckinResult("polls_closed") for ok in allowed]
    if offline:
        answers = [
            replace(a, conflict=True) if isinstance(a, CheckinResult) and a.status in _CONFLICTS
            else a
            for a in answers
        ]  # fmt: skip
        refused = sum(isinstance(a, CheckinResult) and a.conflict for a in answers)
        if refused > conflicts_allowed(len(items)):
            # Raised inside the transaction: the batch's accepted check-ins are undone too.
            raise TooManyConflicts(
                f"{refused} of the {len(items)} records would be refused; at most "
                f"{conflicts_allowed(len(items))} are kept as conflicts per upload: ask the "
                "supervisors to look at this device and its journal"
            )
        _keep_conflicts(conn, election_id, items, answers)
    return answers


_CONFLICTS = ("already_voted", "not_eligible", "wrong_district")


def _stations_checking_in(
    conn: Connection, election_id: str, stations: set[str], offline: bool
) -> set[str]:
    """The stations among `stations` that take these check-ins (SQLite, whose writers run
    one at a time): online, those whose polls are open; offline records (made while the
    station was cut off), those that ever opened (issue 15: no check-in after a station
    closes, none at a station never opened). A station that ever opened has a counters row,
    whose `polls_open` follows its polls."""
    c = station_counts.c
    rows = conn.execute(
        select(c.station_id, c.polls_open).where(
            c.election_id == election_id, c.station_id.in_(stations)
        )
    )
    return {r.station_id for r in rows if offline or r.polls_open}


class _ClosedMeanwhile(Exception):
    """A station of the batch closed while the batch ran: it is run again from the start."""


_COUNT_POSTGRESQL = text("""
INSERT INTO station_counts (election_id, station_id, checked_in)
SELECT :election, s, n FROM unnest(CAST(:stations AS text[]), CAST(:counts AS bigint[])) AS t(s, n)
ORDER BY s
ON CONFLICT (election_id, station_id) DO UPDATE
SET checked_in = station_counts.checked_in + EXCLUDED.checked_in
WHERE station_counts.polls_open OR CAST(:offline AS boolean)
RETURNING station_id
""")
"""The batch's new check-ins added to their stations' counters (PostgreSQL), in station order
so that two batches take the rows' locks in the same order. A row locked by a closing is
waited for and then checked again as the closing left it: a station closed meanwhile is not
updated, not returned, and the batch runs again."""


def _count_checkins(
    conn: Connection, election_id: str, inserted: Sequence[Checkin], offline: bool
) -> None:
    """Add the batch's new check-ins to their stations' counters, in the same transaction;
    _ClosedMeanwhile if a station closed since the batch read its polls (online only)."""
    per_station: dict[str, int] = {}
    # One row per voter: a retry inside the same batch shows as inserted too.
    for station in {item.national_code: item.station_id for item in inserted}.values():
        per_station[station] = per_station.get(station, 0) + 1
    if not per_station:
        return
    stations = sorted(per_station)
    if conn.dialect.name == "postgresql":
        counted = conn.execute(_COUNT_POSTGRESQL, {
            "election": election_id, "stations": stations,
            "counts": [per_station[s] for s in stations], "offline": offline,
        }).scalars()  # fmt: skip
        if len(set(counted)) != len(stations):
            raise _ClosedMeanwhile
        return
    c = station_counts.c
    conn.execute(
        update(station_counts)
        .where(c.election_id == bindparam("e"), c.station_id == bindparam("s"))
        .values(checked_in=c.checked_in + bindparam("n")),
        [{"e": election_id, "s": s, "n": per_station[s]} for s in stations],
    )


def _answer(item: Checkin, facts: _Facts) -> CheckinResult | RequestIdReused:
    if facts.district is None:
        return CheckinResult("not_eligible")
    if facts.district != item.station_district:
        return CheckinResult("wrong_district")
    if facts.inserted:
        return CheckinResult("accepted")
    if facts.first is None or facts.request_owner not in (None, item.national_code):
        return RequestIdReused(f"request id {item.request_id!r} was already used for another voter")
    station, hour, request_id = facts.first
    if request_id == item.request_id:  # a retry of the request that checked the voter in
        return CheckinResult("accepted")
    return CheckinResult("already_voted", station, hour)


_POSTGRESQL_BATCH = text("""
WITH input AS (
    SELECT * FROM unnest(CAST(:codes AS text[]), CAST(:stations AS text[]),
                         CAST(:districts AS text[]), CAST(:hours AS smallint[]),
                         CAST(:requests AS text[]))
        WITH ORDINALITY AS t(code, station, district, hour, request, ord)
), allowed AS (
    SELECT i.* FROM input i
    JOIN station_counts s ON s.election_id = :election AND s.station_id = i.station
    WHERE s.polls_open OR CAST(:offline AS boolean)
), eligible AS (
    SELECT a.* FROM allowed a
    JOIN voters v ON v.election_id = :election AND v.national_code = a.code
    WHERE v.district_id = a.district
), inserted AS (
    INSERT INTO checkins (election_id, national_code, station_id, hour, request_id)
    SELECT :election, code, station, hour, request FROM eligible ORDER BY code
    ON CONFLICT DO NOTHING
    RETURNING national_code, request_id
)
SELECT i.ord, v.district_id, n.national_code IS NOT NULL AS inserted,
       c.station_id, c.hour, c.request_id,
       i.ord IN (SELECT ord FROM allowed) AS allowed
FROM input i
LEFT JOIN voters v ON v.election_id = :election AND v.national_code = i.code
LEFT JOIN inserted n ON n.national_code = i.code AND n.request_id = i.request
LEFT JOIN checkins c ON c.election_id = :election AND c.national_code = i.code
ORDER BY i.ord
""")
"""The whole batch in one statement (PostgreSQL): only the items of stations taking check-ins
(`allowed`: polls open, or ever opened for offline records, from the stations' counters
rows) are looked up and inserted. The final SELECT reads `checkins` as of the
statement's start, so a voter checked in by a transaction that committed meanwhile shows as
refused with no row; `_settle` reads those few again in a statement of their own, which in
READ COMMITTED sees them (ON CONFLICT waited for that transaction to commit)."""


def _facts_postgresql(
    conn: Connection, election_id: str, items: Sequence[Checkin], offline: bool
) -> tuple[list[_Facts], list[bool]]:
    """Each item's facts and whether its station takes it, from one statement."""
    params = {
        "election": election_id, "codes": [i.national_code for i in items],
        "stations": [i.station_id for i in items], "hours": [i.hour for i in items],
        "requests": [i.request_id for i in items],
        "districts": [i.station_district for i in items], "offline": offline,
    }  # fmt: skip
    # Planned afresh each time, never as a prepared statement: psycopg prepares a statement
    # after a few runs, and PostgreSQL's generic plan made while the check-ins table is still
    # nearly empty reads all of an election's check-ins to find one voter's; kept for the
    # rest of the day, it made every batch slower than the last (measured with `verivote bench
    # checkin`). Planning costs a fraction of a millisecond per batch.
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(_postgresql_batch_sql(conn.dialect), params, prepare=False)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    facts = [
        _Facts(district, inserted, None if station is None else (station, hour, request_id))
        for _ord, district, inserted, station, hour, request_id, _allowed in rows
    ]
    return facts, [bool(row[-1]) for row in rows]


@functools.cache
def _postgresql_batch_sql(dialect: Dialect) -> str:
    """The batch statement in psycopg's own parameter style (%(name)s), compiled once."""
    return str(_POSTGRESQL_BATCH.compile(dialect=dialect))


def _facts_portable(conn: Connection, election_id: str, items: Sequence[Checkin]) -> list[_Facts]:
    """The same facts in two statements (SQLite): look the voters up, insert the eligible
    ones in national-code order; `_settle` reads what the refused ones need."""
    district_of: dict[str, str] = dict(
        conn.execute(
            select(voters.c.national_code, voters.c.district_id).where(
                voters.c.election_id == election_id,
                voters.c.national_code.in_({item.national_code for item in items}),
            )
        ).all()
    )
    eligible = [i for i in items if district_of.get(i.national_code) == i.station_district]
    inserted: set[tuple[str, str]] = set()
    if eligible:
        rows = [
            {"election_id": election_id, "national_code": i.national_code,
             "station_id": i.station_id, "hour": i.hour, "request_id": i.request_id}
            for i in sorted(eligible, key=lambda i: i.national_code)
        ]  # fmt: skip
        stmt = _insert_ignoring_conflicts(conn, checkins).returning(
            checkins.c.national_code, checkins.c.request_id
        )
        inserted = {(r.national_code, r.request_id) for r in conn.execute(stmt, rows)}
    return [
        _Facts(district_of.get(i.national_code), (i.national_code, i.request_id) in inserted, None)
        for i in items
    ]


def _settle(
    conn: Connection, election_id: str, items: Sequence[Checkin], facts: list[_Facts]
) -> list[_Facts]:
    """For the refused items that are not plain retries, read in a statement of their own the
    voter's check-in (it may have committed after the batch's snapshot) and the voter whose
    check-in holds the item's request id (a request id reused for another voter is refused
    whatever that voter's state)."""
    doubtful = [
        k
        for k, (item, f) in enumerate(zip(items, facts, strict=True))
        if f.district == item.station_district
        and not f.inserted
        and (f.first is None or f.first[2] != item.request_id)
    ]
    if not doubtful:
        return facts
    first = _first_checkins(conn, election_id, {items[k].national_code for k in doubtful})
    c = checkins.c
    owners = {
        r.request_id: r.national_code
        for r in conn.execute(
            select(c.request_id, c.national_code).where(
                c.election_id == election_id,
                c.request_id.in_({items[k].request_id for k in doubtful}),
            )
        )
    }
    settled = list(facts)
    for k in doubtful:
        item = items[k]
        settled[k] = replace(
            facts[k],
            first=first.get(item.national_code),
            request_owner=owners.get(item.request_id),
        )
    return settled


def _first_checkins(
    conn: Connection, election_id: str, codes: set[str]
) -> dict[str, tuple[str, int, str]]:
    c = checkins.c
    rows = conn.execute(
        select(c.national_code, c.station_id, c.hour, c.request_id).where(
            c.election_id == election_id, c.national_code.in_(codes)
        )
    )
    return {r.national_code: (r.station_id, r.hour, r.request_id) for r in rows}


def _keep_conflicts(
    conn: Connection,
    election_id: str,
    items: Sequence[Checkin],
    answers: Sequence[CheckinResult | RequestIdReused],
) -> None:
    rows = [
        {"election_id": election_id, "request_id": item.request_id,
         "national_code": item.national_code, "station_id": item.station_id,
         "hour": item.hour, "kind": answer.status, "first_station_id": answer.station,
         "first_hour": answer.hour}
        for item, answer in zip(items, answers, strict=True)
        if isinstance(answer, CheckinResult) and answer.conflict
    ]  # fmt: skip
    if rows:
        rows.sort(key=lambda r: str(r["request_id"]))
        conn.execute(_insert_ignoring_conflicts(conn, checkin_conflicts), rows)


def _insert_ignoring_conflicts(conn: Connection, table: Table) -> Any:
    """INSERT … ON CONFLICT DO NOTHING in the connection's dialect."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


ConflictKey = tuple[str, int, str]
"""Where a conflict sorts: (station, hour, request id), unique in an election."""


def conflict_key(conflict: dict[str, Any]) -> ConflictKey:
    return (conflict["station_id"], conflict["hour"], conflict["request_id"])


def conflicts(
    engine: Engine, election_id: str, after: ConflictKey | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """The refused offline check-ins kept for the supervisors, by station and hour: those
    after `after` (a `conflict_key`), at most `limit` of them (None: all)."""
    c = checkin_conflicts.c
    query = (
        select(
            c.kind, c.national_code, c.station_id, c.hour, c.first_station_id, c.first_hour,
            c.request_id,
        )
        .where(c.election_id == election_id)
        .order_by(c.station_id, c.hour, c.request_id)
        .limit(limit)
    )  # fmt: skip
    if after is not None:
        query = query.where(tuple_(c.station_id, c.hour, c.request_id) > tuple_(*after))
    with engine.begin() as conn:
        rows = conn.execute(query).all()
    return [dict(r._mapping) for r in rows]


def conflict_count(engine: Engine, election_id: str) -> int:
    """How many refused offline check-ins are kept."""
    c = checkin_conflicts.c
    with engine.begin() as conn:
        found = conn.execute(
            select(func.count()).select_from(checkin_conflicts).where(c.election_id == election_id)
        ).scalar_one()
    return int(found)


def has_roll(engine: Engine, election_id: str) -> bool:
    """Whether a voter roll was imported for the election (then check-ins are counted)."""
    with engine.begin() as conn:
        found = conn.execute(
            select(voters.c.national_code).where(voters.c.election_id == election_id).limit(1)
        ).first()
    return found is not None


def turnout(engine: Engine, election_id: str) -> dict[str, int]:
    """Check-ins per station so far, read from the stations' counters (which the check-ins'
    own transactions keep: issue 15), not counted from 25 million rows."""
    c = station_counts.c
    with engine.begin() as conn:
        rows = conn.execute(
            select(c.station_id, c.checked_in).where(c.election_id == election_id, c.checked_in > 0)
        ).all()
    return {station: int(n) for station, n in rows}
