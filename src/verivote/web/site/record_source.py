"""The site's data from a published election record directory (`verivote serve --record DIR`):
no database, nothing written, everything read once at start.

The record's signatures and Merkle root are checked before it is served (`check_record`): the
site never shows a board that its own checkpoint does not vouch for. The full verification
(every ballot proof, the decryption, the count) is `verivote verify`'s, which any visitor can
run on the record they download here.

Turnout comes from the record itself: each station's closing statement (`polls-close`)
publishes the number of voters checked in there (when the election has a voter roll) and of the
ballots cast; the voters are the turnout where the record has them. In a record with district
logs these statements are in the district logs: they are read, like every entry, from the
merged board (`verify.loader.Board`), whose positions the pages show.

A ballot in a district log is proved by the first seal that covers it (from the merged order's
`placed`, found by binary search) and that seal in the national log under `log/checkpoint`.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from verivote.board.districts import NATIONAL
from verivote.board.inclusion import prove_with_seal
from verivote.board.record import (
    CHECKPOINT,
    ENTRIES,
    KEYS,
    check_record,
    district_checkpoint_path,
    district_entries_path,
)
from verivote.crypto.hashing import election_base_hash
from verivote.model.manifest import Manifest, ManifestError, parse_manifest
from verivote.verify.loader import Board, RecordError, load_board
from verivote.web.site.source import (
    BallotHit,
    BoardEntry,
    Inclusion,
    Mode,
    Participation,
    Proof,
    RecordFile,
)

CHUNK = 1 << 16
SHORT_CODE = 16


class RecordUnusable(ValueError):
    """The directory is not a record the site can serve; the message says why."""


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _ballot_code(doc: dict[str, Any]) -> str | None:
    code = doc.get("tracking_code") if doc["type"] == "ballot-cast" else doc.get("ballot_id")
    return code if isinstance(code, str) else None


class RecordSource:
    """A record directory as a `Source` (see `verivote.web.site.source`)."""

    def __init__(self, directory: Path) -> None:
        problems = check_record(directory)
        if problems:
            raise RecordUnusable(f"{directory} is not a record that checks: {problems[0]}")
        try:
            board = load_board(directory)
        except RecordError as exc:
            raise RecordUnusable(str(exc)) from None
        manifests = board.of_type("manifest")
        if not manifests or manifests[0][0] != 0:
            raise RecordUnusable(f"{directory}: the record's first entry is not its manifest")
        try:
            self._manifest = parse_manifest(manifests[0][1].get("manifest"), "record manifest")
        except ManifestError as exc:
            raise RecordUnusable(str(exc)) from None
        self.directory = directory
        self._board: Board = board
        self._base_hash = election_base_hash(board.entries[0]).hex()
        # Tracking codes (and challenged ballots' ids) to their entries, and their first 16
        # hex digits (the short form a voter reads out) to the full codes.
        self._ballots: dict[str, BallotHit] = {}
        self._short: dict[str, list[str]] = {}
        for position, doc in board.ballots():
            code = _ballot_code(doc)
            ballot = doc.get("ballot")
            if code is None or not isinstance(ballot, dict):
                continue
            state: Literal["cast", "challenged"] = (
                "cast" if doc["type"] == "ballot-cast" else "challenged"
            )
            log, index = board.where(position)
            hit = BallotHit(code, state, log, index, position, str(ballot.get("station")),
                            str(ballot.get("district")))  # fmt: skip
            self._ballots[code] = hit
            self._short.setdefault(code[:SHORT_CODE], []).append(code)
        # Each district's seals that placed entries, in national order: (sealed size, the
        # seal's national index); the first whose size exceeds an index covers that entry.
        self._seals: dict[str, tuple[list[int], list[int]]] = {}
        if board.logs is not None:
            for at, (district, before, after) in sorted(board.logs.order.placed.items()):
                if after > before:
                    sizes, indices = self._seals.setdefault(district, ([], []))
                    sizes.append(after)
                    indices.append(at)
        # The record never changes: what every page needs is worked out once.
        self._types = self._type_counts()
        self._participation = self._read_participation()
        self._polls = self._read_polls()

    @property
    def mode(self) -> Mode:
        return "record"

    @property
    def manifest(self) -> Manifest:
        return self._manifest

    @property
    def base_hash(self) -> str:
        return self._base_hash

    @property
    def verifier_keys(self) -> tuple[str, ...]:
        return self._board.verifier_keys

    def count(self) -> dict[str, object] | None:
        found = self._board.of_type("count")
        return found[-1][1] if found else None

    def participation(self) -> Participation:
        return self._participation

    def _read_participation(self) -> Participation:
        closings = [doc for _, doc in self._board.of_type("polls-close")]
        if not closings:
            return Participation(None, {})
        voters = all(_count(doc.get("checked_in")) is not None for doc in closings)
        field = "checked_in" if voters else "ballots_cast"
        stations: dict[str, int] = {}
        for doc in closings:
            station, n = doc.get("station"), _count(doc.get(field))
            if isinstance(station, str) and n is not None:
                stations[station] = n
        return Participation("closing-check-ins" if voters else "closing-ballots", stations)

    def polls(self) -> dict[str, str]:
        return dict(self._polls)

    def _read_polls(self) -> dict[str, str]:
        states: dict[str, str] = {}
        for kind, state in (("polls-open", "open"), ("polls-close", "closed")):
            for _, doc in self._board.of_type(kind):
                if isinstance(doc.get("station"), str):
                    states[doc["station"]] = state
        return states

    def checkpoint_notes(self, limit: int) -> list[str]:
        # A record carries the one checkpoint it was published under.
        return [self._board.checkpoint_note][:limit]

    def board_size(self) -> int:
        return len(self._board.entries)

    def log_sizes(self) -> dict[str, int]:
        logs = self._board.logs
        if logs is None:
            return {NATIONAL: len(self._board.entries)}
        sizes = {name: len(entries) for name, entries in sorted(logs.districts.items())}
        return {NATIONAL: len(logs.national), **sizes}

    def unsealed(self) -> dict[str, int]:
        # A record's unsealed entries (which the verifier reports) still have positions: the
        # merged order puts them last, so every entry of the record is on its pages.
        return {}

    def type_counts(self) -> dict[str, int]:
        return dict(self._types)

    def _type_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for doc in self._board.docs:
            kind = doc["type"] if doc is not None else "malformed"
            counts[kind] = counts.get(kind, 0) + 1
        return counts

    def entries(self, entry_type: str | None, offset: int, limit: int) -> list[BoardEntry]:
        if entry_type is None:
            positions: list[int] = list(range(offset, min(offset + limit, self.board_size())))
        else:
            positions = self._board.indices(entry_type)[offset : offset + limit]
        board = self._board
        return [BoardEntry(p, *board.where(p), board.entries[p]) for p in positions]

    def entry(self, position: int) -> bytes | None:
        return self._board.entries[position] if 0 <= position < self.board_size() else None

    def pending_district(self, code: str) -> str | None:
        return None  # a published record holds every batch

    def find_ballots(self, code: str) -> list[BallotHit]:
        if len(code) == SHORT_CODE:
            return [self._ballots[c] for c in self._short.get(code, [])]
        hit = self._ballots.get(code)
        return [hit] if hit is not None else []

    def inclusion(self, hit: BallotHit) -> Proof | None:
        board = self._board
        national = board.logs.national if board.logs is not None else board.entries
        # check_record made sure that log/checkpoint covers the whole national log
        size = len(national)
        if hit.log == NATIONAL:
            if not 0 <= hit.index < size:
                return None
            proof = board.national_log.inclusion_proof(hit.index, size)
            return Inclusion(hit.index, size, national[hit.index], proof,
                             board.checkpoint_note)  # fmt: skip
        assert board.logs is not None  # a ballot in a district log: the record has them
        sizes, indices = self._seals.get(hit.log, ([], []))
        at = bisect.bisect_right(sizes, hit.index)
        if at == len(sizes):
            return None  # no seal covers it (the verifier's `board` check says so too)
        entry = board.logs.districts[hit.log][hit.index]
        seal = (indices[at], national[indices[at]])
        try:
            return prove_with_seal(seal, board.national_log, board.checkpoint_note,
                                   board.logs.district_logs[hit.log], entry, hit.index)  # fmt: skip
        except ValueError:
            return None  # a seal of a size beyond the district's log: no proof to give

    def record_files(self) -> list[RecordFile] | None:
        # From the entries as read and checked at start, not from the files again: what is
        # downloaded is exactly what the site shows, whatever happened to the directory since.
        board = self._board
        national = board.logs.national if board.logs is not None else board.entries
        files = [
            _lines_file(ENTRIES, national),
            _text_file(CHECKPOINT, board.checkpoint_note),
            _text_file(KEYS, "".join(key + "\n" for key in board.verifier_keys)),
        ]
        if board.logs is not None:
            for district, entries in sorted(board.logs.districts.items()):
                files.append(_lines_file(district_entries_path(district), entries))
                note = board.logs.district_notes[district]
                files.append(_text_file(district_checkpoint_path(district), note))
        return files


def _lines_file(name: str, entries: Sequence[bytes]) -> RecordFile:
    return RecordFile(name, sum(len(e) + 1 for e in entries), _lines(entries))


def _text_file(name: str, text: str) -> RecordFile:
    raw = text.encode("utf-8")
    return RecordFile(name, len(raw), iter([raw]))


def _lines(entries: Sequence[bytes]) -> Iterator[bytes]:
    """The entries as the lines of entries.jsonl, in chunks of about CHUNK bytes."""
    chunk: list[bytes] = []
    size = 0
    for entry in entries:
        chunk.append(entry + b"\n")
        size += len(entry) + 1
        if size >= CHUNK:
            yield b"".join(chunk)
            chunk, size = [], 0
    if chunk:
        yield b"".join(chunk)
