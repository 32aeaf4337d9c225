"""Each log's Merkle tree in the database, as C2SP tlog-tiles tiles (`verivote.board.tiles`,
table `board_tiles`): grown in the transaction that appends the entries, read for a root or a
proof a few tiles at a time (O(log n) stored hashes, one query).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from verivote.board.tiles import Tile, TileReader, append_leaves, edge_tiles
from verivote.store.schema import board_tiles


def read_tiles(conn: Connection, election_id: str, log: str) -> TileReader:
    """A tile reader over the log's stored tiles, inside `conn`'s transaction."""
    t = board_tiles.c

    def read(tiles: Sequence[Tile]) -> list[bytes]:
        keys = [(tile.level, tile.index) for tile in tiles]
        rows = conn.execute(
            select(t.level, t.idx, t.hashes).where(
                t.election_id == election_id, t.log == log, tuple_(t.level, t.idx).in_(keys)
            )
        )
        found = {(int(r.level), int(r.idx)): bytes(r.hashes) for r in rows}
        missing = [tile.path for tile in tiles if (tile.level, tile.index) not in found]
        if missing:
            raise LookupError(f"log {log!r} of {election_id!r} has no tile {missing[0]}")
        return [found[key] for key in keys]

    return read


def grow(
    conn: Connection,
    election_id: str,
    log: str,
    size: int,
    leaves: Sequence[bytes],
    edge: dict[tuple[int, int], bytes] | None = None,
) -> dict[tuple[int, int], bytes]:
    """Store the tiles that change when `leaves` are appended to the log's tree of `size`
    leaves; `edge`, if given, holds its partial tiles' rows (else they are read). Returns the
    partial tiles' rows of the tree grown."""
    if not leaves:
        return edge if edge is not None else {}
    wanted = edge_tiles(size)
    if edge is None:
        edge = dict(zip(((x.level, x.index) for x in wanted),
                        read_tiles(conn, election_id, log)(wanted), strict=True))  # fmt: skip
    changed = append_leaves(size, edge, leaves)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    upsert = dialect.insert(board_tiles)
    conn.execute(
        upsert.on_conflict_do_update(
            index_elements=["election_id", "log", "level", "idx"],
            set_={"hashes": upsert.excluded.hashes},
        ),
        [
            {"election_id": election_id, "log": log, "level": level, "idx": idx, "hashes": row}
            for (level, idx), row in sorted(changed.items())
        ],
    )
    rows = {**edge, **changed}
    return {(x.level, x.index): rows[(x.level, x.index)] for x in edge_tiles(size + len(leaves))}
