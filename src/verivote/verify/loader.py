"""Reading an election record for the verifier: its entries parsed once, indexed by type, with
the Merkle tree over them (`verivote.board.record` describes the files).

A record with a log per district (issue 17) is read as the one sequence of the README's
"Order" (`verivote.board.order`): every check sees the election's entries in that order, by
their position in it, and `Board.where` gives each position's log and index; the seals and the
logs themselves are in `Board.logs` for the `board` check.
"""

from __future__ import annotations

import bisect
import json
import os
import sys
from array import array
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, overload

from verivote.board.districts import NATIONAL, SEAL_TYPE, Seal
from verivote.board.lines import LineRef, Lines, range_lines, ranges, scan_lines
from verivote.board.merkle import MerkleLog, leaf_hash
from verivote.board.note import parse_verifier
from verivote.board.order import Order, merge_order
from verivote.board.record import (
    CHECKPOINT,
    ENTRIES,
    KEYS,
    district_checkpoint_path,
    district_entries_path,
    district_names,
)
from verivote.board.sealing import seal_mark

Doc = dict[str, Any]


class RecordError(Exception):
    """The record cannot be read at all (a missing file, a file that is not lines of text)."""


Strays = dict[int, tuple[str, str | None]]
"""The entries of a district's log that are not ballots of the district, by index: (type,
the district a ballot names or None if it names none, a non-empty string; None for an entry
that is not a ballot). Found where the log is read, so that the `board` check's routing
parses no ballot again (issue 17)."""


@dataclass(frozen=True)
class RecordLogs:
    """A record's logs, when it has a log per district: the national log's entries (seals
    included) and Merkle tree; each seal as read (national index -> Seal, or why it cannot be
    read); each district's entries, tree and checkpoint note; and the merged order."""

    national: Sequence[bytes]
    national_log: MerkleLog
    seals: dict[int, Seal | str]
    districts: dict[str, Sequence[bytes]]
    district_logs: dict[str, MerkleLog]
    district_notes: dict[str, str]
    order: Order
    strays: dict[str, Strays] = field(default_factory=dict)
    """Each district's `Strays` (the entries of its log that are not its own ballots)."""


@dataclass(frozen=True)
class Board:
    """A record as read: every entry's bytes and, when it is a JSON object with a type, its
    parsed form; the entries that are not (index, reason); the checkpoint note and keys.
    Read by `load_board`, the entries are left in the record's files and the ballots parsed
    again when asked for (`Lines`, `Docs`): the board does not grow with their bytes.

    Whether an entry is in canonical form is the `board` check's (`check_record`): parsing
    alone here keeps a national record from being serialised twice over.

    For a record with district logs, `entries` are the election's entries of every log in the
    merged order (seals left out), `log` is the Merkle tree over them (the board the lot's
    seed hashes), and `logs` holds the logs as they are; for a single-log record `logs` is
    None and `log` is its one log.
    """

    directory: Path
    entries: Sequence[bytes]
    docs: Sequence[Doc | None]
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

    def each_of_type(self, entry_type: str) -> Iterator[tuple[int, Doc]]:
        """`of_type`, one entry at a time: for the ballots, which are parsed again from the
        record when it is streamed and must not be all in memory at once."""
        for index in self._by_type.get(entry_type, ()):
            doc = self.docs[index]
            assert doc is not None
            yield index, doc

    def indices(self, entry_type: str) -> list[int]:
        return list(self._by_type.get(entry_type, ()))

    def kept(self) -> Iterator[tuple[int, Doc]]:
        """(index, entry) of every entry that grows neither with the ballots nor with the mix
        (not STREAMED, not UNPARSED), in board order: those the main process holds parsed."""
        wanted = sorted(
            index
            for kind, found in self._by_type.items()
            if kind not in STREAMED and kind not in UNPARSED
            for index in found
        )
        for index in wanted:
            doc = self.docs[index]
            assert doc is not None
            yield index, doc

    def total_bytes(self) -> int:
        """The entries' bytes in all, from their lengths (no entry is read)."""
        if isinstance(self.entries, Lines):
            return sum(self.entries.lengths)
        return sum(map(len, self.entries))

    def ref(self, index: int) -> LineRef | bytes:
        """Entry `index` for a task to read (`verivote.board.lines.read_ref`): where it is in
        the record's files when they are streamed, else its bytes."""
        if isinstance(self.entries, Lines):
            return self.entries.ref(index)
        return self.entries[index]

    def refs(self, indices: Sequence[int]) -> list[LineRef] | list[bytes]:
        """`ref` of each of `indices`, in one pass."""
        if isinstance(self.entries, Lines):
            return self.entries.refs(indices)
        return [self.entries[i] for i in indices]

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


