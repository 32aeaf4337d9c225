"""Static tile files of a record (issue 17, item 2): the tiles written for a log give the
roots and proofs of `verivote.board.merkle`, a record carries them for every log, and its
check finds a tile that is missing, changed or foreign."""

from __future__ import annotations

import hashlib
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_board_record import _build
from verivote.board.merkle import MerkleLog, leaf_hash, verify_inclusion
from verivote.board.record import check_record, write_record
from verivote.board.tile_files import file_reader, write_tiles
from verivote.board.tiles import prove_consistency, prove_inclusion, tree_root
from verivote.model.canonical import canonical_json


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(n)]


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=1, max_value=1200), st.data())
def test_tiles_on_disk_give_the_trees_roots_and_proofs(n: int, data: st.DataObject) -> None:
    import tempfile

    leaves = _leaves(n)
    log = MerkleLog(leaves)
    with tempfile.TemporaryDirectory() as folder:
        write_tiles(folder, leaves)
        read = file_reader(folder)
        size = data.draw(st.integers(min_value=1, max_value=n))
        index = data.draw(st.integers(min_value=0, max_value=size - 1))
        assert tree_root(size, read) == log.root(size)
        proof = prove_inclusion(index, size, read)
        assert proof == log.inclusion_proof(index, size)
        assert verify_inclusion(leaves[index], index, size, proof, log.root(size))
        old = data.draw(st.integers(min_value=1, max_value=size))
        assert prove_consistency(old, size, read) == log.consistency_proof(old, size)


def test_a_tree_over_two_tile_levels(tmp_path: Path) -> None:
    leaves = _leaves(256 * 256 + 300)
    count = write_tiles(tmp_path, leaves)
    # Level 0: 257 full tiles and one of 44; level 1: one full and one of 1; level 2: one of 1.
    assert count == 257 + 1 + 1 + 1 + 1
    assert (tmp_path / "tile/0/256").stat().st_size == 256 * 32
    assert (tmp_path / "tile/0/257.p/44").stat().st_size == 44 * 32
    assert (tmp_path / "tile/1/000").is_file()
    assert (tmp_path / "tile/1/001.p/1").is_file()
    assert (tmp_path / "tile/2/000.p/1").is_file()
    log = MerkleLog(leaves)
    read = file_reader(tmp_path)
    assert tree_root(len(leaves), read) == log.root()
    assert prove_inclusion(65_600, len(leaves), read) == log.inclusion_proof(65_600)


def test_writing_again_replaces_the_partial_tiles(tmp_path: Path) -> None:
    write_tiles(tmp_path, _leaves(300))
    assert (tmp_path / "tile/0/001.p/44").is_file()
    write_tiles(tmp_path, _leaves(301))
    assert not (tmp_path / "tile/0/001.p/44").exists()
    assert (tmp_path / "tile/0/001.p/45").is_file()


def test_a_record_carries_tiles_and_its_check_finds_a_bad_one(tmp_path: Path) -> None:
    entries = [canonical_json({"type": "note", "n": n}) for n in range(300)]
    note, keys = _build(entries)
    write_record(tmp_path, entries, note, keys)
    assert (tmp_path / "log/tile/0/000").is_file()
    assert (tmp_path / "log/tile/0/001.p/44").is_file()
    tiles = sorted(p for p in (tmp_path / "log/tile").rglob("*") if p.is_file())
    assert tiles
    assert check_record(tmp_path) == []
    first = tiles[0]
    good = first.read_bytes()
    first.write_bytes(bytes(32) + good[32:])
    assert any("its hashes are not those" in p for p in check_record(tmp_path))
    first.unlink()
    assert any(p.endswith(": missing") for p in check_record(tmp_path))
    first.write_bytes(good)
    (tmp_path / "log/tile/0/999").write_bytes(good)
    assert any("not a tile of the log's tree" in p for p in check_record(tmp_path))
    (tmp_path / "log/tile/0/999").unlink()
    assert check_record(tmp_path) == []
