"""Reading an election record for the verifier: its entries parsed once, indexed by type, with
the Merkle tree over them (`verivote.board.record` describes the files).

A record with a log per district (issue 17) is read as the one sequence of the README's
"Order" (`verivote.board.order`): every check sees the election's entries in that order, by
their position in it, and `Board.where` gives each position's log and index; the seals and the
logs themselves are in `Board.logs` for the `board` check.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verivote.board.districts import NATIONAL, SEAL_TYPE, Seal
from verivote.board.merkle import MerkleLog, leaf_hash
from verivote.board.note import parse_verifier
from verivote.board.order import Order, merge_order
from verivote.board.record import Record, read_record
from verivote.board.sealing import seal_mark

Doc = dict[str, Any]


class RecordError(Exception):
    """The record cannot be read at all (a missing file, a file that is not lines of text)."""


@dataclass(frozen=True)
class RecordLogs:
    """A record's logs, when it has a log per district: the national log's entries (seals
    included) and Merkle tree; each seal as read (national index -> Seal, or why it cannot be
    read); each district's entries, tree and checkpoint note; and the merged order."""

    national: tuple[bytes, ...]
    national_log: MerkleLog
    seals: dict[int, Seal | str]
    districts: dict[str, tuple[bytes, ...]]
    district_logs: dict[str, MerkleLog]
    district_notes: dict[str, str]
    order: Order


@dataclass(frozen=True)
class Board:
    """A record as read: every entry's bytes and, when it is a JSON object with a type, its
    parsed form; the entries that are not (index, reason); the checkpoint note and keys.

    Whether an entry is in canonical form is the `board` check's (`check_record`): parsing
    alone here keeps a national record from being serialised twice over.

    For a record with district logs, `entries` are the election's entries of every log in the
    merged order (seals left out), `log` is the Merkle tree over them (the board the lot's
    seed hashes), and `logs` holds the logs as they are; for a single-log record `logs` is
    None and `log` is its one log.
    """

    directory: Path
    entries: tuple[bytes, ...]
    docs: tuple[Doc | None, ...]
    malformed: tuple[tuple[int, str], ...]
    checkpoint_note: str
    verifier_keys: tuple[str, ...]
    log: MerkleLog
    _by_type: dict[str, list[int]] = field(repr=False)
    logs: RecordLogs | None = None

    @property
    def national_log(self) -> MerkleLog:
        """The tree of the national log, the one `log/checkpoint` signs."""
        return self.logs.national_log if self.logs is not None else self.log

    def where(self, position: int) -> tuple[str, int]:
        """(log, index in it) of the entry at `position`: ("", position) in a single-log
        record. Raises IndexError outside the record."""
        if self.logs is not None:
            return self.logs.order.where(position)
        if not 0 <= position < len(self.entries):
            raise IndexError(f"position {position} outside a record of {len(self.entries)}")
        return NATIONAL, position

    def position(self, log: str, index: int) -> int | None:
        """The position of entry `index` of `log` (None if there is none, or it is a seal)."""
        if self.logs is not None:
            return self.logs.order.position(log, index)
        return index if log == NATIONAL and 0 <= index < len(self.entries) else None

    def of_type(self, entry_type: str) -> list[tuple[int, Doc]]:
        """(index, entry) of every entry of `entry_type`, in board order."""
        out = []
        for index in self._by_type.get(entry_type, ()):
            doc = self.docs[index]
            assert doc is not None
            out.append((index, doc))
        return out

    def indices(self, entry_type: str) -> list[int]:
        return list(self._by_type.get(entry_type, ()))

    def ballots(self) -> Iterator[tuple[int, Doc]]:
        """Every ballot-cast and ballot-challenged entry, in board order."""
        wanted = sorted(self.indices("ballot-cast") + self.indices("ballot-challenged"))
        for index in wanted:
            doc = self.docs[index]
            assert doc is not None
            yield index, doc

    @property
    def origin(self) -> str | None:
        """The log's origin: the authority's key name (first line of log/keys), which
        `check_record` requires to be the checkpoint's origin."""
        if not self.verifier_keys:
            return None
        try:
            return parse_verifier(self.verifier_keys[0]).name
        except ValueError:
            return None


