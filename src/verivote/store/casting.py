"""Casting in batches (issue 15, items 2 and 3): one check-in admits one ballot, and a
station's ballots go onto the board in a random order inside batches.

A station's row of `station_counts` holds two counters, its voters checked in and its cast
ballots. The transaction that admits a ballot locks that row and compares the two: a station's
ballots never outnumber its check-ins, at any moment, with no link from a voter to a ballot.

An admitted ballot is kept in `pending_ballots`, durable at once (the device's receipt means
the ballot will be counted), and waits for its station's batch to close: after `size` ballots
(in the transaction that admits the last) or, for a batch older than its time limit, when the
server's timer or the station's closing flushes it. The flush takes the batch's rows, puts
them in an order drawn from the operating system's CSPRNG, appends them to the board and to
`ballots` in that order in ONE transaction, and deletes them. Inside a batch therefore neither
the board's index nor a row id, a transaction id or the physical order of `ballots` follows
the order in which voters cast, and no table holds a time per ballot. Tracking codes are not
chained (issue 14): a deleted ballot is caught by the Merkle log and by the voter's own
inclusion proof, not by a chain that would order the station's ballots.

Whether a station's polls are open is read from its `station_counts` row (`polls_open`, which
`Store.set_polls` keeps with `station_polls` in one transaction), under that row's lock:
casting locks the rows (in station order), checking in updates them, and a closing changes
the flag and reads the counts under the same lock. A closing therefore either committed first
and is seen, or waits and counts what the cast or check-in admitted; none is admitted after
it. Locks are taken in one order, so that writers never deadlock: opening or closing locks the
station's `station_polls` row, then its `station_counts` row, then its log's row (to
append to the board); casting and checking in take only `station_counts` rows, in station
order, and the log's `board_logs` row to flush (issue 17: a log per district, so that
districts never wait for one another). SQLite's BEGIN IMMEDIATE serializes every writer and
renders no lock clause.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Text,
    bindparam,
    cast,
    delete,
    insert,
    literal,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from verivote.board.merkle import leaf_hash
from verivote.store.db import ReplayError, StoreError
from verivote.store.schema import (
    ballots,
    board_entries,
    pending_ballots,
    station_counts,
    station_polls,
    voters,
)
from verivote.store.txn import NATIONAL, grown, lock_log, require_election


class PollsClosed(StoreError):
    """A ballot at a station whose polls are not open (closed, or never opened)."""


class NoCheckin(StoreError):
    """A cast ballot that would make a station's ballots outnumber the voters checked in
    there, in an election with a voter roll."""


@dataclass(frozen=True)
class Batching:
    """When a station's batch closes: after `size` ballots or `seconds` after its first."""

    size: int = 20
    seconds: int = 15 * 60

    def __post_init__(self) -> None:
        if self.size < 1 or self.seconds < 1:
            raise ValueError(f"a batch needs a size and a time limit of at least 1, not {self}")


@dataclass(frozen=True)
class Pending:
    """A checked ballot to be admitted: its station and district, tracking code, the hash
    that identifies the encrypted ballot (its nonce), its board entry and state."""

    station_id: str
    district_id: str
    tracking_code: str
    ballot_hash: str
    entry: bytes
    entry_type: str
    state: str


@dataclass(frozen=True)
class Admitted:
    """A ballot admitted now or before (`again`): its board index once its batch is on the
    board, None while the batch is open."""

    tracking_code: str
    state: str
    board_idx: int | None
    again: bool = False


def lock_polls(conn: Connection, election_id: str, station_id: str) -> str | None:
    """The station's polls state, its row locked FOR UPDATE (to open or close it)."""
    query = select(station_polls.c.state).where(
        station_polls.c.election_id == election_id, station_polls.c.station_id == station_id
    )
    state: str | None = conn.execute(query.with_for_update()).scalar_one_or_none()
    return state


