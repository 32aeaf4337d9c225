"""The public election record on disk: the bulletin board's content and its signed checkpoint
(DESIGN.md, "The flow of one election": the election record is the board's content plus its
signed checkpoints, a directory that anyone can download and check).

    log/entries.jsonl   one board entry per line, in board order: the canonical JSON bytes
                        (`verivote.model.canonical`) of the entry, then "\\n". The leaf is the
                        line without its newline; canonical JSON never holds a raw newline.
    log/checkpoint      the C2SP signed note of the checkpoint over all the entries.
    log/keys            one verifier key per line: first the election authority's (its key name
                        is the checkpoint's origin), then every witness that cosigned.
    log/tile/...        the tree's tiles (C2SP tlog-tiles; `verivote.board.tile_files`), so
                        that a static web server can serve proofs; optional when read, and
                        when present every tile must be the entries' (the same under
                        `districts/<D>/tile/`).

A record with a log per district (issue 17; README, "National scale (issue 17)", Record on
disk) also has, for each district D,

    districts/D/entries.jsonl   D's log, one entry per line as above
    districts/D/checkpoint      the signed note of D's checkpoint over all its entries: origin
                                "<the national origin>/D", signed by the authority's key (the
                                witnesses cosign the national checkpoint only)

and `log/` is then the national log, whose `district-checkpoint` entries seal the districts'
logs (`verivote.board.districts`). A record without `districts/` is a single-log record.

Everything needed to check the record is in it, and the checks need nothing beyond SHA-256 and
Ed25519: recompute the RFC 6962 root of the lines, compare with the checkpoint, verify every
signature line under the listed keys.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path
from typing import overload

from verivote.board.checkpoint import Checkpoint, open_checkpoint, parse_checkpoint
from verivote.board.districts import district_origin
from verivote.board.lines import blocks, range_lines, ranges
from verivote.board.merkle import leaf_hash, root
from verivote.board.note import Verifier, parse_note, parse_verifier
from verivote.board.tile_files import tile_problems, write_tiles
from verivote.model.canonical import parse_canonical
from verivote.model.manifest import IDENT

__all__ = [
    "CHECKPOINT",
    "DISTRICTS",
    "ENTRIES",
    "KEYS",
    "DistrictLog",
    "Record",
    "check_record",
    "district_checkpoint_path",
    "district_entries_path",
    "district_names",
    "entry_files",
    "read_record",
    "write_record",
]

ENTRIES = "log/entries.jsonl"
CHECKPOINT = "log/checkpoint"
KEYS = "log/keys"
DISTRICTS = "districts"

_DISTRICT_NAME = re.compile(IDENT)


def district_entries_path(district: str) -> str:
    """The path of a district's entries in the record, e.g. "districts/tabriz/entries.jsonl"."""
    return f"{DISTRICTS}/{district}/entries.jsonl"


def entry_files(directory: str | os.PathLike[str]) -> list[Path]:
    """The entry files of the record in `directory` that exist: the national log's, then
    each district log's (its folder's `entries.jsonl`), for sizing the record."""
    record = Path(directory)
    files = [record / ENTRIES, *sorted(record.glob(district_entries_path("*")))]
    return [p for p in files if p.is_file()]


def district_checkpoint_path(district: str) -> str:
    """The path of a district's checkpoint in the record."""
    return f"{DISTRICTS}/{district}/checkpoint"


@dataclass(frozen=True)
class DistrictLog:
    """One district's log as read: its entries and its checkpoint note."""

    district: str
    entries: tuple[bytes, ...]
    checkpoint_note: str


