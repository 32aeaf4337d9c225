"""Each log's Merkle tree in the database, as C2SP tlog-tiles tiles (`verivote.board.tiles`,
table `board_tiles`): grown in the transaction that appends the entries, read for a root or a
proof a few tiles at a time (O(log n) stored hashes, one query).

Each row keeps the tile (its row of up to 256 hashes, exactly the C2SP tile) and the tile's
interior levels (`tiles.interior`, at fixed places), kept up to date as the row grows (about
one node hash per hash added). A root or a proof therefore needs no hashing of tiles: it asks
for its O(log n) stored hashes by place (`tiles.node_place`), and the database cuts each one
out of its row (`substr`), in one statement of primary-key lookups.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    Integer,
    LargeBinary,
    bindparam,
    case,
    cast,
    func,
    null,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite

from verivote.board.merkle import HASH_SIZE
from verivote.board.tiles import (
    HashReader,
    StoredHash,
    Tile,
    TileReader,
    TileRow,
    append_leaves,
    edge_tiles,
    interior,
    node_place,
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


def _hash_lookup(n: int) -> Any:
    """Stored hash n, cut out of its tile's row or interior in the database (parameters
    level_n, idx_n, inside_n, at_n): 32 bytes travel, not the tile's 16 KiB. Each lookup
    is one primary-key probe whatever the planner's statistics."""
    t = board_tiles.c
    row = case((bindparam(f"inside_{n}", type_=Boolean), t.interior), else_=t.hashes)
    return select(
        cast(null(), BigInteger).label("size"), cast(null(), LargeBinary).label("entry"),
        cast(bindparam(f"n_{n}", type_=Integer), Integer).label("n"),
        func.substr(row, bindparam(f"at_{n}", type_=Integer), HASH_SIZE).label("hash"),
    ).where(
        t.election_id == bindparam("e"), t.log == bindparam("log"),
        t.level == bindparam(f"level_{n}"), t.idx == bindparam(f"idx_{n}"),
    )  # fmt: skip


@cache
def _hashes_query(count: int, with_entry: bool) -> Any:
    """`count` stored hashes in one statement, after the log's size and its entry at `index`
    (the row whose n is NULL) if `with_entry`; built once per shape."""
    parts = [_hash_lookup(n) for n in range(count)]
    if with_entry:
        g, e = board_logs.c, board_entries.c
        parts.insert(0, select(
            g.size, e.entry, cast(null(), Integer).label("n"),
            cast(null(), LargeBinary).label("hash"),
        ).select_from(board_logs).outerjoin(
            board_entries,
            (e.election_id == g.election_id) & (e.log == g.log)
            & (e.idx == bindparam("index", type_=BigInteger)),
        ).where(g.election_id == bindparam("e"), g.log == bindparam("log")))  # fmt: skip
    return parts[0] if len(parts) == 1 else union_all(*parts)


def _hash_params(election_id: str, log: str, asked: Sequence[tuple[Tile, StoredHash]]
                 ) -> dict[str, Any]:  # fmt: skip
    params: dict[str, Any] = {"e": election_id, "log": log}
    for n, (tile, node) in enumerate(asked):
        inside, at = node_place(node, tile)
        params |= {f"level_{n}": tile.level, f"idx_{n}": tile.index, f"inside_{n}": inside,
                   f"at_{n}": at + 1, f"n_{n}": n}  # fmt: skip
    return params


def _found_hashes(rows: Sequence[Any], count: int) -> list[bytes | None]:
    found: list[bytes | None] = [None] * count
    for r in rows:
        if r.n is not None and r.hash is not None and len(r.hash) == HASH_SIZE:
            found[int(r.n)] = bytes(r.hash)
    return found


def read_hashes(conn: Connection, election_id: str, log: str) -> HashReader:
    """A reader of the log's stored hashes, inside `conn`'s transaction: one query."""

    def read(asked: Sequence[tuple[Tile, StoredHash]]) -> list[bytes]:
        if not asked:
            return []
        rows = conn.execute(
            _hashes_query(len(asked), False), _hash_params(election_id, log, asked)
        ).all()
        found = _found_hashes(rows, len(asked))
        for (tile, _), value in zip(asked, found, strict=True):
            if value is None:
                raise LookupError(f"log {log!r} of {election_id!r} has no tile {tile.path}")
        return [value for value in found if value is not None]

    return read


def read_with_entry(
    conn: Connection,
    election_id: str,
    log: str,
    index: int,
    asked: Sequence[tuple[Tile, StoredHash]],
) -> tuple[int | None, bytes | None, list[bytes | None]]:
    """In ONE query: the log's size (None: no such log), its entry at `index` (None: none)
    and the stored hashes `asked` (None for one the log does not hold)."""
    params = _hash_params(election_id, log, asked) | {"index": index}
    rows = conn.execute(_hashes_query(len(asked), True), params).all()
    heads = [r for r in rows if r.n is None]
    if not heads:
        return None, None, [None] * len(asked)
    entry = None if heads[0].entry is None else bytes(heads[0].entry)
    return int(heads[0].size), entry, _found_hashes(rows, len(asked))


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
