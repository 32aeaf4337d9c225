"""The tables of the election's database (DESIGN.md, "Persistence and services", "Privacy").

The migrations in `migrations/versions` create these tables; this module describes them for
the repository's queries, and a test checks that the two agree.

- `elections`: one row per election; the repository locks it to serialize writers.
- `board_entries`: the public bulletin board, entries 0, 1, 2, … with no gaps in each of the
  election's logs (`log`: "" is the national log, otherwise a district id; migration 0012,
  issue 17). Append-only: database triggers refuse UPDATE and DELETE (and TRUNCATE on
  PostgreSQL).
- `board_logs`: one row per log with its size; an append locks this row (not the election's),
  so appends to different logs never wait for one another (migration 0012).
- `board_tiles`: each log's Merkle tree, stored as it grows in the tiles of C2SP tlog-tiles
  (`verivote.board.tiles`): the row of up to 256 hashes of tile (level, idx) and its interior
  levels, written in the transaction that appends the entries (migration 0012). A partial
  tile's row grows; the hashes already in it never change.
- `board_runs`: the merged order of the logs (migration 0013): positions pos … pos+count-1 of
  the board are entries idx … idx+count-1 of `log`; a district's run is written when it is
  sealed (`seal_idx`: the national index of its seal), a national run as entries are appended.
- `checkpoints`: the signed notes of each log at a given size.
- `station_counts`: per polling station, the voters checked in, the cast ballots accepted and
  the ballots waiting in its open batch, with when that batch began (migration 0009, issue 15).
  Counters, not links: casting compares two numbers in the transaction that admits a ballot.
- `pending_ballots`: the ballots of each station's open batch (migration 0009). The batch goes
  onto the board in a random order when it closes (`verivote.store.casting`), and its rows are
  deleted; its key is random, so SQLite (a table WITHOUT ROWID) keeps them in no cast order.
- `ballots`: each cast or challenged ballot, found by its tracking code. Privacy: nothing here
  identifies a voter or when the ballot was cast (no voter id, no timestamp, no key or sequence
  number shared with check-in), so the database cannot join a voter to a ballot.
- `station_polls`: whether each station's polls are open or closed (migration 0003). Only the
  state: when they opened or closed is told by the board's order, never by a clock here.
- `tally_parts`: the encrypted tally's partial products, one per chunk of board entries, so a
  tally that is interrupted resumes where it stopped (migration 0003).
- `ceremonies`, `guardian_tokens`, `ceremony_messages` (migration 0008, issue 14 item 1): the
  key ceremony the authority opened for guardians that run their own program, the hashes of
  their bearer tokens, and the public messages each posted in each round. Nothing secret.
- `station_tokens`, `access_epochs`, `console_sessions` (migrations 0005 and 0010, issue 15
  item 4): station tokens' hashes and expiry, the revocation counter, the console's sessions.
- `mixer_tokens` (migration 0011, issue 16 item 2): the hashes of the bearer tokens of the
  factions' mix servers, one per mixer and election.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    false,
)

BALLOT_STATES = ("cast", "challenged")
POLL_STATES = ("open", "closed")

# Explicit constraint names, so that migrations can refer to them on every backend.
metadata = MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ix": "ix_%(table_name)s_%(column_0_name)s",
    }
)

elections = Table(
    "elections",
    metadata,
    Column("id", Text, primary_key=True),
    Column("base_hash", Text, nullable=False),
    Column("manifest", Text, nullable=False),
    Column("state", Text, nullable=False, server_default="created"),
)

board_entries = Table(
    "board_entries",
    metadata,
    Column("election_id", Text, ForeignKey("elections.id"), primary_key=True),
    Column("log", Text, primary_key=True),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("entry", LargeBinary, nullable=False),
    Column("entry_type", Text, nullable=False),
    CheckConstraint("idx >= 0", name="idx_nonnegative"),
    # The few entries of a kind (the tally, the partial decryptions) are found without reading
    # a board of millions of ballots (migration 0003; per log since 0012).
    Index("ix_board_entries_type", "election_id", "log", "entry_type", "idx"),
)

board_logs = Table(
    "board_logs",
    metadata,
    Column("election_id", Text, ForeignKey("elections.id"), primary_key=True),
    Column("log", Text, primary_key=True),
    Column("size", BigInteger, nullable=False),
    CheckConstraint("size >= 0", name="size_nonnegative"),
)

board_tiles = Table(
    "board_tiles",
    metadata,
    Column("election_id", Text, ForeignKey("elections.id"), primary_key=True),
    Column("log", Text, primary_key=True),
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hashes", LargeBinary, nullable=False),
    # the tile's interior levels (`verivote.board.tiles.interior`): read, not recomputed
    Column("interior", LargeBinary, nullable=False),
    CheckConstraint("level >= 0 AND idx >= 0", name="coordinates"),
)

board_runs = Table(
    "board_runs",
    metadata,
    Column("election_id", Text, ForeignKey("elections.id"), primary_key=True),
    Column("pos", BigInteger, primary_key=True, autoincrement=False),
    Column("log", Text, nullable=False),
    Column("idx", BigInteger, nullable=False),
    Column("count", BigInteger, nullable=False),
    Column("seal_idx", BigInteger, nullable=True),
    CheckConstraint("pos >= 0 AND idx >= 0 AND count > 0", name="sizes"),
    Index("ix_board_runs_log", "election_id", "log", "idx"),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("election_id", Text, ForeignKey("elections.id"), primary_key=True),
    Column("log", Text, primary_key=True),
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("note", Text, nullable=False),
    CheckConstraint("size >= 0", name="size_nonnegative"),
)

station_counts = Table(
    "station_counts",
    metadata,
    Column("election_id", Text, ForeignKey("elections.id"), primary_key=True),
    Column("station_id", Text, primary_key=True),
    Column("checked_in", BigInteger, nullable=False, server_default="0"),
    Column("ballots", BigInteger, nullable=False, server_default="0"),
    Column("pending", BigInteger, nullable=False, server_default="0"),
    # A copy of whether the station's polls are open, kept by `Store.set_polls` in the
    # transaction that changes `station_polls`: the check-ins' and casts' own transactions
    # read it under this row's lock, with the counters they update (migration 0009).
    Column("polls_open", Boolean, nullable=False, server_default=false()),
    # Unix seconds at which the open batch got its first ballot: one time per batch, which
    # orders no ballot inside it.
    Column("batch_since", BigInteger, nullable=True),
    CheckConstraint("checked_in >= 0 AND ballots >= 0 AND pending >= 0", name="counts"),
)

pending_ballots = Table(
    "pending_ballots",
    metadata,
    Column("election_id", Text, ForeignKey("elections.id"), primary_key=True),
    Column("station_id", Text, primary_key=True),
    Column("slot", Text, primary_key=True),
    Column("tracking_code", Text, nullable=False),
    Column("ballot_hash", Text, nullable=False),
    Column("district_id", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("entry", LargeBinary, nullable=False),
    Column("entry_type", Text, nullable=False),
    UniqueConstraint("election_id", "tracking_code", name="uq_pending_ballots_tracking_code"),
    UniqueConstraint("election_id", "ballot_hash", name="uq_pending_ballots_ballot_hash"),
    CheckConstraint("state IN ('cast', 'challenged')", name="state_known"),
    sqlite_with_rowid=False,
)

ballots = Table(
    "ballots",
    metadata,
    Column("election_id", Text, ForeignKey("elections.id"), primary_key=True),
    Column("tracking_code", Text, primary_key=True),
    Column("station_id", Text, nullable=False),
    Column("district_id", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("board_idx", BigInteger, nullable=False),
    # The log its entry is in ("" the national log; migration 0012).
    Column("board_log", Text, nullable=False),
    # The hash of the encrypted ballot itself (migration 0002): the same ballot can be on the
    # board once, cast or challenged, whatever tracking code its chain would give it now.
    Column("ballot_hash", Text, nullable=True),
    ForeignKeyConstraint(
        ["election_id", "board_log", "board_idx"],
        ["board_entries.election_id", "board_entries.log", "board_entries.idx"],
        name="fk_ballots_board_entries",
    ),
    # A board entry carries at most one ballot.
    UniqueConstraint("election_id", "board_log", "board_idx", name="uq_ballots_board_idx"),
    UniqueConstraint("election_id", "ballot_hash", name="uq_ballots_ballot_hash"),
    CheckConstraint("state IN ('cast', 'challenged')", name="state_known"),
)

station_polls = Table(
    "station_polls",
    metadata,
    Column("election_id", Text, ForeignKey("elections.id"), primary_key=True),
    Column("station_id", Text, primary_key=True),
    Column("state", Text, nullable=False),
    CheckConstraint("state IN ('open', 'closed')", name="state_known"),
)

tally_parts = Table(
    "tally_parts",
    metadata,
    Column("election_id", Text, ForeignKey("elections.id"), primary_key=True),
    Column("tally_id", Text, primary_key=True),
    Column("chunk_start", BigInteger, primary_key=True, autoincrement=False),
    Column("chunk_end", BigInteger, nullable=False),
    # Canonical JSON of the chunk's partial product (elements as hex).
    Column("part", LargeBinary, nullable=False),
    CheckConstraint("chunk_start >= 0 AND chunk_end > chunk_start", name="chunk_range"),
)

voters = Table(
    "voters",
    metadata,
    Column("election_id", Text, ForeignKey("elections.id"), primary_key=True),
    Column("national_code", Text, primary_key=True),
    Column("district_id", Text, nullable=False),
    Column("minority", Text, nullable=True),
)

# A check-in: the voter, the station and the hour only (migration 0004). The primary key is
# the once-only rule itself.
checkins = Table(
    "checkins",
    metadata,
    Column("election_id", Text, primary_key=True),
    Column("national_code", Text, primary_key=True),
    Column("station_id", Text, nullable=False),
    Column("hour", SmallInteger, nullable=False),
    Column("request_id", Text, nullable=False),
    ForeignKeyConstraint(
        ["election_id", "national_code"],
        ["voters.election_id", "voters.national_code"],
        name="fk_checkins_voters",
    ),
    UniqueConstraint("election_id", "request_id", name="uq_checkins_request_id"),
    CheckConstraint("hour >= 0 AND hour <= 23", name="hour_range"),
    # turnout and the polls-close count read one station's check-ins (migration 0007)
    Index("ix_checkins_station", "election_id", "station_id"),
)

# Only the SHA-256 of each station's token is kept (migration 0005), with when it expires, in
# seconds since the epoch (migration 0010; NULL: never). Revoking a station deletes its rows.
station_tokens = Table(
    "station_tokens",
    metadata,
    Column("token_hash", Text, primary_key=True),
    Column("election_id", Text, ForeignKey("elections.id"), nullable=False),
    Column("station_id", Text, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    # revoking finds a station's tokens (migration 0010)
    Index("ix_station_tokens_station", "election_id", "station_id"),
)

# A counter per election bumped by every revocation (migration 0010): each server process
# reads it twice a second and forgets the tokens it trusted when it moved.
access_epochs = Table(
    "access_epochs",
    metadata,
    Column("election_id", Text, ForeignKey("elections.id"), primary_key=True),
    Column("epoch", BigInteger, nullable=False),
)

# The station console's sessions (migration 0010): the SHA-256 of the session id the cookie
# carries, the station, the hash of the token it logged in with, and when it ends. Logout and
# revocation delete rows; a session whose token is gone is over.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("session_hash", Text, primary_key=True),
    Column("election_id", Text, ForeignKey("elections.id"), nullable=False),
    Column("station_id", Text, nullable=False),
    Column("token_hash", Text, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index("ix_console_sessions_station", "election_id", "station_id"),
)

# Uploaded offline check-ins that the once-only rule or the roll refused, kept for the
# supervisors instead of being dropped (migration 0006): voter, station and hour only, and for
# `already_voted` where and in which hour the voter was checked in first.
checkin_conflicts = Table(
    "checkin_conflicts",
    metadata,
    Column("election_id", Text, ForeignKey("elections.id"), primary_key=True),
    Column("request_id", Text, primary_key=True),
    Column("national_code", Text, nullable=False),
    Column("station_id", Text, nullable=False),
    Column("hour", SmallInteger, nullable=False),
    Column("kind", Text, nullable=False),
    Column("first_station_id", Text, nullable=True),
    Column("first_hour", SmallInteger, nullable=True),
    CheckConstraint(
        "kind IN ('already_voted', 'not_eligible', 'wrong_district')", name="kind_known"
    ),
    CheckConstraint("hour >= 0 AND hour <= 23", name="hour_range"),
)

# Supervisors read the conflicts with their own tokens; only the hashes are kept (0006).
supervisor_tokens = Table(
    "supervisor_tokens",
    metadata,
    Column("token_hash", Text, primary_key=True),
    Column("election_id", Text, ForeignKey("elections.id"), nullable=False),
    Column("name", Text, nullable=False),
)

# The key ceremony held over HTTP by guardians running their own program (issue 14, item 1;
# migration 0008): the parameters the authority opened it with, the SHA-256 of each guardian's
# bearer token, and every public message each guardian posted, one per round (canonical JSON).
CEREMONY_ROUNDS = ("commitment", "reveal", "shares", "complaints", "answers")

ceremonies = Table(
    "ceremonies",
    metadata,
    Column("election_id", Text, ForeignKey("elections.id"), primary_key=True),
    Column("guardians", SmallInteger, nullable=False),
    Column("quorum", SmallInteger, nullable=False),
    CheckConstraint("quorum >= 1 AND quorum <= guardians", name="quorum_range"),
)

guardian_tokens = Table(
    "guardian_tokens",
    metadata,
    Column("token_hash", Text, primary_key=True),
    Column("election_id", Text, ForeignKey("elections.id"), nullable=False),
    Column("guardian", SmallInteger, nullable=False),
    UniqueConstraint("election_id", "guardian", name="uq_guardian_tokens_guardian"),
)


def _messages(name: str) -> Table:
    """A table of a ceremony's messages: one per election, round and guardian."""
    return Table(
        name,
        metadata,
        Column("election_id", Text, ForeignKey("elections.id"), primary_key=True),
        Column("round", Text, primary_key=True),
        Column("guardian", SmallInteger, primary_key=True, autoincrement=False),
        Column("body", Text, nullable=False),
        CheckConstraint(
            "round IN ('commitment', 'reveal', 'shares', 'complaints', 'answers')",
            name="round_known",
        ),
    )


