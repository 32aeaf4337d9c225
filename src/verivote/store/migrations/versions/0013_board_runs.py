"""The merged order of an election's logs (issue 17, item 1; README, "National scale": Order).

`board_runs` (election_id, pos, log, idx, count, seal_idx): the board's positions pos …
pos+count-1 are entries idx … idx+count-1 of `log`. A run of the national log is written as
national entries are appended (seals excepted); a run of a district log is written when the
district is sealed, with `seal_idx`, the national index of its `district-checkpoint` entry.
The merged sequence is the runs in order of `pos`: every board position a record states (a
tally's cutoff, the count's board size) is a position in it.

Existing data: every entry is in the national log (migration 0012), so each election with
entries gets one national run of its whole log; district logs (only the benchmark's) stay
unsealed.

Revision ID: 0013
Revises: 0012
Create Date: 2024-03-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "board_runs",
        sa.Column("election_id", sa.Text(), nullable=False),
        sa.Column("pos", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("log", sa.Text(), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("seal_idx", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("pos >= 0 AND idx >= 0 AND count > 0", name="ck_board_runs_sizes"),
        sa.ForeignKeyConstraint(
            ["election_id"], ["elections.id"], name="fk_board_runs_election_id_elections"
        ),
        sa.PrimaryKeyConstraint("election_id", "pos", name="pk_board_runs"),
    )
    op.create_index("ix_board_runs_log", "board_runs", ["election_id", "log", "idx"])
    op.execute(
        "INSERT INTO board_runs (election_id, pos, log, idx, count) "
        "SELECT election_id, 0, '', 0, size FROM board_logs WHERE log = '' AND size > 0"
    )


def downgrade() -> None:
    op.drop_index("ix_board_runs_log", table_name="board_runs")
    op.drop_table("board_runs")
