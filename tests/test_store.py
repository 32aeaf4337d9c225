"""verivote.store on SQLite and PostgreSQL: the append-only board, gap-free indices under
concurrent writers, the tracking-code chain of cast_ballot, migrations, and the privacy of the
ballots table (DESIGN.md, "Persistence and services", "Privacy")."""

from __future__ import annotations

import multiprocessing
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from tests.store_fixtures import BACKENDS, backend_database, cast_in_process
from verivote.store import (
    ChainConflict,
    ElectionRecord,
    PollsClosed,
    ReplayError,
    Store,
    StoreError,
    UnknownElection,
    database_url,
    make_engine,
    migrate,
)
from verivote.store.db import alembic_config
from verivote.store.schema import metadata

E = "majlis-2024-tehran"
BASE = "ab" * 32
MANIFEST = '{"election_id":"majlis-2024-tehran","name":"مجلس"}'.encode()
START = "00" * 32


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with backend_database(request.param, tmp_path) as database:
        yield database


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine: Engine) -> Store:
    store = Store(engine)
    store.create_election(E, BASE, MANIFEST)
    return store


def cast(store: Store, code: str, previous: str, station: str = "s1", state: str = "cast") -> int:
    entry = f'{{"ballot":"{code}"}}'.encode()
    return store.cast_ballot(E, station, "d1", code, previous, entry, "ballot", state)


# -- elections and the board -------------------------------------------------------------------


def test_election_round_trip_and_duplicate(store: Store) -> None:
    assert store.election(E) == ElectionRecord(E, BASE, MANIFEST)
    assert store.election("nope") is None
    with pytest.raises(StoreError, match="already exists"):
        store.create_election(E, BASE, b"{}")
    assert store.election(E) == ElectionRecord(E, BASE, MANIFEST)


def test_entries_in_order_and_bytes_exact(store: Store) -> None:
    payloads = [b"", b"\x00", bytes(range(256)), MANIFEST, b"x" * 100_000, b"\xff\x00\xfe"]
    assert [store.append_entry(E, p, "test") for p in payloads] == list(range(len(payloads)))
    assert store.entries(E) == payloads
    assert store.entry_count(E) == len(payloads)
    assert store.entries(E, 2, 4) == payloads[2:4]
    assert store.entries(E, 4) == payloads[4:]
    assert store.entries(E, 3, 100) == payloads[3:]
    assert store.entries(E, 50) == []
    assert all(type(p) is bytes for p in store.entries(E))
    with pytest.raises(ValueError, match="range"):
        store.entries(E, -1)


def test_unknown_election_is_refused(store: Store) -> None:
    with pytest.raises(UnknownElection):
        store.append_entry("nope", b"{}", "test")
    with pytest.raises(UnknownElection):
        store.entries("nope")
    with pytest.raises(UnknownElection):
        store.entry_count("nope")
    with pytest.raises(UnknownElection):
        store.put_checkpoint("nope", 0, "note")
    with pytest.raises(UnknownElection):
        store.cast_ballot("nope", "s1", "d1", "c1", START, b"{}", "ballot", "cast")
    assert store.station_head("nope", "s1") is None
    assert store.entry_count(E) == 0


def test_board_refuses_update_and_delete_in_the_database(store: Store, engine: Engine) -> None:
    for i in range(3):
        store.append_entry(E, f"entry {i}".encode(), "test")
    statements = [
        "UPDATE board_entries SET entry_type = 'forged'",
        "UPDATE board_entries SET idx = idx + 10 WHERE idx = 2",
        "DELETE FROM board_entries WHERE idx = 2",
        "DELETE FROM board_entries",
    ]
    if engine.dialect.name == "postgresql":
        statements.append("TRUNCATE board_entries CASCADE")
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    assert store.entries(E) == [b"entry 0", b"entry 1", b"entry 2"]


def test_checkpoints(store: Store) -> None:
    assert store.latest_checkpoint(E) is None
    store.put_checkpoint(E, 0, "origin\n0\nroot0\n")
    for i in range(3):
        store.append_entry(E, b"%d" % i, "test")
    note = "origin\n3\nroot3\n"
    store.put_checkpoint(E, 3, note)
    assert store.latest_checkpoint(E) == (3, note)
    # a witness's cosignature replaces the note; its text must stay the same
    cosigned = note + "\n— authority sig1\n— witness sig2\n"
    store.put_checkpoint(E, 3, cosigned)
    assert store.latest_checkpoint(E) == (3, cosigned)
    with pytest.raises(StoreError, match="different checkpoint"):
        store.put_checkpoint(E, 3, "origin\n3\nforkedroot\n")
    with pytest.raises(StoreError, match="board has 3 entries"):
        store.put_checkpoint(E, 4, "origin\n4\nroot4\n")
    assert store.latest_checkpoint(E) == (3, cosigned)


