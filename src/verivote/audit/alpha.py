"""ALPHA, the risk-measuring test of a ballot-polling audit, and the assorters of the Majlis
assertions (issue 18).

Written from Stark, "ALPHA: Audit that Learns from Previously Hand-Audited Ballots" (Annals
of Applied Statistics, 2023; arXiv 2201.02707) and SHANGRLA (Stark 2020), not from code.

An assertion holds when the mean of its assorter over the N ballots exceeds 1/2. The null is
that it does not (mean 1/2 at most). Ballots X_1, X_2, … are drawn (with replacement, or
without it from the N), each X_j in [0, u]. Under the null, the next draw's expected value is
μ_j: 1/2 with replacement; without it, (N/2 − Σ_{i<j} X_i) / (N − j + 1), what the ballots
left must average for the whole to average 1/2. With η_j in (μ_j, u] an estimate of the mean
from the earlier draws only,

    T_j = T_{j−1} · (X_j η_j / μ_j + (u − X_j)(u − η_j) / (u − μ_j)) / u,

a nonnegative supermartingale under the null: the chance that it ever reaches 1/α is at most
α (Ville), and the measured risk after j draws is min(1, 1 / max T). When the draws without
replacement have settled the question (μ_j < 0: the ballots drawn already exceed half of N),
T is infinite.

- BRAVO is ALPHA (`measure`) with replacement, the pairwise assorter and η fixed at the
  reported mean (`verivote.audit.sequential.beats`), and the threshold tests likewise with
  the threshold assorters (`sequential.share`); the tests check that the products agree
  draw by draw.
- η_j here is ALPHA's truncated shrinkage estimate: (d η_0 + Σ_{i<j} X_i) / (d + j − 1),
  raised to at least μ_j + ε and lowered to at most u.

The assorters (a ballot is the set of candidate codes it names; u is the assorter's bound):

- "w beats ℓ": 1 if the ballot names w and not ℓ, 0 if ℓ and not w, 1/2 otherwise (u = 1);
- "w reached the share t of the valid ballots": 1/(2t) if the ballot names w, 0 otherwise
  (u = 1/(2t)); its mean is p/(2t), above 1/2 exactly when p > t;
- "c missed t": 1/(2(1 − t)) if the ballot does NOT name c, 0 otherwise; its mean is
  (1 − p)/(2(1 − t)), above 1/2 exactly when p < t.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction

from verivote.audit.sequential import Outcome

Ballot = frozenset[str]


@dataclass(frozen=True)
class Assorter:
    """An assertion's assorter: its value on a ballot, and its upper bound u."""

    value: Callable[[Ballot], float]
    upper: float


def beats(winner: str, loser: str) -> Assorter:
    def value(ballot: Ballot) -> float:
        w, ell = winner in ballot, loser in ballot
        return 1.0 if w and not ell else 0.0 if ell and not w else 0.5

    return Assorter(value, 1.0)


def reached(winner: str, threshold: Fraction) -> Assorter:
    u = 1 / (2 * float(threshold))
    return Assorter(lambda ballot: u if winner in ballot else 0.0, u)


def missed(candidate: str, threshold: Fraction) -> Assorter:
    u = 1 / (2 * (1 - float(threshold)))
    return Assorter(lambda ballot: 0.0 if candidate in ballot else u, u)


@dataclass(frozen=True)
class ShrinkTrunc:
    """ALPHA's truncated shrinkage estimate of the mean: the prior guess `eta0` (the
    reported assorter mean) weighs as `d` draws; never within `epsilon` of μ_j."""

    eta0: float
    d: float = 100.0
    epsilon: float = 1e-4


def measure(
    values: Iterable[float],
    upper: float,
    alpha: float,
    eta: float | ShrinkTrunc,
    population: int | None = None,
) -> Outcome:
    """ALPHA over the assorter `values` of the ballots drawn, in order: with replacement if
    `population` is None, else without replacement from that many ballots. `eta` fixed (a
    number: BRAVO's choice) or estimated (`ShrinkTrunc`)."""
    if not 0 < alpha < 1:
        raise ValueError(f"the risk limit must lie strictly between 0 and 1, not {alpha}")
    goal = math.log(1 / alpha)
    log_t = best = 0.0
    total = 0.0
    drawn = 0
    for x in values:
        if not 0 <= x <= upper:
            raise ValueError(f"an assorter value {x} outside [0, {upper}]")
        if population is not None and drawn >= population:
            raise ValueError(f"more draws than the {population} ballots, without replacement")
        mu = 0.5 if population is None else (population / 2 - total) / (population - drawn)
        drawn += 1
        if mu < 0:  # the ballots drawn already hold more than half of the whole: settled
            return Outcome(True, drawn, 0.0)
        if mu < upper:
            estimate = _eta(eta, total, drawn, mu, upper)
            rest = (upper - x) * (upper - estimate) / (upper - mu)
            # μ_j = 0: the ballots left must all be 0 for the null, so any more settles it
            factor = x * estimate / mu + rest if mu > 0 else math.inf if x > 0 else rest
            log_t += math.log(factor / upper) if factor > 0 else -math.inf
        else:  # μ_j ≥ u: the null can no longer fail; nothing more can be learnt
            log_t = -math.inf
        total += x
        best = max(best, log_t)
        if log_t >= goal:
            return Outcome(True, drawn, math.exp(-log_t))
    return Outcome(False, drawn, min(1.0, math.exp(-best)))


def _eta(eta: float | ShrinkTrunc, total: float, drawn: int, mu: float, upper: float) -> float:
    if isinstance(eta, ShrinkTrunc):
        guess = (eta.d * eta.eta0 + total) / (eta.d + drawn - 1)
        return min(upper, max(guess, mu + eta.epsilon))
    return min(upper, max(eta, mu + 1e-12))
