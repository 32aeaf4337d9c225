"""Attack (issue 14, item 3): the authority rewrites the board's past after the witnesses
cosigned it, and asks them to cosign the rewritten history.

The operator controls the database and its own keys folder: it changes an earlier board entry
in the database, deletes the stored checkpoints and every state file it holds, then makes a new
checkpoint. Before issue 14 the authority held every witness's key and state in its keys
folder, so the witnesses it "asked" cosigned whatever it wanted. Now each witness is its own
program with its own folder (`verivote.parties.witness`): none cosigns, and each says why.
Run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text, update

from tests.manifests import small_manifest_data
from tests.store_fixtures import BACKENDS, backend_database
from verivote.board.merkle import leaf_hash
from verivote.election.polls import open_polls
from verivote.election.publishing import (
    create_signers,
    export_record,
    local_witnesses,
    make_checkpoint,
)
from verivote.election.service import ElectionContext, ElectionError, init_election, load_context
from verivote.model.manifest import parse_manifest
from verivote.store import Store, make_engine, migrate
from verivote.store.schema import board_entries, board_tiles, checkpoints
from verivote.store.tree import grow

ELECTION = "test-2024"
STATIONS = ["tabriz-001", "tabriz-002", "tabriz-003", "isfahan-arm-1"]


@dataclass
class Board:
    store: Store
    ctx: ElectionContext
    keys: Path
    witnesses: Path


@pytest.fixture(params=BACKENDS)
def board(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Board]:
    with backend_database(request.param, tmp_path) as url:
        engine = make_engine(url)
        migrate(engine)
        store = Store(engine)
        manifest = parse_manifest(small_manifest_data())
        keys, witnesses = tmp_path / "keys", tmp_path / "witnesses"
        create_signers(keys, manifest)
        local_witnesses(keys, witnesses, manifest)
        init_election(store, manifest)
        ctx = load_context(store, ELECTION)
        open_polls(store, ctx, STATIONS[:3])
        yield Board(store, ctx, keys, witnesses)
        engine.dispose()


def _rewrite_entry(store: Store, index: int, *, tiles: bool = True) -> None:
    """What an operator who owns the database can do: drop the append-only trigger, change
    entry `index` of the national log (the one witnesses cosign) in place, rebuild the log's
    stored tree over the changed entries (unless `tiles` is False), and forget every
    checkpoint the board stored (so that its own store has nothing to compare)."""
    with store.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("DROP TRIGGER board_entries_no_update_delete ON board_entries"))
        else:
            conn.execute(text("DROP TRIGGER board_entries_no_update"))
        where = (
            (board_entries.c.election_id == ELECTION)
            & (board_entries.c.log == "")
            & (board_entries.c.idx == index)
        )
        old = conn.execute(select(board_entries.c.entry).where(where)).scalar_one()
        doc = json.loads(old)
        doc["rewritten"] = "by the operator"
        new = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode("utf-8")
        assert new != old
        conn.execute(update(board_entries).where(where).values(entry=new))
        conn.execute(delete(checkpoints).where(checkpoints.c.election_id == ELECTION))
        if tiles:  # the stored tree (issue 17) told the old history: made again
            conn.execute(
                delete(board_tiles).where(
                    board_tiles.c.election_id == ELECTION, board_tiles.c.log == ""
                )
            )
            entries = conn.execute(
                select(board_entries.c.entry)
                .where(board_entries.c.election_id == ELECTION, board_entries.c.log == "")
                .order_by(board_entries.c.idx)
            ).scalars()
            grow(conn, ELECTION, "", 0, [leaf_hash(bytes(e)) for e in entries])


def _forget_what_the_operator_holds(keys: Path) -> None:
    """The operator deletes every state file in its own keys folder (all it may keep is its
    key, the public verifier keys and the public list of witnesses)."""
    for path in keys.iterdir():
        if path.suffix == ".json" and path.name != "witnesses.json":
            path.unlink()


def _assert_no_witness_cosigns(board: Board, size: int) -> None:
    result = make_checkpoint(board.store, board.ctx, board.keys)
    assert result.size == size
    assert result.witnesses == [], f"witnesses cosigned a rewritten history: {result.witnesses}"
    assert len(result.refusals) == len(board.ctx.manifest.factions)
    for faction, refusal in zip(board.ctx.manifest.factions, result.refusals, strict=True):
        assert refusal.startswith(f"witness/{faction.id}: ")
        assert "inconsistent" in refusal, refusal
        assert "already cosigned" in refusal, refusal
        log = (board.witnesses / faction.id / "witness.log").read_text(encoding="utf-8")
        assert "refused" in log.splitlines()[-1]
        assert "inconsistent" in log.splitlines()[-1]


def test_a_grown_board_with_a_rewritten_past_gets_no_cosignature(board: Board) -> None:
    first = make_checkpoint(board.store, board.ctx, board.keys)
    assert first.refusals == []
    assert len(first.witnesses) == 3
    _rewrite_entry(board.store, 1)  # the seal of tabriz's log: the polls opened there
    _forget_what_the_operator_holds(board.keys)
    open_polls(board.store, board.ctx, STATIONS[3:])  # the board grows past the old checkpoint
    _assert_no_witness_cosigns(board, first.size + 1)


def test_the_same_size_with_a_rewritten_past_gets_no_cosignature(board: Board) -> None:
    first = make_checkpoint(board.store, board.ctx, board.keys)
    assert len(first.witnesses) == 3
    _rewrite_entry(board.store, 1)
    _forget_what_the_operator_holds(board.keys)
    _assert_no_witness_cosigns(board, first.size)


def test_an_entry_changed_under_its_stored_tree_cannot_be_published(
    board: Board, tmp_path: Path
) -> None:
    """The operator changes an entry but not the stored tree: the checkpoint still signs the
    original history (the witnesses cosign that, since it is consistent), and no record can
    be exported whose entries would give it."""
    first = make_checkpoint(board.store, board.ctx, board.keys)
    _rewrite_entry(board.store, 1, tiles=False)
    again = make_checkpoint(board.store, board.ctx, board.keys)
    assert (again.size, again.note.split("\n")[2]) == (first.size, first.note.split("\n")[2])
    with pytest.raises(ElectionError, match="does not check"):
        export_record(board.store, board.ctx, board.keys, tmp_path / "record")