# -- casting -----------------------------------------------------------------------------------


def test_cast_ballot_chains_the_station(store: Store) -> None:
    store.append_entry(E, MANIFEST, "manifest")
    assert store.station_head(E, "s1") is None
    assert cast(store, "c1", START) == 1
    assert store.station_head(E, "s1") == "c1"
    assert cast(store, "c2", "c1") == 2
    assert store.station_head(E, "s1") == "c2"
    # another station has its own chain
    assert cast(store, "c3", "start-s2", station="s2") == 3
    assert store.station_head(E, "s2") == "c3"
    assert store.station_head(E, "s1") == "c2"
    record = store.ballot(E, "c2")
    assert record is not None
    assert (record.tracking_code, record.station_id, record.district_id) == ("c2", "s1", "d1")
    assert (record.state, record.board_idx) == ("cast", 2)
    assert store.entries(E, 2, 3) == [b'{"ballot":"c2"}']
    assert store.ballot(E, "nope") is None


def test_cast_ballot_refusals_write_nothing(store: Store) -> None:
    cast(store, "c1", START)
    cast(store, "c2", "c1")
    before = (store.entry_count(E), store.station_head(E, "s1"))
    with pytest.raises(ReplayError):
        cast(store, "c2", "c2")  # the same code again, even with the right head
    with pytest.raises(ReplayError):
        cast(store, "c1", START, station="s9")  # a replay at another station
    with pytest.raises(ChainConflict):
        cast(store, "c3", "c1")  # a stale head
    with pytest.raises(ChainConflict):
        cast(store, "c3", "made-up")
    assert (store.entry_count(E), store.station_head(E, "s1")) == before
    assert store.station_head(E, "s9") is None
    assert store.ballot(E, "c3") is None
    with pytest.raises(ValueError, match="state"):
        cast(store, "c4", "c2", state="spoiled")
    assert store.entry_count(E) == before[0]
    # and the chain goes on where it was
    assert cast(store, "c3", "c2") == before[0]


def test_challenged_ballot_does_not_advance_the_chain(store: Store) -> None:
    cast(store, "c1", START)
    idx = cast(store, "x1", "c1", state="challenged")
    assert store.station_head(E, "s1") == "c1"
    challenged = store.ballot(E, "x1")
    assert challenged is not None
    assert (challenged.state, challenged.board_idx) == ("challenged", idx)
    # the voter's fresh ballot chains to the same head; the challenged code stays used
    cast(store, "c2", "c1")
    assert store.station_head(E, "s1") == "c2"
    with pytest.raises(ReplayError):
        cast(store, "x1", "c2", state="challenged")
    # a station whose first ballot is challenged starts its chain at the given start value
    cast(store, "x2", "start-s2", station="s2", state="challenged")
    assert store.station_head(E, "s2") == "start-s2"


# -- polls ---------------------------------------------------------------------------------------


def test_without_polls_every_station_casts(store: Store) -> None:
    assert store.polls(E) == {}
    cast(store, "c1", START)
    cast(store, "c2", START, station="s2")
    assert store.entry_count(E) == 2


def test_polls_gate_casting_once_any_station_opened(store: Store) -> None:
    cast(store, "c0", START)  # before polling day: no station has polls yet
    assert store.set_polls(E, "s1", "open", b'{"type":"polls-open"}') == 1
    assert store.polls(E) == {"s1": "open"}
    cast(store, "c1", "c0")
    with pytest.raises(PollsClosed, match="s2 have not been opened"):
        cast(store, "x1", "start-s2", station="s2")  # never opened, while s1 is
    counts: list[int] = []

    def close_entry(ballots_cast: int) -> bytes:
        counts.append(ballots_cast)
        return b'{"ballots_cast":%d}' % ballots_cast

    idx = store.set_polls(E, "s1", "closed", close_entry)
    assert counts == [2]
    assert store.entries(E, idx) == [b'{"ballots_cast":2}']
    assert store.entries_of_type(E, "polls-close") == [(idx, b'{"ballots_cast":2}')]
    assert store.polls(E) == {"s1": "closed"}
    before = store.entry_count(E)
    with pytest.raises(PollsClosed, match="s1 are closed"):
        cast(store, "c2", "c1")
    with pytest.raises(PollsClosed):
        cast(store, "x2", "c1", state="challenged")
    with pytest.raises(StoreError, match="closed for good"):
        store.set_polls(E, "s1", "open", b"{}")
    with pytest.raises(StoreError, match="closed for good"):
        store.set_polls(E, "s1", "closed", b"{}")
    assert store.entry_count(E) == before
    assert store.station_head(E, "s1") == "c1"
    assert store.ballot(E, "c2") is None


