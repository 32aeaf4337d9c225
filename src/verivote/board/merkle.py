"""The Merkle tree of the bulletin board: RFC 6962 §2.1, as restated in RFC 9162 §2.1
(DESIGN.md, "Bulletin board").

    leaf hash  MTH({d})      = SHA-256(0x00 ‖ d)
    node hash                = SHA-256(0x01 ‖ left ‖ right)
    MTH(D[n]), n > 1         = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n
    MTH({})                  = SHA-256("")

The two prefixes keep leaves and interior nodes apart (no second-preimage by presenting a node
as a leaf). The RFC's recursive definition is the specification; the code computes the same
tree bottom-up. Every subtree the recursion ever visits starts at a multiple of its own size
rounded up to a power of two, so its hash is the right fold of at most log₂ n *perfect*
subtrees (those of 2^h leaves aligned on 2^h). `MerkleLog` stores every perfect subtree hash,
which makes roots and proofs for any past size a matter of O(log n) look-ups and hashes.

Proofs are lists of 32-byte hashes, ordered from the leaf (or the old tree) upward, exactly as
RFC 9162 §2.1.3.1 (PATH) and §2.1.4.1 (PROOF / SUBPROOF) produce them; the verifiers are the
algorithms of §2.1.3.2 and §2.1.4.2.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MerkleLog",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH of the empty tree: the SHA-256 of the empty string (RFC 9162 §2.1.1)."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(entry: bytes) -> bytes:
    """SHA-256(0x00 ‖ entry): the hash of one board entry as a leaf."""
    return hashlib.sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 ‖ left ‖ right): the hash of an interior node."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_hash(value: object, what: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise ValueError(f"{what} must be {HASH_SIZE} bytes")
    return value


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of the tree with these leaf hashes: n − 1 node hashes, O(log n) memory.

    The leaves are merged as they come, the way a binary counter carries: the stack holds the
    perfect subtrees of the prefix read so far (sizes strictly decreasing), which is the
    decomposition of its size into powers of two; the root is their right fold.
    """
    stack: list[tuple[int, bytes]] = []  # (height, hash)
    for index, value in enumerate(leaf_hashes):
        node = _check_hash(value, f"leaf hash {index}")
        height = 0
        while stack and stack[-1][0] == height:
            node = node_hash(stack.pop()[1], node)
            height += 1
        stack.append((height, node))
    if not stack:
        return EMPTY_ROOT
    result = stack[-1][1]
    for _, left in reversed(stack[:-1]):
        result = node_hash(left, result)
    return result