@dataclass(frozen=True)
class Record:
    """An election record as read from disk; `check_record` says whether to trust it."""

    entries: tuple[bytes, ...]
    checkpoint_note: str
    verifier_keys: tuple[str, ...]
    districts: tuple[DistrictLog, ...] = ()
    has_districts: bool = False
    """Whether the record has a `districts/` folder (then `entries` is the national log)."""

    def leaf_hashes(self) -> list[bytes]:
        """The RFC 6962 leaf hash of every entry (of the national log)."""
        return [leaf_hash(entry) for entry in self.entries]

    def root(self) -> bytes:
        """The Merkle root over all entries."""
        return root(self.leaf_hashes())

    def checkpoint(self) -> Checkpoint:
        """The checkpoint, verified under the authority's key (the first of `verifier_keys`).

        Raises ValueError if the authority did not sign it; it checks nothing else.
        """
        if not self.verifier_keys:
            raise ValueError(f"{KEYS} lists no authority key")
        checkpoint, _ = open_checkpoint(self.checkpoint_note, [self.verifier_keys[0]])
        return checkpoint


def _lines(raw: bytes, path: str, problems: list[str]) -> list[bytes]:
    # Split on b"\n" only: str.splitlines would also split at U+2028 and friends, which
    # canonical JSON leaves unescaped.
    if not raw:
        return []
    if not raw.endswith(b"\n"):
        problems.append(f"{path}: the last line does not end in a newline")
        return raw.split(b"\n")
    return raw[:-1].split(b"\n")


CHUNK_BYTES = 64 * 2**20
"""At most this many bytes of entry lines in one task of `check_record` on an executor (the
README's plan for the national record: the board in chunks of 64 MiB of entries)."""


def _entry_problems(lines: list[bytes], first: int, path: str) -> tuple[list[str], list[bytes]]:
    """A chunk of entry lines, numbered from `first`: what is not canonical JSON, and each
    line's RFC 6962 leaf hash (entries are independent until the tree's inner nodes)."""
    problems = []
    for number, line in enumerate(lines, start=first):
        try:
            parse_canonical(line)
        except ValueError as exc:
            problems.append(f"{path} line {number}: {exc}")
    return problems, [leaf_hash(line) for line in lines]


def _block_problems(block: bytes, first: int, path: str) -> tuple[list[str], list[bytes]]:
    """`_entry_problems` of the lines of `block` (whole lines; the last may lack its
    newline at the end of the file): one task of `check_record`."""
    return _entry_problems(_lines(block, path, []), first, path)