def test_set_polls_refusals_write_nothing(store: Store) -> None:
    store.set_polls(E, "s1", "open", b"{}")
    with pytest.raises(StoreError, match="already open"):
        store.set_polls(E, "s1", "open", b"{}")
    with pytest.raises(ValueError, match="polls are one of"):
        store.set_polls(E, "s1", "ajar", b"{}")

    def failing(_n: int) -> bytes:
        raise RuntimeError("no entry")

    with pytest.raises(RuntimeError):
        store.set_polls(E, "s1", "closed", failing)
    with pytest.raises(UnknownElection):
        store.set_polls("nope", "s1", "open", b"{}")
    assert store.polls(E) == {"s1": "open"}
    assert store.entry_count(E) == 1
    # a station that never opened may still be closed (it held no ballot)
    store.set_polls(E, "s2", "closed", lambda n: b'{"n":%d}' % n)
    assert store.polls(E) == {"s1": "open", "s2": "closed"}
    assert [t for t, _ in store.entries_of_type(E, "polls-open")] == [0]
    assert store.entries_of_type(E, "polls-close") == [(1, b'{"n":0}')]


# -- the tally's parts, bulk loading -------------------------------------------------------------


def test_tally_parts_are_idempotent(store: Store) -> None:
    store.put_tally_part(E, "tally-9", 3, 6, b"second")
    store.put_tally_part(E, "tally-9", 0, 3, b"first")
    store.put_tally_part(E, "tally-9", 0, 3, b"first")  # a resumed run stores it again
    store.put_tally_part(E, "other", 0, 9, b"whole")
    with pytest.raises(StoreError, match="different part"):
        store.put_tally_part(E, "tally-9", 0, 3, b"forged")
    with pytest.raises(StoreError, match="different part"):
        store.put_tally_part(E, "tally-9", 0, 4, b"first")
    with pytest.raises(ValueError, match="bad chunk"):
        store.put_tally_part(E, "tally-9", 5, 5, b"")
    with pytest.raises(UnknownElection):
        store.put_tally_part("nope", "tally-9", 0, 3, b"first")
    assert store.tally_parts(E, "tally-9") == [(0, 3, b"first"), (3, 6, b"second")]
    assert store.tally_parts(E, "other") == [(0, 9, b"whole")]
    assert store.tally_parts(E, "none") == []


def test_bulk_append_and_entries_of_type(store: Store) -> None:
    store.append_entry(E, b"manifest", "manifest")
    size = store.bulk_append(E, (b"ballot %d" % i for i in range(2500)), "ballot-cast")
    assert size == 2501 == store.entry_count(E)
    assert store.entries(E, 2499, 2501) == [b"ballot 2498", b"ballot 2499"]
    store.append_entry(E, b"tally", "tally")
    assert store.entries_of_type(E, "tally") == [(2501, b"tally")]
    assert store.entries_of_type(E, "ballot-cast", 10, 12) == [
        (10, b"ballot 9"),
        (11, b"ballot 10"),
    ]
    assert len(store.entries_of_type(E, "ballot-cast")) == 2500

    def broken() -> Iterator[bytes]:
        yield from (b"x" for _ in range(1500))
        raise RuntimeError("the import failed")

    with pytest.raises(RuntimeError):
        store.bulk_append(E, broken(), "ballot-cast")
    assert store.entry_count(E) == 2502  # all or nothing
    with pytest.raises(UnknownElection):
        store.entries_of_type("nope", "tally")


def test_append_once(store: Store) -> None:
    store.append_entry(E, b"manifest", "manifest")
    assert store.append_once(E, b"first tally", "tally") == (1, b"first tally")
    assert store.append_once(E, b"second tally", "tally") == (1, b"first tally")
    assert store.entry_count(E) == 2


# -- concurrency -------------------------------------------------------------------------------


def test_threads_append_gap_free(store: Store) -> None:
    threads, per_thread = 8, 50
    start = threading.Barrier(threads)

    def writer(t: int) -> list[tuple[int, bytes]]:
        start.wait()
        out = []
        for i in range(per_thread):
            entry = f"thread {t} entry {i}".encode()
            out.append((store.append_entry(E, entry, "test"), entry))
        return out

    with ThreadPoolExecutor(threads) as pool:
        written = [pair for result in pool.map(writer, range(threads)) for pair in result]
    indices = sorted(idx for idx, _ in written)
    assert indices == list(range(threads * per_thread))
    board = store.entries(E)
    assert len(board) == store.entry_count(E) == threads * per_thread
    assert all(board[idx] == entry for idx, entry in written)


