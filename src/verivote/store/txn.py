"""What every writer of the board does inside its transaction: lock the election, read the
board's size, append at exactly that index (DESIGN.md, "Bulletin board").

On PostgreSQL the lock is `SELECT … FOR NO KEY UPDATE` on the election's row; SQLite renders no
lock clause, its BEGIN IMMEDIATE (`db.make_engine`) already holds the database lock. Holding it,
a writer's indices are unique and gap-free however many threads or processes write.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, func, insert, select

from verivote.store.db import UnknownElection
from verivote.store.schema import board_entries, elections


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


def board_size(conn: Connection, election_id: str) -> int:
    # Indices are gap-free, so the board's size is one past its largest index (a lookup at the
    # end of the primary key's index rather than a count of rows).
    last = conn.execute(
        select(func.max(board_entries.c.idx)).where(board_entries.c.election_id == election_id)
    ).scalar_one()
    return 0 if last is None else int(last) + 1


def append(conn: Connection, election_id: str, entry: bytes, entry_type: str) -> int:
    """Append one entry; the caller holds the election's lock. Returns its index."""
    return append_many(conn, election_id, [(entry, entry_type)])


def append_many(conn: Connection, election_id: str, entries: Sequence[tuple[bytes, str]]) -> int:
    """Append entries at consecutive indices in one statement; the caller holds the
    election's lock. Returns the first one's index."""
    if any(not entry_type for _, entry_type in entries):
        raise ValueError("an entry type must not be empty")
    first = board_size(conn, election_id)
    if entries:
        conn.execute(
            insert(board_entries),
            [
                {"election_id": election_id, "idx": first + i, "entry": bytes(entry),
                 "entry_type": entry_type}
                for i, (entry, entry_type) in enumerate(entries)
            ],
        )  # fmt: skip
    return first
