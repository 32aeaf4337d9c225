"""The voter roll and check-ins (issue 7): who may vote in which district, and who has voted.

A check-in holds the voter, the station and the hour only (DESIGN.md, "Privacy"): no
sequence, no timestamp finer than the hour, nothing shared with the ballot that follows. Its
primary key (election, national code) is what makes a second check-in of a voter impossible,
at any station, under any race; the request id makes a retried request give the same answer.

Revision ID: 0004
Revises: 0003
Create Date: 2024-03-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "voters",
        sa.Column("election_id", sa.Text(), nullable=False),
        sa.Column("national_code", sa.Text(), nullable=False),
        sa.Column("district_id", sa.Text(), nullable=False),
        sa.Column("minority", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["election_id"], ["elections.id"], name="fk_voters_election_id_elections"
        ),
        sa.PrimaryKeyConstraint("election_id", "national_code", name="pk_voters"),
    )
    op.create_table(
        "checkins",
        sa.Column("election_id", sa.Text(), nullable=False),
        sa.Column("national_code", sa.Text(), nullable=False),
        sa.Column("station_id", sa.Text(), nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.CheckConstraint("hour >= 0 AND hour <= 23", name="ck_checkins_hour_range"),
        sa.ForeignKeyConstraint(
            ["election_id", "national_code"],
            ["voters.election_id", "voters.national_code"],
            name="fk_checkins_voters",
        ),
        sa.PrimaryKeyConstraint("election_id", "national_code", name="pk_checkins"),
        sa.UniqueConstraint("election_id", "request_id", name="uq_checkins_request_id"),
    )


def downgrade() -> None:
    op.drop_table("checkins")
    op.drop_table("voters")
