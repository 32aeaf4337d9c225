"""The key ceremony over HTTP (issue 14, item 1): guardians run their own program and post
their public messages round by round; the server keeps the ceremony's parameters, the hashes
of the guardians' bearer tokens and those messages, never a secret.

Revision ID: 0008
Revises: 0007
Create Date: 2024-03-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ceremonies",
        sa.Column("election_id", sa.Text(), nullable=False),
        sa.Column("guardians", sa.SmallInteger(), nullable=False),
        sa.Column("quorum", sa.SmallInteger(), nullable=False),
        sa.CheckConstraint(
            "quorum >= 1 AND quorum <= guardians", name="ck_ceremonies_quorum_range"
        ),
        sa.ForeignKeyConstraint(
            ["election_id"], ["elections.id"], name="fk_ceremonies_election_id_elections"
        ),
        sa.PrimaryKeyConstraint("election_id", name="pk_ceremonies"),
    )
    op.create_table(
        "guardian_tokens",
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("election_id", sa.Text(), nullable=False),
        sa.Column("guardian", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["election_id"], ["elections.id"], name="fk_guardian_tokens_election_id_elections"
        ),
        sa.PrimaryKeyConstraint("token_hash", name="pk_guardian_tokens"),
        sa.UniqueConstraint("election_id", "guardian", name="uq_guardian_tokens_guardian"),
    )
    op.create_table(
        "ceremony_messages",
        sa.Column("election_id", sa.Text(), nullable=False),
        sa.Column("round", sa.Text(), nullable=False),
        sa.Column("guardian", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "round IN ('commitment', 'reveal', 'shares', 'complaints', 'answers')",
            name="ck_ceremony_messages_round_known",
        ),
        sa.ForeignKeyConstraint(
            ["election_id"], ["elections.id"], name="fk_ceremony_messages_election_id_elections"
        ),
        sa.PrimaryKeyConstraint("election_id", "round", "guardian", name="pk_ceremony_messages"),
    )


def downgrade() -> None:
    op.drop_table("ceremony_messages")
    op.drop_table("guardian_tokens")
    op.drop_table("ceremonies")
