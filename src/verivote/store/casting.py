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

Locks are taken in one order everywhere, so that writers never deadlock: the station's
`station_polls` row (FOR SHARE to cast or check in, FOR UPDATE to open or close), then its
`station_counts` row, then the election's row (only to append to the board). SQLite's
BEGIN IMMEDIATE serializes every writer and renders no lock clause.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from verivote.store.db import ReplayError, StoreError
from verivote.store.schema import ballots, pending_ballots, station_counts, station_polls, voters
from verivote.store.txn import append_many, lock_election


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


def polls_state(conn: Connection, election_id: str, station_id: str, *, lock: str) -> str | None:
    """The station's polls state, its row locked FOR SHARE (`lock="share"`) or FOR UPDATE."""
    query = select(station_polls.c.state).where(
        station_polls.c.election_id == election_id, station_polls.c.station_id == station_id
    )
    query = query.with_for_update(read=lock == "share")
    state: str | None = conn.execute(query).scalar_one_or_none()
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


def admit(
    conn: Connection,
    election_id: str,
    ballot: Pending,
    batching: Batching,
    now: int,
    roll: bool,
) -> Admitted:
    """Admit `ballot` at its station, inside the caller's transaction (see the module
    docstring); flushes the station's batch when this ballot fills it.

    The same ballot admitted again in the same state is answered as before (`again`: a
    device's retry); PollsClosed, ReplayError (its tracking code or nonce is used by another
    ballot or state) and, with `roll` or a roll in the database, NoCheckin refuse it, and
    nothing is written."""
    station = ballot.station_id
    if polls_state(conn, election_id, station, lock="share") != "open":
        raise PollsClosed(f"the polls at station {station} are not open")
    row = counts(conn, election_id, station)
    earlier = _earlier(conn, election_id, ballot)
    if earlier is not None:
        return earlier
    cast = ballot.state == "cast"
    if cast and row.ballots >= row.checked_in and (roll or _has_roll(conn, election_id)):
        raise NoCheckin(
            f"station {station} holds {row.ballots} cast ballots for {row.checked_in} voters "
            "checked in: a ballot is cast only for a voter checked in"
        )
    conn.execute(
        insert(pending_ballots).values(
            election_id=election_id, station_id=station, slot=secrets.token_hex(16),
            tracking_code=ballot.tracking_code, ballot_hash=ballot.ballot_hash,
            district_id=ballot.district_id, state=ballot.state, entry=bytes(ballot.entry),
            entry_type=ballot.entry_type,
        )
    )  # fmt: skip
    conn.execute(
        update(station_counts)
        .where(station_counts.c.election_id == election_id, station_counts.c.station_id == station)
        .values(
            ballots=station_counts.c.ballots + int(cast),
            pending=station_counts.c.pending + 1,
            batch_since=row.batch_since if row.batch_since is not None else now,
        )
    )
    idx = None
    if row.pending + 1 >= batching.size:
        idx = flush(conn, election_id, station).get(ballot.tracking_code)
    return Admitted(ballot.tracking_code, ballot.state, idx)


def _earlier(conn: Connection, election_id: str, ballot: Pending) -> Admitted | None:
    """This ballot as admitted before, or None; ReplayError if its tracking code or its
    nonce belongs to another ballot or another state. The open batches are read before the
    board's ballots: a batch flushed in between is then found on the board (READ COMMITTED)."""
    for table, idx_column in ((pending_ballots, None), (ballots, ballots.c.board_idx)):
        columns = [table.c.tracking_code, table.c.ballot_hash, table.c.state]
        if idx_column is not None:
            columns.append(idx_column)
        found = conn.execute(
            select(*columns).where(
                table.c.election_id == election_id,
                (table.c.tracking_code == ballot.tracking_code)
                | (table.c.ballot_hash == ballot.ballot_hash),
            )
        ).first()
        if found is None:
            continue
        same = found.tracking_code == ballot.tracking_code
        same = same and found.ballot_hash == ballot.ballot_hash
        if same and found.state == ballot.state:
            idx = None if idx_column is None else int(found.board_idx)
            return Admitted(ballot.tracking_code, ballot.state, idx, again=True)
        raise ReplayError("this ballot is already on the board (its tracking code or nonce)")
    return None


def _has_roll(conn: Connection, election_id: str) -> bool:
    found = conn.execute(
        select(voters.c.national_code).where(voters.c.election_id == election_id).limit(1)
    ).first()
    return found is not None


def flush(conn: Connection, election_id: str, station_id: str) -> dict[str, int]:
    """Put the station's open batch on the board in a random order, inside the caller's
    transaction (which holds the station's counters row); returns each tracking code's
    board index."""
    where = (
        pending_ballots.c.election_id == election_id,
        pending_ballots.c.station_id == station_id,
    )
    rows = list(conn.execute(select(pending_ballots).where(*where)))
    if not rows:
        return {}
    secrets.SystemRandom().shuffle(rows)
    lock_election(conn, election_id)
    first = append_many(conn, election_id, [(bytes(r.entry), r.entry_type) for r in rows])
    conn.execute(
        insert(ballots),
        [
            {"election_id": election_id, "tracking_code": r.tracking_code,
             "station_id": station_id, "district_id": r.district_id, "state": r.state,
             "board_idx": first + i, "ballot_hash": r.ballot_hash}
            for i, r in enumerate(rows)
        ],
    )  # fmt: skip
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