ceremony_messages = _messages("ceremony_messages")

# The mix servers of the factions (issue 16, item 2; migration 0011): the SHA-256 of each
# mixer's bearer token, one per mixer (a faction id of the manifest) and election.
mixer_tokens = Table(
    "mixer_tokens",
    metadata,
    Column("token_hash", Text, primary_key=True),
    Column("election_id", Text, ForeignKey("elections.id"), nullable=False),
    Column("mixer", Text, nullable=False),
    UniqueConstraint("election_id", "mixer", name="uq_mixer_tokens_mixer"),
)

# Provable turnout (issue 19; migration 0015). The pseudonym key's own ceremony: the same
# rounds as the election key's, in a table of their own (`verivote.election.pseudonym_key`).
pseudonym_messages = _messages("pseudonym_messages")

# The roll's blinded elements, in batches the guardians evaluate (JSON list of hex), and each
# guardian's answer to a batch (JSON: evaluations and batch proof), kept as posted.
pseudonym_batches = Table(
    "pseudonym_batches",
    metadata,
    Column("election_id", Text, ForeignKey("elections.id"), primary_key=True),
    Column("batch", BigInteger, primary_key=True, autoincrement=False),
    Column("blinded", Text, nullable=False),
)

pseudonym_answers = Table(
    "pseudonym_answers",
    metadata,
    Column("election_id", Text, ForeignKey("elections.id"), primary_key=True),
    Column("batch", BigInteger, primary_key=True, autoincrement=False),
    Column("guardian", SmallInteger, primary_key=True, autoincrement=False),
    Column("body", Text, nullable=False),
)

