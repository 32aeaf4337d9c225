"""A log's entry lines left in their files: where each line is, not its bytes (issue 17: the
verifier streams a district of a million ballots rather than holding it, README "Verifier
memory").

`scan_lines` reads an `entries.jsonl` once, block by block, and gives each line (without its
newline, split on b"\\n" only, as `verivote.board.record` reads them) to a callback with its
offset; `Lines` is then the sequence of those lines, each read again from its file (`pread`,
which leaves no file pages counted in this process's resident set, as a map would) when it is
asked for. Per line it keeps 16 bytes: the offset and length (and 2 more for its file when
the lines come from several files, the merged order of a record with district logs).
"""

from __future__ import annotations

import hashlib
import os
from array import array
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import overload

from verivote.board.merkle import MerkleLog, leaf_hash

__all__ = [
    "BLOCK",
    "LineRef",
    "Lines",
    "Piece",
    "blocks",
    "iter_lines",
    "range_lines",
    "ranges",
    "read_piece",
    "read_ref",
    "read_refs",
    "scan_lines",
]

BLOCK = 8 * 2**20
"""Bytes read at a time by `scan_lines`."""


LineRef = tuple[str, int, int, bytes | None]
"""Where a line is, for a task to read it itself (`read_ref`): (file, offset, length, its
leaf hash as scanned, or None), 60-odd bytes to send however long the line."""


def read_ref(ref: LineRef | bytes) -> bytes:
    """The line `ref` names (bytes: the line itself). Raises OSError if the file no longer
    holds the line that was scanned there (`Lines` reads so too)."""
    return read_refs([ref])[0]


def read_refs(refs: Sequence[LineRef | bytes]) -> list[bytes]:
    """The lines `refs` name, each file opened once (a task's chunk of ballots)."""
    handles: dict[str, int] = {}
    out: list[bytes] = []
    try:
        for ref in refs:
            if isinstance(ref, bytes):
                out.append(ref)
                continue
            file, offset, length, leaf = ref
            handle = handles.get(file)
            if handle is None:
                handle = handles[file] = os.open(file, os.O_RDONLY)
            data = _pread(handle, length, offset)
            if len(data) != length or (leaf is not None and leaf_hash(data) != leaf):
                raise OSError(f"{file} changed since it was read")
            out.append(data)
    finally:
        for handle in handles.values():
            os.close(handle)
    return out


Piece = tuple[str, int, int, bytes]
"""Part of a line for a task to read (`read_piece`): (file, offset, length, the SHA-256 of
those bytes as the task that cut the line read them, `verivote.verify.pieces`)."""


def read_piece(piece: Piece) -> bytes:
    """The bytes `piece` names. Raises OSError if the file no longer holds them (their length
    or SHA-256 differs from the cut's)."""
    file, offset, length, digest = piece
    handle = os.open(file, os.O_RDONLY)
    try:
        data = _pread(handle, length, offset)
    finally:
        os.close(handle)
    if len(data) != length or hashlib.sha256(data).digest() != digest:
        raise OSError(f"{file} changed since it was read")
    return data


def _pread(handle: int, length: int, offset: int) -> bytes:
    """`length` bytes at `offset`, fewer only at the file's end: Linux reads at most about
    2 GiB a call, and a national shuffle entry can come close to that."""
    parts: list[bytes] = []
    while length > 0:
        part = os.pread(handle, min(length, 2**30), offset)
        if not part:
            break
        parts.append(part)
        offset += len(part)
        length -= len(part)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def blocks(file: Path, target: int) -> Iterator[tuple[int, bytes]]:
    """The file's lines in blocks of whole lines, in order, with the number of each block's
    first line: a block is the end of a line carried over from the read before and the whole
    lines of the next `target` bytes (so a line longer than `target` is one block). The
    file is never held whole; a last line without its newline is the last block."""
    number = 1
    pending = bytearray()
    with file.open("rb") as stream:
        while data := stream.read(target):
            searched = len(pending)
            pending += data
            cut = pending.rfind(b"\n", searched)
            if cut < 0:
                continue  # a line longer than a block: read on
            block = bytes(pending[: cut + 1])
            del pending[: cut + 1]
            yield number, block
            number += block.count(b"\n")
    if pending:
        yield number, bytes(pending)


def iter_lines(path: Path, what: str, block: int = BLOCK) -> Iterator[tuple[int, bytes]]:
    """(offset, line) of every line of the file at `path`, in order, read block by block.
    Raises ValueError (naming the file as `what`) if it cannot be read or its last line does
    not end in a newline."""
    offset = 0
    try:
        for _, whole in blocks(path, block):
            if not whole.endswith(b"\n"):
                raise ValueError(f"{what}: the last line does not end in a newline")
            for line in whole[:-1].split(b"\n"):
                yield offset, line
                offset += len(line) + 1
    except OSError as exc:
        raise ValueError(f"{what}: cannot read ({exc.strerror or exc})") from None


