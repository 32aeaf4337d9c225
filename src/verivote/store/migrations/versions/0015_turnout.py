"""Provable turnout (issue 19): the pseudonym key's ceremony messages, the roll's blinded
batches and the guardians' answers, each voter's blinding and pseudonym, the hashes of the
voters' status codes, and the complaints voters file about check-ins made in their name.

Revision ID: 0015
Revises: 0014
Create Date: 2024-03-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROUNDS = "round IN ('commitment', 'reveal', 'shares', 'complaints', 'answers')"


def _election_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["election_id"], ["elections.id"], name=f"fk_{table}_election_id_elections"
    )


def _voter_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["election_id", "national_code"],
        ["voters.election_id", "voters.national_code"],
        name=f"fk_{table}_voters",
    )


def upgrade() -> None:
    op.create_table(
        "pseudonym_messages",
        sa.Column("election_id", sa.Text(), nullable=False),
        sa.Column("round", sa.Text(), nullable=False),
        sa.Column("guardian", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.CheckConstraint(ROUNDS, name="ck_pseudonym_messages_round_known"),
        _election_fk("pseudonym_messages"),
        sa.PrimaryKeyConstraint("election_id", "round", "guardian", name="pk_pseudonym_messages"),
    )
    op.create_table(
        "pseudonym_batches",
        sa.Column("election_id", sa.Text(), nullable=False),
        sa.Column("batch", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("blinded", sa.Text(), nullable=False),
        _election_fk("pseudonym_batches"),
        sa.PrimaryKeyConstraint("election_id", "batch", name="pk_pseudonym_batches"),
    )
    op.create_table(
        "pseudonym_answers",
        sa.Column("election_id", sa.Text(), nullable=False),
        sa.Column("batch", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("guardian", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        _election_fk("pseudonym_answers"),
        sa.PrimaryKeyConstraint("election_id", "batch", "guardian", name="pk_pseudonym_answers"),
    )
    op.create_table(
        "voter_pseudonyms",
        sa.Column("election_id", sa.Text(), nullable=False),
        sa.Column("national_code", sa.Text(), nullable=False),
        sa.Column("batch", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("blind", sa.Text(), nullable=False),
        sa.Column("pseudonym", sa.Text(), nullable=True),
        _voter_fk("voter_pseudonyms"),
        sa.PrimaryKeyConstraint("election_id", "national_code", name="pk_voter_pseudonyms"),
    )
    op.create_index(
        "ix_voter_pseudonyms_pseudonym", "voter_pseudonyms", ["election_id", "pseudonym"]
    )
    op.create_table(
        "voter_status",
        sa.Column("election_id", sa.Text(), nullable=False),
        sa.Column("national_code", sa.Text(), nullable=False),
        sa.Column("code_hash", sa.Text(), nullable=False),
        _voter_fk("voter_status"),
        sa.PrimaryKeyConstraint("election_id", "national_code", name="pk_voter_status"),
    )
    op.create_table(
        "voter_complaints",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("election_id", sa.Text(), nullable=False),
        sa.Column("national_code", sa.Text(), nullable=False),
        sa.Column("station_id", sa.Text(), nullable=True),
        sa.Column("hour", sa.SmallInteger(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("filed_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_voter_complaints"),
    )


def downgrade() -> None:
    for table in ("voter_complaints", "voter_status"):
        op.drop_table(table)
    op.drop_index("ix_voter_pseudonyms_pseudonym", table_name="voter_pseudonyms")
    for table in (
        "voter_pseudonyms",
        "pseudonym_answers",
        "pseudonym_batches",
        "pseudonym_messages",
    ):
        op.drop_table(table)