def _check_keys(raw: bytes, problems: list[str]) -> list[Verifier | None]:
    """The listed keys in order, None for a line that is not a verifier key."""
    keys: list[Verifier | None] = []
    seen: set[tuple[str, int]] = set()
    for number, line in enumerate(_lines(raw, KEYS, problems), start=1):
        try:
            verifier = parse_verifier(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            problems.append(f"{KEYS} line {number}: {exc}")
            keys.append(None)
            continue
        handle = (verifier.name, verifier.key_id)
        if handle in seen:
            problems.append(f"{KEYS} line {number}: the key {line.decode()} is listed twice")
        seen.add(handle)
        keys.append(verifier)
    if not keys:
        problems.append(f"{KEYS}: no keys; the first line must be the authority's verifier key")
    return keys


def _check_signatures(
    raw: bytes, keys: list[Verifier | None], problems: list[str]
) -> Checkpoint | None:
    """Verify every signature line of the checkpoint under the listed keys."""
    try:
        text, signatures = parse_note(raw.decode("utf-8"))
        checkpoint = parse_checkpoint(text)
    except UnicodeDecodeError as exc:
        problems.append(f"{CHECKPOINT}: not UTF-8 ({exc.reason} at byte {exc.start})")
        return None
    except ValueError as exc:
        problems.append(f"{CHECKPOINT}: {exc}")
        return None
    listed = {(key.name, key.key_id): key for key in keys if key is not None}
    signed: set[tuple[str, int]] = set()
    raw_text = text.encode("utf-8")
    for number, signature in enumerate(signatures, start=1):
        handle = (signature.name, signature.key_id)
        verifier = listed.get(handle)
        if verifier is None:
            problems.append(
                f"{CHECKPOINT}: signature line {number} is by {signature.name}"
                f"+{signature.key_id:08x}, which {KEYS} does not list"
            )
        elif not verifier.verify(raw_text, signature.signature):
            problems.append(f"{CHECKPOINT}: the signature by {signature.name} does not verify")
        else:
            signed.add(handle)
    authority = keys[0] if keys else None
    if authority is not None:
        if authority.name != checkpoint.origin:
            problems.append(
                f"{KEYS}: the authority key {authority.name!r} (first line) is not the"
                f" checkpoint origin {checkpoint.origin!r}"
            )
        if (authority.name, authority.key_id) not in signed:
            problems.append(f"{CHECKPOINT}: no valid signature by the authority {authority.name}")
    for key in keys[1:]:
        if key is not None and (key.name, key.key_id) not in signed:
            problems.append(f"{CHECKPOINT}: {key.name}, listed in {KEYS}, did not cosign")
    return checkpoint


def _national_note_problems(
    size: int, leaves: Sequence[bytes], checkpoint_raw: bytes, keys_raw: bytes
) -> list[str]:
    """The keys and the national checkpoint of a log of `size` entries with `leaves`."""
    problems: list[str] = []
    keys = _check_keys(keys_raw, problems)
    checkpoint = _check_signatures(checkpoint_raw, keys, problems)
    if checkpoint is not None:
        if checkpoint.size != size:
            problems.append(
                f"{CHECKPOINT}: tree size {checkpoint.size}, but {ENTRIES} has {size} entries"
            )
        if root(leaves) != checkpoint.root:
            problems.append(f"{CHECKPOINT}: the root hash is not the Merkle root of {ENTRIES}")
    return problems


def _district_note_problems(
    district: str,
    size: int,
    leaves: Sequence[bytes],
    checkpoint_raw: bytes,
    keys: list[Verifier | None],
) -> list[str]:
    """A district's checkpoint, for its log of `size` entries with `leaves`."""
    problems: list[str] = []
    entries_path = district_entries_path(district)
    checkpoint_path = district_checkpoint_path(district)
    try:
        text, signatures = parse_note(checkpoint_raw.decode("utf-8"))
        checkpoint = parse_checkpoint(text)
    except UnicodeDecodeError as exc:
        return [f"{checkpoint_path}: not UTF-8 ({exc.reason} at byte {exc.start})"]
    except ValueError as exc:
        return [f"{checkpoint_path}: {exc}"]
    listed = {(key.name, key.key_id): key for key in keys if key is not None}
    authority = keys[0] if keys else None
    signed_by_authority = False
    for number, signature in enumerate(signatures, start=1):
        verifier = listed.get((signature.name, signature.key_id))
        if verifier is None:
            problems.append(
                f"{checkpoint_path}: signature line {number} is by {signature.name}"
                f"+{signature.key_id:08x}, which {KEYS} does not list"
            )
        elif not verifier.verify(text.encode("utf-8"), signature.signature):
            problems.append(f"{checkpoint_path}: the signature by {signature.name} does not verify")
        elif verifier is authority:
            signed_by_authority = True
    if authority is not None:
        if not signed_by_authority:
            problems.append(
                f"{checkpoint_path}: no valid signature by the authority {authority.name}"
            )
        expected = district_origin(authority.name, district)
        if checkpoint.origin != expected:
            problems.append(
                f"{checkpoint_path}: the origin {checkpoint.origin!r} is not {expected!r}"
            )
    if checkpoint.size != size:
        problems.append(
            f"{checkpoint_path}: tree size {checkpoint.size}, but {entries_path} has {size} entries"
        )
    if root(leaves) != checkpoint.root:
        problems.append(
            f"{checkpoint_path}: the root hash is not the Merkle root of {entries_path}"
        )
    return problems


def _read_files(directory: Path) -> tuple[bytes, bytes, bytes]:
    contents: list[bytes] = []
    for name in (ENTRIES, CHECKPOINT, KEYS):
        try:
            contents.append((directory / name).read_bytes())
        except OSError as exc:
            raise ValueError(f"{name}: cannot read ({exc.strerror or exc})") from None
    return contents[0], contents[1], contents[2]


def district_names(directory: Path, problems: list[str] | None) -> list[str] | None:
    """The district folders of the record, sorted; None when it has no `districts/`.

    With `problems`, anything else in `districts/` is reported there; without, skipped.
    """
    folder = directory / DISTRICTS
    if not folder.is_dir():
        if folder.exists() and problems is not None:
            problems.append(f"{DISTRICTS}: not a folder")
        return None
    names: list[str] = []
    for child in sorted(folder.iterdir()):
        if child.is_dir() and _DISTRICT_NAME.fullmatch(child.name):
            names.append(child.name)
        elif problems is not None:
            problems.append(f"{DISTRICTS}/{child.name}: not the folder of a district's log")
    return names


def _read_district(directory: Path, district: str) -> tuple[bytes, bytes]:
    contents: list[bytes] = []
    for name in (district_entries_path(district), district_checkpoint_path(district)):
        try:
            contents.append((directory / name).read_bytes())
        except OSError as exc:
            raise ValueError(f"{name}: cannot read ({exc.strerror or exc})") from None
    return contents[0], contents[1]


def _read_district_note(directory: Path, district: str) -> bytes:
    """A district's checkpoint, after making sure its entries can be read (the errors of
    `_read_district`)."""
    entries = district_entries_path(district)
    try:
        with (directory / entries).open("rb"):
            pass
    except OSError as exc:
        raise ValueError(f"{entries}: cannot read ({exc.strerror or exc})") from None
    name = district_checkpoint_path(district)
    try:
        return (directory / name).read_bytes()
    except OSError as exc:
        raise ValueError(f"{name}: cannot read ({exc.strerror or exc})") from None


def check_record(
    directory: str | os.PathLike[str], executor: Executor | None = None, parts: int = 1
) -> list[str]:
    """Everything wrong with the record in `directory`, one line each; empty if it checks.

    Checked: every entry line is canonical JSON of an entry; every key line is a verifier key;
    the checkpoint is a well-formed signed note of a well-formed checkpoint; every signature
    line is by a listed key and verifies; the authority (first key, named as the origin) and
    every listed witness signed; the tree size is the number of entries and the root hash
    their Merkle root. The same for each district's log (`districts/D/`), except that its
    origin is "<national origin>/D" and only the authority must sign it. What the national
    log's seals say about the district logs is the verifier's `board` check.

    The entry files are read in blocks of whole lines (of at most `CHUNK_BYTES`), never
    whole: what is kept is each log's leaf hashes. With `executor`, each file is cut into
    `parts` byte ranges or more (of at most `CHUNK_BYTES`), each read, checked and hashed by
    a task of its own (`range_lines`: this process reads no line); the problems are the
    same, in the same order.
    """
    path = Path(directory)
    try:
        checkpoint_raw, keys_raw = _read_notes(path)
    except ValueError as exc:
        return [str(exc)]
    names_problems: list[str] = []
    districts = district_names(path, names_problems) or []
    keys = _check_keys(keys_raw, []) if districts else []
    unreadable: dict[str, str] = {}
    notes: dict[str, bytes] = {}
    files: list[tuple[Path, str]] = [(path / ENTRIES, ENTRIES)]
    for district in districts:
        try:
            notes[district] = _read_district_note(path, district)
        except ValueError as exc:
            unreadable[district] = str(exc)
            continue
        files.append((path / district_entries_path(district), district_entries_path(district)))
    scans = _scan_files(files, executor, parts)
    found, leaves, size = scans[ENTRIES]
    problems = found + _national_note_problems(size, leaves, checkpoint_raw, keys_raw)
    problems.extend(tile_problems(path / "log", leaves, "log"))
    problems.extend(names_problems)
    for district in districts:
        if district in unreadable:
            problems.append(unreadable[district])
            continue
        found, leaves, size = scans[district_entries_path(district)]
        problems.extend(found)
        problems.extend(_district_note_problems(district, size, leaves, notes[district], keys))
        folder = path / DISTRICTS / district
        problems.extend(tile_problems(folder, leaves, f"{DISTRICTS}/{district}"))
    return problems


Scanned = tuple[list[str], list[bytes], int]
"""A log's entry lines checked: the problems, the leaf hashes and the number of lines."""


def _scan_files(
    files: Sequence[tuple[Path, str]], executor: Executor | None, parts: int
) -> dict[str, Scanned]:
    """Each entry file (its path, its name in the record) checked block by block here, or
    range by range as tasks of `executor`, every log's ranges submitted at once so that
    small district logs keep every worker busy."""
    out: dict[str, Scanned] = {}
    for file, name in files:
        out[name] = ([], [], 0)
        size = file.stat().st_size
        if size and _last_byte(file, size) != b"\n":
            out[name][0].append(f"{name}: the last line does not end in a newline")

    if executor is None:
        for file, name in files:
            for first, block in blocks(file, CHUNK_BYTES):
                _gather(out, name, _block_problems(block, first, name))
        return out
    # Each task reads its own range of a file (`range_lines`): this process sends places
    # and gets problems and leaf hashes back, never the lines (issue 17: the national log's
    # 90 GB are read by the workers only). A file of n bytes is cut into `parts` ranges or
    # more, of at most CHUNK_BYTES each; the results are gathered in order.
    pending: deque[tuple[str, Future[Ranged]]] = deque()
    for file, name in files:
        for start, end in ranges(file.stat().st_size, parts, CHUNK_BYTES):
            pending.append((name, executor.submit(_range_problems, file, start, end, name)))
    while pending:
        name, future = pending.popleft()
        local, leaves = future.result()
        first = out[name][2] + 1
        problems = [f"{name} line {first + i}: {reason}" for i, reason in local]
        _gather(out, name, (problems, leaves))
    return out


Ranged = tuple[list[tuple[int, str]], list[bytes]]
"""A range of an entry file checked: (line in the range from 0, what is not canonical) and
each line's leaf hash."""


def _range_problems(file: Path, start: int, end: int, name: str) -> Ranged:
    """`_entry_problems` of the lines that begin in [start, end) of `file`, read here: one
    task of `check_record` on an executor, which numbers its lines."""
    problems: list[tuple[int, str]] = []
    leaves: list[bytes] = []
    try:
        for number, (_, line) in enumerate(range_lines(file, start, end)):
            try:
                parse_canonical(line)
            except ValueError as exc:
                problems.append((number, str(exc)))
            leaves.append(leaf_hash(line))
    except OSError as exc:
        raise ValueError(f"{name}: cannot read ({exc.strerror or exc})") from None
    return problems, leaves


def _gather(out: dict[str, Scanned], name: str, result: tuple[list[str], list[bytes]]) -> None:
    problems, leaves, size = out[name]
    problems.extend(result[0])
    leaves.extend(result[1])
    out[name] = (problems, leaves, size + len(result[1]))


def _last_byte(file: Path, size: int) -> bytes:
    with file.open("rb") as stream:
        stream.seek(size - 1)
        return stream.read(1)


def _read_notes(directory: Path) -> tuple[bytes, bytes]:
    """The national checkpoint and keys, after making sure the entries can be read (each
    file's error as `_read_files` gives it, in its order)."""
    try:
        with (directory / ENTRIES).open("rb"):
            pass
    except OSError as exc:
        raise ValueError(f"{ENTRIES}: cannot read ({exc.strerror or exc})") from None
    contents: list[bytes] = []
    for name in (CHECKPOINT, KEYS):
        try:
            contents.append((directory / name).read_bytes())
        except OSError as exc:
            raise ValueError(f"{name}: cannot read ({exc.strerror or exc})") from None
    return contents[0], contents[1]


def _text_lines(raw: bytes, path: str) -> tuple[bytes, ...]:
    problems: list[str] = []
    lines = _lines(raw, path, problems)
    if problems:
        raise ValueError(problems[0])
    return tuple(lines)


def _decode(raw: bytes, path: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8: {exc.reason}") from None


def read_record(directory: str | os.PathLike[str]) -> Record:
    """Read the record's files; raises ValueError if one is missing or not a list of lines.

    Reading checks no signature and no hash: use `check_record` before trusting the content.
    """
    path = Path(directory)
    entries_raw, checkpoint_raw, keys_raw = _read_files(path)
    problems: list[str] = []
    entries = _lines(entries_raw, ENTRIES, problems)
    key_lines = _lines(keys_raw, KEYS, problems)
    if problems:
        raise ValueError(problems[0])
    try:
        checkpoint_note = checkpoint_raw.decode("utf-8")
        keys = tuple(line.decode("utf-8") for line in key_lines)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{CHECKPOINT} or {KEYS} is not UTF-8: {exc.reason}") from None
    names = district_names(path, None)
    districts = []
    for district in names or []:
        raw, note = _read_district(path, district)
        districts.append(
            DistrictLog(
                district,
                _text_lines(raw, district_entries_path(district)),
                _decode(note, district_checkpoint_path(district)),
            )
        )
    return Record(tuple(entries), checkpoint_note, keys, tuple(districts), names is not None)


def write_atomic(path: Path, data: bytes, mode: int = 0o644, sync_folder: bool = True) -> None:
    """Replace `path` with `data` so that a reader or a crash sees the old file or the new one,
    never a mix: a temporary file beside it, flushed and fsynced, renamed over it (atomic on
    POSIX and Windows), then, with `sync_folder`, the folder fsynced so that the rename itself
    is on disk (a caller writing several files may sync the folder once, `fsync_directory`)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)  # mkstemp makes files private
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    if sync_folder:
        fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    """Make the renames in `directory` durable; not every platform can open a directory."""
    with contextlib.suppress(OSError):
        handle = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def _check_line(entry: object, index: int, what: str) -> bytes:
    if not isinstance(entry, bytes):
        raise ValueError(f"{what}entry {index} is {type(entry).__name__}, not bytes")
    if b"\n" in entry:
        raise ValueError(f"{what}entry {index} contains a newline; entries are one line each")
    parse_canonical(entry)
    return entry


class _Leaves(Sequence[bytes]):
    """Leaf hashes packed 32 bytes each in one buffer: a district of millions of ballots
    costs 32 bytes an entry, not a Python object each."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def append(self, value: bytes) -> None:
        self._buf += value

    def __len__(self) -> int:
        return len(self._buf) // 32

    @overload
    def __getitem__(self, index: int) -> bytes: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[bytes]: ...
    def __getitem__(self, index: int | slice) -> bytes | Sequence[bytes]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("leaf index out of range")
        return bytes(self._buf[32 * index : 32 * index + 32])


def _spool(folder: Path, entries: Iterable[bytes], what: str) -> tuple[Path, _Leaves]:
    """Write `entries` as lines to a new file in `folder` (flushed and fsynced, 0644), each
    checked as it comes (bytes, one line, canonical JSON: ValueError naming the entry), and
    return it with the lines' leaf hashes. The entries are never held together."""
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".entries-", suffix=".tmp")
    leaves = _Leaves()
    try:
        with os.fdopen(handle, "wb", buffering=2**20) as stream:
            for index, entry in enumerate(entries):
                stream.write(_check_line(entry, index, what))
                stream.write(b"\n")
                leaves.append(leaf_hash(entry))
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes files private
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return Path(temporary), leaves


def _note_bytes(note: str, what: str) -> bytes:
    if not isinstance(note, str):
        raise ValueError(f"{what} is text")
    try:
        return note.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} is not valid Unicode") from None