def ranges(size: int, parts: int, most: int) -> list[tuple[int, int]]:
    """[start, end) byte ranges covering a file of `size` bytes: `parts` of them or more,
    each of at most `most` bytes (one range for an empty file)."""
    step = max(1, min(most, -(-size // max(1, parts))))
    return [(a, min(size, a + step)) for a in range(0, size, step)] or [(0, 0)]


def range_lines(
    path: Path, start: int, end: int, block: int = BLOCK
) -> Iterator[tuple[int, bytes]]:
    """(offset, line) of the lines of the file that begin in [start, end), in order, read by
    this process itself (a task of a pool given only the range): a line belongs to the range
    its first byte is in, so the ranges of a file give each line once, however long. The
    last line may lack its newline (the caller checks the file's last byte). Raises OSError
    if the file cannot be read."""
    with path.open("rb") as stream:
        offset = start
        if start > 0:
            # the line running into the range belongs to the range before: skip to its end
            base = start - 1
            stream.seek(base)
            while True:
                data = stream.read(block)
                if not data:
                    return
                cut = data.find(b"\n")
                if cut >= 0:
                    offset = base + cut + 1
                    break
                base += len(data)
            stream.seek(offset)
        pending = bytearray()
        while offset < end:
            data = stream.read(block)
            if not data:
                if pending:
                    yield offset, bytes(pending)
                return
            searched = len(pending)  # what was pending holds no newline
            pending += data
            at = 0
            while offset < end:
                cut = pending.find(b"\n", max(at, searched))
                if cut < 0:
                    break
                line = bytes(pending[at:cut])
                yield offset, line
                offset += len(line) + 1
                at = cut + 1
            del pending[:at]


def scan_lines(
    path: Path, what: str, each: Callable[[int, bytes], None], block: int = BLOCK
) -> tuple[array[int], array[int]]:
    """Call `each(offset, line)` for every line of the file at `path`, in order; return the
    lines' offsets and lengths. Raises ValueError as `iter_lines` does."""
    starts: array[int] = array("q")
    lengths: array[int] = array("q")
    for offset, line in iter_lines(path, what, block):
        starts.append(offset)
        lengths.append(len(line))
        each(offset, line)
    return starts, lengths


class Lines(Sequence[bytes]):
    """Lines of one or more files, each read when it is asked for: line i is the `lengths[i]`
    bytes at `starts[i]` of `files[which[i]]` (of `files[0]` when there is no `which`).

    With `leaves` (the log whose leaf i is line i's RFC 6962 leaf hash, as computed when
    the files were scanned),
    every line read is hashed again and a line that is not the one scanned raises OSError:
    a file changed since cannot make a check see other entries than the tree's."""

    def __init__(
        self,
        files: Sequence[Path],
        starts: array[int],
        lengths: array[int],
        which: array[int] | None = None,
        leaves: MerkleLog | None = None,
    ) -> None:
        self._files = tuple(files)
        self._names = tuple(map(str, self._files))  # one string a file: pickled once a chunk
        self._leaves = leaves
        self._starts = starts
        self._lengths = lengths
        self._which = which
        self._handles: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._starts)

    @property
    def files(self) -> tuple[Path, ...]:
        return self._files

    @property
    def starts(self) -> array[int]:
        """Each line's offset in its file."""
        return self._starts

    @property
    def lengths(self) -> array[int]:
        """Each line's length, without its newline."""
        return self._lengths

    @overload
    def __getitem__(self, index: int) -> bytes: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[bytes, ...]: ...
    def __getitem__(self, index: int | slice) -> bytes | tuple[bytes, ...]:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("line index out of range")
        file = self._which[index] if self._which is not None else 0
        length = self._lengths[index]
        data = _pread(self._handle(file), length, self._starts[index])
        if len(data) != length or (
            self._leaves is not None and leaf_hash(data) != self._leaves.leaf_hash(index)
        ):
            raise OSError(f"{self._files[file]} changed since it was read")
        return data

    def __iter__(self) -> Iterator[bytes]:
        for index in range(len(self)):
            yield self[index]

    def ref(self, index: int) -> LineRef:
        """Where line `index` is (`read_ref` reads it, here or in a task)."""
        if not 0 <= index < len(self):
            raise IndexError("line index out of range")
        file = self._which[index] if self._which is not None else 0
        leaf = self._leaves.leaf_hash(index) if self._leaves is not None else None
        return self._names[file], self._starts[index], self._lengths[index], leaf

    def refs(self, indices: Sequence[int]) -> list[LineRef]:
        """`ref` of each of `indices`, in one pass (a chunk of ballots for a task)."""
        if indices and not 0 <= min(indices) <= max(indices) < len(self):
            raise IndexError("line index out of range")
        names, starts, lengths, which = self._names, self._starts, self._lengths, self._which
        leaves: Sequence[bytes | None] = (
            self._leaves.leaf_hashes(indices) if self._leaves is not None else [None] * len(indices)
        )
        if which is None:
            name = names[0]
            return [
                (name, starts[i], lengths[i], leaf) for i, leaf in zip(indices, leaves, strict=True)
            ]
        return [
            (names[which[i]], starts[i], lengths[i], leaf)
            for i, leaf in zip(indices, leaves, strict=True)
        ]

    def _handle(self, file: int) -> int:
        handle = self._handles.get(file)
        if handle is None:
            handle = self._handles[file] = os.open(self._files[file], os.O_RDONLY)
        return handle

    def close(self) -> None:
        """Close the files (they are opened again if a line is asked for after)."""
        for handle in self._handles.values():
            os.close(handle)
        self._handles.clear()

    def __del__(self) -> None:
        self.close()

    def __getstate__(self) -> dict[str, object]:
        # A pickled copy (a pool's task) opens the files itself.
        state = dict(self.__dict__)
        state["_handles"] = {}
        return state