# Each voter's place in the batches, the blinding factor the authority drew (hex), and the
# pseudonym once a quorum of guardians answered: what the voter's status shows them so that
# their own device can check it. The authority knows who each voter is anyway (README).
voter_pseudonyms = Table(
    "voter_pseudonyms",
    metadata,
    Column("election_id", Text, primary_key=True),
    Column("national_code", Text, primary_key=True),
    Column("batch", BigInteger, nullable=False),
    Column("position", SmallInteger, nullable=False),
    Column("blind", Text, nullable=False),
    Column("pseudonym", Text, nullable=True),
    ForeignKeyConstraint(
        ["election_id", "national_code"],
        ["voters.election_id", "voters.national_code"],
        name="fk_voter_pseudonyms_voters",
    ),
    Index("ix_voter_pseudonyms_pseudonym", "election_id", "pseudonym"),
)

# The SHA-256 of each voter's status code (delivered with the voter's notification; the code
# itself is never stored), and the complaints voters file about check-ins they did not make.
voter_status = Table(
    "voter_status",
    metadata,
    Column("election_id", Text, primary_key=True),
    Column("national_code", Text, primary_key=True),
    Column("code_hash", Text, nullable=False),
    ForeignKeyConstraint(
        ["election_id", "national_code"],
        ["voters.election_id", "voters.national_code"],
        name="fk_voter_status_voters",
    ),
)

voter_complaints = Table(
    "voter_complaints",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("election_id", Text, nullable=False),
    Column("national_code", Text, nullable=False),
    Column("station_id", Text, nullable=True),
    Column("hour", SmallInteger, nullable=True),
    Column("text", Text, nullable=False),
    Column("filed_at", BigInteger, nullable=False),
)
