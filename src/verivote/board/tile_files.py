"""A log's tree as static tile files, for a record that any web server can serve (issue 17,
item 2; C2SP tlog-tiles, "Merkle Tree" and "Tiles").

Beside a log's `entries.jsonl` and `checkpoint`, `tile/<L>/<N>` holds each full tile (256
hashes of 32 bytes, concatenated) and `tile/<L>/<N>.p/<W>` the partial tiles of the tree
the checkpoint signs (its right edge, W hashes). The layout and the numbering are
`verivote.board.tiles`'; this module only reads and writes files. A client that has the
signed checkpoint fetches the O(log n) tiles a proof needs (`tiles.inclusion_tiles`) and
computes the proof (`tiles.prove_inclusion`) without the entries; a wrong tile only gives a
proof that does not verify against the signed root, never a false one. The record's check
still compares every tile with the one recomputed from the entries (`tile_problems`), so a
published record never serves a tile that disagrees with its log.

Entries stay in `entries.jsonl`, not in C2SP entry bundles, whose 16-bit lengths cannot hold
a mix entry (README, "National scale").
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path

from verivote.board.merkle import HASH_SIZE
from verivote.board.tiles import TILE_WIDTH, Tile, TileReader, append_leaves, edge_tiles, tile_path

__all__ = ["TILE_DIR", "file_reader", "tile_problems", "tree_tiles", "write_tiles"]

TILE_DIR = "tile"
_CHUNK = 1 << 16  # leaf hashes per append: tiles held at once stay a few MB


def tree_tiles(leaf_hashes: Iterable[bytes]) -> Iterator[tuple[str, bytes]]:
    """(path, row) of every tile of the tree over `leaf_hashes`, each full tile once, as soon
    as it is final, then the partial tiles of the right edge; leaves are consumed lazily."""
    size = 0
    edge: dict[tuple[int, int], bytes] = {}
    stream = iter(leaf_hashes)
    while chunk := list(islice(stream, _CHUNK)):
        changed = append_leaves(size, edge, chunk)
        size += len(chunk)
        for (level, index), row in sorted(changed.items()):
            if len(row) == TILE_WIDTH * HASH_SIZE:
                edge.pop((level, index), None)
                yield tile_path(level, index), row
            else:  # a partial tile that an append did not reach stays as it was
                edge[(level, index)] = row
    for tile in edge_tiles(size):
        yield tile.path, edge[(tile.level, tile.index)]


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tile-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o644)  # public data, readable by the web server
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_tiles(log_dir: str | os.PathLike[str], leaf_hashes: Iterable[bytes]) -> int:
    """Write the tiles of the tree over `leaf_hashes` under `log_dir`/tile, replacing any
    earlier tile folder (a partial tile of an earlier tree would no longer be of this one);
    returns how many tile files were written."""
    base = Path(log_dir)
    folder = base / TILE_DIR
    staging = Path(tempfile.mkdtemp(dir=base, prefix=".tiles-"))
    try:
        count = 0
        for path, row in tree_tiles(leaf_hashes):
            _write_atomic(staging / path, row)
            count += 1
        old = base / f".tiles-old-{os.getpid()}"
        if folder.exists():
            folder.rename(old)
        (staging / TILE_DIR).mkdir(exist_ok=True)
        (staging / TILE_DIR).rename(folder)
        if old.exists():
            _remove(old)
        return count
    finally:
        _remove(staging)


def _remove(path: Path) -> None:
    if not path.exists():
        return
    for child in sorted(path.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        child.rmdir() if child.is_dir() else child.unlink()
    path.rmdir()


def file_reader(log_dir: str | os.PathLike[str]) -> TileReader:
    """A tile reader over `log_dir`/tile: a tile of width W is read from the full tile's
    file when there is one (the same hashes, more of them), else from `<N>.p/W`, else from
    the narrowest wider partial tile (a later tree's, as a static record serves only the
    partial tiles of its latest checkpoint)."""
    base = Path(log_dir)

    def where(tile: Tile) -> Path:
        full = base / tile_path(tile.level, tile.index)
        if full.is_file() or tile.width == TILE_WIDTH:
            return full
        exact = base / tile.path
        if exact.is_file():
            return exact
        # The tiles of a later tree: its partial tile is wider, and begins with these hashes.
        partials = full.parent / f"{full.name}.p"
        wider = sorted(
            int(p.name) for p in partials.glob("*") if p.name.isdecimal() and p.is_file()
        )
        return next((partials / str(w) for w in wider if w >= tile.width), exact)

    def read(tiles: Sequence[Tile]) -> list[bytes]:
        rows = []
        for tile in tiles:
            try:
                rows.append(where(tile).read_bytes())
            except OSError as exc:
                raise ValueError(f"{tile.path}: cannot read ({exc.strerror or exc})") from None
        return rows

    return read


def tile_problems(
    log_dir: str | os.PathLike[str], leaf_hashes: Iterable[bytes], where: str
) -> list[str]:
    """What is wrong with the tile files under `log_dir`/tile against the tree over
    `leaf_hashes` (`where` names the log in the messages): a tile missing, a tile whose
    hashes are not the tree's, or a file that is no tile of this tree. Empty when the log
    has no tile folder at all (tiles are optional in a record)."""
    base = Path(log_dir)
    folder = base / TILE_DIR
    if not folder.is_dir():
        return []
    problems: list[str] = []
    expected: set[str] = set()
    for path, row in tree_tiles(leaf_hashes):
        expected.add(path)
        try:
            found = (base / path).read_bytes()
        except OSError:
            problems.append(f"{where}/{path}: missing")
            continue
        if found != row:
            problems.append(f"{where}/{path}: its hashes are not those of the log's tree")
    for file in sorted(folder.rglob("*")):
        name = file.relative_to(base).as_posix()
        if file.is_file() and name not in expected:
            problems.append(f"{where}/{name}: not a tile of the log's tree")
    return problems
