"""One entry point for the plurality-family methods, over ballots or over published totals.

`count_ballots` and `count_tally` pick the rule of `PluralityOptions.method`: `majlis`
(round 1 or the round-2 runoff), `fptp`, `block`, `two-round`, `dhondt`, `sainte-lague`.
Ranked methods (IRV, STV and RCTab's other modes) live in `verivote.rules.rcv`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from verivote.model.ballots import Ballot
from verivote.model.result import Result
from verivote.rules.majlis import DEFAULT_THRESHOLD, count_majlis, count_majlis_runoff
from verivote.rules.party_list import Divisors, count_party_list
from verivote.rules.plurality import BlockTally, Excess, count_block, count_two_round, tally_block
from verivote.rules.rcv import RCV_METHODS
from verivote.rules.tiebreak import TieBreak

PLURALITY_METHODS = ("majlis", "fptp", "block", "two-round", "dhondt", "sainte-lague")
METHODS = PLURALITY_METHODS + RCV_METHODS


@dataclass(frozen=True)
class PluralityOptions:
    """How to count a plurality-family contest.

    `threshold` is the Majlis election threshold (default 1/5) or a party list's legal
    threshold (default none); `excess` says what happens to a ballot with more names than
    seats (Majlis default: keep the first S; block vote and FPTP: void); `round` is 2 for
    a Majlis runoff, whose `candidates` are the runoff field.
    """

    method: str
    seats: int
    candidates: tuple[str, ...]
    threshold: Fraction | None = None
    excess: Excess | None = None
    round: int = 1

    def __post_init__(self) -> None:
        if self.method not in PLURALITY_METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}")
        if self.seats < 1:
            raise ValueError(f"{self.method} needs at least 1 seat, got {self.seats}")
        if self.method in ("fptp", "two-round") and self.seats != 1:
            raise ValueError(f"{self.method} elects exactly 1, got --seats {self.seats}")
        if self.round not in (1, 2) or (self.round == 2 and self.method != "majlis"):
            raise ValueError("only majlis has a round 2 to count (--round 2)")
        if self.threshold is not None and not 0 <= self.threshold <= 1:
            raise ValueError(f"threshold must be between 0 and 1, got {self.threshold}")
        if len(set(self.candidates)) != len(self.candidates):
            raise ValueError("a candidate is listed twice")

    @property
    def ballot_limit(self) -> int:
        """How many names one ballot may carry."""
        return 1 if self.method in ("fptp", "two-round", "dhondt", "sainte-lague") else self.seats

    @property
    def excess_rule(self) -> Excess:
        if self.excess is not None:
            return self.excess
        return "truncate" if self.method == "majlis" else "void"


def count_ballots(
    options: PluralityOptions, ballots: Iterable[Ballot], tiebreak: TieBreak
) -> Result:
    """Count plaintext ballots under `options`."""
    tally = tally_block(ballots, options.candidates, options.ballot_limit, options.excess_rule)
    return _decide(options, tally, tiebreak)


def count_tally(
    options: PluralityOptions,
    votes: Mapping[str, int],
    valid: int,
    tiebreak: TieBreak,
    void: int = 0,
) -> Result:
    """Apply the rule to published totals: `votes` per candidate out of `valid` ballots."""
    unknown = [c for c in votes if c not in options.candidates]
    if unknown:
        raise ValueError(f"the tally names {unknown[0]!r}, who is not a candidate")
    if valid < 0 or void < 0:
        raise ValueError("ballot counts must not be negative")
    most = max(votes.values(), default=0)
    if most > valid:
        raise ValueError(f"a candidate has {most} votes but there are only {valid} valid ballots")
    full = {c: votes.get(c, 0) for c in options.candidates}
    if sum(full.values()) > valid * options.ballot_limit:
        raise ValueError(
            f"the votes add up to more than {options.ballot_limit} per valid ballot ({valid})"
        )
    return _decide(options, BlockTally(full, valid, void), tiebreak)


def _decide(options: PluralityOptions, tally: BlockTally, tiebreak: TieBreak) -> Result:
    cands: Sequence[str] = options.candidates
    m = options.method
    if m == "majlis" and options.round == 2:
        return count_majlis_runoff(tally, cands, options.seats, tiebreak)
    if m == "majlis":
        threshold = DEFAULT_THRESHOLD if options.threshold is None else options.threshold
        return count_majlis(tally, cands, options.seats, tiebreak, threshold)
    if m in ("fptp", "block"):
        return count_block(tally, cands, options.seats, tiebreak, method=m)
    if m == "two-round":
        return count_two_round(tally, cands, tiebreak)
    divisors: Divisors = "dhondt" if m == "dhondt" else "sainte-lague"
    return count_party_list(
        tally.votes,
        cands,
        options.seats,
        divisors,
        tiebreak,
        threshold=options.threshold or Fraction(0),
        valid=tally.valid,
        void=tally.void,
    )
