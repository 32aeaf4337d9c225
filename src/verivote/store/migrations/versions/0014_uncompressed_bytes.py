"""PostgreSQL stores the large byte columns uncompressed (issue 17: appends at the rate of
the proofs).

A board entry is mostly hexadecimal group elements, a tile or a tally part is hashes or
elements: data that PostgreSQL's default compression (pglz, tried on every value over 2 KB)
barely shrinks. Measured on the demo's ballots (22.8 KB entries, 2,000 inserted 32 to a
commit): pglz cost 0.52–0.65 ms of the backend's CPU an insert and stored 25.2 KB a row, the
same as no compression; `STORAGE EXTERNAL` (out of line, never compressed) cost 0.07–0.16 ms
for the same bytes on disk. An admitted ballot's entry is written twice (its station's batch,
then the board), so this is about 1 ms of CPU a ballot.

Only values written from now on are affected; SQLite has no such setting and is left as it is.

Revision ID: 0014
Revises: 0013
Create Date: 2024-03-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("board_entries", "entry"),
    ("pending_ballots", "entry"),
    ("board_tiles", "hashes"),
    ("board_tiles", "interior"),
    ("tally_parts", "part"),
)


def _set(storage: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in COLUMNS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET STORAGE {storage}")


def upgrade() -> None:
    _set("EXTERNAL")


def downgrade() -> None:
    _set("EXTENDED")
