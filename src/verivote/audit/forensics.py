"""Election forensics on station counts (issue 18, item 3): the statistics, pure functions.

Each test returns its statistic and p-value. None proves fraud, and a clean result proves
nothing either: they point at stations to look at, and the audit is what checks them.

- Last digit (Beber and Scacco, "What the Numbers Say", Political Analysis 2012): the last
  digits of counts of at least 10 are close to uniform; people inventing numbers favour some
  digits. Pearson's χ² against uniform, 9 degrees of freedom.
- Second digit (Mebane, "Election Forensics: The Second-Digit Benford's Law Test", 2006):
  the second digits of counts of at least 10 against Benford's second-digit law,
  P(d) = Σ_{k=1..9} log10(1 + 1/(10k + d)); χ², 9 degrees of freedom.
- Turnout outliers: the modified z-score of each station's turnout, 0.6745 (x − median) / MAD
  (Iglewicz and Hoaglin, "How to Detect and Handle Outliers", 1993), flagged above 3.5; the
  p-value is the two-sided normal tail of the score.
- Identical counts: stations whose whole result (every candidate's count) is the same.
- The fingerprint (Klimek, Yegorov, Hanel, Thurner, "Statistical detection of systematic
  election irregularities", PNAS 2012): the two-dimensional histogram of the stations'
  turnout and the winner's vote share, weighted by voters; ballot stuffing shows as a smear
  towards (100 %, 100 %).

The χ² tail is computed here (the regularized upper incomplete gamma function, by its series
and its continued fraction, Abramowitz and Stegun 6.5.29 and 6.5.31) rather than by adding
SciPy, a large dependency, for one function.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

MIN_COUNT = 10
"""Counts below this have no meaningful last or second digit for these tests."""
OUTLIER_SCORE = 3.5
SECOND_DIGIT = tuple(sum(math.log10(1 + 1 / (10 * k + d)) for k in range(1, 10)) for d in range(10))
"""Benford's law for the second digit, d = 0 … 9."""


@dataclass(frozen=True)
class Test:
    """A test's statistic, its p-value and the number of values it used."""

    statistic: float
    p_value: float
    n: int


def chi2_sf(x: float, df: int) -> float:
    """P(χ²_df ≥ x): the regularized upper incomplete gamma Q(df/2, x/2)."""
    if df < 1:
        raise ValueError("degrees of freedom are at least 1")
    if x <= 0:
        return 1.0
    return _gamma_q(df / 2, x / 2)


def _gamma_q(a: float, x: float) -> float:
    if x <= 0:  # x/2 of a subnormal x underflows to 0
        return 1.0
    if x < a + 1:  # the series of P converges fast here (A&S 6.5.29)
        term = total = 1 / a
        n = a
        for _ in range(10_000):
            n += 1
            term *= x / n
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        p = total * math.exp(-x + a * math.log(x) - math.lgamma(a))
        return max(0.0, 1 - p)
    # the continued fraction of Q (A&S 6.5.31), by the modified Lentz method
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        step = d * c
        h *= step
        if abs(step - 1) < 1e-15:
            break
    return h * math.exp(-x + a * math.log(x) - math.lgamma(a))


def _chi2(observed: Sequence[int], expected_share: Sequence[float]) -> Test:
    n = sum(observed)
    if n == 0:
        return Test(0.0, 1.0, 0)
    stat = sum((o - n * e) ** 2 / (n * e) for o, e in zip(observed, expected_share, strict=True))
    return Test(stat, chi2_sf(stat, len(observed) - 1), n)


def last_digit(counts: Iterable[int]) -> Test:
    """Pearson's χ² of the last digits of the counts of at least MIN_COUNT against uniform."""
    seen = [0] * 10
    for c in counts:
        if c >= MIN_COUNT:
            seen[c % 10] += 1
    return _chi2(seen, [0.1] * 10)


def second_digit(counts: Iterable[int]) -> Test:
    """Pearson's χ² of the second digits of the counts of at least MIN_COUNT against
    Benford's second-digit law."""
    seen = [0] * 10
    for c in counts:
        if c >= MIN_COUNT:
            seen[int(str(c)[1])] += 1
    return _chi2(seen, SECOND_DIGIT)


@dataclass(frozen=True)
class Outlier:
    """A station whose turnout is far from the others': its modified z-score and p-value."""

    station: str
    turnout: float
    score: float
    p_value: float


def turnout_outliers(turnout: Mapping[str, float]) -> list[Outlier]:
    """The stations whose modified z-score of turnout exceeds OUTLIER_SCORE, largest first."""
    values = list(turnout.values())
    if len(values) < 3:
        return []
    median = statistics.median(values)
    mad = statistics.median(abs(v - median) for v in values)
    if mad == 0:
        return []
    found = []
    for station, t in turnout.items():
        score = 0.6745 * (t - median) / mad
        if abs(score) > OUTLIER_SCORE:
            found.append(Outlier(station, t, score, math.erfc(abs(score) / math.sqrt(2))))
    return sorted(found, key=lambda o: -abs(o.score))


def identical_counts(
    results: Mapping[str, Sequence[int]], least: int = MIN_COUNT
) -> list[list[str]]:
    """Groups of two or more stations whose whole results are the same (counts of at least
    `least` ballots in all; tiny stations agree by chance)."""
    groups: dict[tuple[int, ...], list[str]] = defaultdict(list)
    for station, counts in results.items():
        if sum(counts) >= least:
            groups[tuple(counts)].append(station)
    return sorted(sorted(g) for g in groups.values() if len(g) > 1)


def fingerprint(stations: Iterable[tuple[float, float, int]], bins: int = 50) -> list[list[int]]:
    """Klimek et al.'s fingerprint: `bins` × `bins` counts of voters, by the station's
    turnout (rows) and the winner's share of its votes (columns), both in [0, 1]."""
    grid = [[0] * bins for _ in range(bins)]
    for turnout, share, voters in stations:
        if not (0 <= turnout <= 1 and 0 <= share <= 1) or voters < 0:
            raise ValueError(f"a station's turnout and share lie in [0, 1]: {turnout}, {share}")
        row = min(bins - 1, int(turnout * bins))
        col = min(bins - 1, int(share * bins))
        grid[row][col] += voters
    return grid
