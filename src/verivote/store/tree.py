"""Each log's Merkle tree in the database, as C2SP tlog-tiles tiles (`verivote.board.tiles`,
table `board_tiles`): grown in the transaction that appends the entries, read for a root or a
proof a few tiles at a time (O(log n) stored hashes, one query).

Each row keeps the tile (its row of up to 256 hashes, exactly the C2SP tile) and the tile's
interior levels (`tiles.interior`), kept up to date as the row grows (about one node hash per
hash added): a proof then reads its hashes instead of recomputing up to 255 per tile level.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    LargeBinary,
    SmallInteger,
    bindparam,
    cast,
    null,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite

from verivote.board.tiles import (
    Tile,
    TileReader,
    TileRow,
    append_leaves,
    edge_tiles,
    interior,
    level_size,
)
from verivote.store.schema import board_entries, board_logs, board_tiles

Edge = dict[tuple[int, int], TileRow]
"""The partial tiles of a tree, by (level, index)."""


def _tile_lookup(n: int) -> Any:
    """Tile n's primary-key lookup (parameters e, log, level_n, idx_n), to be UNIONed: each
    reads one row whatever the planner's statistics (an IN over (level, idx) pairs may be
    planned as a scan of the log's tiles, O(n / 256))."""
    t = board_tiles.c
    return select(
        cast(null(), BigInteger).label("size"), cast(null(), LargeBinary).label("entry"),
        t.level, t.idx, t.hashes, t.interior,
    ).where(
        t.election_id == bindparam("e"), t.log == bindparam("log"),
        t.level == bindparam(f"level_{n}"), t.idx == bindparam(f"idx_{n}"),
    )  # fmt: skip


@cache
def _tiles_query(count: int) -> Any:
    """The lookups of `count` tiles in one statement, built once per count (a statement made
    anew for every proof costs more than the proof)."""
    parts = [_tile_lookup(n) for n in range(count)]
    return parts[0] if count == 1 else union_all(*parts)


@cache
def _entry_and_tiles_query(count: int) -> Any:
    """The log's size and its entry at `index` (level NULL), then `count` tiles' lookups."""
    g, e = board_logs.c, board_entries.c
    head = (
        select(
            g.size, e.entry,
            cast(null(), SmallInteger).label("level"), cast(null(), BigInteger).label("idx"),
            cast(null(), LargeBinary).label("hashes"),
            cast(null(), LargeBinary).label("interior"),
        )
        .select_from(board_logs)
        .outerjoin(
            board_entries,
            (e.election_id == g.election_id) & (e.log == g.log)
            & (e.idx == bindparam("index", type_=BigInteger)),
        )
        .where(g.election_id == bindparam("e"), g.log == bindparam("log"))
    )  # fmt: skip
    return union_all(head, *(_tile_lookup(n) for n in range(count)))


def _params(election_id: str, log: str, tiles: Sequence[Tile]) -> dict[str, Any]:
    params: dict[str, Any] = {"e": election_id, "log": log}
    for n, tile in enumerate(tiles):
        params[f"level_{n}"] = tile.level
        params[f"idx_{n}"] = tile.index
    return params


def _read(conn: Connection, election_id: str, log: str, tiles: Sequence[Tile]) -> list[TileRow]:
    rows = conn.execute(_tiles_query(len(tiles)), _params(election_id, log, tiles))
    found = {(int(r.level), int(r.idx)): TileRow(bytes(r.hashes), bytes(r.interior)) for r in rows}
    missing = [tile.path for tile in tiles if (tile.level, tile.index) not in found]
    if missing:
        raise LookupError(f"log {log!r} of {election_id!r} has no tile {missing[0]}")
    return [found[(tile.level, tile.index)] for tile in tiles]


def read_with_entry(
    conn: Connection, election_id: str, log: str, index: int, tiles: Sequence[Tile]
) -> tuple[int | None, bytes | None, dict[Tile, TileRow]]:
    """In ONE query: the log's size (None: no such log), its entry at `index` (None: none)
    and the `tiles` (a LookupError if the log has one of them missing while its size is
    known)."""
    params = _params(election_id, log, tiles) | {"index": index}
    rows = list(conn.execute(_entry_and_tiles_query(len(tiles)), params))
    heads = [r for r in rows if r.level is None]
    if not heads:
        return None, None, {}
    found = {
        (int(r.level), int(r.idx)): TileRow(bytes(r.hashes), bytes(r.interior))
        for r in rows
        if r.level is not None
    }
    size = int(heads[0].size)
    entry = None if heads[0].entry is None else bytes(heads[0].entry)
    by_tile: dict[Tile, TileRow] = {}
    for tile in tiles:
        row = found.get((tile.level, tile.index))
        if row is not None:
            by_tile[tile] = row
        elif tile.width <= level_size(size, tile.level) - tile.index * 256:
            raise LookupError(f"log {log!r} of {election_id!r} has no tile {tile.path}")
    return size, entry, by_tile


def read_tiles(conn: Connection, election_id: str, log: str) -> TileReader:
    """A tile reader over the log's stored tiles, inside `conn`'s transaction."""

    def read(tiles: Sequence[Tile]) -> list[TileRow]:
        return _read(conn, election_id, log, tiles) if tiles else []

    return read


def grow(
    conn: Connection,
    election_id: str,
    log: str,
    size: int,
    leaves: Sequence[bytes],
    edge: Edge | None = None,
) -> Edge:
    """Store the tiles that change when `leaves` are appended to the log's tree of `size`
    leaves; `edge`, if given, holds its partial tiles (else they are read). Returns the
    partial tiles of the tree grown."""
    if not leaves:
        return edge if edge is not None else {}
    if edge is None:
        wanted = edge_tiles(size)
        rows = _read(conn, election_id, log, wanted) if wanted else []
        edge = {(x.level, x.index): row for x, row in zip(wanted, rows, strict=True)}
    changed = append_leaves(size, {key: row.hashes for key, row in edge.items()}, leaves)
    new: Edge = {}
    for key, hashes in changed.items():
        old = edge.get(key, TileRow(b""))
        new[key] = TileRow(hashes, interior(hashes, old.interior, len(old.hashes) // 32))
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    upsert = dialect.insert(board_tiles)
    conn.execute(
        upsert.on_conflict_do_update(
            index_elements=["election_id", "log", "level", "idx"],
            set_={"hashes": upsert.excluded.hashes, "interior": upsert.excluded.interior},
        ),
        [
            {"election_id": election_id, "log": log, "level": level, "idx": idx,
             "hashes": row.hashes, "interior": row.interior}
            for (level, idx), row in sorted(new.items())
        ],
    )  # fmt: skip
    grown = {**edge, **new}
    return {(x.level, x.index): grown[(x.level, x.index)] for x in edge_tiles(size + len(leaves))}
