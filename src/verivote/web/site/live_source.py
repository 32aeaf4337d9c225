"""The site's data from the election's database while it runs (`verivote serve --db URL
--election ID`): turnout from the check-ins, the board as it grows, proofs against the latest
signed checkpoint.

Reads only. The store's repository covers most of it; the few questions it has no method for
(the checkpoints in order, entries of a type by page, ballots by the short form of their code,
the roll's size per district) are asked here of its tables directly, read-only.

The board is shown in the merged order of the logs (README, "National scale (issue 17)": Order;
`verivote.store.runs`): a page of entries reads the runs that hold its positions; the type
counts (every national entry but the seals, every district entry sealed so far) and a page of
one type come from each run's entries counted by type once (`live_board`). A
district ballot's proof is the two proofs of `election.district_logs.prove_ballot`; the record
download holds each district's log up to its last seal within the national checkpoint, as
`export_record` writes it (`district_logs.last_seals`), streamed.

Counts that cost a scan of a national table (check-ins per station, entries per type) are kept
for a few seconds, so that a busy home page does not run them for every visitor. Inclusion
proofs come from the board's tree stored in the database (`Store.inclusion_proof`, O(log n)
stored hashes): nothing grows in this process's memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from sqlalchemy import Connection, func, select

from verivote.board.record import (
    CHECKPOINT,
    ENTRIES,
    KEYS,
    district_checkpoint_path,
    district_entries_path,
)
from verivote.election.district_logs import last_seals, prove_ballot
from verivote.election.service import ElectionContext, ElectionError
from verivote.model.manifest import Manifest
from verivote.store import Store
from verivote.store.db import READ_ONLY
from verivote.store.repo import MAX_INDEX
from verivote.store.roll import turnout
from verivote.store.runs import overlapping
from verivote.store.schema import ballots, board_entries, checkpoints, pending_ballots, voters
from verivote.store.txn import NATIONAL
from verivote.web.site.live_board import RunTypes
from verivote.web.site.source import (
    BallotHit,
    BoardEntry,
    Inclusion,
    Mode,
    Participation,
    Proof,
    RecordFile,
)
from verivote.web.ttl import Ttl

CACHE_SECONDS = 5.0
PAGE_ROWS = 2000
"""Entries read from the database at a time when the record is sent."""
SHORT_CODE = 16


class LiveSource:
    """An election in the database as a `Source` (see `verivote.web.site.source`)."""

    def __init__(self, store: Store, ctx: ElectionContext, verifiers: tuple[str, ...]) -> None:
        self.store = store
        self.ctx = ctx
        self._id = ctx.election_id
        self._verifiers = verifiers
        # Reads only: on SQLite these transactions begin DEFERRED and so never queue behind
        # the check-ins for the write lock.
        self._reader = store.engine.execution_options(**{READ_ONLY: True})
        self._cache = Ttl(CACHE_SECONDS)
        self._runs = RunTypes(ctx.election_id)

    @property
    def mode(self) -> Mode:
        return "live"

    @property
    def manifest(self) -> Manifest:
        return self.ctx.manifest

    @property
    def base_hash(self) -> str:
        return self.ctx.base_hash.hex()

    @property
    def verifier_keys(self) -> tuple[str, ...]:
        return self._verifiers

    def count(self) -> dict[str, object] | None:
        found = self.store.entries_of_type(self._id, "count")
        if not found:
            return None
        doc: dict[str, object] = json.loads(found[-1][1])
        return doc

    def participation(self) -> Participation:
        return self._cache.get("participation", self._participation)

    def _participation(self) -> Participation:
        with self._reader.begin() as conn:
            rows = conn.execute(
                select(voters.c.district_id, func.count())
                .where(voters.c.election_id == self._id)
                .group_by(voters.c.district_id)
            ).all()
        eligible = {str(district): int(n) for district, n in rows}
        return Participation("check-ins", turnout(self._reader, self._id), eligible or None)

    def polls(self) -> dict[str, str]:
        return self.store.polls(self._id)

    def checkpoint_notes(self, limit: int) -> list[str]:
        with self._reader.begin() as conn:
            notes = conn.execute(
                select(checkpoints.c.note)
                .where(checkpoints.c.election_id == self._id, checkpoints.c.log == NATIONAL)
                .order_by(checkpoints.c.size.desc())
                .limit(limit)
            ).scalars()
            return [str(note) for note in notes]

    def board_size(self) -> int:
        return self.store.merged_size(self._id)

    def log_sizes(self) -> dict[str, int]:
        sizes = self.store.logs(self._id)
        return {NATIONAL: sizes.pop(NATIONAL, 0), **sizes}

    def unsealed(self) -> dict[str, int]:
        return self._cache.get("unsealed", self._unsealed)

    def _unsealed(self) -> dict[str, int]:
        found = self.store.unsealed(self._id)
        return {district: size - done for district, (done, size) in sorted(found.items())}

    def type_counts(self) -> dict[str, int]:
        return self._cache.get("types", self._type_counts)

    def _type_counts(self) -> dict[str, int]:
        with self._reader.begin() as conn:
            return self._runs.type_counts(conn)

    def entries(self, entry_type: str | None, offset: int, limit: int) -> list[BoardEntry]:
        with self._reader.begin() as conn:
            if entry_type is None:
                return _positions(conn, self._id, offset, min(offset + limit, MAX_INDEX))
            return self._runs.of_type(conn, entry_type, offset, limit)

    def entry(self, position: int) -> bytes | None:
        if not 0 <= position < MAX_INDEX:
            return None
        found = self.store.merged_entries(self._id, position, position + 1)
        return found[0] if found else None

    def pending_district(self, code: str) -> str | None:
        p = pending_ballots.c
        with self._reader.begin() as conn:
            found: str | None = conn.execute(
                select(p.district_id).where(
                    p.election_id == self._id, p.tracking_code == code, p.state == "cast"
                )
            ).scalar_one_or_none()
        return found

    def find_ballots(self, code: str) -> list[BallotHit]:
        b = ballots.c
        if len(code) == SHORT_CODE:
            # A range on the primary key's index finds every code with this prefix: hex
            # digits sort below "g" in every collation.
            where = [b.tracking_code >= code, b.tracking_code < code + "g"]
        else:
            where = [b.tracking_code == code]
        with self._reader.begin() as conn:
            rows = conn.execute(
                select(b.tracking_code, b.state, b.board_log, b.board_idx, b.station_id,
                       b.district_id)
                .where(b.election_id == self._id, *where)
                .order_by(b.tracking_code)
                .limit(10)
            ).all()  # fmt: skip
        return [
            BallotHit(str(r.tracking_code), "cast" if r.state == "cast" else "challenged",
                      str(r.board_log), int(r.board_idx),
                      self.store.position(self._id, int(r.board_idx), str(r.board_log)),
                      str(r.station_id), str(r.district_id))
            for r in rows
            if str(r.tracking_code).startswith(code)
        ]  # fmt: skip

    def inclusion(self, hit: BallotHit) -> Proof | None:
        latest = self.store.latest_checkpoint(self._id)
        if latest is None:
            return None
        # from the stored trees: O(log n) stored hashes, nothing kept in this process
        if hit.log != NATIONAL:
            try:
                return prove_ballot(self.store, self._id, hit.log, hit.index, latest)
            except ElectionError:  # not sealed, or sealed after the latest checkpoint
                return None
        size, note = latest
        if not 0 <= hit.index < size:
            return None
        entry, proof = self.store.proved_entry(self._id, hit.index, size)
        return Inclusion(hit.index, size, entry, proof, note)

    def record_files(self) -> list[RecordFile] | None:
        latest = self.store.latest_checkpoint(self._id)
        if latest is None or not self._verifiers:
            return None
        size, note = latest
        keys = "".join(key + "\n" for key in self._verifiers)
        files = [
            RecordFile(ENTRIES, self._length(NATIONAL, size), self._lines(NATIONAL, size)),
            _text_file(CHECKPOINT, note),
            _text_file(KEYS, keys),
        ]
        for district, (sealed, sealed_note) in last_seals(self.store, self._id, size).items():
            files.append(RecordFile(district_entries_path(district),
                                    self._length(district, sealed),
                                    self._lines(district, sealed)))  # fmt: skip
            files.append(_text_file(district_checkpoint_path(district), sealed_note))
        return files

    def _length(self, log: str, size: int) -> int:
        """The bytes of the first `size` entries of `log` as lines of entries.jsonl."""
        e = board_entries.c
        with self._reader.begin() as conn:
            length = conn.execute(
                select(func.coalesce(func.sum(func.length(e.entry)), 0)).where(
                    e.election_id == self._id, e.log == log, e.idx < size
                )
            ).scalar_one()
        return int(length) + size

    def _lines(self, log: str, size: int) -> Iterator[bytes]:
        for start in range(0, size, PAGE_ROWS):
            found = self.store.entries(self._id, start, min(size, start + PAGE_ROWS), log=log)
            yield b"".join(entry + b"\n" for entry in found)


def _text_file(name: str, text: str) -> RecordFile:
    raw = text.encode("utf-8")
    return RecordFile(name, len(raw), iter([raw]))


def _positions(conn: Connection, election_id: str, start: int, end: int) -> list[BoardEntry]:
    """The entries at board positions start … end-1, each with its log and index there."""
    out: list[BoardEntry] = []
    e = board_entries.c
    for run in overlapping(conn, election_id, start, end):
        lo = run.idx + max(0, start - run.pos)
        hi = run.idx + min(run.count, end - run.pos)
        rows = conn.execute(
            select(e.idx, e.entry)
            .where(e.election_id == election_id, e.log == run.log, e.idx >= lo, e.idx < hi)
            .order_by(e.idx)
        )
        out.extend(BoardEntry(run.pos + int(idx) - run.idx, run.log, int(idx), bytes(entry))
                   for idx, entry in rows)  # fmt: skip
    return out