def test_threads_racing_one_station_give_one_success(store: Store) -> None:
    threads = 8
    start = threading.Barrier(threads)

    def voter(n: int) -> str:
        start.wait()
        try:
            cast(store, f"c{n}", START)
        except ChainConflict:
            return "conflict"
        return "ok"

    with ThreadPoolExecutor(threads) as pool:
        outcomes = list(pool.map(voter, range(threads)))
    assert sorted(outcomes) == ["conflict"] * (threads - 1) + ["ok"]
    assert store.entry_count(E) == 1
    winner = store.station_head(E, "s1")
    assert winner is not None
    assert store.ballot(E, winner) is not None


def test_processes_racing_one_station_give_one_success(store: Store, url: str) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    processes = [
        context.Process(target=cast_in_process, args=(url, E, "s1", code, START, barrier, results))
        for code in ("p1", "p2")
    ]
    for process in processes:
        process.start()
    outcomes = dict(results.get(timeout=60) for _ in processes)
    for process in processes:
        process.join(timeout=30)
    assert sorted(outcomes.values()) == ["conflict", "ok"], outcomes
    winner = next(code for code, outcome in outcomes.items() if outcome == "ok")
    assert store.station_head(E, "s1") == winner
    assert store.entry_count(E) == 1


# -- schema and migrations ---------------------------------------------------------------------


def test_migrate_twice_is_harmless_and_matches_the_schema(store: Store, engine: Engine) -> None:
    store.append_entry(E, b"kept", "test")
    migrate(engine)
    migrate(engine)
    assert store.entries(E) == [b"kept"]
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head == "0010"
        # the migrations build exactly the tables that schema.py describes
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_ballots_table_cannot_link_a_voter(engine: Engine) -> None:
    schema = inspect(engine)
    columns = [column["name"] for column in schema.get_columns("ballots")]
    assert set(columns) == {
        "election_id",
        "tracking_code",
        "station_id",
        "district_id",
        "state",
        "board_idx",
        "ballot_hash",
    }
    forbidden = re.compile(r"voter|national|check_?in|time|created|date|seq|serial|roll", re.I)
    assert [name for name in columns if forbidden.search(name)] == []
    referred = {fk["referred_table"] for fk in schema.get_foreign_keys("ballots")}
    assert referred <= {"elections", "board_entries"}
    # neither a column nor a default that the database fills in by itself (a clock, a sequence)
    assert all(column["default"] is None for column in schema.get_columns("ballots"))
    # nor do the tables of polling day and the tally hold a time or a voter
    for table in ("station_polls", "tally_parts"):
        names = [column["name"] for column in schema.get_columns(table)]
        assert [name for name in names if forbidden.search(name)] == [], table
        assert all(column["default"] is None for column in schema.get_columns(table)), table


def test_migrations_ship_in_the_package() -> None:
    migrations = resources.files("verivote.store") / "migrations"
    assert (migrations / "env.py").is_file()
    assert (migrations / "script.py.mako").is_file()
    assert (migrations / "versions" / "0001_initial.py").is_file()


def test_database_url_and_engines(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("VERIVOTE_DATABASE_URL", raising=False)
    assert database_url() == "sqlite:///verivote.db"
    monkeypatch.setenv("VERIVOTE_DATABASE_URL", "postgresql+psycopg://u@127.0.0.1:5432/db")
    assert database_url() == "postgresql+psycopg://u@127.0.0.1:5432/db"
    # a plain postgresql:// URL goes through psycopg 3 as well (no connection is made here)
    assert make_engine("postgresql://u@127.0.0.1/db").url.drivername == "postgresql+psycopg"
    with pytest.raises(StoreError, match="psycopg 3"):
        make_engine("postgresql+psycopg2://u@127.0.0.1/db")
    with pytest.raises(StoreError, match="unsupported"):
        make_engine("mysql://u@127.0.0.1/db")
    engine = make_engine(f"sqlite:///{tmp_path / 'pragmas.db'}")
    try:
        with engine.connect() as conn:
            pragmas = [
                conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("foreign_keys", "journal_mode", "busy_timeout")
            ]
    finally:
        engine.dispose()
    assert pragmas == [1, "wal", 30_000]


def test_the_same_ballot_cannot_be_put_on_the_board_twice(store: Store) -> None:
    store.create_election("e", "ab" * 32, b"{}")
    first = store.cast_ballot("e", "s1", "d1", "code-1", "start", b'{"type":"b"}', "ballot-cast",
                              "cast", ballot_hash="h1")  # fmt: skip
    assert first == 0
    with pytest.raises(ReplayError, match="already on the board"):
        store.cast_ballot("e", "s1", "d1", "code-2", "code-1", b'{"type":"b2"}', "ballot-cast",
                          "cast", ballot_hash="h1")  # fmt: skip
    assert store.entry_count("e") == 1
