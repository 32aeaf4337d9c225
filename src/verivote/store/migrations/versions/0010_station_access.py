"""Station access that can be cut off (issue 15, item 4): station tokens expire (at the end of
polling day) and are revoked by deleting them; a per-election revocation counter tells every
server process to forget the tokens it trusted; the station console's sessions are kept here,
as hashes, so that logout and revocation end them on every worker.

Revision ID: 0010
Revises: 0009 (the integrator re-points this at 0009)
Create Date: 2024-03-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("station_tokens", sa.Column("expires_at", sa.BigInteger(), nullable=True))
    op.create_index("ix_station_tokens_station", "station_tokens", ["election_id", "station_id"])
    op.create_table(
        "access_epochs",
        sa.Column("election_id", sa.Text(), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["election_id"], ["elections.id"], name="fk_access_epochs_election_id_elections"
        ),
        sa.PrimaryKeyConstraint("election_id", name="pk_access_epochs"),
    )
    op.create_table(
        "console_sessions",
        sa.Column("session_hash", sa.Text(), nullable=False),
        sa.Column("election_id", sa.Text(), nullable=False),
        sa.Column("station_id", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["election_id"], ["elections.id"], name="fk_console_sessions_election_id_elections"
        ),
        sa.PrimaryKeyConstraint("session_hash", name="pk_console_sessions"),
    )
    op.create_index(
        "ix_console_sessions_station", "console_sessions", ["election_id", "station_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_console_sessions_station", table_name="console_sessions")
    op.drop_table("console_sessions")
    op.drop_table("access_epochs")
    op.drop_index("ix_station_tokens_station", table_name="station_tokens")
    with op.batch_alter_table("station_tokens") as batch:
        batch.drop_column("expires_at")
