"""Polls and the tally: each station's polls state (open, closed), the encrypted tally's partial
products per chunk of the board (so an interrupted tally resumes), and an index that finds the
board's entries of one type without reading every ballot.

Privacy (DESIGN.md): neither table holds a time, a voter or anything that orders ballots.

Revision ID: 0003
Revises: 0002
Create Date: 2024-03-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "station_polls",
        sa.Column("election_id", sa.Text(), nullable=False),
        sa.Column("station_id", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.CheckConstraint("state IN ('open', 'closed')", name="ck_station_polls_state_known"),
        sa.ForeignKeyConstraint(
            ["election_id"], ["elections.id"], name="fk_station_polls_election_id_elections"
        ),
        sa.PrimaryKeyConstraint("election_id", "station_id", name="pk_station_polls"),
    )
    op.create_table(
        "tally_parts",
        sa.Column("election_id", sa.Text(), nullable=False),
        sa.Column("tally_id", sa.Text(), nullable=False),
        sa.Column("chunk_start", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("chunk_end", sa.BigInteger(), nullable=False),
        sa.Column("part", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint(
            "chunk_start >= 0 AND chunk_end > chunk_start", name="ck_tally_parts_chunk_range"
        ),
        sa.ForeignKeyConstraint(
            ["election_id"], ["elections.id"], name="fk_tally_parts_election_id_elections"
        ),
        sa.PrimaryKeyConstraint("election_id", "tally_id", "chunk_start", name="pk_tally_parts"),
    )
    op.create_index("ix_board_entries_type", "board_entries", ["election_id", "entry_type", "idx"])


def downgrade() -> None:
    op.drop_index("ix_board_entries_type", table_name="board_entries")
    op.drop_table("tally_parts")
    op.drop_table("station_polls")