def load_board(directory: str | os.PathLike[str]) -> Board:
    """Read and parse the record in `directory`; raises RecordError if it cannot be read."""
    path = Path(directory)
    if not path.is_dir():
        raise RecordError(f"{path} is not a directory")
    try:
        record = read_record(path)
    except ValueError as exc:
        raise RecordError(f"{path}: {exc}") from None
    if record.has_districts:
        return _load_logs(path, record)
    docs: list[Doc | None] = []
    malformed: list[tuple[int, str]] = []
    by_type: dict[str, list[int]] = {}
    log = MerkleLog()
    for index, raw in enumerate(record.entries):
        log.append(leaf_hash(raw))
        doc, problem = _parse(raw)
        docs.append(doc)
        if doc is None:
            malformed.append((index, problem))
        else:
            by_type.setdefault(doc["type"], []).append(index)
    return Board(
        path,
        record.entries,
        tuple(docs),
        tuple(malformed),
        record.checkpoint_note,
        record.verifier_keys,
        log,
        by_type,
    )


def _load_logs(path: Path, record: Record) -> Board:
    """A record with district logs, read as the merged sequence of its entries."""
    national_docs: list[tuple[Doc | None, str]] = []
    national_log = MerkleLog()
    seals: dict[int, Seal | str] = {}
    marks: dict[int, tuple[str, int] | None] = {}
    for index, raw in enumerate(record.entries):
        national_log.append(leaf_hash(raw))
        doc, problem = _parse(raw)
        national_docs.append((doc, problem))
        if doc is not None and doc["type"] == SEAL_TYPE:
            seals[index], marks[index] = seal_mark(doc)
    districts = {d.district: d.entries for d in record.districts}
    district_logs = {
        district: MerkleLog(leaf_hash(raw) for raw in entries)
        for district, entries in districts.items()
    }
    order = merge_order(len(record.entries), marks, {d: len(e) for d, e in districts.items()})
    entries: list[bytes] = []
    docs: list[Doc | None] = []
    malformed: list[tuple[int, str]] = []
    by_type: dict[str, list[int]] = {}
    log = MerkleLog()
    for position, (name, index) in enumerate(order):
        if name == NATIONAL:
            raw = record.entries[index]
            doc, problem = national_docs[index]
            log.append(national_log.leaf_hash(index))
        else:
            raw = districts[name][index]
            doc, problem = _parse(raw)
            log.append(district_logs[name].leaf_hash(index))
        entries.append(raw)
        docs.append(doc)
        if doc is None:
            malformed.append((position, problem))
        else:
            by_type.setdefault(doc["type"], []).append(position)
    logs = RecordLogs(
        record.entries,
        national_log,
        seals,
        districts,
        district_logs,
        {d.district: d.checkpoint_note for d in record.districts},
        order,
    )
    return Board(
        path,
        tuple(entries),
        tuple(docs),
        tuple(malformed),
        record.checkpoint_note,
        record.verifier_keys,
        log,
        by_type,
        logs,
    )


def _parse(raw: bytes) -> tuple[Doc | None, str]:
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        return None, f"not JSON ({exc.__class__.__name__}: {exc})"
    if not isinstance(doc, dict) or not isinstance(doc.get("type"), str):
        return None, 'not a JSON object with a string "type"'
    return doc, ""


def read_note(path: str | os.PathLike[str]) -> str:
    """An earlier signed checkpoint given with --since; RecordError if it cannot be read."""
    try:
        # Bytes, then UTF-8: read_text would translate line endings inside a signed text.
        return Path(path).read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise RecordError(f"--since {path}: cannot read ({reason})") from None
