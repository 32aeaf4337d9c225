"""The store's repository: the election's bulletin board and casting state, one transaction per
call (DESIGN.md, "Persistence and services", "Bulletin board", "Privacy").

Every write that touches the board first locks the log it appends to (`verivote.store.txn`;
"" is the national log, the default everywhere, and any other name a district's log): holding
that lock, a writer reads the log's size, appends at exactly that index, stores the new tiles
of the log's Merkle tree (`verivote.store.tree`) and commits, so indices stay unique and
gap-free however many threads or processes write, and the tree always matches the entries.
Any refusal raises before commit, so nothing of a refused call is written. Roots and proofs
(`tree_root`, `inclusion_proof`, `consistency_proof`) read O(log n) stored hashes.

The board is append-only: this class has no way to change or remove an entry, and the
database's own triggers refuse UPDATE and DELETE on `board_entries`.

Casting (`accept_ballot`, issue 15): a ballot is admitted only at a station whose polls are
open, counted against the station's check-ins, and waits in the station's batch until the
batch goes onto the board shuffled (`verivote.store.casting`). Imports and benchmarks load a
board wholesale with `bulk_append`.
"""

from __future__ import annotations

import string
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from verivote.board import tiles
from verivote.board.districts import SEAL_TYPE
from verivote.board.merkle import leaf_hash
from verivote.store import casting, runs, tree
from verivote.store.casting import Admitted, Batching, NoCheckin, Pending, PollsClosed
from verivote.store.db import READ_ONLY, StoreError
from verivote.store.schema import (
    BALLOT_STATES,
    POLL_STATES,
    ballots,
    board_entries,
    board_logs,
    checkpoints,
    elections,
    station_counts,
    station_polls,
    tally_parts,
)
from verivote.store.tree import Edge, read_tiles
from verivote.store.txn import (
    NATIONAL,
    append,
    append_many,
    append_seal,
    board_size,
    grown,
    lock_election,
    lock_log,
    require_election,
)

