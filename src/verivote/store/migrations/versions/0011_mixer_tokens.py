"""Mix servers as parties of their own (issue 16, item 2): each faction's mixer posts its
shuffles to the server with a bearer token the authority issued it; only the token's SHA-256
is kept, as for guardians (0008) and stations (0005).

Revision ID: 0011
Revises: 0010
Create Date: 2024-03-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mixer_tokens",
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("election_id", sa.Text(), nullable=False),
        sa.Column("mixer", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["election_id"], ["elections.id"], name="fk_mixer_tokens_election_id_elections"
        ),
        sa.PrimaryKeyConstraint("token_hash", name="pk_mixer_tokens"),
        sa.UniqueConstraint("election_id", "mixer", name="uq_mixer_tokens_mixer"),
    )


def downgrade() -> None:
    op.drop_table("mixer_tokens")
