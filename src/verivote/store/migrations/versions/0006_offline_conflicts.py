"""Offline check-ins that conflict (issue 7), and supervisors' tokens.

A station that lost its connection keeps checking voters in locally and uploads the records
later. An uploaded record that the once-only rule refuses (the voter was checked in elsewhere
meanwhile), or that names someone the roll does not allow at that station, is not dropped: it is
kept in `checkin_conflicts` for the supervisors, who read it with their own token. Like a
check-in, a conflict holds the voter, the station and the hour only.

Revision ID: 0006
Revises: 0005
Create Date: 2024-03-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "checkin_conflicts",
        sa.Column("election_id", sa.Text(), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("national_code", sa.Text(), nullable=False),
        sa.Column("station_id", sa.Text(), nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("first_station_id", sa.Text(), nullable=True),
        sa.Column("first_hour", sa.SmallInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["election_id"], ["elections.id"], name="fk_checkin_conflicts_election_id_elections"
        ),
        sa.PrimaryKeyConstraint("election_id", "request_id", name="pk_checkin_conflicts"),
        sa.CheckConstraint(
            "kind IN ('already_voted', 'not_eligible', 'wrong_district')",
            name="ck_checkin_conflicts_kind_known",
        ),
        sa.CheckConstraint("hour >= 0 AND hour <= 23", name="ck_checkin_conflicts_hour_range"),
    )
    op.create_table(
        "supervisor_tokens",
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("election_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["election_id"], ["elections.id"], name="fk_supervisor_tokens_election_id_elections"
        ),
        sa.PrimaryKeyConstraint("token_hash", name="pk_supervisor_tokens"),
    )


def downgrade() -> None:
    op.drop_table("supervisor_tokens")
    op.drop_table("checkin_conflicts")
