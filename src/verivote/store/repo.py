"""The store's repository: the election's bulletin board and casting state, one transaction per
call (DESIGN.md, "Persistence and services", "Bulletin board", "Privacy").

Every write that touches the board first locks the election: on PostgreSQL with
`SELECT … FOR NO KEY UPDATE` on its `elections` row, on SQLite by the database lock that
BEGIN IMMEDIATE takes (see `db.make_engine`). Holding that lock, a writer reads the board's
size, appends at exactly that index and commits, so indices stay unique and gap-free however
many threads or processes write, and a station's chain head is compared and advanced without a
race. Any refusal raises before commit, so nothing of a refused call is written.

The board is append-only: this class has no way to change or remove an entry, and the
database's own triggers refuse UPDATE and DELETE on `board_entries`.

Polls (`set_polls`): an election "uses polls" once any of its stations has been opened or
closed. From then on a ballot is cast (or challenged) only at a station whose polls are open: a
station that is closed, or that was never opened while others were, refuses it (PollsClosed).
An election in which no station was ever opened or closed casts anywhere, as before polls
existed (imports, benchmarks, tests of casting alone).
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from verivote.store.db import READ_ONLY, ChainConflict, ReplayError, StoreError, UnknownElection
from verivote.store.schema import (
    BALLOT_STATES,
    POLL_STATES,
    ballots,
    board_entries,
    checkins,
    checkpoints,
    elections,
    station_chains,
    station_polls,
    tally_parts,
    voters,
)

# Rows per INSERT of `bulk_append`: large enough to amortise the round trips, small enough that
# no driver builds a huge statement.
_BULK_ROWS = 1000

_POLLS_ENTRY = {"open": "polls-open", "closed": "polls-close"}

MAX_INDEX = 2**63 - 1
"""The largest board index a database column holds (a signed 64-bit integer)."""


def _bounded(end: int | None) -> int | None:
    """`end` within a 64-bit column: a range asked of the board from outside (`start` up to
    2^63-1, `end = start + n`) must read as empty, not overflow the driver or the database."""
    return None if end is None else min(end, MAX_INDEX)


class PollsClosed(StoreError):
    """A ballot at a station whose polls are not open (closed, or never opened while the
    election's polling day is under way)."""


class NoCheckin(StoreError):
    """A ballot cast at a station that already holds as many cast ballots as voters checked
    in there, in an election with a voter roll: the verifier holds every station to no more
    ballots than check-ins, so such a ballot would make the record fail."""


@dataclass(frozen=True)
class ElectionRecord:
    id: str
    base_hash: str
    manifest: bytes


@dataclass(frozen=True)
class BallotRecord:
    tracking_code: str
    station_id: str
    district_id: str
    state: str
    board_idx: int


def _note_body(note: str) -> str:
    # A C2SP signed note is its text, a blank line, then one line per signature: the text
    # (origin, tree size, root hash) is what a checkpoint asserts; signatures may be added.
    text, blank_line, _signatures = note.partition("\n\n")
    return text + "\n" if blank_line else note


class Store:
    """The election's database, over an engine from `make_engine` that `migrate` has prepared."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # Same pool and hooks; on SQLite its transactions begin DEFERRED and so do not queue
        # behind writers for the write lock.
        self._reader = engine.execution_options(**{READ_ONLY: True})

    # -- elections -------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The engine, for the modules that keep their own tables (`verivote.store.roll`)."""
        return self._engine

    def create_election(self, election_id: str, base_hash: str, manifest: bytes) -> None:
        """Record a new election; StoreError if one with this id exists."""
        if not election_id:
            raise ValueError("an election id must not be empty")
        if not base_hash or any(c not in string.hexdigits for c in base_hash):
            raise ValueError(f"the base hash must be hexadecimal, not {base_hash!r}")
        try:
            text = manifest.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError("the manifest must be UTF-8 (canonical JSON)") from exc
        try:
            with self._engine.begin() as conn:
                exists = conn.execute(
                    select(elections.c.id).where(elections.c.id == election_id)
                ).first()
                if exists is not None:
                    raise StoreError(f"election {election_id!r} already exists")
                conn.execute(
                    insert(elections).values(id=election_id, base_hash=base_hash, manifest=text)
                )
        except IntegrityError as exc:
            # Another process created it between our check and our insert (PostgreSQL).
            raise StoreError(f"election {election_id!r} already exists") from exc

    def election_ids(self) -> list[str]:
        """The ids of every election in the database, sorted."""
        with self._reader.begin() as conn:
            return list(conn.execute(select(elections.c.id).order_by(elections.c.id)).scalars())

    def election(self, election_id: str) -> ElectionRecord | None:
        with self._reader.begin() as conn:
            row = conn.execute(
                select(elections.c.id, elections.c.base_hash, elections.c.manifest).where(
                    elections.c.id == election_id
                )
            ).first()
        if row is None:
            return None
        return ElectionRecord(row.id, row.base_hash, row.manifest.encode("utf-8"))

    # -- the bulletin board ----------------------------------------------------------------

    def append_entry(self, election_id: str, entry: bytes, entry_type: str) -> int:
        """Append `entry` to the election's board; returns its index (0, 1, 2, …)."""
        with self._engine.begin() as conn:
            self._lock_election(conn, election_id)
            return self._append(conn, election_id, entry, entry_type)

    def entries(self, election_id: str, start: int = 0, end: int | None = None) -> list[bytes]:
        """The entries with start ≤ index < end (to the board's end if `end` is None), in order."""
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"bad entry range [{start}, {end})")
        end = _bounded(end)
        if start > MAX_INDEX:
            return []
        query = (
            select(board_entries.c.entry)
            .where(board_entries.c.election_id == election_id, board_entries.c.idx >= start)
            .order_by(board_entries.c.idx)
        )
        if end is not None:
            query = query.where(board_entries.c.idx < end)
        with self._reader.begin() as conn:
            self._require_election(conn, election_id)
            # bytes(): drivers may hand back memoryview for binary columns.
            return [bytes(entry) for entry in conn.execute(query).scalars()]

    def entry_count(self, election_id: str) -> int:
        with self._reader.begin() as conn:
            self._require_election(conn, election_id)
            return self._count(conn, election_id)

    def entries_of_type(
        self, election_id: str, entry_type: str, start: int = 0, end: int | None = None
    ) -> list[tuple[int, bytes]]:
        """The (index, entry) pairs of type `entry_type` with start ≤ index < end, in order.

        Served by an index on the type: the tally's few entries are found without reading a
        board of millions of ballots.
        """
        end = _bounded(end)
        if start > MAX_INDEX:
            return []
        query = (
            select(board_entries.c.idx, board_entries.c.entry)
            .where(
                board_entries.c.election_id == election_id,
                board_entries.c.entry_type == entry_type,
                board_entries.c.idx >= start,
            )
            .order_by(board_entries.c.idx)
        )
        if end is not None:
            query = query.where(board_entries.c.idx < end)
        with self._reader.begin() as conn:
            self._require_election(conn, election_id)
            return [(int(row.idx), bytes(row.entry)) for row in conn.execute(query)]

    def append_once(self, election_id: str, entry: bytes, entry_type: str) -> tuple[int, bytes]:
        """Append `entry` unless the board already has an entry of `entry_type`; returns the
        (index, entry) that is on the board afterwards, the earlier one if there was one.

        For entries an election has once (the tally, the decrypted tally): two processes that
        finish the same step together publish one entry, not two.
        """
        with self._engine.begin() as conn:
            self._lock_election(conn, election_id)
            first = conn.execute(
                select(board_entries.c.idx, board_entries.c.entry)
                .where(
                    board_entries.c.election_id == election_id,
                    board_entries.c.entry_type == entry_type,
                )
                .order_by(board_entries.c.idx)
                .limit(1)
            ).first()
            if first is not None:
                return int(first.idx), bytes(first.entry)
            return self._append(conn, election_id, entry, entry_type), bytes(entry)

    def bulk_append(self, election_id: str, entries: Iterable[bytes], entry_type: str) -> int:
        """Append many entries of one type in ONE transaction; returns the board's size after.

        For imports and benchmarks, which load a board wholesale: no ballot rows, no chains and
        no polls check are written or made, only board entries. `entries` is consumed lazily,
        so a generator of millions of entries never sits in memory at once; if it raises,
        nothing is appended.
        """
        if not entry_type:
            raise ValueError("an entry type must not be empty")
        with self._engine.begin() as conn:
            self._lock_election(conn, election_id)
            idx = self._count(conn, election_id)
            stream = iter(entries)
            while batch := list(islice(stream, _BULK_ROWS)):
                conn.execute(
                    insert(board_entries),
                    [
                        {
                            "election_id": election_id,
                            "idx": idx + i,
                            "entry": bytes(entry),
                            "entry_type": entry_type,
                        }
                        for i, entry in enumerate(batch)
                    ],
                )
                idx += len(batch)
            return idx

    # -- checkpoints -----------------------------------------------------------------------

    def put_checkpoint(self, election_id: str, size: int, note: str) -> None:
        """Store the signed note of the board at `size` entries.

        A note for a size already stored may only be replaced by one with the same text (the
        same origin, size and root) and other signatures, as when witnesses cosign it; a
        different text for the same size is a fork of the board and is refused.
        """
        if size < 0:
            raise ValueError(f"a checkpoint size must not be negative, not {size}")
        with self._engine.begin() as conn:
            self._lock_election(conn, election_id)
            count = self._count(conn, election_id)
            if size > count:
                raise StoreError(f"checkpoint at size {size} but the board has {count} entries")
            where = (checkpoints.c.election_id == election_id, checkpoints.c.size == size)
            old = conn.execute(select(checkpoints.c.note).where(*where)).scalar_one_or_none()
            if old is None:
                conn.execute(
                    insert(checkpoints).values(election_id=election_id, size=size, note=note)
                )
            elif _note_body(old) != _note_body(note):
                raise StoreError(f"a different checkpoint at size {size} is already stored")
            elif old != note:
                conn.execute(update(checkpoints).where(*where).values(note=note))

    def latest_checkpoint(self, election_id: str) -> tuple[int, str] | None:
        """The stored checkpoint of the largest size, as (size, note)."""
        with self._reader.begin() as conn:
            row = conn.execute(
                select(checkpoints.c.size, checkpoints.c.note)
                .where(checkpoints.c.election_id == election_id)
                .order_by(checkpoints.c.size.desc())
                .limit(1)
            ).first()
        return None if row is None else (int(row.size), row.note)

    # -- casting ---------------------------------------------------------------------------

    def station_head(self, election_id: str, station_id: str) -> str | None:
        """The tracking code that the station's next ballot chains to (None before its first)."""
        with self._reader.begin() as conn:
            head: str | None = conn.execute(
                select(station_chains.c.head).where(
                    station_chains.c.election_id == election_id,
                    station_chains.c.station_id == station_id,
                )
            ).scalar_one_or_none()
        return head

    def cast_ballot(
        self,
        election_id: str,
        station_id: str,
        district_id: str,
        tracking_code: str,
        previous_code: str,
        entry: bytes,
        entry_type: str,
        state: str,
        ballot_hash: str | None = None,
    ) -> int:
        """Put a ballot on the board and record it, in one transaction; returns its board index.

        `ballot_hash` identifies the encrypted ballot itself: a ballot already on the board
        (cast or challenged) raises ReplayError even though its tracking code would differ.

        The station's chain head must be `previous_code` (a station's first ballot starts its
        chain, the head then being `previous_code`, its start value), else ChainConflict; a
        tracking code already used in this election raises ReplayError. A cast ballot moves
        the head to its tracking code; a challenged one (Benaloh) is published but stays
        outside the chain, so the voter's fresh ballot chains to the same head. On any
        refusal nothing is written.
        """
        _, idx = self.cast_chained(
            election_id,
            station_id,
            district_id,
            previous_code,
            lambda _head: (tracking_code, entry),
            entry_type,
            state,
            ballot_hash,
            expect_head=previous_code,
        )
        return idx

    def cast_chained(
        self,
        election_id: str,
        station_id: str,
        district_id: str,
        start_code: str,
        build: Callable[[str], tuple[str, bytes]],
        entry_type: str,
        state: str,
        ballot_hash: str | None = None,
        expect_head: str | None = None,
        require_open: bool = False,
    ) -> tuple[str, int]:
        """Cast onto the station's chain as it is *inside* the transaction: `build(previous)`
        gets the station's head (`start_code` for its first ballot) and returns the tracking
        code and the entry. Concurrent casts at one station therefore never conflict; they
        queue. With `expect_head`, the head must be that code, else ChainConflict. Returns
        (tracking code, board index). Same refusals as `cast_ballot`, and PollsClosed at a
        station whose polls are not open (see the module's docstring; with `require_open`,
        also in an election where no station has opened yet, as the election service asks
        since issue 14: the verifier accepts no ballot before its station's polls-open);
        nothing is written on any of them.
        """
        if state not in BALLOT_STATES:
            raise ValueError(f"a ballot's state is one of {BALLOT_STATES}, not {state!r}")
        with self._engine.begin() as conn:
            self._lock_election(conn, election_id)
            self._require_polls_open(conn, election_id, station_id, require_open)
            chain = (
                station_chains.c.election_id == election_id,
                station_chains.c.station_id == station_id,
            )
            row = conn.execute(
                select(station_chains.c.head, station_chains.c.ballots).where(*chain)
            ).first()
            head, cast_so_far = (None, 0) if row is None else (row.head, row.ballots)
            if expect_head is not None and head is not None and head != expect_head:
                raise ChainConflict(
                    f"station {station_id}'s chain is at {head}, not at {expect_head}"
                )
            previous = start_code if head is None else head
            tracking_code, entry = build(previous)
            used = conn.execute(
                select(ballots.c.board_idx).where(
                    ballots.c.election_id == election_id, ballots.c.tracking_code == tracking_code
                )
            ).first()
            if used is not None:
                raise ReplayError(f"tracking code {tracking_code} is already on the board")
            if (
                ballot_hash is not None
                and conn.execute(
                    select(ballots.c.board_idx).where(
                        ballots.c.election_id == election_id, ballots.c.ballot_hash == ballot_hash
                    )
                ).first()
            ):
                raise ReplayError("this ballot is already on the board")
            if state == "cast":
                self._require_checkin(conn, election_id, station_id, cast_so_far)
            if head is None:
                conn.execute(
                    insert(station_chains).values(
                        election_id=election_id, station_id=station_id, head=previous, ballots=0
                    )
                )
            idx = self._append(conn, election_id, entry, entry_type)
            conn.execute(
                insert(ballots).values(
                    election_id=election_id,
                    tracking_code=tracking_code,
                    station_id=station_id,
                    district_id=district_id,
                    state=state,
                    board_idx=idx,
                    ballot_hash=ballot_hash,
                )
            )
            if state == "cast":
                conn.execute(
                    update(station_chains)
                    .where(*chain)
                    .values(head=tracking_code, ballots=station_chains.c.ballots + 1)
                )
            return tracking_code, idx

    def ballot(self, election_id: str, tracking_code: str) -> BallotRecord | None:
        with self._reader.begin() as conn:
            row = conn.execute(
                select(
                    ballots.c.tracking_code,
                    ballots.c.station_id,
                    ballots.c.district_id,
                    ballots.c.state,
                    ballots.c.board_idx,
                ).where(
                    ballots.c.election_id == election_id, ballots.c.tracking_code == tracking_code
                )
            ).first()
        if row is None:
            return None
        return BallotRecord(
            row.tracking_code, row.station_id, row.district_id, row.state, int(row.board_idx)
        )

    # -- polls -----------------------------------------------------------------------------

    def set_polls(
        self,
        election_id: str,
        station_id: str,
        state: str,
        entry: bytes | Callable[[int], bytes],
        entry_type: str | None = None,
    ) -> int:
        """Open or close the polls at a station and publish `entry` (the public "polls-open" or
        "polls-close" statement), in ONE transaction; returns the entry's board index.

        `entry` may be a function of the station's number of cast ballots, read inside the
        transaction: a closing statement then counts exactly the ballots cast before it, with
        no cast slipping in between. The entry type defaults to "polls-open"/"polls-close".

        A station goes from no state to open or to closed (a station that never opened is
        closed with what it holds, usually nothing), and from open to closed; anything else is
        refused with StoreError: a closed station never opens again, and a state is never
        published twice.
        """
        if state not in POLL_STATES:
            raise ValueError(f"a station's polls are one of {POLL_STATES}, not {state!r}")
        with self._engine.begin() as conn:
            self._lock_election(conn, election_id)
            where = (
                station_polls.c.election_id == election_id,
                station_polls.c.station_id == station_id,
            )
            now = conn.execute(select(station_polls.c.state).where(*where)).scalar_one_or_none()
            if now == "closed":
                raise StoreError(f"the polls at station {station_id} are closed for good")
            if now == state:
                raise StoreError(f"the polls at station {station_id} are already {state}")
            if callable(entry):
                cast_count = conn.execute(
                    select(station_chains.c.ballots).where(
                        station_chains.c.election_id == election_id,
                        station_chains.c.station_id == station_id,
                    )
                ).scalar_one_or_none()
                entry = entry(int(cast_count or 0))
            idx = self._append(conn, election_id, entry, entry_type or _POLLS_ENTRY[state])
            if now is None:
                conn.execute(
                    insert(station_polls).values(
                        election_id=election_id, station_id=station_id, state=state
                    )
                )
            else:
                conn.execute(update(station_polls).where(*where).values(state=state))
            return idx

    def polls(self, election_id: str) -> dict[str, str]:
        """Each station's polls state ("open" or "closed"); stations never opened are absent."""
        with self._reader.begin() as conn:
            rows = conn.execute(
                select(station_polls.c.station_id, station_polls.c.state)
                .where(station_polls.c.election_id == election_id)
                .order_by(station_polls.c.station_id)
            )
            return {row.station_id: row.state for row in rows}

    # -- the tally's partial products -------------------------------------------------------

    def put_tally_part(
        self, election_id: str, tally_id: str, start: int, end: int, part: bytes
    ) -> None:
        """Store the partial product of board entries [start, end) of tally `tally_id`.

        Idempotent: the same chunk stored again with the same content is ignored (a resumed or
        concurrent tally recomputes what it could not know was done); a different content or
        end for a stored chunk is a StoreError, since a product has one value.
        """
        if not 0 <= start < end:
            raise ValueError(f"bad chunk [{start}, {end})")
        with self._engine.begin() as conn:
            self._lock_election(conn, election_id)
            old = conn.execute(
                select(tally_parts.c.chunk_end, tally_parts.c.part).where(
                    tally_parts.c.election_id == election_id,
                    tally_parts.c.tally_id == tally_id,
                    tally_parts.c.chunk_start == start,
                )
            ).first()
            if old is None:
                conn.execute(
                    insert(tally_parts).values(
                        election_id=election_id,
                        tally_id=tally_id,
                        chunk_start=start,
                        chunk_end=end,
                        part=bytes(part),
                    )
                )
            elif int(old.chunk_end) != end or bytes(old.part) != part:
                raise StoreError(
                    f"tally {tally_id}: a different part for the chunk at {start} is stored"
                )

    def tally_parts(self, election_id: str, tally_id: str) -> list[tuple[int, int, bytes]]:
        """The stored parts of tally `tally_id` as (start, end, part), by start."""
        with self._reader.begin() as conn:
            rows = conn.execute(
                select(tally_parts.c.chunk_start, tally_parts.c.chunk_end, tally_parts.c.part)
                .where(tally_parts.c.election_id == election_id, tally_parts.c.tally_id == tally_id)
                .order_by(tally_parts.c.chunk_start)
            )
            return [(int(r.chunk_start), int(r.chunk_end), bytes(r.part)) for r in rows]

    # -- within a transaction --------------------------------------------------------------

    @staticmethod
    def _require_polls_open(
        conn: Connection, election_id: str, station_id: str, strict: bool = False
    ) -> None:
        state = conn.execute(
            select(station_polls.c.state).where(
                station_polls.c.election_id == election_id,
                station_polls.c.station_id == station_id,
            )
        ).scalar_one_or_none()
        if state == "open":
            return
        if state == "closed":
            raise PollsClosed(f"the polls at station {station_id} are closed")
        if strict:
            raise PollsClosed(f"the polls at station {station_id} have not been opened")
        # No state: refused only once the election's polling day has begun somewhere.
        uses_polls = conn.execute(
            select(station_polls.c.station_id)
            .where(station_polls.c.election_id == election_id)
            .limit(1)
        ).first()
        if uses_polls is not None:
            raise PollsClosed(f"the polls at station {station_id} have not been opened")

    @staticmethod
    def _require_checkin(conn: Connection, election_id: str, station_id: str, cast: int) -> None:
        """NoCheckin unless the station has more check-ins than its `cast` ballots (the count
        its chain row keeps), when the election has a roll (issue 14: the casting path refuses
        what the verifier rejects). Read under the election's lock, so two casts cannot both
        take the last check-in."""
        has_roll = conn.execute(
            select(voters.c.national_code).where(voters.c.election_id == election_id).limit(1)
        ).first()
        if has_roll is None:
            return
        checked_in = conn.execute(
            select(func.count()).where(
                checkins.c.election_id == election_id, checkins.c.station_id == station_id
            )
        ).scalar_one()
        if cast >= checked_in:
            raise NoCheckin(
                f"station {station_id} holds {cast} cast ballots for {checked_in} voters "
                "checked in: a ballot is cast only for a voter checked in"
            )

    @staticmethod
    def _require_election(conn: Connection, election_id: str) -> None:
        found = conn.execute(select(elections.c.id).where(elections.c.id == election_id)).first()
        if found is None:
            raise UnknownElection(f"no election {election_id!r} in the store")

    @staticmethod
    def _lock_election(conn: Connection, election_id: str) -> None:
        # FOR NO KEY UPDATE (key_share): serializes the election's writers on this row, yet
        # leaves alone the FOR KEY SHARE locks that foreign-key checks of other tables take.
        # SQLite renders no lock clause: its BEGIN IMMEDIATE already holds the database lock.
        found = conn.execute(
            select(elections.c.id)
            .where(elections.c.id == election_id)
            .with_for_update(key_share=True)
        ).first()
        if found is None:
            raise UnknownElection(f"no election {election_id!r} in the store")

    @staticmethod
    def _count(conn: Connection, election_id: str) -> int:
        # Indices are gap-free, so the board's size is one past its largest index (a lookup at
        # the end of the primary key's index rather than a count of rows).
        last = conn.execute(
            select(func.max(board_entries.c.idx)).where(board_entries.c.election_id == election_id)
        ).scalar_one()
        return 0 if last is None else int(last) + 1

    @classmethod
    def _append(cls, conn: Connection, election_id: str, entry: bytes, entry_type: str) -> int:
        # The caller holds the election's lock, so no other writer can take this index.
        if not entry_type:
            raise ValueError("an entry type must not be empty")
        idx = cls._count(conn, election_id)
        conn.execute(
            insert(board_entries).values(
                election_id=election_id, idx=idx, entry=bytes(entry), entry_type=entry_type
            )
        )
        return idx
