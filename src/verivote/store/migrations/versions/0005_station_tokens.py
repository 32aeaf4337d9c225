"""Station tokens (issue 7): each station device authenticates with its own token, of which the
database keeps only the SHA-256, so a copy of the database lets nobody act as a station.

Revision ID: 0005
Revises: 0004
Create Date: 2024-03-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "station_tokens",
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("election_id", sa.Text(), nullable=False),
        sa.Column("station_id", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["election_id"], ["elections.id"], name="fk_station_tokens_election_id_elections"
        ),
        sa.PrimaryKeyConstraint("token_hash", name="pk_station_tokens"),
    )


def downgrade() -> None:
    op.drop_table("station_tokens")
