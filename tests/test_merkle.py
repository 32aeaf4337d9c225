"""The RFC 6962 / RFC 9162 Merkle tree: published vectors, a reference implementation written
from the RFC's recursive definitions, and properties of every proof for small trees."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verivote.board.merkle import (
    EMPTY_ROOT,
    MerkleLog,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

# The reference tree of the Certificate Transparency project: eight leaves, the roots after each
# append, some inclusion paths and consistency proofs. Source: github.com/google/
# certificate-transparency, cpp/merkletree/merkle_tree_test.cc (kInputs, kSHA256EmptyTreeHash,
# kSHA256Roots, kSHA256Paths, kSHA256Proofs); the same values appear in its
# python/ct/crypto/in_memory_merkle_tree_test.py and in Trillian's testonly constants.
# The C++ file numbers leaves from 1; the indices below are 0-based.
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
CT_EMPTY_ROOT = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
CT_ROOTS = [  # after 1, 2, ..., 8 leaves
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_PATHS = [  # (leaf index, tree size, inclusion path)
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CT_PROOFS = [  # (old size, new size, consistency proof)
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

CT_LEAF_HASHES = [leaf_hash(leaf) for leaf in CT_LEAVES]


def _hex(hashes: list[bytes]) -> list[str]:
    return [value.hex() for value in hashes]


# --- a reference implementation, transcribed from the RFC 9162 §2.1 definitions ----------------


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(hashes: list[bytes]) -> bytes:
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = _k(len(hashes))
    return hashlib.sha256(b"\x01" + ref_mth(hashes[:k]) + ref_mth(hashes[k:])).digest()


def ref_path(m: int, hashes: list[bytes]) -> list[bytes]:
    if len(hashes) == 1:
        return []
    k = _k(len(hashes))
    if m < k:
        return [*ref_path(m, hashes[:k]), ref_mth(hashes[k:])]
    return [*ref_path(m - k, hashes[k:]), ref_mth(hashes[:k])]


def ref_subproof(m: int, hashes: list[bytes], whole: bool) -> list[bytes]:
    n = len(hashes)
    if m == n:
        return [] if whole else [ref_mth(hashes)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, hashes[:k], whole), ref_mth(hashes[k:])]
    return [*ref_subproof(m - k, hashes[k:], False), ref_mth(hashes[:k])]


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


# --- published vectors -------------------------------------------------------------------------


def test_hashes_are_the_rfc_ones() -> None:
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()
    assert EMPTY_ROOT.hex() == CT_EMPTY_ROOT


def test_ct_roots_for_every_size() -> None:
    assert root([]).hex() == CT_EMPTY_ROOT
    log = MerkleLog()
    assert log.root().hex() == CT_EMPTY_ROOT
    for size, expected in enumerate(CT_ROOTS, start=1):
        assert root(CT_LEAF_HASHES[:size]).hex() == expected
        log.append_entry(CT_LEAVES[size - 1])
        assert log.root().hex() == expected
    for size, expected in enumerate([CT_EMPTY_ROOT, *CT_ROOTS]):
        assert log.root(size).hex() == expected


@pytest.mark.parametrize(("index", "size", "path"), CT_PATHS)
def test_ct_inclusion_paths(index: int, size: int, path: list[str]) -> None:
    hashes = CT_LEAF_HASHES[:size]
    assert _hex(inclusion_proof(hashes, index)) == path
    assert _hex(MerkleLog(CT_LEAF_HASHES).inclusion_proof(index, size)) == path
    proof = [bytes.fromhex(p) for p in path]
    tree_root = bytes.fromhex(CT_ROOTS[size - 1])
    assert verify_inclusion(CT_LEAF_HASHES[index], index, size, proof, tree_root)
    # The checks the CT test suite makes of each path: wrong index, leaf, root, path.
    for wrong in (index - 1, index + 1, index ^ 2):
        assert not verify_inclusion(CT_LEAF_HASHES[index], wrong, size, proof, tree_root)
    assert not verify_inclusion(leaf_hash(b"WrongLeaf"), index, size, proof, tree_root)
    assert not verify_inclusion(CT_LEAF_HASHES[index], index, size, proof, EMPTY_ROOT)
    assert not verify_inclusion(CT_LEAF_HASHES[index], index, size, [*proof, tree_root], tree_root)
    assert not verify_inclusion(CT_LEAF_HASHES[index], index, size, [tree_root, *proof], tree_root)


@pytest.mark.parametrize(("old", "new", "proof"), CT_PROOFS)
def test_ct_consistency_proofs(old: int, new: int, proof: list[str]) -> None:
    assert _hex(consistency_proof(CT_LEAF_HASHES[:new], old)) == proof
    assert _hex(MerkleLog(CT_LEAF_HASHES).consistency_proof(old, new)) == proof
    nodes = [bytes.fromhex(p) for p in proof]
    old_root, new_root = bytes.fromhex(CT_ROOTS[old - 1]), bytes.fromhex(CT_ROOTS[new - 1])
    assert verify_consistency(old, new, old_root, new_root, nodes)
    if nodes:
        assert not verify_consistency(old, new, new_root, old_root, nodes)  # swapped roots
        assert not verify_consistency(old, new, old_root, new_root, [])
        assert not verify_consistency(old, new, old_root, new_root, nodes[:-1])
        assert not verify_consistency(old, new, old_root, new_root, [*nodes, nodes[-1]])
        assert not verify_consistency(old, new, old_root, new_root, [EMPTY_ROOT, *nodes])
        for wrong in (old - 1, old + 1, old ^ 2):
            assert not verify_consistency(wrong, new, old_root, new_root, nodes)


# --- against the reference, and every proof of every small tree ------------------------------


def test_agrees_with_the_reference_definitions() -> None:
    hashes = _leaves(40)
    log = MerkleLog(hashes)
    for n in range(41):
        assert root(hashes[:n]) == ref_mth(hashes[:n]) == log.root(n)
        for m in range(n):
            assert log.inclusion_proof(m, n) == ref_path(m, hashes[:n])
        for m in range(1, n):
            assert log.consistency_proof(m, n) == ref_subproof(m, hashes[:n], True)


def test_every_inclusion_proof_up_to_70_leaves_verifies() -> None:
    hashes = _leaves(70)
    log = MerkleLog(hashes)
    for n in range(1, 71):
        tree_root = log.root(n)
        for m in range(n):
            proof = log.inclusion_proof(m, n)
            assert verify_inclusion(hashes[m], m, n, proof, tree_root)
            assert not verify_inclusion(hashes[m], m + 1, n, proof, tree_root)
            if m:
                assert not verify_inclusion(hashes[m], m - 1, n, proof, tree_root)
    assert inclusion_proof(hashes, 69) == log.inclusion_proof(69)


def test_every_consistency_proof_up_to_70_leaves_verifies() -> None:
    hashes = _leaves(70)
    log = MerkleLog(hashes)
    roots = [log.root(n) for n in range(71)]
    for n in range(71):
        for m in range(n + 1):
            proof = log.consistency_proof(m, n)
            assert verify_consistency(m, n, roots[m], roots[n], proof)
            if 0 < m < n:
                other = roots[m - 1] if m > 1 else roots[n]
                assert not verify_consistency(m, n, other, roots[n], proof)
    assert consistency_proof(hashes, 17) == log.consistency_proof(17)


def test_edge_cases() -> None:
    hashes = _leaves(5)
    with pytest.raises(ValueError, match="outside"):
        inclusion_proof(hashes, 5)
    with pytest.raises(ValueError, match="outside"):
        inclusion_proof([], 0)
    with pytest.raises(ValueError, match="outside"):
        consistency_proof(hashes, 6)
    with pytest.raises(ValueError, match="outside"):
        MerkleLog(hashes).root(6)
    with pytest.raises(ValueError, match="32 bytes"):
        MerkleLog().append(b"short")
    with pytest.raises(ValueError, match="32 bytes"):
        root([b"short"])
    with pytest.raises(IndexError):
        MerkleLog(hashes).leaf_hash(5)
    assert consistency_proof(hashes, 0) == consistency_proof(hashes, 5) == []
    r = root(hashes)
    # Nothing is included in the empty tree; the empty tree is a prefix of every tree.
    assert not verify_inclusion(hashes[0], 0, 0, [], EMPTY_ROOT)
    assert verify_consistency(0, 5, EMPTY_ROOT, r, [])
    assert not verify_consistency(0, 5, r, r, [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, r, [r])
    assert not verify_consistency(5, 4, r, r, [])  # time travel
    assert not verify_consistency(5, 5, r, r, [r])
    assert not verify_consistency(5, 5, r, EMPTY_ROOT, [])
    assert not verify_inclusion(hashes[0], -1, 5, [], r)
    assert not verify_inclusion(hashes[0], 0, 5, [b""], r)  # malformed proof node
    assert not verify_inclusion(b"x", 0, 1, [], b"x")  # hashes are 32 bytes


# --- hypothesis: mutations fail, the incremental log agrees with the batch root ---------------


def _flip(value: bytes, position: int, mask: int) -> bytes:
    position %= len(value)
    return value[:position] + bytes([value[position] ^ mask]) + value[position + 1 :]


small_trees = st.lists(st.binary(max_size=6), min_size=1, max_size=70)
masks = st.integers(min_value=1, max_value=255)


@settings(max_examples=150, deadline=None)
@given(small_trees, st.data(), masks, st.integers(min_value=0, max_value=10_000))
def test_any_changed_byte_breaks_an_inclusion_proof(
    entries: list[bytes], data: st.DataObject, mask: int, position: int
) -> None:
    hashes = [leaf_hash(entry) for entry in entries]
    index = data.draw(st.integers(min_value=0, max_value=len(hashes) - 1))
    proof = inclusion_proof(hashes, index)
    tree_root = root(hashes)
    leaf = hashes[index]
    assert verify_inclusion(leaf, index, len(hashes), proof, tree_root)
    assert not verify_inclusion(_flip(leaf, position, mask), index, len(hashes), proof, tree_root)
    assert not verify_inclusion(leaf, index, len(hashes), proof, _flip(tree_root, position, mask))
    if proof:
        at = position % len(proof)
        changed = [*proof[:at], _flip(proof[at], position // 7, mask), *proof[at + 1 :]]
        assert not verify_inclusion(leaf, index, len(hashes), changed, tree_root)


@settings(max_examples=150, deadline=None)
@given(small_trees, st.data(), masks, st.integers(min_value=0, max_value=10_000))
def test_any_changed_byte_breaks_a_consistency_proof(
    entries: list[bytes], data: st.DataObject, mask: int, position: int
) -> None:
    hashes = [leaf_hash(entry) for entry in entries]
    new = len(hashes)
    old = data.draw(st.integers(min_value=1, max_value=new))
    proof = consistency_proof(hashes, old)
    old_root, new_root = root(hashes[:old]), root(hashes)
    assert verify_consistency(old, new, old_root, new_root, proof)
    assert not verify_consistency(old, new, _flip(old_root, position, mask), new_root, proof)
    assert not verify_consistency(old, new, old_root, _flip(new_root, position, mask), proof)
    if proof:
        at = position % len(proof)
        changed = [*proof[:at], _flip(proof[at], position // 7, mask), *proof[at + 1 :]]
        assert not verify_consistency(old, new, old_root, new_root, changed)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=4), max_size=130))
def test_the_incremental_log_agrees_after_every_append(entries: list[bytes]) -> None:
    log = MerkleLog()
    hashes: list[bytes] = []
    for entry in entries:
        hashes.append(leaf_hash(entry))
        assert log.append_entry(entry) == len(hashes) - 1
        assert log.root() == root(hashes)
    assert len(log) == log.size == len(entries)
    for size in range(len(entries) + 1):
        assert log.root(size) == root(hashes[:size])


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 90), st.lists(st.integers(0, 40), max_size=8), st.binary(min_size=1))
def test_leaves_extended_in_pieces_make_the_tree_of_appending_them_one_by_one(
    n: int, pieces: list[int], seed: bytes
) -> None:
    """Issue 17: `extend` (the verifier's bulk of leaves from its tasks) builds exactly the
    tree `append` builds, whatever the pieces."""
    leaves = [hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range(n)]
    one = MerkleLog()
    for leaf in leaves:
        one.append(leaf)
    bulk, at = MerkleLog(), 0
    for size in [*pieces, n]:
        bulk.extend(b"".join(leaves[at : at + size]))
        at = min(n, at + size)
    assert bulk.size == one.size == n
    assert bulk.root() == one.root()
    for size in range(n + 1):
        assert bulk.root(size) == one.root(size)
    with pytest.raises(ValueError, match="32 bytes"):
        bulk.extend(b"\x00" * 31)
