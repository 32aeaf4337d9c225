"""The site's data from a published election record directory (`verivote serve --record DIR`):
no database, nothing written, everything read once at start.

The record's signatures and Merkle root are checked before it is served (`check_record`): the
site never shows a board that its own checkpoint does not vouch for. The full verification
(every ballot proof, the decryption, the count) is `verivote verify`'s, which any visitor can
run on the record they download here.

Turnout comes from the record itself: each station's closing statement (`polls-close`)
publishes the number of voters checked in there (when the election has a voter roll) and of the
ballots cast; the voters are the turnout where the record has them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from verivote.board.record import CHECKPOINT, ENTRIES, KEYS, check_record
from verivote.crypto.hashing import election_base_hash
from verivote.model.manifest import Manifest, ManifestError, parse_manifest
from verivote.verify.loader import Board, RecordError, load_board
from verivote.web.site.source import BallotHit, Inclusion, Mode, Participation, RecordFile

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
        # Tracking codes (and challenged ballots' ids) to board indices, and their first 16
        # hex digits (the short form a voter reads out) to the full codes.
        self._ballots: dict[str, BallotHit] = {}
        self._short: dict[str, list[str]] = {}
        for index, doc in board.ballots():
            code = _ballot_code(doc)
            ballot = doc.get("ballot")
            if code is None or not isinstance(ballot, dict):
                continue
            state: Literal["cast", "challenged"] = (
                "cast" if doc["type"] == "ballot-cast" else "challenged"
            )
            hit = BallotHit(code, state, index, str(ballot.get("station")),
                            str(ballot.get("district")))  # fmt: skip
            self._ballots[code] = hit
            self._short.setdefault(code[:SHORT_CODE], []).append(code)
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

    def type_counts(self) -> dict[str, int]:
        return dict(self._types)

    def _type_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for doc in self._board.docs:
            kind = doc["type"] if doc is not None else "malformed"
            counts[kind] = counts.get(kind, 0) + 1
        return counts

    def entries(self, entry_type: str | None, offset: int, limit: int) -> list[tuple[int, bytes]]:
        if entry_type is None:
            indices: list[int] = list(range(offset, min(offset + limit, self.board_size())))
        else:
            indices = self._board.indices(entry_type)[offset : offset + limit]
        return [(i, self._board.entries[i]) for i in indices]

    def entry(self, index: int) -> bytes | None:
        return self._board.entries[index] if 0 <= index < self.board_size() else None

    def pending_district(self, code: str) -> str | None:
        return None  # a published record holds every batch

    def find_ballots(self, code: str) -> list[BallotHit]:
        if len(code) == SHORT_CODE:
            return [self._ballots[c] for c in self._short.get(code, [])]
        hit = self._ballots.get(code)
        return [hit] if hit is not None else []

    def inclusion(self, index: int) -> Inclusion | None:
        size = self.board_size()  # check_record made sure the checkpoint covers every entry
        if not 0 <= index < size:
            return None
        proof = self._board.log.inclusion_proof(index, size)
        return Inclusion(index, size, self._board.entries[index], proof,
                         self._board.checkpoint_note)  # fmt: skip

    def record_files(self) -> list[RecordFile] | None:
        # From the entries as read and checked at start, not from the files again: what is
        # downloaded is exactly what the site shows, whatever happened to the directory since.
        board = self._board
        note = board.checkpoint_note.encode("utf-8")
        keys = "".join(key + "\n" for key in board.verifier_keys).encode("utf-8")
        return [
            RecordFile(ENTRIES, sum(len(e) + 1 for e in board.entries), _lines(board.entries)),
            RecordFile(CHECKPOINT, len(note), iter([note])),
            RecordFile(KEYS, len(keys), iter([keys])),
        ]


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
