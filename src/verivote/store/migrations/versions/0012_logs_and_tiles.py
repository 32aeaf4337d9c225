"""A log per district and stored Merkle trees (issue 17, items 1 and 2).

- `board_entries` gets `log` ("" the national log, otherwise a district id); its key becomes
  (election_id, log, idx), so each log has its own indices 0, 1, 2, …
- `ballots` gets `board_log`, the log of its entry, and its link to the board names it.
- `board_logs` (election_id, log, size): the row an append locks, one per log, so that appends
  to different logs never contend.
- `board_tiles`: each log's tree in C2SP tlog-tiles tiles (`verivote.board.tiles`), each
  with its interior levels.
- `checkpoints` are per log.

Existing data: every entry goes to the national log, and its tree is built here, in the
migration's transaction (one pass over the entries, about one hash per entry): afterwards
every log's tree is complete, and no reader has to tell an old log from a new one.

SQLite cannot change a table's key in place: the three tables are rebuilt (renamed, created
anew, copied, dropped), with the board's append-only triggers and the type index made again.

Revision ID: 0012
Revises: 0011
Create Date: 2024-03-01
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from verivote.board.tiles import append_leaves, edge_tiles, interior

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = "board_entries is append-only"
SQLITE_TRIGGERS = tuple(
    f"CREATE TRIGGER board_entries_no_{op_name.lower()} BEFORE {op_name} ON board_entries "
    f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}; {op_name} refused'); END"
    for op_name in ("UPDATE", "DELETE")
)
_CHUNK = 10_000


def _board_entries(with_log: bool) -> None:
    op.create_table(
        "board_entries",
        sa.Column("election_id", sa.Text(), nullable=False),
        *([sa.Column("log", sa.Text(), nullable=False)] if with_log else []),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.Column("entry_type", sa.Text(), nullable=False),
        sa.CheckConstraint("idx >= 0", name="ck_board_entries_idx_nonnegative"),
        sa.ForeignKeyConstraint(
            ["election_id"], ["elections.id"], name="fk_board_entries_election_id_elections"
        ),
        sa.PrimaryKeyConstraint(
            "election_id", *(["log"] if with_log else []), "idx", name="pk_board_entries"
        ),
    )


def _ballots(with_log: bool) -> None:
    log = ["board_log"] if with_log else []
    parent = ["board_entries.election_id", *(["board_entries.log"] if with_log else []),
              "board_entries.idx"]  # fmt: skip
    op.create_table(
        "ballots",
        sa.Column("election_id", sa.Text(), nullable=False),
        sa.Column("tracking_code", sa.Text(), nullable=False),
        sa.Column("station_id", sa.Text(), nullable=False),
        sa.Column("district_id", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("board_idx", sa.BigInteger(), nullable=False),
        *([sa.Column("board_log", sa.Text(), nullable=False)] if with_log else []),
        sa.Column("ballot_hash", sa.Text(), nullable=True),
        sa.CheckConstraint("state IN ('cast', 'challenged')", name="ck_ballots_state_known"),
        sa.ForeignKeyConstraint(
            ["election_id"], ["elections.id"], name="fk_ballots_election_id_elections"
        ),
        sa.ForeignKeyConstraint(
            ["election_id", *log, "board_idx"],
            parent,
            name="fk_ballots_board_entries",
        ),
        sa.PrimaryKeyConstraint("election_id", "tracking_code", name="pk_ballots"),
        sa.UniqueConstraint("election_id", *log, "board_idx", name="uq_ballots_board_idx"),
        sa.UniqueConstraint("election_id", "ballot_hash", name="uq_ballots_ballot_hash"),
    )


def _checkpoints(with_log: bool) -> None:
    op.create_table(
        "checkpoints",
        sa.Column("election_id", sa.Text(), nullable=False),
        *([sa.Column("log", sa.Text(), nullable=False)] if with_log else []),
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.CheckConstraint("size >= 0", name="ck_checkpoints_size_nonnegative"),
        sa.ForeignKeyConstraint(
            ["election_id"], ["elections.id"], name="fk_checkpoints_election_id_elections"
        ),
        sa.PrimaryKeyConstraint(
            "election_id", *(["log"] if with_log else []), "size", name="pk_checkpoints"
        ),
    )


def _sqlite_rebuild(with_log: bool) -> None:
    """Rebuild board_entries, ballots and checkpoints in their new (or old) shape, copying
    their rows. The old board is renamed first, so that the old ballots' link follows it and
    the new ballots link to the new board."""
    for trigger in ("board_entries_no_update", "board_entries_no_delete"):
        op.execute(f"DROP TRIGGER {trigger}")
    op.drop_index("ix_board_entries_type", table_name="board_entries")
    for table in ("board_entries", "ballots", "checkpoints"):
        op.rename_table(table, f"{table}_old")
    _board_entries(with_log)
    _ballots(with_log)
    _checkpoints(with_log)
    common = "election_id, idx, entry, entry_type"
    ballot = "election_id, tracking_code, station_id, district_id, state, board_idx, ballot_hash"
    if with_log:
        op.execute(f"INSERT INTO board_entries (log, {common}) SELECT '', {common} "
                   "FROM board_entries_old")  # fmt: skip
        op.execute(f"INSERT INTO ballots (board_log, {ballot}) SELECT '', {ballot} "
                   "FROM ballots_old")  # fmt: skip
        op.execute("INSERT INTO checkpoints (log, election_id, size, note) "
                   "SELECT '', election_id, size, note FROM checkpoints_old")  # fmt: skip
    else:
        op.execute(f"INSERT INTO board_entries ({common}) SELECT {common} FROM board_entries_old")
        op.execute(f"INSERT INTO ballots ({ballot}) SELECT {ballot} FROM ballots_old")
        op.execute("INSERT INTO checkpoints (election_id, size, note) "
                   "SELECT election_id, size, note FROM checkpoints_old")  # fmt: skip
    for table in ("ballots", "checkpoints", "board_entries"):
        op.drop_table(f"{table}_old")
    for statement in SQLITE_TRIGGERS:
        op.execute(statement)


def _postgresql_alter() -> None:
    op.drop_constraint("fk_ballots_board_entries", "ballots", type_="foreignkey")
    op.drop_constraint("uq_ballots_board_idx", "ballots", type_="unique")
    # ADD COLUMN with a default fills the rows without an UPDATE: the append-only trigger
    # does not fire. The default is dropped after: every writer names the log.
    for table, column in (("board_entries", "log"), ("ballots", "board_log"),
                          ("checkpoints", "log")):  # fmt: skip
        op.add_column(table, sa.Column(column, sa.Text(), nullable=False, server_default=""))
        op.alter_column(table, column, server_default=None)
    op.drop_constraint("pk_board_entries", "board_entries", type_="primary")
    op.create_primary_key("pk_board_entries", "board_entries", ["election_id", "log", "idx"])
    op.drop_constraint("pk_checkpoints", "checkpoints", type_="primary")
    op.create_primary_key("pk_checkpoints", "checkpoints", ["election_id", "log", "size"])
    op.drop_index("ix_board_entries_type", table_name="board_entries")
    op.create_unique_constraint(
        "uq_ballots_board_idx", "ballots", ["election_id", "board_log", "board_idx"]
    )
    op.create_foreign_key(
        "fk_ballots_board_entries", "ballots", "board_entries",
        ["election_id", "board_log", "board_idx"], ["election_id", "log", "idx"],
    )  # fmt: skip


def _build_trees() -> None:
    """Each election's national log: its size, and its tree in tiles, from its entries."""
    conn = op.get_bind()
    elections = [row[0] for row in conn.execute(sa.text("SELECT id FROM elections ORDER BY id"))]
    for election_id in elections:
        size = 0
        rows: dict[tuple[int, int], bytes] = {}
        while True:
            chunk = conn.execute(
                sa.text(
                    "SELECT entry FROM board_entries WHERE election_id = :e AND log = '' "
                    "AND idx >= :lo ORDER BY idx LIMIT :n"
                ),
                {"e": election_id, "lo": size, "n": _CHUNK},
            ).scalars()
            leaves = [hashlib.sha256(b"\x00" + bytes(entry)).digest() for entry in chunk]
            if not leaves:
                break
            edge = {(t.level, t.index): rows[(t.level, t.index)] for t in edge_tiles(size)}
            changed = append_leaves(size, edge, leaves)
            rows.update(changed)
            size += len(leaves)
            # Full tiles are final: write them now and keep only the edge in memory.
            for key in [k for k, v in rows.items() if len(v) == 256 * 32]:
                _put_tile(election_id, key, rows.pop(key))
        for key, value in rows.items():
            _put_tile(election_id, key, value)
        conn.execute(
            sa.text("INSERT INTO board_logs (election_id, log, size) VALUES (:e, '', :s)"),
            {"e": election_id, "s": size},
        )


