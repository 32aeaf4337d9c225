"""Loading a log through COPY on PostgreSQL (`verivote.store.bulk`, for `bench board`'s
10-million-entry log): the entries and the stored tree are those of `Store.bulk_append`,
from an empty log or one already holding entries, across segments and tile levels; a
failed load leaves nothing; SQLite is refused (it loads with `bulk_append`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from tests.test_store_tree import BASE, MANIFEST, _check_against_merkle, _entry
from verivote.store import Store, bulk
from verivote.store.schema import board_tiles

E = "bulk-load"


@pytest.fixture
def store(engine: Engine) -> Store:
    store = Store(engine)
    store.create_election(E, BASE, MANIFEST)
    return store


def _tiles(engine: Engine, log: str) -> list[tuple[object, ...]]:
    """The log's tiles: (level, idx, hashes, interior), in order."""
    t = board_tiles.c
    with engine.connect() as conn:
        query = select(t.level, t.idx, t.hashes, t.interior).where(t.log == log)
        return [tuple(r) for r in conn.execute(query.order_by(t.level, t.idx))]


def test_a_copy_load_stores_what_bulk_append_stores(
    store: Store, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    if engine.dialect.name != "postgresql":
        with pytest.raises(ValueError, match="PostgreSQL's"), engine.begin() as conn:
            bulk.copy_append(conn, E, [b"x"], "test")
        return
    monkeypatch.setattr(bulk, "SEGMENT", 700)  # many segments, tiles filled across them
    entries = [_entry("", i) for i in range(300)]
    store.bulk_append(E, iter(entries), "test")  # a log with partial tiles already stored
    more = [_entry("", i) for i in range(300, 66_000)]
    with engine.begin() as conn:
        assert bulk.copy_append(conn, E, iter(more), "test") == 66_000
    entries += more
    _check_against_merkle(store, E, "", entries)
    store.bulk_append(E, iter(entries), "test", log="same")
    assert _tiles(engine, "") == _tiles(engine, "same")  # the same rows, interiors included
    with engine.begin() as conn:  # a new log, a load of exactly one segment
        assert bulk.copy_append(conn, E, iter(entries[:700]), "test", log="d1") == 700
    _check_against_merkle(store, E, "d1", entries[:700])
    # national entries took board positions as they were loaded; a district's wait for a seal
    assert store.merged_size(E) == 66_000


def test_a_failed_copy_load_leaves_nothing(store: Store, engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    store.bulk_append(E, (_entry("", i) for i in range(300)), "test")
    before = _tiles(engine, "")

    def broken() -> Iterator[bytes]:
        yield from (_entry("", i) for i in range(70_000))  # past a segment
        raise RuntimeError("the import failed")

    with pytest.raises(RuntimeError, match="import failed"), engine.begin() as conn:
        bulk.copy_append(conn, E, broken(), "test")
    assert _tiles(engine, "") == before
    assert store.logs(E) == {"": 300}
