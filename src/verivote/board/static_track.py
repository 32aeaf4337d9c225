"""The voter's tracker from a record's static files (issue 17, item 2): find a ballot by its
tracking code in `track/` (`board.code_index`), fetch its entry and its seal by byte range,
the logs' tiles and signed notes, and build and check the voter's two inclusion proofs
(`board.inclusion`), with no server but a static one (or a folder).

What is fetched: one index file, the entry and the seal (two byte ranges), `log/checkpoint`,
the seal's district note is inside the seal, and the O(log n) tiles of each proof. A tile of
an older tree (the seal's size) is the prefix of the same tile in the record's tree, whose
width the record's checkpoint fixes (C2SP tlog-tiles): no listing of folders is needed.
Written by hand: no library reads C2SP tiles.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from verivote.board import tiles
from verivote.board.checkpoint import open_checkpoint, parse_checkpoint
from verivote.board.code_index import CODE, code_field, shard_path
from verivote.board.districts import read_seal
from verivote.board.inclusion import DistrictInclusion, check_in_district
from verivote.board.merkle import leaf_hash, verify_inclusion
from verivote.board.note import parse_note
from verivote.board.tiles import Tile
from verivote.model.manifest import IDENT

__all__ = ["Fetch", "TrackError", "Tracked", "dir_fetch", "http_fetch", "track"]

Fetch = Callable[[str, int | None, int | None], bytes]
"""(path in the record, byte offset, length) -> the bytes; the whole file without a range.
Raises TrackError for a file that is not there."""

TIMEOUT_S = 30.0


class TrackError(Exception):
    """The ballot cannot be found or proved (one line: why)."""


class Missing(TrackError):
    """A file the record does not have (no such file, HTTP 404)."""


def dir_fetch(root: str | Path) -> Fetch:
    """Files of a record folder."""
    base = Path(root)

    def fetch(path: str, offset: int | None = None, length: int | None = None) -> bytes:
        try:
            with (base / path).open("rb") as fh:
                if offset is None:
                    return fh.read()
                fh.seek(offset)
                return fh.read(length if length is not None else -1)
        except FileNotFoundError:
            raise Missing(f"{path}: no such file in the record") from None
        except OSError as exc:
            raise TrackError(f"{path}: cannot read ({exc.strerror or exc})") from None

    return fetch


def http_fetch(base_url: str) -> Fetch:
    """Files of a record served over HTTP(S), ranges with a Range request (a server that
    ignores it sends the whole file, which is cut here)."""
    base = base_url.rstrip("/")

    def fetch(path: str, offset: int | None = None, length: int | None = None) -> bytes:
        request = urllib.request.Request(f"{base}/{path}")
        if offset is not None and length is not None:
            request.add_header("Range", f"bytes={offset}-{offset + length - 1}")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                body: bytes = response.read()
                partial = response.status == 206
        except urllib.error.HTTPError as exc:
            kind = Missing if exc.code == 404 else TrackError
            raise kind(f"{path}: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise TrackError(f"{path}: {getattr(exc, 'reason', exc)}") from None
        if offset is None or partial:
            return body
        return body[offset : None if length is None else offset + length]

    return fetch


def _tile_reader(fetch: Fetch, log_dir: str, size: int) -> tiles.TileReader:
    """The tiles of a log whose published tree has `size` leaves: a tile of an older (smaller)
    tree is read from the published tile of the same place and cut to its width."""

    def read(wanted: Sequence[Tile]) -> list[bytes]:
        rows = []
        for tile in wanted:
            width = min(tiles.TILE_WIDTH, tiles.level_size(size, tile.level)
                        - tile.index * tiles.TILE_WIDTH)  # fmt: skip
            if width < tile.width:
                raise TrackError(f"{log_dir}: no tile {tile.path} in a tree of {size}")
            path = tiles.tile_path(tile.level, tile.index, width)
            rows.append(fetch(f"{log_dir}/{path}", None, None)[: tile.width * 32])
        return rows

    return read


@dataclass(frozen=True)
class Tracked:
    """A ballot found and proved: its state, log and index, and the proof (two proofs for a
    district ballot, as `DistrictInclusion`; for a ballot of a single-log record, the national
    proof alone)."""

    code: str
    state: str
    log: str
    index: int
    proof: DistrictInclusion | None
    national_size: int


def _line(fetch: Fetch, code: str) -> dict[str, object]:
    if len(code) != 64 or any(c not in "0123456789abcdef" for c in code):
        raise TrackError("a tracking code is 64 hexadecimal digits")
    try:
        shard = fetch(shard_path(code), None, None)
    except Missing:
        shard = b""  # no ballot's code begins with these two digits
    for raw in shard.split(b"\n"):
        if raw and json.loads(raw).get("code") == code:
            line: dict[str, object] = json.loads(raw)
            return line
    raise TrackError(f"no ballot with code {code} in this record")


def _int(doc: dict[str, object], key: str) -> int:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TrackError(f"the index line's {key} is not a number")
    return value


def track(fetch: Fetch, code: str, authority: str) -> Tracked:
    """Find the ballot with tracking code (or challenged-ballot id) `code` and check its
    proofs under the national checkpoint signed by `authority` (its verifier key). Raises
    TrackError naming what fails."""
    code = code.strip().lower()
    if not CODE.fullmatch(code):
        raise TrackError("a tracking code is 64 hexadecimal digits")
    line = _line(fetch, code)
    log = line.get("log")
    if not isinstance(log, str) or (log and not re.fullmatch(IDENT, log)):
        raise TrackError("the index line names no log of the record")
    index = _int(line, "index")
    folder = f"districts/{log}" if log else "log"
    entry = fetch(f"{folder}/entries.jsonl", _int(line, "offset"), _int(line, "length"))
    try:
        doc = json.loads(entry)
    except ValueError:
        raise TrackError("the indexed bytes are not an entry") from None
    if not isinstance(doc, dict) or code_field(doc) != code:
        raise TrackError("the indexed entry is not the ballot of this code")
    state = "cast" if doc.get("type") == "ballot-cast" else "challenged"
    note = fetch("log/checkpoint", None, None).decode("utf-8", "replace")
    try:
        national, _ = open_checkpoint(note, [authority])
    except ValueError as exc:
        raise TrackError(f"the national checkpoint is not the authority's: {exc}") from None
    reader = _tile_reader(fetch, "log", national.size)
    seal_line = line.get("seal")
    if not log:
        proof = tiles.prove_inclusion(index, national.size, reader)
        if not verify_inclusion(leaf_hash(entry), index, national.size, proof, national.root):
            raise TrackError("the inclusion proof does not give the signed root")
        return Tracked(code, state, log, index, None, national.size)
    if not isinstance(seal_line, dict):
        raise TrackError("the index line names no seal")
    seal_at = _int(seal_line, "index")
    seal_raw = fetch("log/entries.jsonl", _int(seal_line, "offset"), _int(seal_line, "length"))
    try:
        seal = read_seal(json.loads(seal_raw))
        district_note = fetch(f"{folder}/checkpoint", None, None).decode("utf-8", "replace")
        published = parse_checkpoint(parse_note(district_note)[0]).size
    except ValueError as exc:
        raise TrackError(f"the seal or the district's checkpoint cannot be read: {exc}") from None
    if seal_at >= national.size or not index < seal.checkpoint.size <= published:
        raise TrackError("the seal does not cover the ballot within the signed logs")
    district_reader = _tile_reader(fetch, folder, published)
    proof_pair = DistrictInclusion(
        log, index, entry, seal.checkpoint.size,
        tuple(tiles.prove_inclusion(index, seal.checkpoint.size, district_reader)),
        seal.note, seal_at, seal_raw, national.size,
        tuple(tiles.prove_inclusion(seal_at, national.size, reader)), note,
    )  # fmt: skip
    if not check_in_district(proof_pair, authority):
        raise TrackError("the two inclusion proofs do not check against the signed roots")
    return Tracked(code, state, log, index, proof_pair, national.size)
