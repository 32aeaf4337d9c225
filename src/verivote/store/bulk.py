"""Loading a log wholesale on PostgreSQL through COPY (benchmarks and imports of millions of
entries): the effect of `Store.bulk_append`, written as binary COPY streams instead of
INSERTs of a thousand rows, with the tree's tiles built as the entries stream by.

In ONE transaction, holding the log's lock (`txn.lock_log`): the entries (national ones
given their board positions, `verivote.store.runs`, as `bulk_append` does), segment after
segment of `SEGMENT` entries (each a COPY of its entries, then a COPY of the tiles it filled:
a full tile is final, so it is written once, with its interior), then the partial tiles of
the right edge and any tile the log already held (an upsert, `tree.put_rows`), then the log's
size. A rolled-back load leaves nothing, as with `bulk_append`; memory holds one segment.

The binary format is PostgreSQL's ("COPY", "Binary Format"): a signature, flags and header
extension, then per row the field count and each field as its length and bytes (a bigint 8
bytes, a smallint 2, both big-endian), then −1 as the trailer.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from itertools import islice

from sqlalchemy import Connection, update

from verivote.board import tiles
from verivote.board.merkle import leaf_hash
from verivote.store import runs, tree
from verivote.store.schema import board_entries, board_logs, board_tiles
from verivote.store.txn import NATIONAL, lock_log

SEGMENT = 65_536
"""Entries per segment: a level-1 tile's span, so a segment fills 256 level-0 tiles."""

_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_TRAILER = struct.pack(">h", -1)


def _field(value: bytes) -> bytes:
    return struct.pack(">i", len(value)) + value


def entry_rows(election_id: str, log: str, start: int, entries: list[bytes], entry_type: str
               ) -> bytes:  # fmt: skip
    """`entries` at indices start, start+1, … as rows of
    COPY board_entries (election_id, log, idx, entry, entry_type)."""
    head = struct.pack(">h", 5) + _field(election_id.encode()) + _field(log.encode())
    kind = _field(entry_type.encode())
    pack = struct.Struct(">iqi").pack
    return b"".join(
        b"%s%s%s%s" % (head, pack(8, start + i, len(entry)), entry, kind)
        for i, entry in enumerate(entries)
    )


def tile_rows(election_id: str, log: str, rows: dict[tuple[int, int], bytes]) -> bytes:
    """Full tiles as rows of COPY board_tiles (election_id, log, level, idx, hashes, interior)."""
    head = struct.pack(">h", 6) + _field(election_id.encode()) + _field(log.encode())
    pack = struct.Struct(">ihiq").pack
    return b"".join(
        head + pack(2, level, 8, idx) + _field(row) + _field(tiles.interior(row))
        for (level, idx), row in sorted(rows.items())
    )


def _copy(conn: Connection, table: str, columns: tuple[str, ...], data: bytes) -> None:
    driver = conn.connection.driver_connection
    assert driver is not None  # a connection in use has its driver's connection
    with driver.cursor() as cursor:
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
        with cursor.copy(sql) as copy:
            copy.write(_HEADER)
            copy.write(data)
            copy.write(_TRAILER)


def copy_append(
    conn: Connection,
    election_id: str,
    entries: Iterable[bytes],
    entry_type: str,
    log: str = NATIONAL,
) -> int:
    """Append `entries` (consumed lazily) to the log in the caller's PostgreSQL transaction,
    with its tree (the module docstring); returns the log's size after."""
    if conn.dialect.name != "postgresql":
        raise ValueError("COPY is PostgreSQL's: load SQLite with Store.bulk_append")
    if not entry_type:
        raise ValueError("an entry type must not be empty")
    first = size = lock_log(conn, election_id, log)
    stored = {(t.level, t.index) for t in tiles.edge_tiles(first)}  # rows the log holds
    edge: dict[tuple[int, int], bytes] = {}
    if stored:
        wanted = tiles.edge_tiles(first)
        read = tree.read_tiles(conn, election_id, log)(wanted)
        edge = {
            (t.level, t.index): row.hashes if isinstance(row, tiles.TileRow) else row
            for t, row in zip(wanted, read, strict=True)
        }
    later: dict[tuple[int, int], bytes] = {}  # full tiles the log already held a row of
    stream = iter(entries)
    while segment := [bytes(entry) for entry in islice(stream, SEGMENT)]:
        _copy(conn, board_entries.name, ("election_id", "log", "idx", "entry", "entry_type"),
              entry_rows(election_id, log, size, segment, entry_type))  # fmt: skip
        changed = tiles.append_leaves(size, edge, [leaf_hash(entry) for entry in segment])
        size += len(segment)
        on_edge = {(t.level, t.index) for t in tiles.edge_tiles(size)}
        full = {key: row for key, row in changed.items() if key not in on_edge}
        edge = {key: changed.get(key, edge.get(key, b"")) for key in on_edge}
        later |= {key: row for key, row in full.items() if key in stored}
        new = {key: row for key, row in full.items() if key not in stored}
        if new:
            columns = ("election_id", "log", "level", "idx", "hashes", "interior")
            _copy(conn, board_tiles.name, columns, tile_rows(election_id, log, new))
    if size == first:
        return size
    if log == NATIONAL:  # national entries take the board's next positions at once
        runs.add_national(conn, election_id, first, size - first)
    tree.put_rows(conn, election_id, log, {**later, **edge})
    conn.execute(
        update(board_logs)
        .where(board_logs.c.election_id == election_id, board_logs.c.log == log)
        .values(size=size)
    )
    return size
