"""The Majlis election law as applied on 1 March 2024 (rule set `majlis-2024`).

Islamic Consultative Assembly election law, as amended (articles on the count and on the second
round): each district elects S members by block vote; a voter writes up to S names or codes.

* Round 1: a candidate is elected with at least the threshold share of the *valid* ballots of
  the district (20 % since the 2016 elections; 1/3 before 2004, 1/4 in 2004–2012), at most S
  of them, highest first.
* If R seats stay empty, the runoff field is the 2R highest remaining candidates (all of them if
  fewer). Round 2 is a block vote for R seats among them, plurality, no threshold.
* A tie that decides a seat or a place in the runoff field is broken by the public lot.
* The religious-minority seats (Zoroastrian, Jewish, Assyrian and Chaldean, Armenians of the
  north, Armenians of the south) are districts of their own under the same rules.

A candidate with no vote at all is never elected and never admitted to a runoff: "highest" in
the law ranks candidates who received votes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from fractions import Fraction

from verivote.model.ballots import Ballot
from verivote.model.result import Result, Round
from verivote.rules.plurality import BlockTally, Excess, count_block, tally_block
from verivote.rules.ranking import highest
from verivote.rules.tiebreak import TieBreak, lots_of

RULE_SET = "majlis-2024"
DEFAULT_THRESHOLD = Fraction(1, 5)


def parse_fraction(text: str | float | Fraction) -> Fraction:
    """Read a threshold given as `0.2`, `20%` or `1/5`; it must lie in [0, 1]."""
    if isinstance(text, Fraction):
        value = text
    else:
        raw = str(text).strip()
        try:
            value = Fraction(raw[:-1]) / 100 if raw.endswith("%") else Fraction(raw)
        except (ValueError, ZeroDivisionError):
            raise ValueError(
                f"threshold {raw!r} is not a fraction (write 0.2, 20% or 1/5)"
            ) from None
    if not 0 <= value <= 1:
        raise ValueError(f"threshold must be between 0 and 1, got {value}")
    return value


def tally_majlis(
    ballots: Iterable[Ballot], candidates: Sequence[str], seats: int, excess: Excess = "truncate"
) -> BlockTally:
    """Normalise and count Majlis ballots: see `verivote.rules.plurality.tally_block`."""
    return tally_block(ballots, candidates, seats, excess)


def count_majlis(
    tally: BlockTally,
    candidates: Sequence[str],
    seats: int,
    tiebreak: TieBreak,
    threshold: Fraction = DEFAULT_THRESHOLD,
) -> Result:
    """Round 1 of a Majlis district: who is elected, and the runoff field for the rest."""
    if seats < 1:
        raise ValueError(f"majlis needs at least 1 seat, got {seats}")
    votes = tally.votes
    # At or above the threshold, in exact arithmetic: votes >= threshold × valid.
    reached = [
        c
        for c in candidates
        if votes.get(c, 0) > 0 and Fraction(votes[c]) >= threshold * tally.valid
    ]
    elected = highest(votes, reached, seats, tiebreak, "elect", 1)
    empty = seats - len(elected)
    rest = [c for c in candidates if c not in elected and votes.get(c, 0) > 0]
    runoff = highest(votes, rest, 2 * empty, tiebreak, "runoff", 1)
    quota = Decimal(tally.valid) * threshold.numerator / threshold.denominator
    return Result(
        method="majlis",
        seats=seats,
        elected=elected,
        rounds=[
            Round(
                round=1,
                tally={c: Decimal(v) for c, v in votes.items()},
                elected=elected,
                threshold=quota,
            )
        ],
        valid=tally.valid,
        void=tally.void,
        runoff=runoff,
        lots=lots_of(tiebreak),
    )


def count_majlis_runoff(
    tally: BlockTally, field: Sequence[str], seats: int, tiebreak: TieBreak
) -> Result:
    """Round 2 of a Majlis district: plurality among the runoff field for the `seats` left."""
    pool = [c for c in field if c in tally.votes]
    result = count_block(tally, pool, seats, tiebreak, method="majlis", round_no=2)
    return result.model_copy(update={"runoff": []})
