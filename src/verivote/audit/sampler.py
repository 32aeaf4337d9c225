"""Which paper ballots an audit pulls: a consistent sampler from a public seed (issue 18).

The seed is typed in after dice are rolled in public (Stark recommends twenty rolls of a
ten-sided die, so that nobody could have chosen it beforehand; at least that many digits are
required here). Each paper ballot is named by its station, its box and its position in the
box (1-based, in the order the ballot manifest counts them), and gets a ticket number:

    ticket = SHA-256(seed "," station "," box "," position) read as a 256-bit big-endian integer

(every input written down, UTF-8, as Belenios' specification writes its hash inputs). The
sample of size n is the n ballots with the smallest tickets. Drawing more ballots in a later
round keeps every ballot already drawn (the sampler is consistent: sample(n) is the first n
of sample(n + k)), and anybody with the seed and the manifest can draw the same list. This is
sampling without replacement; BRAVO's sequential test assumes draws with replacement, for
which it is conservative (SHANGRLA, ALPHA).
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

MIN_DIGITS = 20
"""Digits of a public seed at the least: twenty rolls of a ten-sided die."""


class SeedError(ValueError):
    """A seed that is not a public dice roll's digits."""


@dataclass(frozen=True, order=True)
class PaperBallot:
    """A paper ballot: its station, its box at the station, its position in the box (from 1)."""

    station: str
    box: int
    position: int


def parse_seed(text: str) -> str:
    """The seed as typed: digits only (spaces allowed between them), at least MIN_DIGITS."""
    digits = "".join(text.split())
    if not digits.isascii() or not digits.isdigit():
        raise SeedError("the seed is the digits of the dice rolled in public: digits only")
    if len(digits) < MIN_DIGITS:
        raise SeedError(f"the seed needs at least {MIN_DIGITS} digits (dice rolls), not "
                        f"{len(digits)}")  # fmt: skip
    return digits


def ticket(seed: str, ballot: PaperBallot) -> int:
    """The ballot's ticket number (see the module docstring)."""
    text = f"{seed},{ballot.station},{ballot.box},{ballot.position}"
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest(), "big")


def ballots(manifest: Mapping[tuple[str, int], int]) -> Iterator[PaperBallot]:
    """Every ballot of a ballot manifest: (station, box) → how many ballots the box holds."""
    for (station, box), count in sorted(manifest.items()):
        if count < 0:
            raise ValueError(f"station {station} box {box} holds {count} ballots")
        for position in range(1, count + 1):
            yield PaperBallot(station, box, position)


def sample(seed: str, manifest: Mapping[tuple[str, int], int], n: int) -> list[PaperBallot]:
    """The n ballots of the manifest with the smallest tickets, smallest first (all of them
    if n is as large as the manifest)."""
    if n < 0:
        raise ValueError("a sample size is not negative")
    seed = parse_seed(seed)
    drawn = heapq.nsmallest(n, ((ticket(seed, b), b) for b in ballots(manifest)))
    return [b for _, b in drawn]


def pull_list(drawn: list[PaperBallot]) -> dict[str, dict[int, list[int]]]:
    """The ballots to pull, by station and box, positions in order (what each station's
    audit board looks for)."""
    out: dict[str, dict[int, list[int]]] = {}
    for b in sorted(drawn):
        out.setdefault(b.station, {}).setdefault(b.box, []).append(b.position)
    return out