STREAMED = frozenset({"ballot-cast", "ballot-challenged", "checkins"})
"""The entry types read again from the record each time a check asks for one (`Docs`): the
ones that grow with the ballots or the voters (a national election's check-in lists hold 25
million pseudonyms: issue 19). Every other entry is parsed once and kept."""

UNPARSED = frozenset({"shuffle", "mix-partial-decryption", "mix-decryption"})
"""The mix's entries that grow with the written ballots, nearly all of the national log's bytes
(issue 17: a Tehran shuffle about 1.9 GB at the 2024 shape): the scan does not parse them but
reads their type from the line's end, and the mix check's tasks read and parse them
(`Board.ref`). In canonical form (keys sorted) "type" is their last key, so a line that is
JSON ends in `,"type":"<type>"}` only if that is its type; a line that is not JSON is
reported by the `board` check (not canonical) and by the task that parses it."""

_TAILS = {f'"type":"{kind}"}}'.encode(): kind for kind in UNPARSED}
_TAIL = max(map(len, _TAILS))


def unparsed_type(raw: bytes) -> str | None:
    """The type of an UNPARSED entry from its line's end (`,"type":"<type>"}`, or the whole
    line `{"type":"<type>"}`), None for any other line."""
    tail = raw[-_TAIL:]
    cut = tail.rfind(b'"type":"')
    kind = _TAILS.get(tail[cut:]) if cut >= 0 else None
    at = len(raw) - len(tail) + cut  # where the key starts in the line
    if kind is None or at < 1:
        return None
    before = raw[at - 1 : at]
    return kind if before == b"," or (before == b"{" and at == 1) else None


class Docs(Sequence["Doc | None"]):
    """The parsed entries of a board: those kept when it was read, the others (ballots)
    parsed again from `entries` when asked for, None for an entry that is not an entry."""

    def __init__(
        self, entries: Sequence[bytes], kept: dict[int, Doc], malformed: frozenset[int]
    ) -> None:
        self._entries = entries
        self._kept = kept
        self._malformed = malformed

    def __len__(self) -> int:
        return len(self._entries)

    @overload
    def __getitem__(self, index: int) -> Doc | None: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[Doc | None, ...]: ...
    def __getitem__(self, index: int | slice) -> Doc | tuple[Doc | None, ...] | None:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("entry index out of range")
        found = self._kept.get(index)
        if found is not None or index in self._malformed:
            return found
        doc, _ = _parse(self._entries[index])
        return doc

    def __iter__(self) -> Iterator[Doc | None]:
        for index in range(len(self)):
            yield self[index]


@dataclass
class _Scan:
    """One log as read: its lines (left in the file), tree, each entry's type (None: not an
    entry, with the reason in `problems`), the parsed entries that are not STREAMED, and for
    a district's log its `Strays`."""

    lines: Lines
    log: MerkleLog
    kinds: list[str | None]
    problems: dict[int, str]
    kept: dict[int, Doc]
    strays: Strays


def _ballot_district(doc: Doc) -> str | None:
    ballot = doc.get("ballot")
    district = ballot.get("district") if isinstance(ballot, dict) else None
    return district if isinstance(district, str) and district else None


@dataclass
class _Part:
    """The lines of one byte range of a log's file as read by `_scan_part` (indices from 0
    at the range's first line): where each is, its leaf hash, its type, and the problems,
    kept entries and strays of `_Scan`."""

    starts: array[int]
    lengths: array[int]
    leaves: bytes
    kinds: list[str | None]
    problems: dict[int, str]
    kept: dict[int, Doc]
    strays: Strays


def _scan_part(path: Path, what: str, start: int, end: int, district: str | None) -> _Part:
    """The lines of `what` that begin in [start, end), read, hashed and typed here (a task of
    `load_board`'s pool, or this process for the whole file). The mix's large entries are
    typed from their end (`unparsed_type`), every other line parsed; a district's log lists
    its strays."""
    part = _Part(array("q"), array("q"), b"", [], {}, {}, {})
    leaves = bytearray()
    try:
        for offset, raw in range_lines(path / what, start, end):
            index = len(part.kinds)
            part.starts.append(offset)
            part.lengths.append(len(raw))
            leaves += leaf_hash(raw)
            lazy = unparsed_type(raw)
            if lazy is not None:
                part.kinds.append(lazy)
                if district is not None:
                    part.strays[index] = (lazy, None)
                continue
            doc, problem = _parse(raw)
            if doc is None:
                part.kinds.append(None)
                part.problems[index] = problem
                continue
            kind = sys.intern(doc["type"])
            part.kinds.append(kind)
            if kind not in STREAMED:
                part.kept[index] = doc
                if district is not None:
                    part.strays[index] = (kind, None)
            elif district is not None and (named := _ballot_district(doc)) != district:
                part.strays[index] = (kind, named)
    except OSError as exc:
        raise ValueError(f"{what}: cannot read ({exc.strerror or exc})") from None
    part.leaves = bytes(leaves)
    return part


