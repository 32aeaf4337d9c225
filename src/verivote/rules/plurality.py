"""Plurality rules over plaintext ballots: normalising block-vote ballots, FPTP, block vote
and two-round majority (issue 2, methods `fptp`, `block`, `two-round`).

A block-vote ballot names up to S candidates, in any order, each counting once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Literal, cast

from verivote.model.ballots import Ballot
from verivote.model.result import Result, Round
from verivote.rules.ranking import highest
from verivote.rules.tiebreak import TieBreak, lots_of

Excess = Literal["truncate", "void"]
_BULK = 1 << 16


@dataclass(frozen=True, slots=True)
class BlockTally:
    """Votes per candidate, and the ballots found valid and void while counting them."""

    votes: dict[str, int]
    valid: int
    void: int


def tally_block(
    ballots: Iterable[Ballot], candidates: Sequence[str], limit: int, excess: Excess
) -> BlockTally:
    """Count block-vote ballots of up to `limit` names (the Majlis normalisation rule).

    Per ballot, in this order: names that are not candidates are ignored (write-ins, other
    districts' candidates); a candidate written twice counts once; then a ballot with more
    than `limit` candidates keeps its first `limit` (`excess="truncate"`, the Majlis rule) or
    is void (`excess="void"`, the usual block-vote rule). A ballot with no candidate left
    (blank included) is void. An overvote mark, if a file has one, names nobody.
    """
    if limit < 1:
        raise ValueError(f"a block vote needs at least 1 seat, got {limit}")
    known = frozenset(candidates)
    votes: Counter[str] = Counter(dict.fromkeys(candidates, 0))
    valid = void = 0
    truncate = excess == "truncate"
    # The hot path of a national count: single ballots' names are gathered in `pending` and
    # counted in bulk by Counter.update (C code), and a ballot whose marks are all candidates
    # (the common case) skips the per-name membership test.
    pending: list[str] = []
    for ballot in ballots:
        # Only names are in `known` (gaps and overvotes never are); dict.fromkeys keeps
        # the first-written order while dropping repeats.
        marks = dict.fromkeys(ballot.marks)
        if known.issuperset(marks):
            names = cast(list[str], list(marks))
        else:
            names = cast(list[str], [m for m in marks if m in known])
        if not names or (len(names) > limit and not truncate):
            void += ballot.count
            continue
        if len(names) > limit:
            del names[limit:]
        valid += ballot.count
        if ballot.count == 1:
            pending += names
            if len(pending) > _BULK:
                votes.update(pending)
                pending.clear()
        else:
            for name in names:
                votes[name] += ballot.count
    votes.update(pending)
    return BlockTally(dict(votes), valid, void)


def _decimal_tally(votes: Mapping[str, int]) -> dict[str, Decimal]:
    return {c: Decimal(v) for c, v in votes.items()}


def count_block(
    tally: BlockTally,
    candidates: Sequence[str],
    seats: int,
    tiebreak: TieBreak,
    method: str = "block",
    round_no: int = 1,
) -> Result:
    """Plurality at large: the `seats` candidates with the most votes are elected.

    A candidate needs at least one vote; a tie for the last seat goes to the tie-break.
    """
    if seats < 1:
        raise ValueError(f"{method} needs at least 1 seat, got {seats}")
    pool = [c for c in candidates if tally.votes.get(c, 0) > 0]
    elected = highest(tally.votes, pool, seats, tiebreak, "elect", round_no)
    return Result(
        method=method,
        seats=seats,
        elected=elected,
        rounds=[Round(round=round_no, tally=_decimal_tally(tally.votes), elected=elected)],
        valid=tally.valid,
        void=tally.void,
        lots=lots_of(tiebreak),
    )


def count_two_round(
    tally: BlockTally,
    candidates: Sequence[str],
    tiebreak: TieBreak,
    majority: Fraction = Fraction(1, 2),
) -> Result:
    """Two-round majority, round 1: more than half the valid ballots wins outright; otherwise
    the two candidates with the most votes go to a runoff (ties for a place by tie-break)."""
    pool = [c for c in candidates if tally.votes.get(c, 0) > 0]
    leader = highest(tally.votes, pool, 1, tiebreak, "elect", 1)
    threshold = Decimal(tally.valid) * Decimal(majority.numerator) / Decimal(majority.denominator)
    wins = bool(leader) and Fraction(tally.votes[leader[0]]) > majority * tally.valid
    runoff = None if wins else highest(tally.votes, pool, 2, tiebreak, "runoff", 1)
    elected = leader if wins else []
    return Result(
        method="two-round",
        seats=1,
        elected=elected,
        rounds=[
            Round(round=1, tally=_decimal_tally(tally.votes), elected=elected, threshold=threshold)
        ],
        valid=tally.valid,
        void=tally.void,
        runoff=runoff,
        lots=lots_of(tiebreak),
    )