class MerkleLog:
    """An append-only Merkle log that keeps the hash of every perfect subtree.

    `levels[h][i]` is the hash of leaves [i·2^h, (i+1)·2^h); level 0 holds the leaf hashes.
    An append adds one leaf and completes at most log₂ n new perfect subtrees (amortised:
    one node hash per append). The right edge of the levels, the last entry of every level
    whose length is odd, is the compact range of the whole tree, so `root()` costs
    popcount(n) − 1 hashes and is cached until the next append. The store costs about two
    hashes per leaf, 32 bytes each.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        # Each level packed in one bytearray, 32 bytes a hash: a list of `bytes` would cost
        # about 73 a hash (a log of a million-ballot district keeps about two million).
        self._levels: list[bytearray] = [bytearray()]
        self._root: bytes | None = EMPTY_ROOT
        for value in leaf_hashes:
            self.append(value)

    def __len__(self) -> int:
        return len(self._levels[0]) // HASH_SIZE

    @property
    def size(self) -> int:
        """The number of leaves."""
        return len(self._levels[0]) // HASH_SIZE

    def _hash(self, height: int, index: int) -> bytes:
        return bytes(self._levels[height][index * HASH_SIZE : (index + 1) * HASH_SIZE])

    def append(self, leaf_hash_value: bytes) -> int:
        """Append one leaf hash; returns its index."""
        node = _check_hash(leaf_hash_value, "a leaf hash")
        levels = self._levels
        levels[0] += node
        height = 0
        # A level of even length just completed a pair: hash it into the level above.
        while len(levels[height]) % (2 * HASH_SIZE) == 0:
            pair = levels[height][-2 * HASH_SIZE :]
            node = hashlib.sha256(_NODE_PREFIX + pair).digest()  # node_hash of the pair
            height += 1
            if height == len(levels):
                levels.append(bytearray())
            levels[height] += node
        self._root = None
        return self.size - 1

    def extend(self, packed: bytes | bytearray) -> None:
        """Append many leaf hashes at once, given packed (32 bytes each, in order): the same
        tree as appending them one by one, each level's new pairs hashed in one pass (issue
        17: the verifier's main process builds trees of millions of leaves its tasks
        hashed)."""
        if len(packed) % HASH_SIZE:
            raise ValueError("packed leaf hashes must be 32 bytes each")
        levels = self._levels
        added = bytes(packed)
        height = 0
        sha = hashlib.sha256
        while added:
            level = levels[height]
            # the pairs this completes: from the one holding a lone node before, if any
            first = len(level) // (2 * HASH_SIZE) * (2 * HASH_SIZE)
            level += added
            last = len(level) // (2 * HASH_SIZE) * (2 * HASH_SIZE)
            added = b"".join(
                sha(_NODE_PREFIX + level[i : i + 2 * HASH_SIZE]).digest()
                for i in range(first, last, 2 * HASH_SIZE)
            )
            height += 1
            if added and height == len(levels):
                levels.append(bytearray())
        self._root = None

    def append_entry(self, entry: bytes) -> int:
        """Append an entry (hashed as a leaf); returns its index."""
        return self.append(leaf_hash(entry))

    def leaf_hash(self, index: int) -> bytes:
        """The leaf hash at `index`."""
        if not 0 <= index < self.size:
            raise IndexError(f"leaf index {index} outside a log of {self.size} leaves")
        return self._hash(0, index)

    def packed_leaves(self, start: int, end: int) -> bytes:
        """The leaf hashes of [start, end), packed (32 bytes each)."""
        if not 0 <= start <= end <= self.size:
            raise IndexError(f"leaves [{start}, {end}) outside a log of {self.size} leaves")
        return bytes(self._levels[0][start * HASH_SIZE : end * HASH_SIZE])

    def leaf_hashes(self, indices: Sequence[int]) -> list[bytes]:
        """The leaf hashes at `indices`, in their order: `leaf_hash` of each, in one pass
        (the verifier's main process names millions of entries to its tasks, issue 17)."""
        if indices and not 0 <= min(indices) <= max(indices) < self.size:
            raise IndexError(f"a leaf index outside a log of {self.size} leaves")
        with memoryview(self._levels[0]) as level:
            return [level[i * HASH_SIZE : (i + 1) * HASH_SIZE].tobytes() for i in indices]

    def _size(self, size: int | None) -> int:
        if size is None:
            return self.size
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} outside 0..{self.size}")
        return size

    def _range_hash(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) for a range the RFC recursion visits (lo aligned, see module doc).

        Its size in binary names the perfect subtrees it is made of, from the largest at `lo`
        rightward; MTH is their right fold.
        """
        pieces: list[bytes] = []
        start = lo
        remaining = hi - lo
        while remaining:
            height = remaining.bit_length() - 1
            pieces.append(self._hash(height, start >> height))
            start += 1 << height
            remaining -= 1 << height
        result = pieces[-1]
        for left in reversed(pieces[:-1]):
            result = node_hash(left, result)
        return result

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first `size` leaves (default: all of them)."""
        n = self._size(size)
        if n == self.size and self._root is not None:
            return self._root
        value = EMPTY_ROOT if n == 0 else self._range_hash(0, n)
        if n == self.size:
            self._root = value
        return value

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[size]) of RFC 9162 §2.1.3.1, ordered from the leaf upward."""
        n = self._size(size)
        if not 0 <= index < n:
            raise ValueError(f"leaf index {index} outside a tree of {n} leaves")
        siblings: list[bytes] = []
        lo, hi = 0, n
        while hi - lo > 1:
            k = _split(hi - lo)
            if index < lo + k:
                siblings.append(self._range_hash(lo + k, hi))
                hi = lo + k
            else:
                siblings.append(self._range_hash(lo, lo + k))
                lo += k
        siblings.reverse()  # found from the root down; the proof runs from the leaf up
        return siblings

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[new_size]) of RFC 9162 §2.1.4.1, ordered from the old tree upward.

        Empty when old_size is 0 or equal to new_size: there is nothing to prove.
        """
        n = self._size(new_size)
        if not 0 <= old_size <= n:
            raise ValueError(f"old size {old_size} outside 0..{n}")
        if old_size in (0, n):
            return []
        nodes: list[bytes] = []
        lo, hi = 0, n
        whole_old_tree = True  # SUBPROOF's flag b: the subtree is the old tree itself
        while True:
            m = old_size - lo
            if m == hi - lo:
                # The old tree's part of this subtree is all of it; unless that is the old
                # tree's own root (which the verifier already has), the proof names it.
                if not whole_old_tree:
                    nodes.append(self._range_hash(lo, hi))
                break
            k = _split(hi - lo)
            if m <= k:
                nodes.append(self._range_hash(lo + k, hi))
                hi = lo + k
            else:
                nodes.append(self._range_hash(lo, lo + k))
                lo += k
                whole_old_tree = False
        nodes.reverse()
        return nodes


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """The inclusion proof of leaf `index` in the tree of all `leaf_hashes` (O(n) hashing)."""
    return MerkleLog(leaf_hashes).inclusion_proof(index)


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """The proof that the tree of the first `old_size` leaves is a prefix of the tree of all
    `leaf_hashes` (O(n) hashing)."""
    return MerkleLog(leaf_hashes).consistency_proof(old_size)


def _proof_ok(proof: Sequence[bytes]) -> bool:
    return all(isinstance(p, bytes) and len(p) == HASH_SIZE for p in proof)


def verify_inclusion(
    leaf_hash_value: bytes, index: int, size: int, proof: Sequence[bytes], root_hash: bytes
) -> bool:
    """Whether `proof` shows the leaf at `index` in the tree of `size` leaves with `root_hash`
    (RFC 9162 §2.1.3.2)."""
    if not (0 <= index < size) or not _proof_ok([leaf_hash_value, root_hash, *proof]):
        return False
    fn, sn = index, size - 1
    r = leaf_hash_value
    for p in proof:
        if sn == 0:
            return False  # more proof than tree
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # Climb past the levels where this node is a lone right edge (no sibling).
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and hmac.compare_digest(r, root_hash)


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether `proof` shows the tree (old_size, old_root) to be a prefix of the tree
    (new_size, new_root) (RFC 9162 §2.1.4.2).

    Equal sizes need an empty proof and equal roots; the empty tree (old_size 0, whose root is
    `EMPTY_ROOT`) is a prefix of every tree, with an empty proof.
    """
    if not (0 <= old_size <= new_size) or not _proof_ok([old_root, new_root, *proof]):
        return False
    if old_size == new_size:
        return not proof and hmac.compare_digest(old_root, new_root)
    if old_size == 0:
        return not proof and hmac.compare_digest(old_root, EMPTY_ROOT)
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        # A power-of-two old tree is a perfect subtree of the new one: its root starts the path.
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and hmac.compare_digest(fr, old_root) and hmac.compare_digest(sr, new_root)
