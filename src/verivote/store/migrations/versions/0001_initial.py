"""The initial schema: elections, the append-only bulletin board, checkpoints, station chains
and ballots (see verivote.store.schema for what each table holds and why).

The table definitions are written out here rather than taken from schema.py: a migration
describes the schema as it was at this revision, whatever schema.py becomes later.

Revision ID: 0001
Revises:
Create Date: 2024-03-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = "board_entries is append-only"

# PostgreSQL: one trigger function, refusing every row UPDATE or DELETE and any TRUNCATE. The
# message is built by concatenation: no % or : that a driver or SQLAlchemy might read as a
# parameter.
PG_FUNCTION = f"""
CREATE FUNCTION board_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING
        MESSAGE = '{APPEND_ONLY}; ' || TG_OP || ' refused',
        ERRCODE = 'restrict_violation';
END
$$
"""
PG_TRIGGERS = (
    "CREATE TRIGGER board_entries_no_update_delete BEFORE UPDATE OR DELETE ON board_entries "
    "FOR EACH ROW EXECUTE FUNCTION board_entries_append_only()",
    "CREATE TRIGGER board_entries_no_truncate BEFORE TRUNCATE ON board_entries "
    "FOR EACH STATEMENT EXECUTE FUNCTION board_entries_append_only()",
)

# SQLite: RAISE(ABORT) rolls back the statement and fails it with a constraint error.
SQLITE_TRIGGERS = tuple(
    f"CREATE TRIGGER board_entries_no_{op_name.lower()} BEFORE {op_name} ON board_entries "
    f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}; {op_name} refused'); END"
    for op_name in ("UPDATE", "DELETE")
)


def upgrade() -> None:
    op.create_table(
        "elections",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("base_hash", sa.Text(), nullable=False),
        sa.Column("manifest", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), server_default="created", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_elections"),
    )
    op.create_table(
        "board_entries",
        sa.Column("election_id", sa.Text(), nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.Column("entry_type", sa.Text(), nullable=False),
        sa.CheckConstraint("idx >= 0", name="ck_board_entries_idx_nonnegative"),
        sa.ForeignKeyConstraint(
            ["election_id"], ["elections.id"], name="fk_board_entries_election_id_elections"
        ),
        sa.PrimaryKeyConstraint("election_id", "idx", name="pk_board_entries"),
    )
    op.create_table(
        "checkpoints",
        sa.Column("election_id", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.CheckConstraint("size >= 0", name="ck_checkpoints_size_nonnegative"),
        sa.ForeignKeyConstraint(
            ["election_id"], ["elections.id"], name="fk_checkpoints_election_id_elections"
        ),
        sa.PrimaryKeyConstraint("election_id", "size", name="pk_checkpoints"),
    )
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
    # Privacy (DESIGN.md): no voter id, no time, nothing shared with a check-in record.
    op.create_table(
        "ballots",
        sa.Column("election_id", sa.Text(), nullable=False),
        sa.Column("tracking_code", sa.Text(), nullable=False),
        sa.Column("station_id", sa.Text(), nullable=False),
        sa.Column("district_id", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("board_idx", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("state IN ('cast', 'challenged')", name="ck_ballots_state_known"),
        sa.ForeignKeyConstraint(
            ["election_id"], ["elections.id"], name="fk_ballots_election_id_elections"
        ),
        sa.ForeignKeyConstraint(
            ["election_id", "board_idx"],
            ["board_entries.election_id", "board_entries.idx"],
            name="fk_ballots_board_entries",
        ),
        sa.PrimaryKeyConstraint("election_id", "tracking_code", name="pk_ballots"),
        sa.UniqueConstraint("election_id", "board_idx", name="uq_ballots_board_idx"),
    )

    dialect = op.get_context().dialect.name
    if dialect == "postgresql":
        op.execute(PG_FUNCTION)
        for statement in PG_TRIGGERS:
            op.execute(statement)
    elif dialect == "sqlite":
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)
    else:
        raise NotImplementedError(
            f"no append-only triggers for {dialect}; use sqlite or postgresql"
        )


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    # Dropping the table drops its triggers; the PostgreSQL function is a separate object.
    for table in ("ballots", "station_chains", "checkpoints", "board_entries", "elections"):
        op.drop_table(table)
    if dialect == "postgresql":
        op.execute("DROP FUNCTION board_entries_append_only()")
