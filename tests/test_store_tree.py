"""The logs and their stored Merkle trees in the store (issue 17, item 2), on SQLite and
PostgreSQL: roots and proofs from the stored tiles equal merkle.py's however the entries were
appended, logs grow independently and do not contend, a rolled-back append leaves no tile,
and migration 0012 builds the tree of an existing board."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select, text

from verivote.board import merkle
from verivote.store import Batching, Pending, Store, make_engine, migrate
from verivote.store.db import alembic_config
from verivote.store.schema import board_logs, board_tiles
from verivote.store.txn import append_many

E = "majlis-2024-tehran"
BASE = "ab" * 32
MANIFEST = b'{"election_id":"majlis-2024-tehran"}'


@pytest.fixture
def store(engine: Engine) -> Store:
    store = Store(engine)
    store.create_election(E, BASE, MANIFEST)
    return store


def _entry(log: str, i: int) -> bytes:
    return b'{"log":"%s","n":%d}' % (log.encode(), i)


def _check_against_merkle(store: Store, election: str, log: str, entries: list[bytes]) -> None:
    """Every root, and proofs at a spread of indices and sizes, equal merkle.py's."""
    reference = merkle.MerkleLog(merkle.leaf_hash(e) for e in entries)
    n = len(entries)
    assert store.entry_count(election, log) == n
    assert store.entries(election, log=log) == entries
    assert store.tree_root(election, log=log) == reference.root()
    sizes = sorted({1, 2, n // 3, n // 2, n - 1, n} & set(range(1, n + 1)))
    for size in sizes:
        root = store.tree_root(election, size, log)
        assert root == reference.root(size)
        for index in sorted({0, size // 2, size - 1}):
            proof = store.inclusion_proof(election, index, size, log)
            assert proof == reference.inclusion_proof(index, size)
            assert merkle.verify_inclusion(reference.leaf_hash(index), index, size, proof, root)
            assert store.proved_entry(election, index, size, log) == (entries[index], proof)
        for old in sorted({0, 1, size // 2, size}):
            proof = store.consistency_proof(election, old, size, log)
            assert proof == reference.consistency_proof(old, size)
            assert merkle.verify_consistency(old, size, reference.root(old), root, proof)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.sampled_from(["one", "many", "bulk"]), st.integers(1, 300)),
        min_size=1,
        max_size=5,
    ),
    st.uuids(),
)
def test_appends_in_any_grouping_store_the_tree_of_merkle(
    store: Store, steps: list[tuple[str, int]], name: object
) -> None:
    election = f"e-{name}"
    store.create_election(election, BASE, MANIFEST)
    entries: list[bytes] = []
    for how, count in steps:
        new = [_entry("", len(entries) + i) for i in range(count)]
        if how == "one":
            for e in new[:5]:  # one transaction per entry (a few: each is a round trip)
                assert store.append_entry(election, e, "test") == len(entries)
                entries.append(e)
        elif how == "many":
            with store.engine.begin() as conn:
                assert append_many(conn, election, [(e, "test") for e in new]) == len(entries)
            entries.extend(new)
        else:
            assert store.bulk_append(election, iter(new), "test") == len(entries) + count
            entries.extend(new)
    _check_against_merkle(store, election, "", entries)


def test_a_bulk_load_across_tile_levels(store: Store) -> None:
    entries = [_entry("d7", i) for i in range(65_536 + 300)]
    assert store.bulk_append(E, iter(entries), "ballot-cast", log="d7") == len(entries)
    _check_against_merkle(store, E, "d7", entries)
    assert store.logs(E) == {"d7": len(entries)}


def test_two_logs_grow_independently(store: Store) -> None:
    national: list[bytes] = []
    district: list[bytes] = []
    for i in range(300):
        if i % 3:
            district.append(_entry("d1", len(district)))
            assert store.append_entry(E, district[-1], "ballot", log="d1") == len(district) - 1
        else:
            national.append(_entry("", len(national)))
            assert store.append_entry(E, national[-1], "notice") == len(national) - 1
    _check_against_merkle(store, E, "", national)
    _check_against_merkle(store, E, "d1", district)
    assert store.logs(E) == {"": 100, "d1": 200}
    assert store.entries_of_type(E, "ballot") == []
    assert len(store.entries_of_type(E, "ballot", log="d1")) == 200
    assert store.entry_count(E, "d9") == 0
    assert store.tree_root(E, log="d9") == merkle.EMPTY_ROOT
    # checkpoints are per log
    store.put_checkpoint(E, 200, "origin d1\n200\nroot\n", log="d1")
    assert store.latest_checkpoint(E) is None
    assert store.latest_checkpoint(E, log="d1") == (200, "origin d1\n200\nroot\n")
    with pytest.raises(ValueError, match="outside"):
        store.tree_root(E, 101)
    with pytest.raises(ValueError, match="outside"):
        store.proved_entry(E, 5, 101)
    with pytest.raises(ValueError, match="outside"):
        store.proved_entry(E, 100)
    with pytest.raises(ValueError, match="outside"):
        store.proved_entry(E, 0, log="d9")


def test_a_proof_at_an_older_size_reads_the_tiles_grown_since(store: Store, engine: Engine) -> None:
    """A proof reads only its hashes from each tile (`tree.read_proof`); a partial tile of an
    older tree has grown since, so its interior's layout is the wider one's."""
    entries = [_entry("", i) for i in range(600)]
    sizes = (1, 2, 3, 255, 257, 300, 513, 600)
    for start, end in zip((0, *sizes[:-1]), sizes, strict=True):
        store.bulk_append(E, iter(entries[start:end]), "test")
    reference = merkle.MerkleLog(merkle.leaf_hash(e) for e in entries)
    for size in (*sizes, 299, 511, 512):
        for index in sorted({0, 1, size // 3, size - 2, size - 1} & set(range(size))):
            assert store.proved_entry(E, index, size) == (
                entries[index],
                reference.inclusion_proof(index, size),
            )
    with engine.begin() as conn:  # a tile lost or cut short: an error, not a wrong proof
        conn.execute(
            board_tiles.update()
            .where(board_tiles.c.level == 0, board_tiles.c.idx == 2)
            .values(hashes=b"\x00" * 32 * 40, interior=b"")
        )
    with pytest.raises(LookupError, match=r"no tile tile/0/002\.p/88"):
        store.proved_entry(E, 599, 600)
    assert store.proved_entry(E, 300, 512)[0] == entries[300]


def test_casting_stores_the_tree_of_the_shuffled_batch(store: Store) -> None:
    store.append_entry(E, b"manifest", "manifest")
    store.set_polls(E, "s1", "open", b"{}", log="d1")
    for i in range(7):
        ballot = Pending("s1", "d1", f"c{i}", f"n{i}", b'{"b":%d}' % i, "ballot-cast", "cast")
        store.accept_ballot(E, ballot, Batching(3, 900))
    store.set_polls(E, "s1", "closed", b"{}", log="d1")
    _check_against_merkle(store, E, "d1", store.entries(E, log="d1"))
    assert (store.entry_count(E), store.entry_count(E, log="d1")) == (1, 9)


def test_a_rolled_back_append_leaves_no_tile(store: Store, engine: Engine) -> None:
    store.bulk_append(E, (_entry("", i) for i in range(300)), "test")

    def tiles() -> list[tuple[object, ...]]:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(select(board_tiles).order_by(*board_tiles.c))]

    before = tiles()

    def broken() -> Iterator[bytes]:
        yield from (_entry("", i) for i in range(2_500))  # past two bulk batches
        raise RuntimeError("the import failed")

    with pytest.raises(RuntimeError, match="import failed"):
        store.bulk_append(E, broken(), "test")

    def refused_after_appending() -> None:
        with engine.begin() as conn:
            append_many(conn, E, [(b"x", "test")] * 300, log="d2")
            raise RuntimeError("refused after appending")

    with pytest.raises(RuntimeError, match="refused"):
        refused_after_appending()
    assert tiles() == before
    assert store.logs(E) == {"": 300}
    _check_against_merkle(store, E, "", [_entry("", i) for i in range(300)])


def test_threads_append_to_two_logs_gap_free(store: Store) -> None:
    threads, per_thread = 8, 30
    start = threading.Barrier(threads)

    def writer(t: int) -> list[tuple[str, int, bytes]]:
        log = f"d{t % 2}"
        start.wait()
        out = []
        for i in range(per_thread):
            entry = b"thread %d entry %d" % (t, i)
            out.append((log, store.append_entry(E, entry, "test", log=log), entry))
        return out

    with ThreadPoolExecutor(threads) as pool:
        written = [item for result in pool.map(writer, range(threads)) for item in result]
    for log in ("d0", "d1"):
        mine = sorted((idx, entry) for name, idx, entry in written if name == log)
        assert [idx for idx, _ in mine] == list(range(threads // 2 * per_thread))
        _check_against_merkle(store, E, log, [entry for _, entry in mine])


def test_a_log_held_by_one_writer_does_not_stop_another_log(store: Store, engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one database-wide write lock: its writers always queue")
    store.append_entry(E, b"d1 first", "test", log="d1")
    held = threading.Event()
    release = threading.Event()

    def hold_d1() -> None:
        with engine.begin() as conn:
            append_many(conn, E, [(b"d1 second", "test")], log="d1")  # holds d1's lock
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold_d1)
    holder.start()
    try:
        assert held.wait(10)
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '5s'"))  # a wait would fail here
            assert append_many(conn, E, [(b"d2 entry", "test")], log="d2") == 0
        assert store.entries(E, log="d2") == [b"d2 entry"]
    finally:
        release.set()
        holder.join()


def test_migration_0012_builds_the_tree_of_an_existing_board(url: str) -> None:
    engine = make_engine(url)
    try:
        config = alembic_config(engine)
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0011")
        entries = [_entry("", i) for i in range(600)]
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO elections (id, base_hash, manifest) VALUES (:e, :b, '{}')"),
                {"e": E, "b": BASE},
            )
            conn.execute(
                text("INSERT INTO board_entries (election_id, idx, entry, entry_type) "
                     "VALUES (:e, :i, :entry, 'test')"),
                [{"e": E, "i": i, "entry": entry} for i, entry in enumerate(entries)],
            )  # fmt: skip
            conn.execute(
                text("INSERT INTO ballots (election_id, tracking_code, station_id, district_id, "
                     "state, board_idx, ballot_hash) VALUES (:e, 'code', 's1', 'd1', 'cast', "
                     "599, 'h')"),
                {"e": E},
            )  # fmt: skip
            conn.execute(
                text("INSERT INTO checkpoints (election_id, size, note) VALUES (:e, 600, 'n')"),
                {"e": E},
            )
        migrate(engine)
        store = Store(engine)
        _check_against_merkle(store, E, "", entries)
        assert store.latest_checkpoint(E) == (600, "n")
        record = store.ballot(E, "code")
        assert record is not None
        assert record.board_idx == 599
        # the board stays append-only, the tree keeps growing from where the migration left it
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text("DELETE FROM board_entries"))
        entries.append(store.entries(E, 0, 1)[0])
        store.append_entry(E, entries[-1], "test")
        _check_against_merkle(store, E, "", entries)
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(board_logs)).scalar_one() == 1
    finally:
        engine.dispose()
