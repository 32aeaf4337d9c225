"""Party-list proportional representation by highest averages: D'Hondt and Sainte-Laguë.

D'Hondt divides each party's votes by 1, 2, 3, …; Sainte-Laguë (Webster) by 1, 3, 5, ….
Each seat in turn goes to the highest quotient. An optional legal threshold (a fraction of the
valid votes, e.g. 5 %) removes parties below it first. A tie for a seat goes to the tie-break.
Quotients are compared exactly as fractions (votes_a × divisor_b vs votes_b × divisor_a).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from verivote.model.ballots import Ballot
from verivote.model.result import Result, Round
from verivote.rules.plurality import BlockTally, tally_block
from verivote.rules.tiebreak import TieBreak, lots_of

Divisors = Literal["dhondt", "sainte-lague"]


def divisor(method: Divisors, seats_won: int) -> int:
    """The divisor for a party's next seat after `seats_won` seats."""
    return seats_won + 1 if method == "dhondt" else 2 * seats_won + 1


def tally_party_list(ballots: Iterable[Ballot], parties: Sequence[str]) -> BlockTally:
    """One party per ballot: a ballot naming no party, or several different ones, is void."""
    return tally_block(ballots, parties, 1, "void")


def count_party_list(
    votes: Mapping[str, int],
    parties: Sequence[str],
    seats: int,
    method: Divisors,
    tiebreak: TieBreak,
    threshold: Fraction = Fraction(0),
    valid: int | None = None,
    void: int = 0,
) -> Result:
    """Allocate `seats` among `parties` by highest averages; `elected` lists, seat by seat,
    the party that won it. `valid` defaults to the sum of the votes."""
    if seats < 1:
        raise ValueError(f"{method} needs at least 1 seat, got {seats}")
    total = sum(votes.get(p, 0) for p in parties) if valid is None else valid
    eligible = [
        p for p in parties if votes.get(p, 0) > 0 and Fraction(votes[p]) >= threshold * total
    ]
    won = dict.fromkeys(parties, 0)
    awarded: list[str] = []
    history = [{p: Decimal(votes.get(p, 0)) for p in parties}]
    while eligible and len(awarded) < seats:
        best = max(Fraction(votes[p], divisor(method, won[p])) for p in eligible)
        tied = [p for p in eligible if Fraction(votes[p], divisor(method, won[p])) == best]
        left = seats - len(awarded)
        if len(tied) > left:
            # Only a tie for the last seats is decided by the tie-break; a tie whose members
            # all get a seat just awards them in list order.
            tied = tiebreak.rank(tied, "elect", len(awarded) + 1, history)[:left]
        for party in tied:
            won[party] += 1
            awarded.append(party)
    quota = Decimal(total) * threshold.numerator / threshold.denominator
    return Result(
        method=method,
        seats=seats,
        elected=awarded,
        rounds=[Round(round=1, tally=history[0], elected=awarded, threshold=quota)],
        valid=total,
        void=void,
        seats_won={p: n for p, n in won.items() if n},
        lots=lots_of(tiebreak),
    )