def _put_tile(election_id: str, key: tuple[int, int], hashes: bytes) -> None:
    op.get_bind().execute(
        sa.text(
            "INSERT INTO board_tiles (election_id, log, level, idx, hashes, interior) "
            "VALUES (:e, '', :level, :idx, :h, :i)"
        ),
        {"e": election_id, "level": key[0], "idx": key[1], "h": hashes, "i": interior(hashes)},
    )


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        _sqlite_rebuild(with_log=True)
    else:
        _postgresql_alter()
    op.create_index(
        "ix_board_entries_type", "board_entries", ["election_id", "log", "entry_type", "idx"]
    )
    op.create_table(
        "board_logs",
        sa.Column("election_id", sa.Text(), nullable=False),
        sa.Column("log", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("size >= 0", name="ck_board_logs_size_nonnegative"),
        sa.ForeignKeyConstraint(
            ["election_id"], ["elections.id"], name="fk_board_logs_election_id_elections"
        ),
        sa.PrimaryKeyConstraint("election_id", "log", name="pk_board_logs"),
    )
    op.create_table(
        "board_tiles",
        sa.Column("election_id", sa.Text(), nullable=False),
        sa.Column("log", sa.Text(), nullable=False),
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
        sa.Column("interior", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("level >= 0 AND idx >= 0", name="ck_board_tiles_coordinates"),
        sa.ForeignKeyConstraint(
            ["election_id"], ["elections.id"], name="fk_board_tiles_election_id_elections"
        ),
        sa.PrimaryKeyConstraint("election_id", "log", "level", "idx", name="pk_board_tiles"),
    )
    if dialect == "postgresql":
        # Random hashes do not compress: EXTERNAL spares the attempt on every tile written.
        for column in ("hashes", "interior"):
            op.execute(f"ALTER TABLE board_tiles ALTER COLUMN {column} SET STORAGE EXTERNAL")
    _build_trees()


def downgrade() -> None:
    """Back to one board per election: only while every entry is in the national log."""
    conn = op.get_bind()
    districts = conn.execute(sa.text("SELECT count(*) FROM board_entries WHERE log <> ''"))
    if districts.scalar_one():
        raise RuntimeError("district logs hold entries: a single-log board cannot keep them")
    op.drop_table("board_tiles")
    op.drop_table("board_logs")
    if op.get_context().dialect.name == "sqlite":
        _sqlite_rebuild(with_log=False)
    else:
        op.execute("DELETE FROM checkpoints WHERE log <> ''")
        op.drop_constraint("fk_ballots_board_entries", "ballots", type_="foreignkey")
        op.drop_constraint("uq_ballots_board_idx", "ballots", type_="unique")
        op.drop_index("ix_board_entries_type", table_name="board_entries")
        op.drop_constraint("pk_board_entries", "board_entries", type_="primary")
        op.create_primary_key("pk_board_entries", "board_entries", ["election_id", "idx"])
        op.drop_constraint("pk_checkpoints", "checkpoints", type_="primary")
        op.create_primary_key("pk_checkpoints", "checkpoints", ["election_id", "size"])
        for table, column in (("board_entries", "log"), ("ballots", "board_log"),
                              ("checkpoints", "log")):  # fmt: skip
            op.drop_column(table, column)
        op.create_unique_constraint("uq_ballots_board_idx", "ballots", ["election_id", "board_idx"])
        op.create_foreign_key(
            "fk_ballots_board_entries", "ballots", "board_entries",
            ["election_id", "board_idx"], ["election_id", "idx"],
        )  # fmt: skip
    op.create_index("ix_board_entries_type", "board_entries", ["election_id", "entry_type", "idx"])
