"""The site's data from the election's database while it runs (`verivote serve --db URL
--election ID`): turnout from the check-ins, the board as it grows, proofs against the latest
signed checkpoint.

Reads only. The store's repository covers most of it; the few questions it has no method for
(the checkpoints in order, entries of a type by page, ballots by the short form of their code,
the roll's size per district) are asked here of its tables directly, read-only.

Counts that cost a scan of a national table (check-ins per station, entries per type) are kept
for a few seconds, so that a busy home page does not run them for every visitor. Inclusion
proofs come from the board's tree stored in the database (`Store.inclusion_proof`, O(log n)
stored hashes): nothing grows in this process's memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from sqlalchemy import func, select

from verivote.board.record import CHECKPOINT, ENTRIES, KEYS
from verivote.election.service import ElectionContext
from verivote.model.manifest import Manifest
from verivote.store import Store
from verivote.store.db import READ_ONLY
from verivote.store.roll import turnout
from verivote.store.schema import ballots, board_entries, checkpoints, pending_ballots, voters
from verivote.store.txn import NATIONAL
from verivote.web.site.source import BallotHit, Inclusion, Mode, Participation, RecordFile
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
        return self.store.entry_count(self._id)

    def type_counts(self) -> dict[str, int]:
        return self._cache.get("types", self._type_counts)

    def _type_counts(self) -> dict[str, int]:
        with self._reader.begin() as conn:
            rows = conn.execute(
                select(board_entries.c.entry_type, func.count())
                .where(board_entries.c.election_id == self._id, board_entries.c.log == NATIONAL)
                .group_by(board_entries.c.entry_type)
            ).all()
        return {str(kind): int(n) for kind, n in rows}

    def entries(self, entry_type: str | None, offset: int, limit: int) -> list[tuple[int, bytes]]:
        if entry_type is None:
            found = self.store.entries(self._id, offset, offset + limit)
            return list(enumerate(found, start=offset))
        e = board_entries.c
        with self._reader.begin() as conn:
            rows = conn.execute(
                select(e.idx, e.entry)
                .where(e.election_id == self._id, e.log == NATIONAL, e.entry_type == entry_type)
                .order_by(e.idx)
                .offset(offset)
                .limit(limit)
            ).all()
        return [(int(index), bytes(entry)) for index, entry in rows]

    def entry(self, index: int) -> bytes | None:
        if index < 0:
            return None
        found = self.store.entries(self._id, index, index + 1)
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
                select(b.tracking_code, b.state, b.board_idx, b.station_id, b.district_id)
                .where(b.election_id == self._id, *where)
                .order_by(b.tracking_code)
                .limit(10)
            ).all()
        return [
            BallotHit(str(r.tracking_code), "cast" if r.state == "cast" else "challenged",
                      int(r.board_idx), str(r.station_id), str(r.district_id))
            for r in rows
            if str(r.tracking_code).startswith(code)
        ]  # fmt: skip

    def inclusion(self, index: int) -> Inclusion | None:
        latest = self.store.latest_checkpoint(self._id)
        if latest is None or not 0 <= index < latest[0]:
            return None
        size, note = latest
        entry = self.entry(index)
        if entry is None:
            return None
        # from the stored tree: O(log n) stored hashes, nothing kept in this process
        proof = self.store.inclusion_proof(self._id, index, size)
        return Inclusion(index, size, entry, proof, note)

    def record_files(self) -> list[RecordFile] | None:
        latest = self.store.latest_checkpoint(self._id)
        if latest is None or not self._verifiers:
            return None
        size, note = latest
        e = board_entries.c
        with self._reader.begin() as conn:
            length = conn.execute(
                select(func.coalesce(func.sum(func.length(e.entry)), 0)).where(
                    e.election_id == self._id, e.log == NATIONAL, e.idx < size
                )
            ).scalar_one()
        raw_note = note.encode("utf-8")
        keys = "".join(key + "\n" for key in self._verifiers).encode("utf-8")
        return [
            RecordFile(ENTRIES, int(length) + size, self._lines(size)),
            RecordFile(CHECKPOINT, len(raw_note), iter([raw_note])),
            RecordFile(KEYS, len(keys), iter([keys])),
        ]

    def _lines(self, size: int) -> Iterator[bytes]:
        for start in range(0, size, PAGE_ROWS):
            found = self.store.entries(self._id, start, min(size, start + PAGE_ROWS))
            yield b"".join(entry + b"\n" for entry in found)