def write_record(
    directory: str | os.PathLike[str],
    entries: Iterable[bytes],
    checkpoint_note: str,
    verifier_keys: Sequence[str],
    districts: Mapping[str, tuple[Iterable[bytes], str]] | None = None,
) -> None:
    """Write the record into `directory`, each file atomically: `log/` from `entries` (the
    national log when there are `districts`), and for each district D of `districts`
    (D -> (its entries, its checkpoint note)) `districts/D/`.

    Refuses (ValueError) an entry holding a newline or not in canonical JSON, and any record
    that `check_record` would find a problem with, so a written record always checks; then
    nothing of it is written. The entries are streamed (issue 17: a national record does not
    fit in memory): each log is written to a staging folder beside the record as it is read,
    with only its leaf hashes kept (32 bytes an entry), checked, and moved into place once
    every log checks. The district logs go in first, the national entries next and its
    checkpoint last; a `districts/` folder left from an earlier record is replaced (removed
    for a single-log one).
    """
    if isinstance(verifier_keys, str):
        raise ValueError("verifier_keys is a list of keys, not one string")
    for key in verifier_keys:
        if not isinstance(key, str) or "\n" in key:
            raise ValueError("every verifier key is one line of text")
    checkpoint_raw = _note_bytes(checkpoint_note, "the checkpoint note")
    keys_raw = "".join(key + "\n" for key in verifier_keys).encode("utf-8")
    base = Path(directory)
    created = not base.exists()
    base.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=base, prefix=".record-"))
    try:
        national, leaves = _spool(staging, entries, "")
        problems = _national_note_problems(len(leaves), leaves, checkpoint_raw, keys_raw)
        keys = _check_keys(keys_raw, [])
        district_files: dict[str, tuple[Path, bytes, _Leaves]] = {}
        for district, (logged, note) in sorted((districts or {}).items()):
            if not isinstance(district, str) or not _DISTRICT_NAME.fullmatch(district):
                raise ValueError(f"{district!r} is not a district id")
            spooled, district_leaves = _spool(staging, logged, f"district {district}: ")
            note_raw = _note_bytes(note, f"the checkpoint note of district {district}")
            problems.extend(
                _district_note_problems(
                    district, len(district_leaves), district_leaves, note_raw, keys
                )
            )
            district_files[district] = (spooled, note_raw, district_leaves)
        if problems:
            raise ValueError("refusing to write a record that does not check: " + problems[0])
        _put_in_place(base, districts is not None, district_files, national, leaves)
        log = base / "log"
        for name, raw in ((KEYS, keys_raw), (CHECKPOINT, checkpoint_raw)):
            write_atomic(base / name, raw, sync_folder=False)
        fsync_directory(log)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created:
            shutil.rmtree(base, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)


