"""How a count breaks a tie: candidate order, earlier rounds, or the public lot.

Every tie-break ranks the tied candidates *best first*: when a seat (or a runoff place) is at
stake the first one gets it; when someone must be eliminated the last one goes. Counting
functions take a `TieBreak` and never decide a tie themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Literal, Protocol

from verivote.model.result import Lot
from verivote.rules.lot import draw

Purpose = Literal["elect", "eliminate", "runoff"]
History = Sequence[Mapping[str, Decimal]]


class TieBreak(Protocol):
    """Ranks tied candidates best first.

    `history` holds the tallies of the rounds so far, the current round's last.
    """

    def rank(
        self, tied: Sequence[str], purpose: Purpose, round_no: int, history: History
    ) -> list[str]: ...


class PublicLot:
    """Ties go to the public lot of `verivote.rules.lot`; every draw is kept in `lots`."""

    def __init__(self, seed: bytes, contest: str) -> None:
        self.seed = seed
        self.contest = contest
        self.lots: list[Lot] = []

    def rank(
        self, tied: Sequence[str], purpose: Purpose, round_no: int, history: History
    ) -> list[str]:
        lot = draw(self.seed, self.contest, tied, purpose, round_no)
        self.lots.append(lot)
        return list(lot.order)


class CandidateOrder:
    """RCTab `useCandidateOrder` / `generatePermutation`: a fixed list decides.

    The candidate earliest in `order` is best: it wins a seat, and the latest is eliminated.
    A candidate not in the list (RCTab's `Undeclared Write-ins`) is never picked, neither to
    win nor to be eliminated, so it ranks last for a seat and first for elimination.
    """

    def __init__(self, order: Sequence[str]) -> None:
        self.position = {name: i for i, name in enumerate(order)}

    def rank(
        self, tied: Sequence[str], purpose: Purpose, round_no: int, history: History
    ) -> list[str]:
        unknown = -1 if purpose == "eliminate" else len(self.position)
        return sorted(tied, key=lambda name: self.position.get(name, unknown))


class PreviousRounds:
    """RCTab `previousRoundCountsThenAsk` / `previousRoundCountsThenRandom`.

    The tied candidates' tallies in the previous round decide (more is better), then the round
    before that, and so on; candidates still tied after round 1 go to `fallback`.
    """

    def __init__(self, fallback: TieBreak) -> None:
        self.fallback = fallback

    def rank(
        self, tied: Sequence[str], purpose: Purpose, round_no: int, history: History
    ) -> list[str]:
        groups: list[list[str]] = [list(tied)]
        for tally in reversed(history[:-1] if history else []):
            refined: list[list[str]] = []
            for group in groups:
                if len(group) == 1:
                    refined.append(group)
                    continue
                by_votes: dict[Decimal, list[str]] = {}
                for name in group:
                    by_votes.setdefault(tally.get(name, Decimal(0)), []).append(name)
                refined.extend(by_votes[v] for v in sorted(by_votes, reverse=True))
            groups = refined
        ranked: list[str] = []
        for group in groups:
            if len(group) == 1:
                ranked.extend(group)
            else:
                ranked.extend(self.fallback.rank(group, purpose, round_no, history))
        return ranked


def lots_of(tiebreak: TieBreak) -> list[Lot]:
    """The lots drawn so far by `tiebreak`, if it draws lots at all."""
    return list(tiebreak.lots) if isinstance(tiebreak, PublicLot) else []
