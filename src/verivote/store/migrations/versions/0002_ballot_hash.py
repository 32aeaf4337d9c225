"""Ballots remember the hash of the encrypted ballot, unique per election, so that the same
ballot cannot be put on the board twice (a replay) even under a new tracking code.

Revision ID: 0002
Revises: 0001
Create Date: 2024-03-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch mode: SQLite cannot add a constraint to an existing table in place.
    with op.batch_alter_table("ballots") as batch:
        batch.add_column(sa.Column("ballot_hash", sa.Text(), nullable=True))
        batch.create_unique_constraint("uq_ballots_ballot_hash", ["election_id", "ballot_hash"])


def downgrade() -> None:
    with op.batch_alter_table("ballots") as batch:
        batch.drop_constraint("uq_ballots_ballot_hash", type_="unique")
        batch.drop_column("ballot_hash")