def counts(conn: Connection, election_id: str, station_id: str) -> Any:
    """The station's counters row, locked FOR UPDATE; created (all zero) if missing."""
    where = (station_counts.c.election_id == election_id, station_counts.c.station_id == station_id)
    row = conn.execute(select(station_counts).where(*where).with_for_update()).first()
    if row is None:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(
            dialect.insert(station_counts)
            .values(election_id=election_id, station_id=station_id)
            .on_conflict_do_nothing()
        )
        row = conn.execute(select(station_counts).where(*where).with_for_update()).first()
    return row


def admit_many(
    conn: Connection,
    election_id: str,
    items: Sequence[Pending],
    batching: Batching,
    now: int,
    roll: bool,
) -> list[Admitted | StoreError]:
    """Admit ballots at their stations, inside the caller's transaction (see the module
    docstring), one answer per ballot in order; flushes each station's batch that fills.

    The same ballot admitted again in the same state (before, or earlier in `items`) is
    answered as the first time (`again`: a device's retry). Refused, with nothing written for
    it: a ballot at a station whose polls are not open (PollsClosed), one whose tracking code
    or nonce belongs to another ballot or state (ReplayError) and, with `roll` or a roll in
    the database, a cast ballot beyond its station's check-ins (NoCheckin). The statements
    are a few per call, not per ballot: the cast API admits the ballots that arrive together
    in one transaction."""
    stations = sorted({b.station_id for b in items})
    # The counters rows, locked, say whether the polls are open: a closing changes that flag
    # under the same row lock, so it either committed before and is seen, or waits for this
    # transaction and counts and flushes what it admits.
    counters = _lock_counts(conn, election_id, stations)
    open_here = {station for station, count in counters.items() if count["polls_open"]}
    if not open_here:
        require_election(conn, election_id)  # else UnknownElection reads as polls closed
    by_code, by_nonce = _earlier_many(
        conn, election_id, [b for b in items if b.station_id in open_here]
    )
    has_roll: bool | None = True if roll else None
    answers: list[Admitted | StoreError] = []
    new_rows: list[dict[str, Any]] = []
    touched: set[str] = set()
    for b in items:
        if b.station_id not in open_here:
            answers.append(PollsClosed(f"the polls at station {b.station_id} are not open"))
            continue
        prior = by_code.get(b.tracking_code)
        if prior is not None:
            nonce, state, idx = prior
            if nonce == b.ballot_hash and state == b.state:
                answers.append(Admitted(b.tracking_code, b.state, idx, again=True))
            else:
                answers.append(ReplayError(_USED))
            continue
        if b.ballot_hash in by_nonce:
            answers.append(ReplayError(_USED))
            continue
        count = counters[b.station_id]
        is_cast = b.state == "cast"
        if is_cast and count["ballots"] >= count["checked_in"]:
            if has_roll is None:
                has_roll = _has_roll(conn, election_id)
            if has_roll:
                answers.append(NoCheckin(
                    f"station {b.station_id} holds {count['ballots']} cast ballots for "
                    f"{count['checked_in']} voters checked in: a ballot is cast only for a "
                    "voter checked in"
                ))  # fmt: skip
                continue
        count["ballots"] += int(is_cast)
        count["pending"] += 1
        if count["batch_since"] is None:
            count["batch_since"] = now
        touched.add(b.station_id)
        new_rows.append({
            "election_id": election_id, "station_id": b.station_id,
            "slot": secrets.token_hex(16), "tracking_code": b.tracking_code,
            "ballot_hash": b.ballot_hash, "district_id": b.district_id, "state": b.state,
            "entry": bytes(b.entry), "entry_type": b.entry_type,
        })  # fmt: skip
        by_code[b.tracking_code] = (b.ballot_hash, b.state, None)
        by_nonce.add(b.ballot_hash)
        answers.append(Admitted(b.tracking_code, b.state, None))
    if new_rows:
        conn.execute(insert(pending_ballots), new_rows)
    placed: dict[str, int] = {}
    for station in sorted(touched):
        count = counters[station]
        conn.execute(
            update(station_counts)
            .where(
                station_counts.c.election_id == election_id,
                station_counts.c.station_id == station,
            )
            .values(
                ballots=count["ballots"], pending=count["pending"],
                batch_since=count["batch_since"],
            )
        )  # fmt: skip
        if count["pending"] >= batching.size:
            placed |= flush(conn, election_id, station)
    return [
        replace(a, board_idx=placed[a.tracking_code])
        if isinstance(a, Admitted) and a.tracking_code in placed
        else a
        for a in answers
    ]


