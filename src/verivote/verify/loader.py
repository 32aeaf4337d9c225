"""Reading an election record for the verifier: its entries parsed once, indexed by type, with
the Merkle tree over them (`verivote.board.record` describes the files)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verivote.board.merkle import MerkleLog, leaf_hash
from verivote.board.note import parse_verifier
from verivote.board.record import read_record

Doc = dict[str, Any]


class RecordError(Exception):
    """The record cannot be read at all (a missing file, a file that is not lines of text)."""


@dataclass(frozen=True)
class Board:
    """A record as read: every entry's bytes and, when it is a JSON object with a type, its
    parsed form; the entries that are not (index, reason); the checkpoint note and keys.

    Whether an entry is in canonical form is the `board` check's (`check_record`): parsing
    alone here keeps a national record from being serialised twice over."""

    directory: Path
    entries: tuple[bytes, ...]
    docs: tuple[Doc | None, ...]
    malformed: tuple[tuple[int, str], ...]
    checkpoint_note: str
    verifier_keys: tuple[str, ...]
    log: MerkleLog
    _by_type: dict[str, list[int]] = field(repr=False)

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
