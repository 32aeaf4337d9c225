"""Plaintext ballots as the counting law sees them (DESIGN.md, "Ballot CSV").

A ballot is a tuple of marks in rank order with a multiplicity. These are plain frozen
dataclasses, not pydantic models, on purpose: a national count handles tens of millions of
them, and validation happens once, where they are read (`ballot_csv`), not on every copy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

OVERVOTE_CELL = "#overvote"


@dataclass(frozen=True, slots=True)
class Overvote:
    """Several candidates marked at one rank.

    `names` lists them when the source says which ones (needed only by the RCTab rule
    `exhaust_if_multiple_continuing`); it is empty for a bare `#overvote`.
    """

    names: tuple[str, ...] = ()


Mark = str | Overvote | None
"""One rank of a ballot: a candidate name (or code), an overvote, or None for no mark."""


@dataclass(frozen=True, slots=True)
class Ballot:
    """`count` identical ballots, each with `marks` at ranks 1..len(marks)."""

    marks: tuple[Mark, ...]
    count: int = 1

    def names(self) -> tuple[str, ...]:
        """The candidate names on the ballot in rank order, overvotes and gaps left out."""
        return tuple(m for m in self.marks if isinstance(m, str))


def total(ballots: Iterable[Ballot]) -> int:
    """The number of voters behind `ballots` (the sum of their multiplicities)."""
    return sum(b.count for b in ballots)


def names_seen(ballots: Iterable[Ballot]) -> list[str]:
    """Every candidate name written on any ballot, in order of first appearance."""
    seen: dict[str, None] = {}
    for b in ballots:
        for m in b.marks:
            if isinstance(m, str):
                seen.setdefault(m, None)
            elif isinstance(m, Overvote):
                for n in m.names:
                    seen.setdefault(n, None)
    return list(seen)