_USED = "this ballot is already on the board (its tracking code or nonce)"


def _lock_counts(
    conn: Connection, election_id: str, stations: list[str]
) -> dict[str, dict[str, Any]]:
    """The counters rows of those of `stations` that have one (every station that ever
    opened: `Store.set_polls` makes it), locked FOR UPDATE in station order, as mutable
    dicts."""
    if not stations:
        return {}
    c = station_counts.c
    query = (
        select(c.station_id, c.checked_in, c.ballots, c.pending, c.batch_since, c.polls_open)
        .where(c.election_id == election_id, c.station_id.in_(stations))
        .order_by(c.station_id)
        .with_for_update()
    )
    return {r.station_id: dict(r._mapping) for r in conn.execute(query)}


def _earlier_many(
    conn: Connection, election_id: str, items: Sequence[Pending]
) -> tuple[dict[str, tuple[str, str, int | None]], set[str]]:
    """The ballots already admitted that share a tracking code or a nonce with `items`: by
    tracking code (nonce, state, board index or None while in a batch), and their nonces.
    Read in one statement, so from one snapshot: a batch flushed meanwhile is found whole,
    either still waiting or on the board."""
    by_code: dict[str, tuple[str, str, int | None]] = {}
    nonces: set[str] = set()
    if not items:
        return by_code, nonces
    codes = {b.tracking_code for b in items}
    hashes = {b.ballot_hash for b in items}
    p, b = pending_ballots.c, ballots.c
    # One statement: the open batches first (rank 0), then the board's ballots. Each of them
    # found by code and by nonce in two parts, each on its own unique index: with
    # `code IN … OR nonce IN …` SQLite searched by the election alone, reading every ballot of
    # the election at each cast (quadratic: 250,000 ballots made a cast 10 ms).
    waiting = [
        select(
            p.tracking_code,
            p.ballot_hash,
            p.state,
            literal(None, BigInteger).label("idx"),
            literal(0).label("rank"),
        ).where(p.election_id == election_id, match)
        for match in (p.tracking_code.in_(codes), p.ballot_hash.in_(hashes))
    ]
    placed = [
        select(
            b.tracking_code,
            b.ballot_hash,
            b.state,
            b.board_idx.label("idx"),
            literal(1).label("rank"),
        ).where(b.election_id == election_id, match)
        for match in (b.tracking_code.in_(codes), b.ballot_hash.in_(hashes))
    ]
    rows = conn.execute(union_all(*waiting, *placed)).all()
    for r in sorted(rows, key=lambda r: int(r.rank)):
        idx = None if r.idx is None else int(r.idx)
        by_code.setdefault(r.tracking_code, (r.ballot_hash, r.state, idx))
        nonces.add(r.ballot_hash)
    return by_code, nonces


def _has_roll(conn: Connection, election_id: str) -> bool:
    found = conn.execute(
        select(voters.c.national_code).where(voters.c.election_id == election_id).limit(1)
    ).first()
    return found is not None


