"""A Merkle tree stored as tiles: the layout of C2SP tlog-tiles, over the RFC 6962 tree of
RFC 9162 §2.1 (`verivote.board.merkle`). Pure: every read goes through a caller's function.

Stored hashes. The hash of the perfect subtree of leaves [i·2^h, (i+1)·2^h) is named (h, i)
here. A tree of n leaves has every (h, i) with (i+1)·2^h ≤ n; once written it never changes,
since the tree only grows.

Tiles (C2SP tlog-tiles, "Merkle Tree"). A tile has height 8: the tile at level L and index N
holds, in order, the hashes (8L, 256·N + k) for k = 0 … W−1, its width W at most 256. Hashes
of the heights between two tile levels (8L+1 … 8L+7) are not kept: they are the roots of
runs of a tile's row, computed when needed (at most 255 node hashes per tile). Level 0 tiles
hold the leaf hashes. In a tree of n leaves, level L has ⌊n / 256^L⌋ hashes, so the tiles of
level L are full up to index ⌊n / 256^(L+1)⌋ − 1, followed by one partial tile of width
⌊n / 256^L⌋ mod 256 when that is not 0.

Paths (C2SP tlog-tiles, "Tiles"): `tile/<L>/<N>` for a full tile, `tile/<L>/<N>.p/<W>` for
a partial one; N is written in groups of three decimal digits, zero-padded, every group but
the last prefixed with "x" (1234067 → `x001/x234/067`).

The root, an inclusion proof (PATH, §2.1.3.1) and a consistency proof (PROOF, §2.1.4.1) of a
tree of n leaves each need the hashes of O(log n) ranges, each the right fold of at most
log₂ n perfect subtrees: `*_hashes` name the stored hashes they need, `*_tiles` the tiles
those are read from (about ⌈log₂ n / 8⌉ per range, shared between ranges), and `tree_root`,
`prove_inclusion` and `prove_consistency` compute them from a `TileReader`. The reader may be
backed by the store, a folder of tiles or an HTTP client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from verivote.board.merkle import EMPTY_ROOT, HASH_SIZE, node_hash

__all__ = [
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "Place",
    "StoredHash",
    "Tile",
    "TileReader",
    "TileRow",
    "append_leaves",
    "consistency_ranges",
    "edge_tiles",
    "fold_right",
    "hash_place",
    "inclusion_places",
    "inclusion_ranges",
    "inclusion_tiles",
    "interior",
    "interior_offset",
    "level_size",
    "prove_consistency",
    "prove_inclusion",
    "range_hashes",
    "tile_for",
    "tile_path",
    "tiles_for",
    "tiles_of_tree",
    "tree_root",
]

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT  # 256 hashes in a full tile


@dataclass(frozen=True, order=True)
class StoredHash:
    """The hash of the perfect subtree of leaves [index·2^height, (index+1)·2^height)."""

    height: int
    index: int

    def __post_init__(self) -> None:
        if self.height < 0 or self.index < 0:
            raise ValueError(f"a stored hash has a height and index ≥ 0, not {self}")


@dataclass(frozen=True, order=True)
class Tile:
    """Tile (level, index) of width `width` (1 … 256): the hashes
    (8·level, 256·index + k), k < width."""

    level: int
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        if self.level < 0 or self.index < 0 or not 1 <= self.width <= TILE_WIDTH:
            raise ValueError(f"no such tile: {self}")

    @property
    def path(self) -> str:
        return tile_path(self.level, self.index, self.width)


@dataclass(frozen=True)
class TileRow:
    """A tile's row of hashes, with the hashes of its interior levels when the reader keeps
    them: `interior(hashes)`, which spares recomputing up to 255 node hashes per tile."""

    hashes: bytes
    interior: bytes = b""


TileReader = Callable[[Sequence[Tile]], Sequence[bytes | TileRow]]
"""Reads tiles: for each tile asked, its row of hashes (32 bytes each), at least `width` of
them, as bytes or as a TileRow. A reader may answer with a wider version of the same tile (a
later tree's): a tile's hashes never change, so the first `width` are the same."""


def _index_path(index: int) -> str:
    digits = f"{index:d}"
    digits = digits.zfill(-(-len(digits) // 3) * 3)
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([*("x" + g for g in groups[:-1]), groups[-1]])


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """The tile's path in C2SP tlog-tiles: `tile/<L>/<N>`, or `tile/<L>/<N>.p/<W>` if partial."""
    if level < 0 or index < 0 or not 1 <= width <= TILE_WIDTH:
        raise ValueError(f"no tile at level {level}, index {index}, width {width}")
    path = f"tile/{level}/{_index_path(index)}"
    return path if width == TILE_WIDTH else f"{path}.p/{width}"


def level_size(size: int, level: int) -> int:
    """How many hashes tile level `level` has in a tree of `size` leaves: ⌊size / 256^level⌋."""
    return size >> (TILE_HEIGHT * level)


def _tile_width(size: int, level: int, index: int) -> int:
    return min(TILE_WIDTH, level_size(size, level) - index * TILE_WIDTH)


def tile_for(node: StoredHash, size: int) -> Tile:
    """The tile of the tree of `size` leaves that holds `node` or the row it is computed from;
    its width is the tile's width in that tree."""
    if (node.index + 1) << node.height > size:
        raise ValueError(f"{node} is not in a tree of {size} leaves")
    level = node.height // TILE_HEIGHT
    # The node's first hash on its tile level's row, and which tile that row position is in.
    first = node.index << (node.height - level * TILE_HEIGHT)
    index = first // TILE_WIDTH
    return Tile(level, index, _tile_width(size, level, index))


def tiles_of_tree(size: int) -> list[Tile]:
    """Every tile of the tree of `size` leaves, level by level, each at its width there."""
    tiles: list[Tile] = []
    level = 0
    while (count := level_size(size, level)) > 0:
        tiles.extend(
            Tile(level, n, _tile_width(size, level, n)) for n in range(-(-count // TILE_WIDTH))
        )
        level += 1
    return tiles


def edge_tiles(size: int) -> list[Tile]:
    """The partial tiles of the tree of `size` leaves (its right edge), lowest level first:
    what an append must read to continue the tree."""
    tiles: list[Tile] = []
    level = 0
    while (count := level_size(size, level)) > 0:
        if count % TILE_WIDTH:
            tiles.append(Tile(level, count // TILE_WIDTH, count % TILE_WIDTH))
        level += 1
    return tiles


# -- the ranges the RFC's algorithms need ----------------------------------------------------


def _split(n: int) -> int:
    """k of RFC 9162 §2.1.1: the largest power of two smaller than n (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _range_nodes(lo: int, hi: int) -> list[tuple[int, int]]:
    """`range_hashes(lo, hi)` as (height, index) pairs."""
    nodes: list[tuple[int, int]] = []
    start, remaining = lo, hi - lo
    while remaining:
        height = remaining.bit_length() - 1
        if start % (1 << height):
            raise ValueError(f"[{lo}, {hi}) is not a range of the RFC 6962 tree")
        nodes.append((height, start >> height))
        start += 1 << height
        remaining -= 1 << height
    return nodes


def range_hashes(lo: int, hi: int) -> list[StoredHash]:
    """The perfect subtrees whose right fold is MTH(D[lo:hi]), largest first, for a range the
    RFC's recursion visits (lo a multiple of the power of two ≥ hi − lo)."""
    return [StoredHash(height, index) for height, index in _range_nodes(lo, hi)]


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs are PATH(index, D[size]) (RFC 9162 §2.1.3.1), leaf upward."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} outside a tree of {size} leaves")
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:  # PATH(m, D[n]) for n > 1: recurse into the half that holds m
        k = _split(hi - lo)
        if index - lo < k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
    ranges.reverse()
    return ranges


def consistency_ranges(old: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs are PROOF(old, D[size]) (RFC 9162 §2.1.4.1), old tree
    upward; none when old is 0 or size."""
    if not 0 <= old <= size:
        raise ValueError(f"old size {old} outside 0..{size}")
    if old in (0, size):
        return []
    ranges: list[tuple[int, int]] = []
    lo, hi, b = 0, size, True  # SUBPROOF(m, D[lo:hi], b)
    while True:
        m = old - lo
        if m == hi - lo:
            if not b:
                ranges.append((lo, hi))
            break
        k = _split(hi - lo)
        if m <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
            b = False
    ranges.reverse()
    return ranges


def tiles_for(nodes: Iterable[StoredHash], size: int) -> list[Tile]:
    """The distinct tiles of the tree of `size` leaves that `nodes` are read from, sorted."""
    return sorted({tile_for(node, size) for node in nodes})


# -- computing from tiles ---------------------------------------------------------------------


def _fold(hashes: Sequence[bytes]) -> bytes:
    """The root of a perfect subtree from its 2^s hashes of one row, pairwise upward."""
    row = list(hashes)
    while len(row) > 1:
        row = [node_hash(row[i], row[i + 1]) for i in range(0, len(row), 2)]
    return row[0]


def _interior_offset(width: int, sub_height: int) -> int:
    """Where interior level `sub_height` (1 … 8) starts in the interior of a row of `width`
    (at 8: its end)."""
    return sum(width >> k for k in range(1, sub_height)) * HASH_SIZE


@cache
def _offsets(width: int) -> tuple[int, ...]:
    """_interior_offset(width, k) for k = 0 … 8 (0 unused)."""
    return tuple(_interior_offset(width, k) for k in range(TILE_HEIGHT + 1))


def interior(hashes: bytes, known: bytes = b"", known_width: int = 0) -> bytes:
    """The interior of a tile whose row is `hashes`: for k = 1 … 7, the ⌊W / 2^k⌋ hashes of
    height 8L + k over it (each the node hash of two of level k − 1), level after level.

    `known` is the interior of the same tile at an earlier width `known_width`; only the
    hashes that the wider row completes are computed (about one per hash added).
    """
    width = len(hashes) // HASH_SIZE
    if len(hashes) % HASH_SIZE or not 0 <= known_width <= width <= TILE_WIDTH:
        raise ValueError("not a tile row of 32-byte hashes")
    if len(known) != _interior_offset(known_width, TILE_HEIGHT):
        raise ValueError(f"an interior of width {known_width} has the wrong length")
    out = bytearray()
    below = hashes
    for k in range(1, TILE_HEIGHT):
        start = _interior_offset(known_width, k)
        level = bytearray(known[start : start + (known_width >> k) * HASH_SIZE])
        for j in range(known_width >> k, width >> k):
            left = below[2 * j * HASH_SIZE : (2 * j + 1) * HASH_SIZE]
            right = below[(2 * j + 1) * HASH_SIZE : (2 * j + 2) * HASH_SIZE]
            level += node_hash(left, right)
        out += level
        below = bytes(level)
    return bytes(out)


class _Hashes:
    """The MTHs of some ranges of one tree, from tiles read in one call of the reader."""

    def __init__(self, ranges: Iterable[tuple[int, int]], size: int, read: TileReader) -> None:
        self._ranges = {r: range_hashes(*r) for r in ranges}
        self._tile_of = {n: tile_for(n, size) for nodes in self._ranges.values() for n in nodes}
        tiles = sorted(set(self._tile_of.values()))
        rows = read(tiles) if tiles else []
        if len(rows) != len(tiles):
            raise ValueError(f"the tile reader gave {len(rows)} tiles for {len(tiles)} asked")
        self._rows: dict[Tile, bytes] = {}
        self._interiors: dict[Tile, tuple[tuple[int, ...], bytes]] = {}
        for tile, answer in zip(tiles, rows, strict=True):
            row = answer.hashes if isinstance(answer, TileRow) else answer
            if not isinstance(row, bytes) or len(row) % HASH_SIZE:
                raise ValueError(f"tile {tile.path}: not a row of {HASH_SIZE}-byte hashes")
            if len(row) < tile.width * HASH_SIZE:
                raise ValueError(
                    f"tile {tile.path}: {len(row) // HASH_SIZE} hashes, not {tile.width}"
                )
            self._rows[tile] = row
            if isinstance(answer, TileRow) and answer.interior:
                offsets = _offsets(len(row) // HASH_SIZE)
                if len(answer.interior) != offsets[TILE_HEIGHT]:
                    raise ValueError(f"tile {tile.path}: an interior of the wrong length")
                self._interiors[tile] = (offsets, answer.interior)

    def _hash(self, node: StoredHash) -> bytes:
        tile = self._tile_of[node]
        sub_height = node.height - tile.level * TILE_HEIGHT
        stored = self._interiors.get(tile)
        if sub_height and stored is not None:
            offsets, inside = stored
            at = (
                offsets[sub_height]
                + (node.index - (tile.index << (TILE_HEIGHT - sub_height))) * HASH_SIZE
            )
            return inside[at : at + HASH_SIZE]
        row = self._rows[tile]
        span = 1 << sub_height
        first = (node.index * span) % TILE_WIDTH
        return _fold(
            [row[(first + k) * HASH_SIZE : (first + k + 1) * HASH_SIZE] for k in range(span)]
        )

    def range_hash(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]): the right fold of its perfect subtrees."""
        pieces = [self._hash(node) for node in self._ranges[(lo, hi)]]
        result = pieces[-1]
        for left in reversed(pieces[:-1]):
            result = node_hash(left, result)
        return result


def tree_root(size: int, read: TileReader) -> bytes:
    """MTH(D[size]) (RFC 9162 §2.1.1) from the tree's tiles: popcount(size) stored hashes."""
    if size < 0:
        raise ValueError(f"a tree size must not be negative, not {size}")
    if size == 0:
        return EMPTY_ROOT
    return _Hashes([(0, size)], size, read).range_hash(0, size)


def inclusion_tiles(index: int, size: int) -> list[Tile]:
    """The tiles `prove_inclusion(index, size, …)` reads, sorted: to fetch them ahead."""
    ranges = inclusion_ranges(index, size)
    return tiles_for((n for lo, hi in ranges for n in range_hashes(lo, hi)), size)


Place = tuple[int, int, int, int]
"""Where a stored hash is kept: (tile level, tile index, sub-height, position), sub-height 0
for the tile's own row and 1 … 7 for one of its interior levels, position the hash's place
in that row (`interior_offset` gives where an interior level starts)."""


def hash_place(height: int, index: int) -> Place:
    """The place of stored hash (height, index): the tile whose row or interior holds it."""
    if height < 0 or index < 0:
        raise ValueError(f"no stored hash ({height}, {index})")
    level, sub = divmod(height, TILE_HEIGHT)
    tile = index >> (TILE_HEIGHT - sub)
    return level, tile, sub, index - (tile << (TILE_HEIGHT - sub))


def interior_offset(width: int, sub_height: int) -> int:
    """The byte where interior level `sub_height` (1 … 7) of a tile stored at `width` starts
    (`interior`'s layout: level after level, each ⌊width / 2^k⌋ hashes)."""
    if not 1 <= sub_height < TILE_HEIGHT or not 1 <= width <= TILE_WIDTH:
        raise ValueError(f"no interior level {sub_height} in a tile of width {width}")
    return _offsets(width)[sub_height]


def inclusion_places(index: int, size: int) -> list[list[Place]]:
    """PATH(index, D[size]) (RFC 9162 §2.1.3.1) as the places of the stored hashes it is made
    of: for each hash of the path, leaf upward, its perfect subtrees largest first (the right
    fold of their hashes, `fold_right`, is the path's hash). Every place is in the tree of
    `size` leaves, so a proof can read exactly these hashes and nothing else."""
    path: list[list[Place]] = []
    for lo, hi in inclusion_ranges(index, size):
        # `hash_place` over `_range_nodes(lo, hi)`, inline: a tracker makes ~25 of these per
        # proof, thousands of proofs a second (the ranges are the RFC's, so aligned)
        places: list[Place] = []
        start, remaining = lo, hi - lo
        while remaining:
            height = remaining.bit_length() - 1
            node = start >> height
            level, sub = divmod(height, TILE_HEIGHT)
            shift = TILE_HEIGHT - sub
            tile = node >> shift
            places.append((level, tile, sub, node - (tile << shift)))
            start += 1 << height
            remaining -= 1 << height
        path.append(places)
    return path


def fold_right(pieces: Sequence[bytes]) -> bytes:
    """MTH of a range from its perfect subtrees' hashes, largest (leftmost) first."""
    if not pieces:
        raise ValueError("a range has at least one perfect subtree")
    result = pieces[-1]
    for left in reversed(pieces[:-1]):
        result = node_hash(left, result)
    return result


def prove_inclusion(index: int, size: int, read: TileReader) -> list[bytes]:
    """PATH(index, D[size]) (RFC 9162 §2.1.3.1), leaf upward, from the tree's tiles."""
    ranges = inclusion_ranges(index, size)
    hashes = _Hashes(ranges, size, read)
    return [hashes.range_hash(lo, hi) for lo, hi in ranges]


def prove_consistency(old: int, size: int, read: TileReader) -> list[bytes]:
    """PROOF(old, D[size]) (RFC 9162 §2.1.4.1), old tree upward, from the tree's tiles."""
    ranges = consistency_ranges(old, size)
    hashes = _Hashes(ranges, size, read)
    return [hashes.range_hash(lo, hi) for lo, hi in ranges]


# -- growing the tree -------------------------------------------------------------------------


def append_leaves(
    size: int, edge: dict[tuple[int, int], bytes], leaves: Sequence[bytes]
) -> dict[tuple[int, int], bytes]:
    """The tiles that change when `leaves` (leaf hashes) are appended to the tree of `size`
    leaves, as {(level, index): row}; `edge` holds the rows of its partial tiles
    (`edge_tiles(size)`), by (level, index).

    A tile that fills is final; its root (a hash of height 8·(level+1)) is appended to the
    level above, so each append costs about one node hash (255 per 256 leaves).
    """
    changed: dict[tuple[int, int], bytes] = {}
    level, new = 0, list(leaves)
    while new:
        count = level_size(size, level)
        index, width = divmod(count, TILE_WIDTH)
        row = bytearray(edge.get((level, index), b"") if width else b"")
        if len(row) != width * HASH_SIZE:
            raise ValueError(
                f"tile {tile_path(level, index, max(width, 1))}: the edge row holds "
                f"{len(row) // HASH_SIZE} hashes, not {width}"
            )
        above: list[bytes] = []
        for value in new:
            if not isinstance(value, bytes) or len(value) != HASH_SIZE:
                raise ValueError(f"a hash must be {HASH_SIZE} bytes")
            row += value
            if len(row) == TILE_WIDTH * HASH_SIZE:
                full = bytes(row)
                changed[(level, index)] = full
                above.append(
                    _fold([full[k : k + HASH_SIZE] for k in range(0, len(full), HASH_SIZE)])
                )
                index += 1
                row = bytearray()
        if row:
            changed[(level, index)] = bytes(row)
        new = above
        level += 1
    return changed
