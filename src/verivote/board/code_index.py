"""The record's tracking-code index: the voter's tracker working from static files alone
(issue 17, item 2; README, "National scale": A voter's proof).

A record's entries are found by their index in a log, a voter's ballot by its tracking code.
Beside the logs, `verivote publish` writes `track/<ab>.jsonl` (`ab` the code's first two hex
digits: 256 files of about 100,000 lines at the national scale), one line per ballot, sorted by
code:

    {"code": c, "log": D, "index": i, "offset": o, "length": n,
     "seal": {"index": j, "offset": o', "length": n'}}

`offset` and `length` are the entry's bytes in `districts/<D>/entries.jsonl` (`log/` for the
national log ""), `seal` the first `district-checkpoint` entry of the national log that covers
it (absent for a ballot of the national log). With them and the logs' tiles a client fetches
O(log n) small files and byte ranges, and builds the voter's two inclusion proofs
(`board.static_track`) from any static web server. The index is a finding aid, not evidence:
a wrong line only leads to an entry of another code or a proof that fails, and the client
checks both.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from verivote.board.districts import BALLOT_TYPES, NATIONAL, SEAL_TYPE, read_seal
from verivote.model.canonical import canonical_json

__all__ = ["TRACK", "code_field", "index_lines", "shard_path", "write_code_index"]

TRACK = "track"
"""The index's folder in the record."""


def shard_path(code: str) -> str:
    """The index file that holds `code`, relative to the record."""
    return f"{TRACK}/{code[:2]}.jsonl"


def code_field(doc: Mapping[str, object]) -> str | None:
    """The tracking code a ballot entry carries (a cast ballot's tracking code, a challenged
    ballot's id), or None for any other entry."""
    kind = doc.get("type")
    code = doc.get("tracking_code") if kind == "ballot-cast" else doc.get("ballot_id")
    return code if kind in BALLOT_TYPES and isinstance(code, str) else None


def _places(entries: Sequence[bytes]) -> Iterator[tuple[int, int, int]]:
    """(index, byte offset, length) of each entry in its entries.jsonl."""
    offset = 0
    for index, raw in enumerate(entries):
        yield index, offset, len(raw)
        offset += len(raw) + 1


def index_lines(
    national: Sequence[bytes], districts: Mapping[str, Sequence[bytes]]
) -> dict[str, dict[str, object]]:
    """Each ballot's index line by code (module docstring). A district entry no seal covers
    (a record the `board` check fails) gets no line."""
    national_places = list(_places(national))
    covering: dict[str, list[tuple[int, int]]] = {}  # district -> (sealed size, seal index)
    for at, raw in enumerate(national):
        if b'"district-checkpoint"' not in raw:  # a cheap filter before parsing
            continue
        doc = json.loads(raw)
        if doc.get("type") == SEAL_TYPE:
            seal = read_seal(doc)
            covering.setdefault(seal.district, []).append((seal.checkpoint.size, at))
    lines: dict[str, dict[str, object]] = {}
    logs: list[tuple[str, Sequence[bytes]]] = [(NATIONAL, national), *sorted(districts.items())]
    for log, entries in logs:
        seals = iter(covering.get(log, []))
        current = next(seals, None)
        for index, offset, length in _places(entries):
            code = code_field(json.loads(entries[index]))
            while current is not None and current[0] <= index:
                current = next(seals, None)
            if code is None or (log != NATIONAL and current is None):
                continue
            line: dict[str, object] = {
                "code": code, "log": log, "index": index, "offset": offset, "length": length,
            }  # fmt: skip
            if log != NATIONAL and current is not None:
                seal_at, seal_offset, seal_length = national_places[current[1]]
                line["seal"] = {"index": seal_at, "offset": seal_offset, "length": seal_length}
            lines.setdefault(code, line)
    return lines


def write_code_index(
    directory: str | os.PathLike[str],
    national: Sequence[bytes],
    districts: Mapping[str, Sequence[bytes]],
) -> int:
    """Write `track/` into the record at `directory` (replacing an earlier one); returns the
    number of ballots indexed."""
    lines = index_lines(national, districts)
    folder = Path(directory) / TRACK
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    shards: dict[str, list[bytes]] = {}
    for code in sorted(lines):
        shards.setdefault(code[:2], []).append(canonical_json(lines[code]))
    for prefix, rows in shards.items():
        (folder / f"{prefix}.jsonl").write_bytes(b"".join(row + b"\n" for row in rows))
    return len(lines)
