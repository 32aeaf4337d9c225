"""verivote.store on SQLite and PostgreSQL: the append-only board, gap-free indices under
concurrent writers, casting in shuffled batches counted against check-ins, migrations, and
the privacy of the ballots table (DESIGN.md, "Persistence and services", "Privacy")."""

from __future__ import annotations

import multiprocessing
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, event, inspect, text
from sqlalchemy.exc import DBAPIError

from tests.store_fixtures import cast_in_process, postgres_database
from verivote.store import (
    Admitted,
    Batching,
    ElectionRecord,
    NoCheckin,
    Pending,
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
from verivote.store.roll import Checkin, check_in_many, import_voters
from verivote.store.schema import metadata

E = "majlis-2024-tehran"
BASE = "ab" * 32
MANIFEST = '{"election_id":"majlis-2024-tehran","name":"مجلس"}'.encode()
SIZE = 3


@pytest.fixture
def store(engine: Engine) -> Store:
    store = Store(engine)
    store.create_election(E, BASE, MANIFEST)
    return store


def cast(
    store: Store, code: str, station: str = "s1", state: str = "cast", nonce: str | None = None,
    roll: bool = False,
) -> int | None:  # fmt: skip
    """Admit a ballot in batches of SIZE; its board index, None while its batch is open."""
    entry = f'{{"ballot":"{code}"}}'.encode()
    pending = Pending(station, "d1", code, nonce or f"n-{code}", entry, "ballot", state)
    return store.accept_ballot(E, pending, Batching(SIZE, 900), roll=roll).board_idx


def check_in(store: Store, station: str, *codes: str) -> None:
    """Voters `codes` (put on the roll first) check in at `station`."""
    import_voters(store.engine, E, [(code, "d1", None) for code in codes])
    items = [Checkin(code, station, "d1", 9, f"req-{code}") for code in codes]
    assert [a.status for a in check_in_many(store.engine, E, items)] == ["accepted"] * len(codes)


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
        store.accept_ballot("nope", Pending("s1", "d1", "c", "n", b"{}", "b", "cast"), Batching())
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


def test_a_batch_goes_onto_the_board_shuffled_when_it_fills(store: Store) -> None:
    store.set_polls(E, "s1", "open", b"{}")
    store.set_polls(E, "s2", "open", b"{}")
    assert cast(store, "c1") is None
    assert cast(store, "c2") is None
    assert cast(store, "d1", station="s2") is None  # another station has its own batch
    assert store.entry_count(E) == 2
    assert (store.ballot_state(E, "c1"), store.ballot(E, "c1")) == ("pending", None)
    assert store.station_counts(E) == {"s1": (0, 2), "s2": (0, 1)}
    idx = cast(store, "c3")  # the third fills the batch: all three go on, in a random order
    assert idx is not None
    assert 0 <= idx <= 2  # in the log of the ballots' district, d1 (issue 17)
    placed = {code: store.ballot(E, code) for code in ("c1", "c2", "c3")}
    assert sorted(b.board_idx for b in placed.values() if b is not None) == [0, 1, 2]
    for code, record in placed.items():
        assert record is not None
        assert (record.station_id, record.district_id, record.state) == ("s1", "d1", "cast")
        assert record.board_log == "d1"
        assert store.entries(E, record.board_idx, record.board_idx + 1, log="d1") == [
            f'{{"ballot":"{code}"}}'.encode()
        ]
        assert store.ballot_state(E, code) == "cast"
    assert store.ballot_state(E, "d1") == "pending"
    assert store.ballot_state(E, "nope") is None
    assert store.station_counts(E) == {"s1": (0, 3), "s2": (0, 1)}


def test_every_order_of_a_batch_comes_out(store: Store) -> None:
    """The flush draws the batch's order: over many batches of three, each of the six orders
    appears (a sorted or a fixed order would give one)."""
    store.set_polls(E, "s1", "open", b"{}")
    orders = set()
    for n in range(60):
        for k in range(SIZE):
            cast(store, f"b{n}-{k}")
        records = [store.ballot(E, f"b{n}-{k}") for k in range(SIZE)]
        orders.add(tuple(r.board_idx for r in records if r is not None))
    assert len({tuple(sorted(range(SIZE), key=lambda k: o[k])) for o in orders}) == 6


def test_casting_refusals_write_nothing(store: Store) -> None:
    store.set_polls(E, "s1", "open", b"{}")
    cast(store, "c1")
    before = (store.entry_count(E), store.station_counts(E))
    again = store.accept_ballot(
        E, Pending("s1", "d1", "c1", "n-c1", b'{"ballot":"c1"}', "ballot", "cast"), Batching(3, 9)
    )
    assert (again.again, again.board_idx) == (True, None)  # a retry: the first answer
    with pytest.raises(ReplayError):
        cast(store, "c1", nonce="other")  # the same code for another ballot
    with pytest.raises(ReplayError):
        cast(store, "c9", nonce="n-c1")  # a copy: another code with a used nonce
    with pytest.raises(ReplayError):
        cast(store, "c1", state="challenged")  # the cast ballot challenged afterwards
    with pytest.raises(PollsClosed, match="s9 are not open"):
        cast(store, "c2", station="s9")  # a station never opened
    with pytest.raises(ValueError, match="state"):
        cast(store, "c4", state="spoiled")
    assert (store.entry_count(E), store.station_counts(E)) == before
    assert store.ballot_state(E, "c9") is None


def test_a_challenged_ballot_takes_no_check_in(store: Store) -> None:
    store.set_polls(E, "s1", "open", b"{}")
    check_in(store, "s1", "v1")
    cast(store, "x1", state="challenged", roll=True)
    cast(store, "c1", roll=True)
    assert store.station_counts(E) == {"s1": (1, 1)}
    with pytest.raises(NoCheckin, match="1 cast ballots for 1 voters"):
        cast(store, "c2", roll=True)
    cast(store, "x2", state="challenged", roll=True)  # fills the batch of three
    assert store.ballot_state(E, "x1") == "challenged"
    assert store.station_counts(E) == {"s1": (1, 1)}


def test_a_roll_in_the_database_counts_without_the_flag(store: Store) -> None:
    store.set_polls(E, "s1", "open", b"{}")
    check_in(store, "s1", "v1")
    cast(store, "c1")
    with pytest.raises(NoCheckin):
        cast(store, "c2")


def test_many_ballots_admitted_in_one_transaction_each_get_their_answer(store: Store) -> None:
    store.set_polls(E, "s1", "open", b"{}")
    store.set_polls(E, "s2", "open", b"{}")
    check_in(store, "s1", "v1", "v2", "v3")

    def item(code: str, station: str = "s1", nonce: str | None = None) -> Pending:
        return Pending(station, "d1", code, nonce or f"n-{code}", b"{}", "ballot", "cast")

    answers = store.accept_ballots(E, [
        item("a"), item("a"),  # a retry inside the same batch
        item("b", nonce="n-a"),  # a copy of a's nonce
        item("c", station="s9"),  # a station never opened
        item("d"), item("e"),  # the third cast ballot fills the batch of three
        item("f"),  # beyond the three check-ins
    ], Batching(SIZE, 900), roll=True)  # fmt: skip
    kinds = [type(a).__name__ for a in answers]
    assert kinds == ["Admitted", "Admitted", "ReplayError", "PollsClosed", "Admitted",
                     "Admitted", "NoCheckin"]  # fmt: skip
    first, again = answers[0], answers[1]
    assert isinstance(first, Admitted)
    assert isinstance(again, Admitted)
    assert (first.again, again.again) == (False, True)
    placed = [a.board_idx for a in answers if isinstance(a, Admitted) and not a.again]
    assert sorted(i for i in placed if i is not None) == [0, 1, 2]  # flushed, shuffled, in d1
    assert store.station_counts(E) == {"s1": (3, 3), "s2": (0, 0)}
    assert {store.ballot_state(E, c) for c in "ade"} == {"cast"}
    assert store.ballot_state(E, "b") is store.ballot_state(E, "f") is None


# -- polls ---------------------------------------------------------------------------------------


def test_polls_gate_casting_and_closing_flushes_and_counts(store: Store) -> None:
    with pytest.raises(PollsClosed):
        cast(store, "c0")  # no station has opened
    assert store.set_polls(E, "s1", "open", b'{"type":"polls-open"}', log="d1") == 0
    assert store.polls(E) == {"s1": "open"}
    check_in(store, "s1", "v1", "v2")
    cast(store, "c1", roll=True)
    cast(store, "c2", roll=True)
    with pytest.raises(PollsClosed, match="s2 are not open"):
        cast(store, "x1", station="s2")  # never opened, while s1 is
    counts: list[tuple[int, int]] = []

    def close_entry(ballots_cast: int, checked_in: int) -> bytes:
        counts.append((ballots_cast, checked_in))
        return b'{"ballots_cast":%d}' % ballots_cast

    idx = store.set_polls(E, "s1", "closed", close_entry, log="d1")
    assert counts == [(2, 2)]
    assert idx == 3  # after the batch the closing put on the district's log
    assert {store.ballot_state(E, c) for c in ("c1", "c2")} == {"cast"}
    assert store.entries(E, idx, log="d1") == [b'{"ballots_cast":2}']
    assert store.polls(E) == {"s1": "closed"}
    before = store.entry_count(E, log="d1")
    with pytest.raises(PollsClosed, match="s1 are not open"):
        cast(store, "c3")
    with pytest.raises(PollsClosed):
        cast(store, "x2", state="challenged")
    with pytest.raises(StoreError, match="closed for good"):
        store.set_polls(E, "s1", "open", b"{}")
    with pytest.raises(StoreError, match="closed for good"):
        store.set_polls(E, "s1", "closed", b"{}")
    assert store.entry_count(E, log="d1") == before
    assert store.ballot(E, "c3") is None


def test_check_ins_only_while_the_polls_are_open(store: Store) -> None:
    import_voters(store.engine, E, [(c, "d1", None) for c in ("v1", "v2", "v3", "v4")])

    def status(code: str, offline: bool = False) -> str:
        item = Checkin(code, "s1", "d1", 9, f"req-{code}")
        answer = check_in_many(store.engine, E, [item], offline=offline)[0]
        assert not isinstance(answer, Exception)
        return answer.status

    assert status("v1") == "polls_closed"  # never opened
    assert status("v1", offline=True) == "polls_closed"
    store.set_polls(E, "s1", "open", b"{}")
    assert status("v1") == "accepted"
    store.set_polls(E, "s1", "closed", lambda n, m: b'{"checked_in":%d}' % m)
    assert store.entries_of_type(E, "polls-close")[0][1] == b'{"checked_in":1}'
    assert status("v2") == "polls_closed"
    # records made offline while the station was open are still taken after it closed
    assert status("v3", offline=True) == "accepted"
    assert store.station_counts(E) == {"s1": (2, 0)}


def test_the_closing_count_holds_exactly_the_check_ins_accepted_before_it(store: Store) -> None:
    """Check-ins race the closing (issue 15): every check-in answered `accepted` is in the
    count the closing publishes, and none is accepted after it."""
    voters = [f"v{n:04d}" for n in range(604)]
    import_voters(store.engine, E, [(v, "d1", None) for v in voters])
    store.set_polls(E, "s1", "open", b"{}")
    start = threading.Barrier(5)
    closed = threading.Event()
    published: list[int] = []

    def check_in(v: str) -> str:
        answer = check_in_many(store.engine, E, [Checkin(v, "s1", "d1", 9, f"r-{v}")])[0]
        assert not isinstance(answer, Exception)
        return answer.status

    def device(k: int) -> list[str]:
        start.wait()
        out = [check_in(v) for v in voters[k:600:4]]
        # On a loaded machine a device may be through its voters before the closing takes
        # the lock: one more voter after it, so that every run sees both sides of it.
        assert closed.wait(timeout=120)
        out.append(check_in(voters[600 + k]))
        return out

    def closing() -> None:
        start.wait()
        while store.station_counts(E)["s1"][0] < 60:  # close while devices check voters in
            time.sleep(0.001)

        def entry(_ballots: int, checked_in: int) -> bytes:
            published.append(checked_in)
            return b"{}"

        store.set_polls(E, "s1", "closed", entry)
        closed.set()

    with ThreadPoolExecutor(5) as pool:
        closer = pool.submit(closing)
        answers = [a for f in [pool.submit(device, k) for k in range(4)] for a in f.result()]
        closer.result()
    assert set(answers) <= {"accepted", "polls_closed"}
    assert "polls_closed" in answers  # the closing came while devices were checking in
    assert published == [answers.count("accepted")]
    assert store.station_counts(E)["s1"][0] == answers.count("accepted")


def test_flush_due_puts_old_batches_on_the_board(store: Store) -> None:
    store.set_polls(E, "s1", "open", b"{}")
    store.set_polls(E, "s2", "open", b"{}")
    pending = Pending("s1", "d1", "c1", "n1", b"{}", "ballot", "cast")
    store.accept_ballot(E, pending, Batching(20, 60), now=1000)
    store.accept_ballot(E, Pending("s2", "d1", "c2", "n2", b"{}", "b", "cast"), Batching(20, 60),
                        now=1050)  # fmt: skip
    assert store.flush_due(E, 60, now=1059) == 0
    assert store.flush_due(E, 60, now=1060) == 1
    assert (store.ballot_state(E, "c1"), store.ballot_state(E, "c2")) == ("cast", "pending")
    assert store.flush_due(E, 60, now=1110) == 1
    assert store.flush_due(E, 60, now=5000) == 0


def test_set_polls_refusals_write_nothing(store: Store) -> None:
    store.set_polls(E, "s1", "open", b"{}")
    with pytest.raises(StoreError, match="already open"):
        store.set_polls(E, "s1", "open", b"{}")
    with pytest.raises(ValueError, match="polls are one of"):
        store.set_polls(E, "s1", "ajar", b"{}")

    def failing(_n: int, _m: int) -> bytes:
        raise RuntimeError("no entry")

    with pytest.raises(RuntimeError):
        store.set_polls(E, "s1", "closed", failing)
    with pytest.raises(UnknownElection):
        store.set_polls("nope", "s1", "open", b"{}")
    assert store.polls(E) == {"s1": "open"}
    assert store.entry_count(E) == 1
    # a station that never opened may still be closed (it held no ballot)
    store.set_polls(E, "s2", "closed", lambda n, m: b'{"n":%d}' % n)
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


def test_threads_racing_for_the_last_check_in_give_one_ballot(store: Store) -> None:
    threads = 8
    store.set_polls(E, "s1", "open", b"{}")
    check_in(store, "s1", "v1")
    start = threading.Barrier(threads)

    def voter(n: int) -> str:
        start.wait()
        try:
            cast(store, f"c{n}", roll=True)
        except NoCheckin:
            return "no check-in"
        return "ok"

    with ThreadPoolExecutor(threads) as pool:
        outcomes = list(pool.map(voter, range(threads)))
    assert sorted(outcomes) == ["no check-in"] * (threads - 1) + ["ok"]
    assert store.station_counts(E) == {"s1": (1, 1)}
    assert [store.ballot_state(E, f"c{n}") for n in range(threads)].count("pending") == 1


def test_threads_casting_one_ballot_record_it_once(store: Store) -> None:
    threads = 8
    store.set_polls(E, "s1", "open", b"{}")
    start = threading.Barrier(threads)

    def device(_n: int) -> bool:
        start.wait()
        pending = Pending("s1", "d1", "same", "n-same", b"{}", "ballot", "cast")
        return store.accept_ballot(E, pending, Batching(3, 9)).again

    with ThreadPoolExecutor(threads) as pool:
        outcomes = list(pool.map(device, range(threads)))
    assert sorted(outcomes) == [False] + [True] * (threads - 1)
    assert store.station_counts(E) == {"s1": (0, 1)}


def test_processes_racing_for_the_last_check_in_give_one_ballot(store: Store, url: str) -> None:
    store.set_polls(E, "s1", "open", b"{}")
    check_in(store, "s1", "v1")
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    processes = [
        context.Process(target=cast_in_process, args=(url, E, "s1", code, barrier, results))
        for code in ("p1", "p2")
    ]
    for process in processes:
        process.start()
    outcomes = dict(results.get(timeout=60) for _ in processes)
    for process in processes:
        process.join(timeout=30)
    assert sorted(outcomes.values()) == ["no check-in", "ok"], outcomes
    winner = next(code for code, outcome in outcomes.items() if outcome == "ok")
    assert store.ballot_state(E, winner) == "pending"
    assert store.station_counts(E) == {"s1": (1, 1)}


# -- schema and migrations ---------------------------------------------------------------------


def test_migrate_twice_is_harmless_and_matches_the_schema(store: Store, engine: Engine) -> None:
    store.append_entry(E, b"kept", "test")
    migrate(engine)
    migrate(engine)
    assert store.entries(E) == [b"kept"]
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head == "0015"
        # the migrations build exactly the tables that schema.py describes
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_postgresql_stores_large_bytes_uncompressed() -> None:
    """Migration 0014: the board's entries, a batch's entries, tiles and tally parts are
    stored EXTERNAL (out of line, not compressed: pglz cost ~0.5 ms an entry for nothing)."""
    with postgres_database() as url:
        engine = make_engine(url)
        migrate(engine)
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT c.relname, a.attname, a.attstorage FROM pg_attribute a "
                "JOIN pg_class c ON c.oid = a.attrelid "
                "WHERE c.relnamespace = current_schema()::regnamespace "
                "AND a.atttypid = 'bytea'::regtype AND a.attnum > 0"
            ).all()
        engine.dispose()
    storage = {(r[0], r[1]): r[2] for r in rows}
    uncompressed = {k for k, v in storage.items() if v == "e"}
    assert uncompressed == {
        ("board_entries", "entry"), ("pending_ballots", "entry"), ("board_tiles", "hashes"),
        ("board_tiles", "interior"), ("tally_parts", "part"),
    }  # fmt: skip


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
        "board_log",
        "ballot_hash",
    }
    forbidden = re.compile(r"voter|national|check_?in|time|created|date|seq|serial|roll", re.I)
    assert [name for name in columns if forbidden.search(name)] == []
    referred = {fk["referred_table"] for fk in schema.get_foreign_keys("ballots")}
    assert referred <= {"elections", "board_entries"}
    # neither a column nor a default that the database fills in by itself (a clock, a sequence)
    assert all(column["default"] is None for column in schema.get_columns("ballots"))
    # nor do the tables of polling day and the tally hold a time or a voter
    for table in ("station_polls", "tally_parts", "pending_ballots"):
        names = [column["name"] for column in schema.get_columns(table)]
        assert [name for name in names if forbidden.search(name)] == [], table
        assert all(column["default"] is None for column in schema.get_columns(table)), table
    # a station's counters are numbers, and the one time is its open batch's, not a ballot's
    counters = {column["name"] for column in schema.get_columns("station_counts")}
    assert counters == {"election_id", "station_id", "checked_in", "ballots", "pending",
                        "polls_open", "batch_since"}  # fmt: skip


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


def test_a_cast_finds_earlier_ballots_through_their_code_and_nonce_indexes(store: Store) -> None:
    """The replay lookup of a cast (same code or same nonce, waiting or on the board) must use
    the (election, code) and (election, nonce) indexes: searched by the election alone it read
    every ballot of the election at each cast, quadratic in the ballots. Checked on SQLite's
    plans (PostgreSQL's planner chooses by its tables' statistics, not by the statement)."""
    if store.engine.dialect.name != "sqlite":
        pytest.skip("the plan is checked on SQLite")
    statements: list[tuple[str, object]] = []

    def seen(
        _conn: object, _cursor: object, statement: str, parameters: object, *_: object
    ) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "ballots" in statement:
            statements.append((statement, parameters))

    store.set_polls(E, "s1", "open", b"{}")
    cast(store, "c1")
    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        cast(store, "c2")
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    assert statements
    with store.engine.connect() as conn:
        for statement, parameters in statements:
            cursor = conn.connection.cursor()
            plan = [
                row[-1] for row in cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            ]
            for step in plan:
                assert not re.match(r"SCAN (pending_)?ballots\b", step), (step, statement)
                assert not re.search(r"\(election_id=\?\)$", step), (step, statement)
