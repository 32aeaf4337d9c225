"""Casting in batches, counted per station (issue 15): the per-station counters of check-ins,
cast ballots and the open batch replace the tracking-code chain heads; the ballots of each
station's open batch wait in `pending_ballots` until the batch goes onto the board shuffled.

An existing database keeps its counts: each station's cast ballots come from its chain row,
its check-ins from the check-ins table.

Revision ID: 0009
Revises: 0008
Create Date: 2024-03-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "station_counts",
        sa.Column("election_id", sa.Text(), nullable=False),
        sa.Column("station_id", sa.Text(), nullable=False),
        sa.Column("checked_in", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("ballots", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("pending", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("polls_open", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("batch_since", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "checked_in >= 0 AND ballots >= 0 AND pending >= 0", name="ck_station_counts_counts"
        ),
        sa.ForeignKeyConstraint(
            ["election_id"], ["elections.id"], name="fk_station_counts_election_id_elections"
        ),
        sa.PrimaryKeyConstraint("election_id", "station_id", name="pk_station_counts"),
    )
    op.create_table(
        "pending_ballots",
        sa.Column("election_id", sa.Text(), nullable=False),
        sa.Column("station_id", sa.Text(), nullable=False),
        sa.Column("slot", sa.Text(), nullable=False),
        sa.Column("tracking_code", sa.Text(), nullable=False),
        sa.Column("ballot_hash", sa.Text(), nullable=False),
        sa.Column("district_id", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.Column("entry_type", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "state IN ('cast', 'challenged')", name="ck_pending_ballots_state_known"
        ),
        sa.ForeignKeyConstraint(
            ["election_id"], ["elections.id"], name="fk_pending_ballots_election_id_elections"
        ),
        sa.PrimaryKeyConstraint("election_id", "station_id", "slot", name="pk_pending_ballots"),
        sa.UniqueConstraint(
            "election_id", "tracking_code", name="uq_pending_ballots_tracking_code"
        ),
        sa.UniqueConstraint("election_id", "ballot_hash", name="uq_pending_ballots_ballot_hash"),
        sqlite_with_rowid=False,
    )
    op.execute(
        "INSERT INTO station_counts (election_id, station_id, checked_in, ballots, pending) "
        "SELECT election_id, station_id, 0, ballots, 0 FROM station_chains"
    )
    op.execute(
        "INSERT INTO station_counts (election_id, station_id, checked_in, ballots, pending) "
        "SELECT DISTINCT c.election_id, c.station_id, 0, 0, 0 FROM checkins c "
        "WHERE c.election_id IN (SELECT id FROM elections) AND NOT EXISTS ("
        "SELECT 1 FROM station_counts s WHERE s.election_id = c.election_id "
        "AND s.station_id = c.station_id)"
    )
    op.execute(  # every station that ever opened has its counters row
        "INSERT INTO station_counts (election_id, station_id, checked_in, ballots, pending) "
        "SELECT p.election_id, p.station_id, 0, 0, 0 FROM station_polls p "
        "WHERE NOT EXISTS (SELECT 1 FROM station_counts s WHERE s.election_id = p.election_id "
        "AND s.station_id = p.station_id)"
    )
    op.execute(
        "UPDATE station_counts SET checked_in = (SELECT count(*) FROM checkins c "
        "WHERE c.election_id = station_counts.election_id "
        "AND c.station_id = station_counts.station_id)"
    )
    op.execute(
        "UPDATE station_counts SET polls_open = EXISTS (SELECT 1 FROM station_polls p "
        "WHERE p.election_id = station_counts.election_id "
        "AND p.station_id = station_counts.station_id AND p.state = 'open')"
    )
    op.drop_table("station_chains")


def downgrade() -> None:
    op.create_table(
        "station_chains",
        sa.Column("election_id", sa.Text(), nullable=False),
        sa.Column("station_id", sa.Text(), nullable=False),
        sa.Column("head", sa.Text(), nullable=False),
        sa.Column("ballots", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["election_id"], ["elections.id"], name="fk_station_chains_election_id_elections"
        ),
        sa.PrimaryKeyConstraint("election_id", "station_id", name="pk_station_chains"),
    )
    op.execute(
        "INSERT INTO station_chains (election_id, station_id, head, ballots) "
        "SELECT election_id, station_id, 'unchained', ballots FROM station_counts"
    )
    op.drop_table("pending_ballots")
    op.drop_table("station_counts")