__all__ = ["Admitted", "Batching", "NoCheckin", "Pending", "PollsClosed", "Store"]

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
    board_log: str = NATIONAL


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
        # One-statement reads on PostgreSQL: a statement sees one snapshot by itself, and
        # autocommit spares the BEGIN and COMMIT round trips (the tracker's proofs).
        self._single = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if engine.dialect.name == "postgresql"
            else self._reader
        )

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

    def append_entry(
        self, election_id: str, entry: bytes, entry_type: str, log: str = NATIONAL
    ) -> int:
        """Append `entry` to the election's log; returns its index (0, 1, 2, …)."""
        with self._engine.begin() as conn:
            return append(conn, election_id, entry, entry_type, log)

    def entries(
        self, election_id: str, start: int = 0, end: int | None = None, log: str = NATIONAL
    ) -> list[bytes]:
        """The entries with start ≤ index < end (to the board's end if `end` is None), in order."""
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"bad entry range [{start}, {end})")
        end = _bounded(end)
        if start > MAX_INDEX:
            return []
        query = (
            select(board_entries.c.entry)
            .where(
                board_entries.c.election_id == election_id,
                board_entries.c.log == log,
                board_entries.c.idx >= start,
            )
            .order_by(board_entries.c.idx)
        )
        if end is not None:
            query = query.where(board_entries.c.idx < end)
        with self._reader.begin() as conn:
            require_election(conn, election_id)
            # bytes(): drivers may hand back memoryview for binary columns.
            return [bytes(entry) for entry in conn.execute(query).scalars()]

    def entry_count(self, election_id: str, log: str = NATIONAL) -> int:
        with self._reader.begin() as conn:
            require_election(conn, election_id)
            return board_size(conn, election_id, log)

    def logs(self, election_id: str) -> dict[str, int]:
        """The election's logs that have a row (every log ever appended to) and their sizes."""
        with self._reader.begin() as conn:
            require_election(conn, election_id)
            rows = conn.execute(
                select(board_logs.c.log, board_logs.c.size)
                .where(board_logs.c.election_id == election_id)
                .order_by(board_logs.c.log)
            )
            return {row.log: int(row.size) for row in rows}

    def entries_of_type(
        self,
        election_id: str,
        entry_type: str,
        start: int = 0,
        end: int | None = None,
        log: str = NATIONAL,
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
                board_entries.c.log == log,
                board_entries.c.entry_type == entry_type,
                board_entries.c.idx >= start,
            )
            .order_by(board_entries.c.idx)
        )
        if end is not None:
            query = query.where(board_entries.c.idx < end)
        with self._reader.begin() as conn:
            require_election(conn, election_id)
            return [(int(row.idx), bytes(row.entry)) for row in conn.execute(query)]

    def sizes_of_type(
        self, election_id: str, entry_type: str, log: str = NATIONAL
    ) -> list[tuple[int, int]]:
        """The (index, byte length) of every entry of type `entry_type`, in order, without
        their contents: a caller that keeps what it parsed of each entry reads only the new
        ones (`verivote.election.mixing.mix_state`)."""
        query = (
            select(board_entries.c.idx, func.length(board_entries.c.entry))
            .where(
                board_entries.c.election_id == election_id,
                board_entries.c.log == log,
                board_entries.c.entry_type == entry_type,
            )
            .order_by(board_entries.c.idx)
        )
        with self._reader.begin() as conn:
            require_election(conn, election_id)
            return [(int(idx), int(size)) for idx, size in conn.execute(query)]

    def entry(self, election_id: str, index: int, log: str = NATIONAL) -> bytes:
        """The entry at `index` of `log`; IndexError if the log has none there."""
        found = self.entries(election_id, index, index + 1, log) if index >= 0 else []
        if not found:
            raise IndexError(f"log {log!r} of election {election_id} has no entry {index}")
        return found[0]

    def append_once(
        self,
        election_id: str,
        entry: bytes,
        entry_type: str,
        before: Sequence[tuple[bytes, str]] = (),
    ) -> tuple[int, bytes]:
        """Append `entry` unless the board already has an entry of `entry_type`; returns the
        (index, entry) that is on the board afterwards, the earlier one if there was one.

        For entries an election has once (the tally, the decrypted tally): two processes that
        finish the same step together publish one entry, not two. `before` are (entry, type)
        pairs appended just before `entry`, in the same transaction, and only with it (the
        tally's `mix-input` entries, issue 16).
        """
        with self._engine.begin() as conn:
            lock_log(conn, election_id)
            first = conn.execute(
                select(board_entries.c.idx, board_entries.c.entry)
                .where(
                    board_entries.c.election_id == election_id,
                    board_entries.c.log == NATIONAL,
                    board_entries.c.entry_type == entry_type,
                )
                .order_by(board_entries.c.idx)
                .limit(1)
            ).first()
            if first is not None:
                return int(first.idx), bytes(first.entry)
            start = append_many(conn, election_id, [*before, (entry, entry_type)])
            return start + len(before), bytes(entry)

    def bulk_append(
        self, election_id: str, entries: Iterable[bytes], entry_type: str, log: str = NATIONAL
    ) -> int:
        """Append many entries of one type to a log in ONE transaction, with its tree; returns
        the log's size after.

        For imports and benchmarks, which load a board wholesale: no ballot rows, no chains and
        no polls check are written or made, only board entries. `entries` is consumed lazily,
        so a generator of millions of entries never sits in memory at once; if it raises,
        nothing is appended.
        """
        if not entry_type or entry_type == SEAL_TYPE:
            raise ValueError(f"an entry type must be given and not {SEAL_TYPE}, not {entry_type!r}")
        with self._engine.begin() as conn:
            idx = first = lock_log(conn, election_id, log)
            edge: Edge | None = None
            stream = iter(entries)
            while batch := [bytes(entry) for entry in islice(stream, _BULK_ROWS)]:
                conn.execute(
                    insert(board_entries),
                    [
                        {
                            "election_id": election_id,
                            "log": log,
                            "idx": idx + i,
                            "entry": entry,
                            "entry_type": entry_type,
                        }
                        for i, entry in enumerate(batch)
                    ],
                )
                # the edge tiles stay in memory between batches: one tile write per level
                edge = grown(conn, election_id, log, idx, [leaf_hash(e) for e in batch], edge)
                idx += len(batch)
            if log == NATIONAL:
                runs.add_national(conn, election_id, first, idx - first)
            return idx

    # -- the merged order of the logs (README, "National scale": Order) --------------------

    def merged_size(self, election_id: str) -> int:
        """The board's size in the merged order: every national entry but the seals, and
        every district entry sealed so far (`verivote.store.runs`)."""
        with self._reader.begin() as conn:
            require_election(conn, election_id)
            return runs.merged_size(conn, election_id)

    def merged_entries(
        self, election_id: str, start: int = 0, end: int | None = None
    ) -> list[bytes]:
        """The entries at board positions start ≤ p < end of the merged order (to its end if
        `end` is None): what the tally sums and the count's seed hashes."""
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"bad entry range [{start}, {end})")
        with self._reader.begin() as conn:
            require_election(conn, election_id)
            stop = runs.merged_size(conn, election_id) if end is None else min(end, MAX_INDEX)
            return runs.read(conn, election_id, start, stop) if start < stop else []

    def position(self, election_id: str, index: int, log: str = NATIONAL) -> int | None:
        """The board position of entry `index` of `log`; None for a seal, an unsealed
        district entry or no entry."""
        with self._reader.begin() as conn:
            run = runs.run_of(conn, election_id, log, index)
        return None if run is None else run.pos + index - run.idx

    def sealing_of(self, election_id: str, log: str, index: int) -> runs.Run | None:
        """The run of district `log` that holds entry `index`: its seal's national index and
        the sealed size (`run.idx + run.count`); None while the entry is unsealed."""
        with self._reader.begin() as conn:
            return runs.run_of(conn, election_id, log, index)

    def unsealed(self, election_id: str) -> dict[str, tuple[int, int]]:
        """Each district log with entries not yet sealed: (sealed size, log size)."""
        with self._reader.begin() as conn:
            require_election(conn, election_id)
            return runs.unsealed(conn, election_id)

    def seal(
        self, election_id: str, district: str, make: Callable[[int, bytes], tuple[bytes, str]]
    ) -> tuple[int, int] | None:
        """Seal the district's log at its size s, in ONE transaction: `make(s, root)` gives the
        `district-checkpoint` entry and its signed note; the entry goes onto the national log,
        the note is stored as the district's checkpoint at s, and the district's entries since
        its last seal take the board's next positions. Returns (s, the seal's national index),
        or None when nothing is new since the last seal.

        Locks the district's log, then the national log (the order every writer keeps)."""
        if not district:
            raise ValueError("the national log is not sealed into itself")
        with self._engine.begin() as conn:
            size = lock_log(conn, election_id, district)
            done = runs.sealed_size(conn, election_id, district)
            if size == done:
                return None
            root = tiles.tree_root(size, read_tiles(conn, election_id, district))
            entry, note = make(size, root)
            seal_idx = append_seal(conn, election_id, entry)
            runs.add_sealed(conn, election_id, district, done, size, seal_idx)
            conn.execute(insert(checkpoints).values(
                election_id=election_id, log=district, size=size, note=note
            ))  # fmt: skip
            return size, seal_idx

    # -- the logs' Merkle trees ------------------------------------------------------------

    def _tree_size(self, conn: Any, election_id: str, log: str, size: int | None) -> int:
        count = conn.execute(
            select(board_logs.c.size).where(
                board_logs.c.election_id == election_id, board_logs.c.log == log
            )
        ).scalar_one_or_none()
        if count is None:  # a log never appended to, or no such election
            require_election(conn, election_id)
            count = 0
        count = int(count)
        if size is None:
            return count
        if not 0 <= size <= count:
            raise ValueError(f"tree size {size} outside 0..{count} of log {log!r}")
        return size

    def tree_root(self, election_id: str, size: int | None = None, log: str = NATIONAL) -> bytes:
        """MTH of the log's first `size` entries (default: all), from its stored tiles."""
        with self._reader.begin() as conn:
            n = self._tree_size(conn, election_id, log, size)
            return tiles.tree_root(n, read_tiles(conn, election_id, log))

    def inclusion_proof(
        self, election_id: str, index: int, size: int | None = None, log: str = NATIONAL
    ) -> list[bytes]:
        """PATH(index, D[size]) of RFC 9162 §2.1.3.1 in the log, from its stored tiles."""
        with self._reader.begin() as conn:
            n = self._tree_size(conn, election_id, log, size)
            return tiles.prove_inclusion(index, n, read_tiles(conn, election_id, log))

    def proved_entry(
        self, election_id: str, index: int, size: int | None = None, log: str = NATIONAL
    ) -> tuple[bytes, list[bytes]]:
        """The entry at `index` and its inclusion proof in the log's tree of `size` (default:
        all of it), read in one transaction (the ballot tracker's question): with `size`
        given, ONE query reads the log's size, the entry and only the hashes of the proof
        from its tiles (`tree.read_proof`)."""
        if size is None:
            size = self.entry_count(election_id, log)
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} outside a tree of {size} leaves")
        # connect, not begin: the one statement is its own snapshot on both backends
        with self._single.connect() as conn:
            count, entry, proof = tree.read_proof(conn, election_id, log, index, size)
            if count is None:
                require_election(conn, election_id)
            if size > (count or 0):
                raise ValueError(f"tree size {size} outside 0..{count or 0} of log {log!r}")
        assert entry is not None  # index < size ≤ count: the entry is there
        return entry, proof

    def consistency_proof(
        self, election_id: str, old: int, new: int | None = None, log: str = NATIONAL
    ) -> list[bytes]:
        """PROOF(old, D[new]) of RFC 9162 §2.1.4.1 in the log, from its stored tiles."""
        with self._reader.begin() as conn:
            n = self._tree_size(conn, election_id, log, new)
            return tiles.prove_consistency(old, n, read_tiles(conn, election_id, log))

    def read_tiles(self, election_id: str, log: str = NATIONAL) -> tiles.TileReader:
        """A reader of the log's stored tiles, each call in its own read transaction (for
        code that plans its own reads with `verivote.board.tiles`)."""

        def read(wanted: Sequence[tiles.Tile]) -> Sequence[bytes | tiles.TileRow]:
            with self._reader.begin() as conn:
                return read_tiles(conn, election_id, log)(wanted)

        return read

    # -- checkpoints -----------------------------------------------------------------------

    def put_checkpoint(self, election_id: str, size: int, note: str, log: str = NATIONAL) -> None:
        """Store the signed note of the log at `size` entries.

        A note for a size already stored may only be replaced by one with the same text (the
        same origin, size and root) and other signatures, as when witnesses cosign it; a
        different text for the same size is a fork of the board and is refused.
        """
        if size < 0:
            raise ValueError(f"a checkpoint size must not be negative, not {size}")
        with self._engine.begin() as conn:
            count = lock_log(conn, election_id, log)
            if size > count:
                raise StoreError(f"checkpoint at size {size} but the board has {count} entries")
            where = (
                checkpoints.c.election_id == election_id,
                checkpoints.c.log == log,
                checkpoints.c.size == size,
            )
            old = conn.execute(select(checkpoints.c.note).where(*where)).scalar_one_or_none()
            if old is None:
                conn.execute(
                    insert(checkpoints).values(
                        election_id=election_id, log=log, size=size, note=note
                    )
                )
            elif _note_body(old) != _note_body(note):
                raise StoreError(f"a different checkpoint at size {size} is already stored")
            elif old != note:
                conn.execute(update(checkpoints).where(*where).values(note=note))

    def latest_checkpoint(self, election_id: str, log: str = NATIONAL) -> tuple[int, str] | None:
        """The log's stored checkpoint of the largest size, as (size, note)."""
        with self._reader.begin() as conn:
            row = conn.execute(
                select(checkpoints.c.size, checkpoints.c.note)
                .where(checkpoints.c.election_id == election_id, checkpoints.c.log == log)
                .order_by(checkpoints.c.size.desc())
                .limit(1)
            ).first()
        return None if row is None else (int(row.size), row.note)

    # -- casting ---------------------------------------------------------------------------

    def accept_ballot(
        self,
        election_id: str,
        ballot: Pending,
        batching: Batching,
        *,
        roll: bool = False,
        now: float | None = None,
    ) -> Admitted:
        """Admit a checked ballot at its station, in one transaction (`casting.admit_many`): a
        station whose polls are not open refuses it (PollsClosed), so does one whose cast
        ballots would outnumber its check-ins when the election has a roll (`roll`, or voters
        in the database: NoCheckin), and a tracking code or nonce used by another ballot
        (ReplayError). The same ballot again is answered as the first time (`again`)."""
        answer = self.accept_ballots(election_id, [ballot], batching, roll=roll, now=now)[0]
        if isinstance(answer, StoreError):
            raise answer
        return answer

    def accept_ballots(
        self,
        election_id: str,
        items: Sequence[Pending],
        batching: Batching,
        *,
        roll: bool = False,
        now: float | None = None,
    ) -> list[Admitted | StoreError]:
        """`accept_ballot` for many ballots in ONE transaction (`casting.admit_many`): one
        answer per ballot, in order, an Admitted or the StoreError that refused it."""
        bad = [b.state for b in items if b.state not in BALLOT_STATES]
        if bad:
            raise ValueError(f"a ballot's state is one of {BALLOT_STATES}, not {bad[0]!r}")
        if not items:
            return []
        stamp = int(time.time() if now is None else now)
        with self._engine.begin() as conn:
            return casting.admit_many(conn, election_id, items, batching, stamp, roll)

    def flush_due(self, election_id: str, seconds: int, now: float | None = None) -> int:
        """Put on the board every station's batch that began `seconds` ago or more; returns
        how many ballots went on. Each station in its own transaction."""
        limit = int(time.time() if now is None else now) - seconds
        with self._reader.begin() as conn:
            stale = casting.stale_stations(conn, election_id, limit)
        flushed = 0
        for station in stale:
            with self._engine.begin() as conn:
                row = casting.counts(conn, election_id, station)
                if row.pending and row.batch_since is not None and row.batch_since <= limit:
                    flushed += len(casting.flush(conn, election_id, station))
        return flushed

    def ballot_state(self, election_id: str, tracking_code: str) -> str | None:
        """ "pending" for a ballot admitted whose batch is still open, its state ("cast",
        "challenged") once on the board, None for a code the election does not hold."""
        with self._reader.begin() as conn:
            if casting.pending_state(conn, election_id, tracking_code) is not None:
                return "pending"
        found = self.ballot(election_id, tracking_code)
        return None if found is None else found.state

    def station_counts(self, election_id: str) -> dict[str, tuple[int, int]]:
        """Each station's (voters checked in, cast ballots admitted), for stations with any."""
        c = station_counts.c
        with self._reader.begin() as conn:
            rows = conn.execute(
                select(c.station_id, c.checked_in, c.ballots).where(c.election_id == election_id)
            )
            return {r.station_id: (int(r.checked_in), int(r.ballots)) for r in rows}

    def ballot(self, election_id: str, tracking_code: str) -> BallotRecord | None:
        with self._reader.begin() as conn:
            row = conn.execute(
                select(
                    ballots.c.tracking_code,
                    ballots.c.station_id,
                    ballots.c.district_id,
                    ballots.c.state,
                    ballots.c.board_idx,
                    ballots.c.board_log,
                ).where(
                    ballots.c.election_id == election_id, ballots.c.tracking_code == tracking_code
                )
            ).first()
        if row is None:
            return None
        return BallotRecord(
            row.tracking_code,
            row.station_id,
            row.district_id,
            row.state,
            int(row.board_idx),
            str(row.board_log),
        )

    # -- polls -----------------------------------------------------------------------------

    def set_polls(
        self,
        election_id: str,
        station_id: str,
        state: str,
        entry: bytes | Callable[[int, int], bytes],
        entry_type: str | None = None,
        log: str = NATIONAL,
    ) -> int:
        """Open or close the polls at a station and publish `entry` (the public "polls-open" or
        "polls-close" statement) to `log` (the station's district's), in ONE transaction;
        returns the entry's index in that log.

        Closing first puts the station's open batch on the board. `entry` may be a function of
        the station's cast ballots and voters checked in, read inside the transaction, which
        holds the station's polls row: no check-in and no ballot slips in between, and none
        is admitted after (both need the polls open, read under that row's lock). The entry
        type defaults to "polls-open"/"polls-close".

        A station goes from no state to open or to closed (a station that never opened is
        closed with what it holds, usually nothing), and from open to closed; anything else is
        refused with StoreError: a closed station never opens again, and a state is never
        published twice.
        """
        if state not in POLL_STATES:
            raise ValueError(f"a station's polls are one of {POLL_STATES}, not {state!r}")
        try:
            with self._engine.begin() as conn:
                require_election(conn, election_id)
                now = casting.lock_polls(conn, election_id, station_id)
                if now == "closed":
                    raise StoreError(f"the polls at station {station_id} are closed for good")
                if now == state:
                    raise StoreError(f"the polls at station {station_id} are already {state}")
                row = casting.counts(conn, election_id, station_id)
                casting.set_polls_open(conn, election_id, station_id, state == "open")
                if state == "closed":
                    casting.flush(conn, election_id, station_id)
                if callable(entry):
                    entry = entry(int(row.ballots), int(row.checked_in))
                idx = append(conn, election_id, entry, entry_type or _POLLS_ENTRY[state], log)
                where = (
                    station_polls.c.election_id == election_id,
                    station_polls.c.station_id == station_id,
                )
                if now is None:
                    conn.execute(
                        insert(station_polls).values(
                            election_id=election_id, station_id=station_id, state=state
                        )
                    )
                else:
                    conn.execute(update(station_polls).where(*where).values(state=state))
                return idx
        except IntegrityError as exc:
            # Another process opened or closed the station between our read and our insert.
            raise StoreError(f"the polls at station {station_id} changed meanwhile") from exc

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
            lock_election(conn, election_id)
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