SCAN_PART_BYTES = 64 * 2**20
"""At most this many bytes of a log's file in one task of `load_board`'s pool."""


def _scan(
    path: Path, what: str, district: str | None = None, pool: Executor | None = None
) -> _Scan:
    """One log's file read: in this process, or with `pool` by byte ranges (`ranges`), each
    read, hashed and typed by a task (issue 17: the national log's 90 GB are then read by
    the workers; this process merges their places, leaves and types)."""
    file = path / what
    try:
        size = file.stat().st_size
        if size:
            with file.open("rb") as stream:
                stream.seek(size - 1)
                last = stream.read(1)
            if last != b"\n":
                raise ValueError(f"{what}: the last line does not end in a newline")
    except OSError as exc:
        raise ValueError(f"{what}: cannot read ({exc.strerror or exc})") from None
    if pool is None:
        parts = [_scan_part(path, what, 0, size, district)]
    else:
        cuts = ranges(size, 4, SCAN_PART_BYTES)
        futures = [pool.submit(_scan_part, path, what, a, b, district) for a, b in cuts]
        parts = [f.result() for f in futures]
    log = MerkleLog()
    starts: array[int] = array("q")
    lengths: array[int] = array("q")
    kinds: list[str | None] = []
    problems: dict[int, str] = {}
    kept: dict[int, Doc] = {}
    strays: Strays = {}
    for part in parts:
        first = len(kinds)
        starts.extend(part.starts)
        lengths.extend(part.lengths)
        log.extend(part.leaves)
        kinds.extend(part.kinds)
        problems.update((first + i, p) for i, p in part.problems.items())
        kept.update((first + i, d) for i, d in part.kept.items())
        strays.update((first + i, s) for i, s in part.strays.items())
    lines = Lines([file], starts, lengths, None, log)
    return _Scan(lines, log, kinds, problems, kept, strays)


def _small_files(path: Path) -> tuple[str, tuple[str, ...]]:
    """The checkpoint note and the keys, as `read_record` reads them."""
    contents: list[bytes] = []
    for name in (CHECKPOINT, KEYS):
        try:
            contents.append((path / name).read_bytes())
        except OSError as exc:
            raise ValueError(f"{name}: cannot read ({exc.strerror or exc})") from None
    checkpoint_raw, keys_raw = contents
    if keys_raw and not keys_raw.endswith(b"\n"):
        raise ValueError(f"{KEYS}: the last line does not end in a newline")
    key_lines = keys_raw[:-1].split(b"\n") if keys_raw else []
    try:
        return checkpoint_raw.decode("utf-8"), tuple(line.decode("utf-8") for line in key_lines)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{CHECKPOINT} or {KEYS} is not UTF-8: {exc.reason}") from None


def load_board(
    directory: str | os.PathLike[str], stream: bool = False, pool: Executor | None = None
) -> Board:
    """Read and parse the record in `directory`; raises RecordError if it cannot be read.

    With `stream` (the verifier), the entries stay in their files (`Lines`): what is kept per
    entry is its place, leaf hash and type, and the parsed form of the entries that do not
    grow with the ballots; a line read again that is not the one hashed at first raises
    OSError. Without, every entry's bytes and parsed form are held, so that what is read
    later (a site serving the record) is what was read at first, whatever happens to the
    files. With `pool`, the national log is read by tasks, a byte range each, and each
    district's log by a task of its own (issue 17: the main process reads no entry file);
    every task must see the record at the same path."""
    path = Path(directory)
    if not path.is_dir():
        raise RecordError(f"{path} is not a directory")
    try:
        if not (path / ENTRIES).is_file():
            scan_lines(path / ENTRIES, ENTRIES, lambda _o, _l: None)  # the read's own error
        checkpoint_note, keys = _small_files(path)
        national = _scan(path, ENTRIES, None, pool)
        names = district_names(path, None)
        if names is not None:
            board = _load_logs(path, national, checkpoint_note, keys, names, pool)
            return board if stream else _held(board)
    except ValueError as exc:
        raise RecordError(f"{path}: {exc}") from None
    by_type: dict[str, list[int]] = {}
    for index, kind in enumerate(national.kinds):
        if kind is not None:
            by_type.setdefault(kind, []).append(index)
    malformed = tuple(sorted(national.problems.items()))
    board = Board(
        path,
        national.lines,
        Docs(national.lines, national.kept, frozenset(national.problems)),
        malformed,
        checkpoint_note,
        keys,
        national.log,
        by_type,
    )
    return board if stream else _held(board)