def flush(conn: Connection, election_id: str, station_id: str) -> dict[str, int]:
    """Put the station's open batch on the board (its district's log) in a random order, with
    the log's new tiles, inside the caller's transaction (which holds the station's counters
    row); returns each tracking code's index in that log."""
    p = pending_ballots.c
    where = (p.election_id == election_id, p.station_id == station_id)
    rows = list(conn.execute(select(p.slot, p.tracking_code, p.entry, p.district_id).where(*where)))
    if not rows:
        return {}
    logs = {str(r.district_id) for r in rows}
    if len(logs) != 1 or NATIONAL in logs:
        # a station is in one district (the manifest's), and its ballots name it
        raise StoreError(f"station {station_id}'s open batch names districts {sorted(logs)}")
    log = logs.pop()
    secrets.SystemRandom().shuffle(rows)
    first = lock_log(conn, election_id, log)
    place(conn, [
        {"e": election_id, "s": station_id, "slot": r.slot, "idx": first + i, "log": log}
        for i, r in enumerate(rows)
    ])  # fmt: skip
    grown(conn, election_id, log, first, [leaf_hash(bytes(r.entry)) for r in rows])
    conn.execute(delete(pending_ballots).where(*where))
    conn.execute(
        update(station_counts)
        .where(
            station_counts.c.election_id == election_id,
            station_counts.c.station_id == station_id,
        )
        .values(pending=0, batch_since=None)
    )
    return {r.tracking_code: first + i for i, r in enumerate(rows)}


def _from_pending(*columns: Any) -> Any:
    p = pending_ballots.c
    return select(*columns).where(
        p.election_id == bindparam("e"), p.station_id == bindparam("s"),
        p.slot == bindparam("slot"),
    )  # fmt: skip


_INDEX = cast(bindparam("idx"), BigInteger)
_LOG = cast(bindparam("log"), Text)
_TO_BOARD = insert(board_entries).from_select(
    ["election_id", "log", "idx", "entry", "entry_type"],
    _from_pending(pending_ballots.c.election_id, _LOG, _INDEX, pending_ballots.c.entry,
                  pending_ballots.c.entry_type),
)  # fmt: skip
_TO_BALLOTS = insert(ballots).from_select(
    ["election_id", "tracking_code", "station_id", "district_id", "state", "board_log",
     "board_idx", "ballot_hash"],
    _from_pending(*(pending_ballots.c[n] for n in ("election_id", "tracking_code", "station_id",
                  "district_id", "state")), _LOG, _INDEX, pending_ballots.c.ballot_hash),
)  # fmt: skip


def place(conn: Connection, slots: list[dict[str, Any]]) -> None:
    """Copy pending ballots (`e`, `s`, `slot`) to the board at (`log`, `idx`) and to `ballots`,
    inside the database: the entries' bytes never travel to this process and back."""
    conn.execute(_TO_BOARD, slots)
    conn.execute(_TO_BALLOTS, slots)


def set_polls_open(conn: Connection, election_id: str, station_id: str, is_open: bool) -> None:
    """Set the station's `polls_open` flag (its counters row is locked by the caller)."""
    conn.execute(
        update(station_counts)
        .where(
            station_counts.c.election_id == election_id,
            station_counts.c.station_id == station_id,
        )
        .values(polls_open=is_open)
    )


def stale_stations(conn: Connection, election_id: str, older_than: int) -> list[str]:
    """Stations whose open batch began at or before `older_than` (unix seconds)."""
    c = station_counts.c
    return list(
        conn.execute(
            select(c.station_id)
            .where(c.election_id == election_id, c.pending > 0, c.batch_since <= older_than)
            .order_by(c.station_id)
        ).scalars()
    )


def pending_state(conn: Connection, election_id: str, tracking_code: str) -> str | None:
    """The state of a ballot waiting in an open batch, or None."""
    state: str | None = conn.execute(
        select(pending_ballots.c.state).where(
            pending_ballots.c.election_id == election_id,
            pending_ballots.c.tracking_code == tracking_code,
        )
    ).scalar_one_or_none()
    return state
