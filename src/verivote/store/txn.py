"""What every writer of the board does inside its transaction: lock the log, read its size,
append at exactly that index and grow the log's stored tree (DESIGN.md, "Bulletin board";
issue 17: a log per district under one national log).

An election has several logs: "" is the national log, any other name a district's. Each log
has a row in `board_logs` holding its size; an append locks that row (`SELECT … FOR NO KEY
UPDATE` on PostgreSQL), so appends to one log are serialized and its indices unique and
gap-free however many threads or processes write, while appends to two logs never wait for
one another. SQLite renders no lock clause: its BEGIN IMMEDIATE (`db.make_engine`) already
holds the database lock. The entries, the tiles of the log's tree (`verivote.store.tree`) and
the new size are written in the caller's transaction: all of them or none.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from verivote.board.districts import SEAL_TYPE
from verivote.board.merkle import leaf_hash
from verivote.store import runs, tree
from verivote.store.db import UnknownElection
from verivote.store.schema import board_entries, board_logs, elections

NATIONAL = ""
"""The name of the national log."""


def require_election(conn: Connection, election_id: str) -> None:
    found = conn.execute(select(elections.c.id).where(elections.c.id == election_id)).first()
    if found is None:
        raise UnknownElection(f"no election {election_id!r} in the store")


def lock_election(conn: Connection, election_id: str) -> None:
    # FOR NO KEY UPDATE (key_share): serializes the election's writers on this row, yet leaves
    # alone the FOR KEY SHARE locks that foreign-key checks of other tables take.
    found = conn.execute(
        select(elections.c.id).where(elections.c.id == election_id).with_for_update(key_share=True)
    ).first()
    if found is None:
        raise UnknownElection(f"no election {election_id!r} in the store")


def lock_log(conn: Connection, election_id: str, log: str = NATIONAL) -> int:
    """Lock the log's row (made on its first use) and return the log's size."""
    where = (board_logs.c.election_id == election_id, board_logs.c.log == log)
    query = select(board_logs.c.size).where(*where).with_for_update(key_share=True)
    size = conn.execute(query).scalar_one_or_none()
    if size is None:
        require_election(conn, election_id)
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(
            dialect.insert(board_logs)
            .values(election_id=election_id, log=log, size=0)
            .on_conflict_do_nothing()
        )
        size = conn.execute(query).scalar_one()
    return int(size)


def board_size(conn: Connection, election_id: str, log: str = NATIONAL) -> int:
    """The log's size as this transaction sees it (0 for a log never appended to)."""
    size = conn.execute(
        select(board_logs.c.size).where(
            board_logs.c.election_id == election_id, board_logs.c.log == log
        )
    ).scalar_one_or_none()
    return 0 if size is None else int(size)


def append(
    conn: Connection, election_id: str, entry: bytes, entry_type: str, log: str = NATIONAL
) -> int:
    """Append one entry to the log (locking it); returns its index."""
    return append_many(conn, election_id, [(entry, entry_type)], log)


def append_many(
    conn: Connection,
    election_id: str,
    entries: Sequence[tuple[bytes, str]],
    log: str = NATIONAL,
) -> int:
    """Append entries to the log at consecutive indices, with the tiles of its tree, in the
    caller's transaction (locking the log); returns the first one's index. National entries
    take the board's next positions at once (`verivote.store.runs`); a district's wait for
    its seal. A seal goes on only through `append_seal`."""
    if any(not entry_type for _, entry_type in entries):
        raise ValueError("an entry type must not be empty")
    if any(entry_type == SEAL_TYPE for _, entry_type in entries):
        raise ValueError(f"a {SEAL_TYPE} entry is appended only by sealing its district")
    first = lock_log(conn, election_id, log)
    _insert(conn, election_id, log, first, entries)
    if log == NATIONAL:
        runs.add_national(conn, election_id, first, len(entries))
    return first


def append_seal(conn: Connection, election_id: str, entry: bytes) -> int:
    """Append a district's seal to the national log (locking it); it takes no position.
    Returns its national index."""
    first = lock_log(conn, election_id, NATIONAL)
    _insert(conn, election_id, NATIONAL, first, [(entry, SEAL_TYPE)])
    return first


def _insert(
    conn: Connection, election_id: str, log: str, first: int, entries: Sequence[tuple[bytes, str]]
) -> None:
    if entries:
        conn.execute(
            insert(board_entries),
            [
                {"election_id": election_id, "log": log, "idx": first + i, "entry": bytes(entry),
                 "entry_type": entry_type}
                for i, (entry, entry_type) in enumerate(entries)
            ],
        )  # fmt: skip
        grown(conn, election_id, log, first, [leaf_hash(entry) for entry, _ in entries])


def grown(
    conn: Connection,
    election_id: str,
    log: str,
    size: int,
    leaves: Sequence[bytes],
    edge: tree.Edge | None = None,
) -> tree.Edge:
    """After entries with these leaf hashes were inserted at `size` … (the log locked): store
    the tree's new tiles and the log's new size. Returns the new edge tiles' rows, which a
    caller appending again in the same transaction may hand back as `edge`."""
    new_edge = tree.grow(conn, election_id, log, size, leaves, edge)
    conn.execute(
        update(board_logs)
        .where(board_logs.c.election_id == election_id, board_logs.c.log == log)
        .values(size=size + len(leaves))
    )
    return new_edge
