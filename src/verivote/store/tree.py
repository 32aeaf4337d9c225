"""Each log's Merkle tree in the database, as C2SP tlog-tiles tiles (`verivote.board.tiles`,
table `board_tiles`): grown in the transaction that appends the entries, read for a root or a
proof a few tiles at a time (O(log n) stored hashes, one query). A proof with its entry
(`read_proof`) reads from each tile only the hashes of the proof, not its 16 KiB row.

Each row keeps the tile (its row of up to 256 hashes, exactly the C2SP tile) and the tile's
interior levels (`tiles.interior`), kept up to date as the row grows (about one node hash per
hash added): a proof then reads its hashes instead of recomputing up to 255 per tile level.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    LargeBinary,
    bindparam,
    cast,
    null,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite

from verivote.board.merkle import HASH_SIZE
from verivote.board.tiles import (
    TILE_WIDTH,
    Place,
    Tile,
    TileReader,
    TileRow,
    append_leaves,
    edge_tiles,
    fold_right,
    inclusion_places,
    interior,
    interior_offset,
    level_size,
    tile_path,
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


Shape = tuple[tuple[int, int | tuple[int, ...]], ...]
"""A proof's query: for each tile it reads, (hashes from its row, hashes from its interior),
the latter given for a partial tile by their sub-heights (`_interior_start`)."""

_WIDTH = "(length(hashes) / 32)"  # the width a tile is stored at


def _interior_start(sub_height: int) -> str:
    """Where interior level `sub_height` of a partial tile starts, in hashes: it depends on
    the width the tile is stored at (it may have grown since the tree of the proof), which
    only the row itself tells."""
    return " + ".join(f"({_WIDTH} >> {j})" for j in range(1, sub_height)) or "0"


def _picked(from_row: int, from_interior: int | tuple[int, ...], mark: str) -> str:
    """The hashes a proof needs of a tile, 32 bytes each, concatenated: only those bytes
    cross the wire (a whole tile and its interior are 16 KiB, a proof needs ~8 hashes of
    each). Parameters: each hash's 1-based byte offset in the row, then in the interior (a
    partial tile's: after `_interior_start`)."""
    parts = [f"substr(hashes, {mark}, 32)"] * from_row
    if isinstance(from_interior, int):
        parts += [f"substr(interior, {mark}, 32)"] * from_interior
    else:
        parts += [f"substr(interior, 32 * ({_interior_start(sub)}) + {mark}, 32)"
                  for sub in from_interior]  # fmt: skip
    return " || ".join(parts)


@lru_cache(maxsize=512)
def _proof_sql(dialect: str, shape: Shape) -> str:
    """The log's size and entry at `index` (level NULL), then for each tile of `shape` the
    width it is stored at and the proof's hashes from it (`_picked`), each a primary-key
    lookup whatever the planner's statistics: one statement per shape (a few per tree size),
    so that the driver and the server prepare it once. Parameters, positional: the index,
    election and log, then per tile its offsets, election, log, level and index."""
    mark, blob = ("%s", "BYTEA") if dialect == "postgresql" else ("?", "BLOB")
    head = (
        "SELECT g.size, x.entry, CAST(NULL AS SMALLINT) AS level, CAST(NULL AS BIGINT) AS idx, "
        f"CAST(NULL AS INTEGER) AS width, CAST(NULL AS {blob}) AS picked "
        f"FROM {board_logs.name} g LEFT JOIN {board_entries.name} x "
        f"ON x.election_id = g.election_id AND x.log = g.log AND x.idx = {mark} "
        f"WHERE g.election_id = {mark} AND g.log = {mark}"
    )
    parts = [
        f"SELECT NULL, NULL, level, idx, {_WIDTH}, CAST({_picked(*counts, mark)} AS {blob}) "
        f"FROM {board_tiles.name} WHERE election_id = {mark} AND log = {mark} "
        f"AND level = {mark} AND idx = {mark}"
        for counts in shape
    ]
    return " UNION ALL ".join([head, *parts])


def read_proof(
    conn: Connection, election_id: str, log: str, index: int, size: int
) -> tuple[int | None, bytes | None, list[bytes]]:
    """In ONE query: the log's size (None: no such log), its entry at `index` (None: none)
    and PATH(index, D[size]) of RFC 9162 §2.1.3.1 (empty if the log holds fewer than `size`
    entries), reading from each tile only the hashes of the path (`tiles.inclusion_places`).
    A LookupError if a tile of the tree is missing or short.

    The statement goes to the driver's cursor as it is: SQLAlchemy's execution machinery
    costs as much client time as the driver's (`_proof_sql` needs no compiling), and a
    tracker answers thousands of these a second."""
    places = inclusion_places(index, size)  # checks 0 ≤ index < size
    held: dict[tuple[int, int], tuple[list[Place], list[Place]]] = {}  # tile: row, interior
    for path_hash in places:
        for place in path_hash:
            row, inside = held.setdefault(place[:2], ([], []))
            (inside if place[2] else row).append(place)
    params: list[Any] = [index, election_id, log]
    shape: list[tuple[int, int | tuple[int, ...]]] = []
    at: dict[Place, tuple[int, int]] = {}  # place -> (tile n, its first byte in `picked`)
    for n, ((level, idx), (row, inside)) in enumerate(held.items()):
        partial = level_size(size, level) - idx * TILE_WIDTH < TILE_WIDTH
        shape.append((len(row), tuple(p[2] for p in inside) if partial else len(inside)))
        for k, place in enumerate(row + inside):
            offset = place[3] * HASH_SIZE + 1
            if place[2] and not partial:
                offset += interior_offset(TILE_WIDTH, place[2])
            params.append(offset)
            at[place] = (n, k * HASH_SIZE)
        params += (election_id, log, level, idx)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(_proof_sql(conn.dialect.name, tuple(shape)), params)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    # rows: (size, entry, level, idx, width, picked); the head's level is NULL
    heads = [r for r in rows if r[2] is None]
    if not heads:
        return None, None, []
    count = int(heads[0][0])
    entry = None if heads[0][1] is None else bytes(heads[0][1])
    if size > count:
        return count, entry, []
    found = {(r[2], r[3]): r for r in rows if r[2] is not None}
    picked: list[bytes] = []
    for (level, idx), (row, inside) in held.items():
        r = found.get((level, idx))
        width = min(TILE_WIDTH, level_size(size, level) - idx * TILE_WIDTH)
        wanted = (len(row) + len(inside)) * HASH_SIZE
        if r is None or r[4] < width or r[5] is None or len(r[5]) != wanted:
            path = tile_path(level, idx, width)
            raise LookupError(f"log {log!r} of {election_id!r} has no tile {path}")
        picked.append(bytes(r[5]))
    proof = []
    for path_hash in places:
        pieces = []
        for place in path_hash:
            n, start = at[place]
            pieces.append(picked[n][start : start + HASH_SIZE])
        proof.append(pieces[0] if len(pieces) == 1 else fold_right(pieces))
    return count, entry, proof


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
    _upsert(conn, election_id, log, new)
    grown = {**edge, **new}
    return {(x.level, x.index): grown[(x.level, x.index)] for x in edge_tiles(size + len(leaves))}


def put_rows(
    conn: Connection, election_id: str, log: str, rows: dict[tuple[int, int], bytes]
) -> None:
    """Store these tiles' rows (by level and index) with their interiors, replacing any row
    of the same tile (a partial tile grown)."""
    _upsert(conn, election_id, log, {key: TileRow(row, interior(row)) for key, row in rows.items()})


def _upsert(conn: Connection, election_id: str, log: str, new: Edge) -> None:
    if not new:
        return
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