def _held(board: Board) -> Board:
    """The board with every entry's bytes and parsed form in memory."""
    return replace(board, entries=tuple(board.entries), docs=tuple(board.docs))


def _positions(kinds: Sequence[str | None], start: int) -> dict[str, list[int]]:
    """The positions (from `start`) of each type in `kinds`, in order; None left out."""
    out: dict[str, list[int]] = {}
    for position, kind in enumerate(kinds, start):
        if kind is not None:
            found = out.get(kind)
            if found is None:
                out[kind] = [position]
            else:
                found.append(position)
    return out


def _within(indices: list[int], a: int, b: int) -> list[int]:
    """The sorted `indices` in [a, b)."""
    return indices[bisect.bisect_left(indices, a) : bisect.bisect_left(indices, b)]


def _load_logs(
    path: Path,
    national: _Scan,
    checkpoint_note: str,
    keys: tuple[str, ...],
    names: list[str],
    pool: Executor | None = None,
) -> Board:
    """A record with district logs, read as the merged sequence of its entries (each
    district's log by a task of `pool`, if given)."""
    seals: dict[int, Seal | str] = {}
    marks: dict[int, tuple[str, int] | None] = {}
    for index, kind in enumerate(national.kinds):
        if kind == SEAL_TYPE:
            seals[index], marks[index] = seal_mark(national.kept[index])
    scans: dict[str, _Scan] = {}
    notes: dict[str, str] = {}
    tasks = (
        {d: pool.submit(_scan, path, district_entries_path(d), d) for d in names}
        if pool is not None
        else {}
    )
    for district in names:
        found = tasks.get(district)
        # a district's error is raised here, in name order, as the serial read raises it
        scans[district] = (
            found.result()
            if found is not None
            else _scan(path, district_entries_path(district), district)
        )
        note_path = district_checkpoint_path(district)
        try:
            raw = (path / note_path).read_bytes()
        except OSError as exc:
            raise ValueError(f"{note_path}: cannot read ({exc.strerror or exc})") from None
        try:
            notes[district] = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{note_path} is not UTF-8: {exc.reason}") from None
    sizes = {d: len(s.kinds) for d, s in scans.items()}
    order = merge_order(len(national.kinds), marks, sizes)
    files = [national.lines.files[0], *(scans[d].lines.files[0] for d in names)]
    number = {NATIONAL: 0} | {d: n for n, d in enumerate(names, start=1)}
    which: array[int] = array("H")
    starts: array[int] = array("q")
    lengths: array[int] = array("q")
    kept: dict[int, Doc] = {}
    malformed: list[tuple[int, str]] = []
    by_type: dict[str, list[int]] = {}
    leaves = bytearray()
    # segment by segment (a run of one log's entries): the places and leaves as slices,
    # each entry's type appended to its list, the kept and malformed ones found by bisection
    # (issue 17: an entry at a time cost this process about 3 µs a ballot)
    held = {name: sorted(scan.kept) for name, scan in (*scans.items(), (NATIONAL, national))}
    bad = {name: sorted(scan.problems) for name, scan in (*scans.items(), (NATIONAL, national))}
    for segment in order.segments:
        name, a, count = segment.log, segment.first, segment.length
        b = a + count
        scan = national if name == NATIONAL else scans[name]
        shift = segment.start - a
        which.extend(array("H", [number[name]]) * count)
        starts.extend(scan.lines.starts[a:b])
        lengths.extend(scan.lines.lengths[a:b])
        leaves += scan.log.packed_leaves(a, b)
        for kind, positions in _positions(scan.kinds[a:b], segment.start).items():
            by_type.setdefault(kind, []).extend(positions)
        for index in _within(bad[name], a, b):
            malformed.append((index + shift, scan.problems[index]))
        for index in _within(held[name], a, b):
            kept[index + shift] = scan.kept[index]
    malformed.sort()
    log = MerkleLog()
    log.extend(leaves)
    del leaves
    logs = RecordLogs(
        national.lines,
        national.log,
        seals,
        {d: s.lines for d, s in scans.items()},
        {d: s.log for d, s in scans.items()},
        notes,
        order,
        {d: s.strays for d, s in scans.items()},
    )
    entries = Lines(files, starts, lengths, which, log)
    return Board(
        path,
        entries,
        Docs(entries, kept, frozenset(p for p, _ in malformed)),
        tuple(malformed),
        checkpoint_note,
        keys,
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