def _put_in_place(
    base: Path,
    has_districts: bool,
    district_files: Mapping[str, tuple[Path, bytes, _Leaves]],
    national: Path,
    leaves: _Leaves,
) -> None:
    """`write_record`'s checked logs moved from the staging folder into the record: each
    district's entries, tiles and checkpoint, then the national entries and tiles (the
    checkpoint and keys last, by the caller)."""
    folder = base / DISTRICTS
    if folder.is_dir():
        for child in folder.iterdir():
            if child.name not in district_files or not has_districts:
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        if not has_districts:
            folder.rmdir()
    for district, (spooled, note_raw, district_leaves) in district_files.items():
        place = base / DISTRICTS / district
        place.mkdir(parents=True, exist_ok=True)
        os.replace(spooled, base / district_entries_path(district))
        write_tiles(place, district_leaves)
        write_atomic(base / district_checkpoint_path(district), note_raw, sync_folder=False)
        fsync_directory(place)
    if has_districts:
        folder.mkdir(parents=True, exist_ok=True)
        fsync_directory(folder)
    log = base / "log"
    log.mkdir(parents=True, exist_ok=True)
    os.replace(national, base / ENTRIES)
    # The tiles before the checkpoint: whoever finds the new checkpoint finds its tiles.
    write_tiles(log, leaves)
