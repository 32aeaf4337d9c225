"""Check-ins found by station (issue 7): live turnout and the count published when a station's
polls close read the check-ins of one station, which without this index means reading every
check-in of the election (25 million on polling day).

Revision ID: 0007
Revises: 0006
Create Date: 2024-03-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_checkins_station", "checkins", ["election_id", "station_id"])


def downgrade() -> None:
    op.drop_index("ix_checkins_station", table_name="checkins")
