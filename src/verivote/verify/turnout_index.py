"""Membership and uniqueness of pseudonyms in bounded memory, for the `turnout` check
(issue 19: a national roll of 61.2 million leaves and its check-ins verified in under 2 GB).

A Python set of 61 million 64-character strings takes some 10 GB. Here each pseudonym is kept
as a 64-bit fingerprint, the first 8 bytes of SHA-256(salt ‖ pseudonym), with a salt this
process draws at random: the record's author, who chose the pseudonyms, cannot aim at a
collision they cannot know. With the district of each roll leaf as a 16-bit number, the roll
takes 10 bytes a leaf (610 MB nationally) and each check-in 18 (its fingerprint, district and
entry index: 450 MB for 25 million). Sorting is numpy's.

What a fingerprint decides, and what it does not:
- absent from the roll's fingerprints: the pseudonym is certainly not on the roll;
- present with its station's district: on the roll, except with probability about
  size / 2^64 per check-in (3·10^-12 nationally) over the salt;
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
    """The salted 64-bit fingerprint of a pseudonym (hex)."""

    def __init__(self, salt: bytes | None = None) -> None:
        self.salt = salt if salt is not None else secrets.token_bytes(16)

    def __call__(self, pseudonym: str) -> int:
        digest = hashlib.sha256(self.salt + pseudonym.encode("ascii")).digest()
        return int.from_bytes(digest[:8], "big")


class Column:
    """A growing column of fingerprints and 16-bit labels (a district or station number)."""

    def __init__(self) -> None:
        self.prints = array("Q")
        self.labels = array("H")

    def add(self, fingerprint: int, label: int) -> None:
        self.prints.append(fingerprint)
        self.labels.append(label)

    def __len__(self) -> int:
        return len(self.prints)


def repeated(prints: Fingerprints) -> set[int]:
    """The fingerprints that occur more than once."""
    if len(prints) < 2:
        return set()
    ordered = np.sort(prints)
    same = ordered[1:] == ordered[:-1]
    return {int(x) for x in np.unique(ordered[1:][same])}


class RollIndex:
    """The roll's fingerprints sorted, with each leaf's district number, for look-ups."""

    def __init__(self, column: Column) -> None:
        prints = np.frombuffer(column.prints, dtype=np.uint64)
        order = np.argsort(prints, kind="stable")
        self.prints: Fingerprints = prints[order]
        self.labels = np.frombuffer(column.labels, dtype=np.uint16)[order]
        del order

    def districts_of(self, prints: Fingerprints) -> npt.NDArray[np.int32]:
        """Each fingerprint's district number on the roll, -1 where it is not on the roll."""
        if len(self.prints) == 0:
            return np.full(len(prints), -1, dtype=np.int32)
        at = np.searchsorted(self.prints, prints)
        at = np.minimum(at, len(self.prints) - 1)
        found = self.prints[at] == prints
        out = np.where(found, self.labels[at].astype(np.int32), -1)
        return out.astype(np.int32)


def exact_repeats(
    candidates: set[int], pseudonyms: Iterable[str], fingerprint: Fingerprinter
) -> dict[str, int]:
    """Among `pseudonyms` (read again), those whose fingerprint is a candidate and that occur
    more than once, with how often."""
    seen: dict[str, int] = {}
    for p in pseudonyms:
        if fingerprint(p) in candidates:
            seen[p] = seen.get(p, 0) + 1
    return {p: n for p, n in seen.items() if n > 1}
