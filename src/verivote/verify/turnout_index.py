"""Membership and uniqueness of pseudonyms in bounded memory, for the `turnout` check
(issue 19: a national roll of 61.2 million leaves and its check-ins verified in under 2 GB).

A Python set of 61 million 64-character strings takes some 10 GB. Here each pseudonym is kept
as a fingerprint of SHA-256(salt ‖ pseudonym), with a salt this process draws at random: the
record's author, who chose the pseudonyms, cannot aim at a collision they cannot know. The
fingerprint and the leaf's district share one 64-bit word (56 + 8 bits for up to 256
districts), sorted in place: the roll takes 8 bytes a leaf (490 MB nationally) and each
check-in 16 (its word and its entry's index: 400 MB for 25 million).

What a fingerprint decides, and what it does not:
- absent from the roll's fingerprints: the pseudonym is certainly not on the roll;
- present with its station's district: on the roll, except with probability about
  size / 2^56 per check-in (10^-9 nationally) over the salt;
- two equal fingerprints (two leaves of the roll, or two check-ins) are only candidates:
  the caller compares the full pseudonyms of those few again (`exact_repeats`).
"""

from __future__ import annotations

import hashlib
import secrets
from array import array
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

Fingerprints = npt.NDArray[np.uint64]


class Fingerprinter:
    """The salted fingerprint of a pseudonym (hex), packed with a label (a district's number)
    in one 64-bit word: the fingerprint's top `64 - label_bits` bits, then the label. A roll
    of at most 256 districts (Iran's 208) keeps 56 bits of fingerprint."""

    def __init__(self, labels: int, salt: bytes | None = None) -> None:
        self.salt = salt if salt is not None else secrets.token_bytes(16)
        self.bits = max(8, (max(labels, 1) - 1).bit_length())
        if self.bits > 16:
            raise ValueError(f"{labels} districts: at most 65,536")

    def __call__(self, pseudonym: str, label: int = 0) -> int:
        digest = hashlib.sha256(self.salt + pseudonym.encode("ascii")).digest()
        return (int.from_bytes(digest[:8], "big") >> self.bits << self.bits) | label

    def unlabelled(self, packed: Fingerprints) -> Fingerprints:
        """The fingerprints alone (labels cleared)."""
        return packed >> np.uint64(self.bits) << np.uint64(self.bits)


def column() -> array[int]:
    """An empty column of packed fingerprints (8 bytes each)."""
    return array("Q")


def view(packed: array[int]) -> Fingerprints:
    """A column as a numpy array over the same memory (no copy)."""
    return np.frombuffer(packed, dtype=np.uint64) if len(packed) else np.zeros(0, np.uint64)


def repeated(prints: Fingerprints) -> set[int]:
    """The values that occur more than once (give fingerprints without their labels)."""
    if len(prints) < 2:
        return set()
    ordered = np.sort(prints)
    same = ordered[1:] == ordered[:-1]
    return {int(x) for x in np.unique(ordered[1:][same])}


class RollIndex:
    """The roll's packed fingerprints, sorted in place (the column's own memory), for
    look-ups of a fingerprint's label."""

    def __init__(self, packed: array[int], fingerprint: Fingerprinter) -> None:
        self.packed = view(packed)
        self.packed.sort()
        self.fingerprint = fingerprint

    def repeats(self, chunk: int = 1 << 20) -> set[int]:
        """The fingerprints (unlabelled) of more than one leaf: neighbours once sorted,
        compared a chunk at a time (no copy of the whole column)."""
        out: set[int] = set()
        for start in range(0, max(len(self.packed) - 1, 0), chunk):
            part = self.fingerprint.unlabelled(self.packed[start : start + chunk + 1])
            same = part[1:] == part[:-1]
            out.update(int(x) for x in part[1:][same])
        return out

    def labels_of(self, queries: Fingerprints, chunk: int = 1 << 20) -> npt.NDArray[np.int32]:
        """The label on the roll of each query's fingerprint (its own label ignored), -1
        where the fingerprint is not on the roll."""
        out = np.full(len(queries), -1, dtype=np.int32)
        if len(self.packed) == 0:
            return out
        mask = np.uint64((1 << self.fingerprint.bits) - 1)
        for start in range(0, len(queries), chunk):  # a chunk at a time: bounded temporaries
            bare = self.fingerprint.unlabelled(queries[start : start + chunk])
            at = np.minimum(np.searchsorted(self.packed, bare), len(self.packed) - 1)
            found = self.packed[at]
            hit = self.fingerprint.unlabelled(found) == bare
            out[start : start + chunk] = np.where(hit, (found & mask).astype(np.int32), -1)
        return out

    def labels(self, queries: Fingerprints) -> npt.NDArray[np.int32]:
        """Each query's own label."""
        mask = np.uint64((1 << self.fingerprint.bits) - 1)
        return (queries & mask).astype(np.int32)


def exact_repeats(
    candidates: set[int], pseudonyms: Iterable[str], fingerprint: Fingerprinter
) -> dict[str, int]:
    """Among `pseudonyms` (read again), those whose unlabelled fingerprint is a candidate and
    that occur more than once, with how often."""
    seen: dict[str, int] = {}
    for p in pseudonyms:
        if fingerprint(p) in candidates:
            seen[p] = seen.get(p, 0) + 1
    return {p: n for p, n in seen.items() if n > 1}
