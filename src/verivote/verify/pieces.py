"""A large entry's array cut into batches that tasks read from the record themselves (issue 17,
README "What the verifier's main process does not do any more").

The mix's last rows, and a mix-decryption's ballots, are checked one batch of `BATCH` items
a task. A task that reads the whole entry (a Tehran shuffle, about 1.9 GB at the 2024 shape)
could not be run once per batch, and passing the batches through the main process costs it
time for every ciphertext. So one task reads the entry (its leaf hash checked, `read_ref`),
finds where each element of the array starts and ends in the line (`element_spans`), and
hands out each batch as a `Piece`: the file, the offset and length of the batch's elements,
and the SHA-256 of those bytes, which the task that reads the piece checks
(`verivote.board.lines.read_piece`). The piece's bytes are the batch's elements with their
separators; the reader puts them back in brackets. Where the entry has no place in a file
(a record held in memory), its line is not ASCII (offsets in characters are then not
offsets in bytes) or the value is not an array, a batch is its JSON itself, as before.

The offsets are found with the standard library's JSON decoder (`JSONDecoder.raw_decode`, one
value at a time from an offset): no hand-written JSON parsing. `element_spans` keeps the last
of repeated keys, as `json.loads` does, and reads the whole line, so that it finds an array
exactly when `json.loads` would (a property test holds it to that).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from verivote.board.lines import LineRef, Piece, read_piece

Batch = Piece | bytes
"""A batch for a task: where its elements are in the record (`Piece`), or its JSON array."""


def read_batch(batch: Batch) -> bytes:
    """The batch's JSON array (read from the record for a `Piece`; OSError if the record no
    longer holds what was cut)."""
    if isinstance(batch, bytes):
        return batch
    return b"[" + read_piece(batch) + b"]"


_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


def _skip(text: str, at: int) -> int:
    match = _SPACE.match(text, at)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def element_spans(
    text: str, key: str, others: dict[str, Any] | None = None
) -> list[tuple[int, int]] | None:
    """The [start, end) offsets in `text` of each element of the array that the JSON object
    `text` holds at `key` (the last such key, as `json.loads` keeps); None when `text` is not
    a JSON object (nothing but spaces after it) with an array at `key`. `others`, if given,
    receives the object's other members, parsed (the last of repeated keys)."""
    try:
        return _spans(text, key, {} if others is None else others)
    except (ValueError, IndexError, RecursionError):
        return None


def _spans(text: str, key: str, others: dict[str, Any]) -> list[tuple[int, int]] | None:
    at = _skip(text, 0)
    if text[at] != "{":
        return None
    at = _skip(text, at + 1)
    found: list[tuple[int, int]] | None = None
    seen = False  # the key's last value was not an array: json.loads keeps that one
    if text[at] == "}":
        at += 1
    else:
        while True:
            name, at = _DECODER.raw_decode(text, at)
            if not isinstance(name, str):
                return None
            at = _skip(text, at)
            if text[at] != ":":
                return None
            at = _skip(text, at + 1)
            if name == key:
                seen = True
                found, at = _elements(text, at)
                others.pop(key, None)
            else:
                others[name], at = _DECODER.raw_decode(text, at)
            at = _skip(text, at)
            if text[at] == "}":
                at += 1
                break
            if text[at] != ",":
                return None
            at = _skip(text, at + 1)
    if _skip(text, at) != len(text) or not seen:
        return None
    return found


def _elements(text: str, at: int) -> tuple[list[tuple[int, int]] | None, int]:
    """(the spans of the array's elements at `at`, or None if the value there is not an
    array; where the value ends)."""
    if text[at] != "[":
        _, end = _DECODER.raw_decode(text, at)
        return None, end
    spans: list[tuple[int, int]] = []
    at = _skip(text, at + 1)
    if text[at] == "]":
        return spans, at + 1
    while True:
        _, end = _DECODER.raw_decode(text, at)
        spans.append((at, end))
        at = _skip(text, end)
        if text[at] == "]":
            return spans, at + 1
        if text[at] != ",":
            raise ValueError("not an array")
        at = _skip(text, at + 1)


def cut(
    raw: bytes,
    ref: LineRef | bytes,
    key: str,
    count: int | None,
    size: int,
    others: dict[str, Any] | None = None,
) -> tuple[int | None, list[Batch]]:
    """The array at `key` of the entry `raw` (read from `ref`) up to `count` items (None: all
    of it) in batches of `size`, one batch for each `size` items of `count` (of the array's
    length when None): (how many items it has, at most `count`, or None if it is not an
    array; the batches, a batch past the array's end empty, every batch the whole value's
    JSON when it is not an array, for the task to find it malformed as it would whole).
    `others`, if given, receives the entry's other members (`element_spans`)."""
    spans = None
    found: dict[str, Any] = {}
    if not isinstance(ref, bytes) and raw.isascii():
        spans = element_spans(raw.decode("ascii"), key, found)
    if spans is None:
        return _cut_parsed(raw, key, count, size, others)
    if others is not None:
        others.update(found)
    have = len(spans) if count is None else min(len(spans), count)
    total = have if count is None else count
    assert not isinstance(ref, bytes)  # spans are found only in a record's file
    file, offset, _, _ = ref
    out: list[Batch] = []
    for start in range(0, total, size):
        part = spans[start : min(start + size, have)]
        if not part:
            out.append(b"[]")
            continue
        a, b = part[0][0], part[-1][1]
        out.append((file, offset + a, b - a, hashlib.sha256(raw[a:b]).digest()))
    return have, out


def _cut_parsed(
    raw: bytes, key: str, count: int | None, size: int, others: dict[str, Any] | None
) -> tuple[int | None, list[Batch]]:
    try:
        doc: Any = json.loads(raw)
    except (ValueError, RecursionError):
        doc = None
    if others is not None and isinstance(doc, dict):
        others.update((k, v) for k, v in doc.items() if k != key)
    value = doc.get(key) if isinstance(doc, dict) else None
    if not isinstance(value, list):
        whole = json.dumps(value).encode()
        return None, [whole for _ in range(0, count or 0, size)]
    have = len(value) if count is None else min(len(value), count)
    total = have if count is None else count
    kept = value[:have]
    return have, [json.dumps(kept[s : s + size]).encode() for s in range(0, total, size)]
