"""The sequential tests of a ballot-polling audit, ballot by ballot (issue 18).

Wald's sequential probability ratio test as BRAVO uses it (Lindeman, Stark, Yates 2012): T
starts at 1 and is multiplied, for each ballot drawn (with replacement), by the ratio of the
ballot's chance under the reported outcome to its chance under the nearest wrong outcome; the
assertion is confirmed once T ≥ 1/α, and the measured risk after n ballots is min(1, 1/max T).
By Ville's inequality, if the assertion is false the chance that T ever reaches 1/α is at
most α.

- "w beats ℓ" (BRAVO): a ballot for w (and not ℓ) multiplies T by 2 s_w, one for ℓ (and not
  w) by 2 − 2 s_w, any other by 1; s_w is w's reported share of the ballots naming one of
  the two. The nearest wrong outcome is a tie.
- "the candidate's share is above t" (or below): a ballot naming the candidate multiplies T
  by p/t, one not naming them by (1 − p)/(1 − t); p is the reported share. The nearest wrong
  outcome is a share of exactly t.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    """Where a sequential test ended: `confirmed` after `drawn` ballots (or not, after all of
    them), and the measured risk then."""

    confirmed: bool
    drawn: int
    risk: float


def _run(factors: Iterable[float], alpha: float) -> Outcome:
    if not 0 < alpha < 1:
        raise ValueError(f"the risk limit must lie strictly between 0 and 1, not {alpha}")
    log_t = best = 0.0
    goal = math.log(1 / alpha)
    drawn = 0
    for factor in factors:
        drawn += 1
        log_t += math.log(factor) if factor > 0 else -math.inf
        best = max(best, log_t)
        if log_t >= goal:
            return Outcome(True, drawn, math.exp(-log_t))
    return Outcome(False, drawn, min(1.0, math.exp(-best)))


def beats(ballots: Iterable[int], s_w: float, alpha: float) -> Outcome:
    """BRAVO for "w beats ℓ" over `ballots`: +1 for a ballot for w (not ℓ), −1 for ℓ (not
    w), 0 for any other; `s_w` in (1/2, 1]."""
    if not 0.5 < s_w <= 1:
        raise ValueError(f"the reported winner's share of the pair must exceed 1/2, not {s_w}")
    up, down = 2 * s_w, 2 - 2 * s_w
    return _run(((up if b > 0 else down if b < 0 else 1.0) for b in ballots), alpha)


def share(named: Iterable[bool], p: float, t: float, alpha: float) -> Outcome:
    """The test that a candidate's share of the ballots is above `t` (reported `p` > t) or
    below it (`p` < t), over `named`: whether each ballot drawn names the candidate."""
    if not (0 < t < 1 and 0 < p < 1 and p != t):
        raise ValueError(f"a share test needs 0 < p, t < 1 and p ≠ t, not p={p}, t={t}")
    yes, no = p / t, (1 - p) / (1 - t)
    return _run(((yes if n else no) for n in named), alpha)
