"""The tiled Merkle tree (board/tiles.py) against the in-memory reference (board/merkle.py):
tile paths as C2SP tlog-tiles writes them, the CT known answers, and roots and proofs from
tiles equal to merkle.py's at many sizes, around the 256 and 65,536 tile boundaries too."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_merkle import CT_EMPTY_ROOT, CT_LEAF_HASHES, CT_PATHS, CT_PROOFS, CT_ROOTS
from verivote.board import merkle
from verivote.board.tiles import (
    TILE_WIDTH,
    StoredHash,
    Tile,
    TileReader,
    TileRow,
    append_leaves,
    edge_tiles,
    fold_right,
    hash_place,
    inclusion_places,
    inclusion_ranges,
    interior,
    interior_offset,
    prove_consistency,
    prove_inclusion,
    range_hashes,
    tile_for,
    tile_path,
    tiles_for,
    tiles_of_tree,
    tree_root,
)

Rows = dict[tuple[int, int], bytes]
BIG = 65_536 + 2 * TILE_WIDTH + 7  # past the first level-2 hash


def _leaf(i: int) -> bytes:
    return hashlib.sha256(b"leaf %d" % i).digest()


def _grow(rows: Rows, size: int, leaves: Sequence[bytes]) -> int:
    """Append `leaves` to the tiled tree `rows` of `size` leaves, as a store would."""
    edge = {(t.level, t.index): rows[(t.level, t.index)] for t in edge_tiles(size)}
    rows.update(append_leaves(size, edge, leaves))
    return size + len(leaves)


def _reader(rows: Rows, asked: list[Tile] | None = None) -> TileReader:
    def read(tiles: Sequence[Tile]) -> list[bytes]:
        if asked is not None:
            asked.extend(tiles)
        return [rows[(t.level, t.index)] for t in tiles]

    return read


@cache
def big_tree() -> tuple[merkle.MerkleLog, Rows]:
    leaves = [_leaf(i) for i in range(BIG)]
    rows: Rows = {}
    _grow(rows, 0, leaves)
    return merkle.MerkleLog(leaves), rows


def test_tile_paths_are_the_c2sp_ones() -> None:
    assert tile_path(0, 0) == "tile/0/000"
    assert tile_path(0, 1234067) == "tile/0/x001/x234/067"
    assert tile_path(1, 1234067, 8) == "tile/1/x001/x234/067.p/8"
    assert tile_path(2, 999) == "tile/2/999"
    assert tile_path(2, 1000) == "tile/2/x001/000"
    assert tile_path(3, 5, 255) == "tile/3/005.p/255"
    assert Tile(1, 7, 3).path == "tile/1/007.p/3"
    for bad in ((-1, 0, 256), (0, -1, 256), (0, 0, 0), (0, 0, 257)):
        with pytest.raises(ValueError, match="no tile"):
            tile_path(*bad)


def test_tiles_of_a_tree() -> None:
    assert tiles_of_tree(0) == []
    assert tiles_of_tree(5) == [Tile(0, 0, 5)]
    assert tiles_of_tree(256) == [Tile(0, 0), Tile(1, 0, 1)]
    assert tiles_of_tree(513) == [Tile(0, 0), Tile(0, 1), Tile(0, 2, 1), Tile(1, 0, 2)]
    assert edge_tiles(513) == [Tile(0, 2, 1), Tile(1, 0, 2)]
    assert edge_tiles(65_536) == [Tile(2, 0, 1)]
    # a node of height 3 at index 40 covers leaves 320..327: tile 0/1 of a tree of 600
    assert tile_for(StoredHash(3, 40), 600) == Tile(0, 1)
    assert tile_for(StoredHash(9, 0), 600) == Tile(1, 0, 2)
    with pytest.raises(ValueError, match="not in a tree of 600"):
        tile_for(StoredHash(3, 75), 600)  # leaves 600..607 are not in the tree


def test_known_answers_of_the_ct_tree() -> None:
    rows: Rows = {}
    assert tree_root(0, _reader(rows)).hex() == CT_EMPTY_ROOT
    for size, expected in enumerate(CT_ROOTS, start=1):
        _grow(rows, size - 1, [CT_LEAF_HASHES[size - 1]])
        assert tree_root(size, _reader(rows)).hex() == expected
    assert rows == {(0, 0): b"".join(CT_LEAF_HASHES)}
    for index, size, path in CT_PATHS:
        assert [p.hex() for p in prove_inclusion(index, size, _reader(rows))] == path
    for old, new, proof in CT_PROOFS:
        assert [p.hex() for p in prove_consistency(old, new, _reader(rows))] == proof


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=700), min_size=1, max_size=6))
def test_growing_in_batches_gives_the_tiles_of_one_append(batches: list[int]) -> None:
    total = sum(batches)
    leaves = [_leaf(i) for i in range(total)]
    at_once: Rows = {}
    _grow(at_once, 0, leaves)
    stepwise: Rows = {}
    size = 0
    for count in batches:
        size = _grow(stepwise, size, leaves[size : size + count])
        assert tree_root(size, _reader(stepwise)) == merkle.root(leaves[:size])
    assert stepwise == at_once
    # each tile's row is its level's hashes: the leaves, then the roots of full tiles below
    assert {(t.level, t.index) for t in tiles_of_tree(total)} == set(at_once)
    assert at_once[(0, 0)] == b"".join(leaves[:TILE_WIDTH])


_SIZES = st.one_of(
    st.integers(min_value=1, max_value=BIG),
    st.sampled_from([255, 256, 257, 511, 512, 513, 65_535, 65_536, 65_537, 65_792, BIG]),
)


@settings(max_examples=120, deadline=None)
@given(_SIZES, st.data())
def test_roots_and_proofs_from_tiles_equal_merkle(size: int, data: st.DataObject) -> None:
    log, rows = big_tree()
    asked: list[Tile] = []
    read = _reader(rows, asked)
    root = tree_root(size, read)
    assert root == log.root(size)
    # a root reads at most one tile per level (the right edge's pieces share them)
    assert len(asked) <= len(edge_tiles(size)) + 3

    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    proof = prove_inclusion(index, size, read)
    assert proof == log.inclusion_proof(index, size)
    assert merkle.verify_inclusion(log.leaf_hash(index), index, size, proof, root)

    old = data.draw(st.integers(min_value=0, max_value=size), label="old")
    consistency = prove_consistency(old, size, read)
    assert consistency == log.consistency_proof(old, size)
    assert merkle.verify_consistency(old, size, log.root(old), root, consistency)


def test_a_proof_reads_few_tiles() -> None:
    for index, size in ((0, BIG), (BIG - 1, BIG), (65_535, 65_537), (300, 70_000)):
        nodes = [n for lo, hi in inclusion_ranges(index, size) for n in range_hashes(lo, hi)]
        # O(log n): a handful of tiles per tile level, not a walk over the leaves
        assert len(tiles_for(nodes, size)) <= 3 * len(edge_tiles(size)) + 3


def test_bad_tiles_and_arguments_are_refused() -> None:
    _, rows = big_tree()
    with pytest.raises(ValueError, match="hashes, not"):
        tree_root(300, lambda tiles: [b"\x00" * 32 for _ in tiles])
    with pytest.raises(ValueError, match="gave 0 tiles"):
        tree_root(300, lambda tiles: [])
    with pytest.raises(ValueError, match="outside"):
        prove_inclusion(5, 5, _reader(rows))
    with pytest.raises(ValueError, match="outside"):
        prove_consistency(6, 5, _reader(rows))
    with pytest.raises(ValueError, match="edge row"):
        append_leaves(3, {}, [_leaf(0)])
    with pytest.raises(ValueError, match="32 bytes"):
        append_leaves(0, {}, [b"short"])
    assert prove_consistency(0, 5, _reader(rows)) == []
    assert prove_consistency(5, 5, _reader(rows)) == []


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=TILE_WIDTH), st.integers(min_value=0, max_value=256))
def test_a_grown_interior_equals_one_computed_at_once(known: int, width: int) -> None:
    known, width = min(known, width), max(known, width)
    row = b"".join(_leaf(i) for i in range(width))
    at_once = interior(row)
    assert interior(row, interior(row[: known * 32]), known) == at_once
    # level k holds the nodes of height k over the row: check each against merkle.py
    at = 0
    for k in range(1, 8):
        for j in range(width >> k):
            span = [row[i * 32 : (i + 1) * 32] for i in range(j << k, (j + 1) << k)]
            assert at_once[at : at + 32] == merkle.root(span)
            at += 32
    assert at == len(at_once)


@settings(max_examples=60, deadline=None)
@given(_SIZES, st.data())
def test_tiles_with_their_interior_give_the_same_proofs(size: int, data: st.DataObject) -> None:
    log, rows = big_tree()
    with_interior = {key: TileRow(row, interior(row)) for key, row in rows.items()}

    def read(tiles: Sequence[Tile]) -> list[bytes | TileRow]:
        return [with_interior[(t.level, t.index)] for t in tiles]

    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    old = data.draw(st.integers(min_value=0, max_value=size), label="old")
    assert tree_root(size, read) == log.root(size)
    assert prove_inclusion(index, size, read) == log.inclusion_proof(index, size)
    assert prove_consistency(old, size, read) == log.consistency_proof(old, size)
    with pytest.raises(ValueError, match="interior of the wrong length"):
        tree_root(size, lambda tiles: [TileRow(rows[(t.level, t.index)], b"x") for t in tiles])


@settings(max_examples=80, deadline=None)
@given(_SIZES, st.data())
def test_a_proof_from_the_places_of_its_hashes_equals_merkle(
    size: int, data: st.DataObject
) -> None:
    """What a store reads of a proof (`inclusion_places`): each hash at its place, in the row
    or the interior of a tile stored at a width of the grown tree, folded (`fold_right`)."""
    log, rows = big_tree()
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")

    def stored(place: tuple[int, int, int, int]) -> bytes:
        level, idx, sub, position = place
        row = rows[(level, idx)]  # as big_tree() stores it: possibly wider than in `size`
        if sub == 0:
            return row[position * 32 : (position + 1) * 32]
        at = interior_offset(len(row) // 32, sub) + position * 32
        return interior(row)[at : at + 32]

    places = inclusion_places(index, size)
    proof = [fold_right([stored(p) for p in path_hash]) for path_hash in places]
    assert proof == log.inclusion_proof(index, size)
    for path_hash in places:  # every place is in the tree of `size` leaves
        for level, idx, sub, position in path_hash:
            height, node = 8 * level + sub, (idx << (8 - sub)) + position
            assert hash_place(height, node) == (level, idx, sub, position)
            assert (node + 1) << height <= size


def test_hash_places() -> None:
    assert hash_place(0, 5) == (0, 0, 0, 5)
    assert hash_place(0, 256 + 3) == (0, 1, 0, 3)
    assert hash_place(3, 70) == (0, 2, 3, 6)  # leaves 560-567: tile 2 (512-767), 6th of 32
    assert hash_place(8, 1) == (1, 0, 0, 1)
    assert hash_place(17, 5) == (2, 0, 1, 5)
    assert interior_offset(256, 1) == 0
    assert interior_offset(256, 2) == 128 * 32
    assert interior_offset(5, 3) == (2 + 1) * 32
    assert fold_right([b"a" * 32]) == b"a" * 32
    assert fold_right([b"a" * 32, b"b" * 32]) == merkle.node_hash(b"a" * 32, b"b" * 32)
    with pytest.raises(ValueError, match="no stored hash"):
        hash_place(-1, 0)
    with pytest.raises(ValueError, match="no interior level"):
        interior_offset(256, 8)
    with pytest.raises(ValueError, match="at least one"):
        fold_right([])
