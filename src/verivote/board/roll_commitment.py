"""The roll commitment and the published check-ins (issue 19, items 2 and 3): pure functions
over (district, pseudonym) pairs, the pseudonyms being `verivote.crypto.oprf`'s. Here in
`board` (a Merkle commitment of the board's) so that both the authority's publishing
(`polling`) and the verifier (which imports no `polling`) use the same functions.

- A leaf is the bytes "<district>,<pseudonym as 64 hex digits>". The roll's leaves are sorted
  (by district, then pseudonym), so their order says nothing about the order of the roll, and
  form an RFC 6962 Merkle tree (`verivote.board.merkle`): its root, its size and each
  district's count are what the authority signs and publishes before polling day
  (`commitment`); the leaves themselves are published beside them, so anyone can count them.
- What the verifier checks of a published roll and of the stations' check-in lists is
  `verivote.verify.check_turnout` (`check_roll`, `check_lists`), in bounded memory.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from verivote.board.merkle import leaf_hash, root

ROLL_FILE = "roll.txt"
"""The record's file of the roll's leaves, one a line, in published order."""
PSEUDONYM = re.compile(r"^[0-9a-f]{64}$")
_DISTRICT = re.compile(r"^[a-z0-9][a-z0-9-]*$")
LEAF_LINE = re.compile(rb"^([a-z0-9][a-z0-9-]*),([0-9a-f]{64})$")
"""A leaf as bytes: (district, pseudonym), for reading `roll.txt` as a stream."""


def leaf(district: str, pseudonym: str) -> bytes:
    """The leaf of one voter of the roll."""
    if not _DISTRICT.match(district) or not PSEUDONYM.match(pseudonym):
        raise ValueError(f"not a (district, pseudonym) pair: {district!r}, {pseudonym!r}")
    return f"{district},{pseudonym}".encode("ascii")


def parse_leaf(raw: bytes) -> tuple[str, str]:
    """(district, pseudonym) of a leaf; ValueError if it is not one."""
    try:
        district, pseudonym = raw.decode("ascii").split(",")
    except (UnicodeDecodeError, ValueError):
        raise ValueError(f"not a roll leaf: {raw[:80]!r}") from None
    leaf(district, pseudonym)
    return district, pseudonym


@dataclass(frozen=True)
class Commitment:
    """What the authority signs: the tree's root and size, each district's count."""

    root: str
    size: int
    counts: dict[str, int]

    def to_json(self) -> dict[str, object]:
        return {"root": self.root, "size": self.size, "counts": dict(sorted(self.counts.items()))}


def leaves(roll: Iterable[tuple[str, str]]) -> list[bytes]:
    """The roll's leaves in published order."""
    return sorted(leaf(d, p) for d, p in roll)


def commitment(sorted_leaves: Sequence[bytes]) -> Commitment:
    """The commitment to the leaves (in published order)."""
    counts = Counter(parse_leaf(x)[0] for x in sorted_leaves)
    return Commitment(root([leaf_hash(x) for x in sorted_leaves]).hex(), len(sorted_leaves),
                      dict(counts))  # fmt: skip
