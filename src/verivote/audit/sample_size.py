"""Expected sample sizes of ballot-polling risk-limiting audits, per assertion of the outcome.

Written from the papers, not from any code:

- Lindeman, Stark, Yates, "BRAVO: Ballot-polling Risk-limiting Audits to Verify Outcomes",
  EVT/WOTE 2012: a reported winner w beats a reported loser ℓ. With p_w, p_ℓ their shares of
  all ballots (a ballot naming both, or neither, says nothing about the pair) and
  s_w = p_w / (p_w + p_ℓ), the average sample number when the reported shares are right is
  ASN ≈ (ln(1/α) + ln(2 s_w)/2) / (p_w ln(2 s_w) + p_ℓ ln(2 − 2 s_w)).
- Stark, "Sets of Half-Average Nulls Generate Risk-Limiting Audits: SHANGRLA", 2020: an
  outcome is a set of assertions, each "the mean of an assorter over the ballots exceeds 1/2",
  and the outcome is confirmed when every assertion is. A threshold assertion (a winner named
  on at least a share t of the valid ballots; the Majlis law's 20 %, a ballot naming several
  candidates counting for each) is a test of a Bernoulli share against t: Wald's sequential
  probability ratio test, whose expected sample number is built here as BRAVO's is, the
  expected step of the log-likelihood ratio (the Kullback–Leibler divergence of the reported
  share from t) into ln(1/α) plus half an up-step of overshoot.

Which assertions each outcome needs (the Majlis law, `verivote.rules.majlis`):

- round 1: each elected candidate beats each candidate not elected, and reached the
  threshold; when seats go to a runoff, each candidate of the runoff field did NOT reach it,
  and beats each candidate left out of the field (the case SHANGRLA's issue #47 leaves open:
  "below the threshold" is the same Bernoulli test in the other direction);
- round 2 (the runoff), a block vote, first past the post: each elected candidate beats each
  candidate not elected.

From a tally alone the ballots naming both w and ℓ are not known: p_w and p_ℓ are then each
candidate's share of the valid ballots, which counts such ballots on both sides. That keeps
the margin p_w − p_ℓ exact and makes the expected size larger than with the overlap known
(s_w is then closer to 1/2): an estimate on the safe side.

Party lists, IRV and STV are not covered here: `assertions` says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

COVERED = ("majlis", "block", "fptp", "two-round")
"""Methods whose outcomes these assertions cover (winners beat losers, thresholds)."""


class NotCovered(ValueError):
    """An outcome these assertions do not cover (party lists, ranked methods)."""


def bravo_asn(p_w: float, p_l: float, alpha: float) -> float:
    """BRAVO's average sample number for "w beats ℓ" at risk limit `alpha`, p_w and p_ℓ
    the shares of all ballots naming w (not ℓ) and ℓ (not w); infinite unless p_w > p_ℓ."""
    _risk(alpha)
    if not (0 <= p_l < p_w <= 1 and p_w + p_l <= 1):
        return math.inf
    s_w = p_w / (p_w + p_l)
    up = math.log(2 * s_w)
    down = math.log(2 - 2 * s_w) if s_w < 1 else -math.inf
    expected_step = p_w * up + (p_l * down if p_l > 0 else 0.0)
    return (math.log(1 / alpha) + up / 2) / expected_step


def share_asn(p: float, t: float, alpha: float, above: bool) -> float:
    """The average sample number of the sequential test that a share is above (`above`) or
    below a threshold `t`, when the reported share `p` is right; infinite if `p` is on the
    wrong side of `t` or on it."""
    _risk(alpha)
    if not 0 < t < 1 or not 0 <= p <= 1 or (p <= t if above else p >= t):
        return math.inf
    divergence = _kl(p, t)
    # The up-step of the test's log-likelihood ratio: a ballot naming the candidate when the
    # assertion is "above", one not naming them when it is "below".
    up = math.log(p / t) if above else math.log((1 - p) / (1 - t))
    return (math.log(1 / alpha) + up / 2) / divergence


def _kl(p: float, t: float) -> float:
    """Kullback–Leibler divergence of Bernoulli(p) from Bernoulli(t) (0 log 0 = 0)."""
    named = p * math.log(p / t) if p > 0 else 0.0
    not_named = (1 - p) * math.log((1 - p) / (1 - t)) if p < 1 else 0.0
    return named + not_named


def _risk(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"the risk limit must lie strictly between 0 and 1, not {alpha}")


@dataclass(frozen=True)
class Assertion:
    """One assertion of the outcome: `kind` is "beats" (winner beats loser), "reached" (the
    winner reached the threshold) or "missed" (the winner, sent to the runoff, did not reach
    it; `loser` is None for the two threshold kinds); `asn` its expected sample size."""

    kind: str
    winner: str
    loser: str | None
    asn: float

    def to_json(self) -> dict[str, object]:
        asn: object = None if math.isinf(self.asn) else round(self.asn, 1)
        return {"kind": self.kind, "winner": self.winner, "loser": self.loser, "asn": asn}


def assertions(
    method: str,
    votes: Mapping[str, int],
    valid: int,
    elected: Sequence[str],
    alpha: float,
    runoff: Sequence[str] = (),
    threshold: Fraction | None = None,
) -> list[Assertion]:
    """The assertions the outcome (`elected`, and the `runoff` field if any) rests on, with
    their ballot-polling sample sizes; `threshold` is the Majlis round 1's (None for a method
    without one). NotCovered for the methods these assertions do not decide."""
    if method not in COVERED:
        raise NotCovered(
            f"the ballot-polling assertions cover {', '.join(COVERED)}; a {method} outcome "
            "is not covered (party lists and ranked methods need assertions of their own)"
        )
    if valid <= 0:
        raise ValueError("an audit needs at least one valid ballot")
    share = {c: votes.get(c, 0) / valid for c in votes}
    won, field = set(elected), set(runoff)
    found: list[Assertion] = []
    for w in elected:
        for loser in sorted(c for c in votes if c not in won):
            found.append(Assertion("beats", w, loser, bravo_asn(share[w], share[loser], alpha)))
        if threshold is not None:
            asn = share_asn(share[w], float(threshold), alpha, above=True)
            found.append(Assertion("reached", w, None, asn))
    if field:
        if threshold is None:
            raise ValueError("a runoff field is sent to round 2 by a threshold: give it")
        left_out = sorted(c for c in votes if c not in won and c not in field)
        for c in sorted(field):
            found.append(
                Assertion(
                    "missed", c, None, share_asn(share[c], float(threshold), alpha, above=False)
                )
            )
            for loser in left_out:
                found.append(Assertion("beats", c, loser, bravo_asn(share[c], share[loser], alpha)))
    return found


def sample_size(found: Sequence[Assertion], valid: int) -> int:
    """Ballots to draw so that, if the reported shares are right, every assertion is expected
    to be confirmed: the largest expected sample size, at most every valid ballot (an
    assertion with no margin can only be settled by counting them all)."""
    if not found:
        return 0
    largest = max(a.asn for a in found)
    return valid if math.isinf(largest) else min(valid, math.ceil(largest))
