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
import re
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO

from verivote.board.districts import BALLOT_TYPES, NATIONAL, SEAL_TYPE, read_seal
from verivote.board.lines import iter_lines
from verivote.board.record import ENTRIES, district_entries_path
from verivote.model.canonical import canonical_json

__all__ = ["CODE", "TRACK", "code_field", "shard_path", "write_code_index"]

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


CODE = re.compile(r"[0-9a-f]{64}")
"""A tracking code: the hex of a SHA-256 (`crypto.tracking`); it names its shard's file."""

BALLOT_MARK = b'"type":"ballot-'
SEAL_MARK = b'"type":"district-checkpoint"'
"""What a ballot's or a seal's canonical line holds: the lines without it are not parsed (a
national mix entry is gigabytes)."""


def _entries_file(directory: Path, log: str) -> Path:
    return directory / (ENTRIES if log == NATIONAL else district_entries_path(log))


def write_code_index(directory: str | os.PathLike[str], districts: Iterable[str]) -> int:
    """Write `track/` into the record at `directory` (replacing an earlier one) from its
    entries files (the national log and each of `districts`' logs); returns the number of
    ballots indexed. A district entry no seal covers (a record the `board` check fails)
    gets no line; a code found twice keeps its first line (national log first, then the
    districts by name).

    The logs are read line by line and each ballot's line goes to its shard's spill file at
    once, numbered; each shard (about 100,000 lines nationally) is then sorted by code alone
    in memory: the whole index (25 million lines) is never held."""
    base = Path(directory)
    covering: dict[str, list[tuple[int, int, int, int]]] = {}  # district -> seals
    folder = base / TRACK
    shutil.rmtree(folder, ignore_errors=True)
    for stale in base.glob(f".{TRACK}-*"):  # left by an export that was killed
        shutil.rmtree(stale, ignore_errors=True)
    spill = base / f".{TRACK}-{os.getpid()}"
    spill.mkdir(parents=True)
    try:
        shards: dict[str, IO[bytes]] = {}
        number = 0

        def put(code: str, line: dict[str, object]) -> None:
            nonlocal number
            if not CODE.fullmatch(code):
                return  # not a tracking code (a record the `ballots` check fails): no file name
            out = shards.get(code[:2])
            if out is None:
                out = shards[code[:2]] = (spill / f"{code[:2]}.jsonl").open("wb")
            out.write(b"%s\t%012d\t%s\n" % (code.encode(), number, canonical_json(line)))
            number += 1

        national = iter_lines(_entries_file(base, NATIONAL), ENTRIES)
        for index, (offset, raw) in enumerate(national):
            if SEAL_MARK in raw:
                doc = json.loads(raw)
                if doc.get("type") == SEAL_TYPE:
                    seal = read_seal(doc)
                    place = (seal.checkpoint.size, index, offset, len(raw))
                    covering.setdefault(seal.district, []).append(place)
            elif BALLOT_MARK in raw:
                code = code_field(json.loads(raw))
                if code is not None:
                    put(code, {"code": code, "log": NATIONAL, "index": index,
                               "offset": offset, "length": len(raw)})  # fmt: skip
        for log in sorted(districts):
            seals = iter(covering.get(log, []))
            current = next(seals, None)
            for index, (offset, raw) in enumerate(iter_lines(_entries_file(base, log), log)):
                while current is not None and current[0] <= index:
                    current = next(seals, None)
                if current is None or BALLOT_MARK not in raw:
                    continue
                code = code_field(json.loads(raw))
                if code is not None:
                    _, seal_at, seal_offset, seal_length = current
                    put(code, {"code": code, "log": log, "index": index, "offset": offset,
                               "length": len(raw), "seal": {"index": seal_at,
                               "offset": seal_offset, "length": seal_length}})  # fmt: skip
        for out in shards.values():
            out.close()
        folder.mkdir(parents=True)
        written = 0
        for name in sorted(shards):
            lines = (spill / f"{name}.jsonl").read_bytes().splitlines()
            lines.sort()  # by code, then by the order found
            kept: list[bytes] = []
            last: bytes | None = None
            for line in lines:
                found, _, rest = line.split(b"\t", 2)
                if found != last:
                    kept.append(rest + b"\n")
                    last = found
            (folder / f"{name}.jsonl").write_bytes(b"".join(kept))
            written += len(kept)
        return written
    finally:
        shutil.rmtree(spill, ignore_errors=True)
