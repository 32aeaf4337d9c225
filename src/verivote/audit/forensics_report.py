"""The forensics report of an election's station counts (issue 18, item 3): `analyse` runs
every test of `verivote.audit.forensics` on the stations' result forms and returns a JSON-able
summary; `render_html` draws it as one self-contained HTML page with inline SVG plots.

None of these tests proves fraud, and a clean report proves nothing either: they point at
stations to look at, and the audit of the paper is what checks them.

Definitions, as the report states them:
- Turnout: a station's ballots over the voters on its list (`registered`). Stations with no
  list (`registered` None or 0) have no turnout: they are left out of every turnout test, of
  the fingerprint and of the turnout histogram, and the report lists them.
- Vote share: the district's leading candidate (the most votes over the whole district; a tie
  goes to the smaller code) — its votes at the station over the station's ballots. On a Majlis
  ballot naming up to S candidates this is the share of ballots that name the leader, so it
  lies in [0, 1] whatever S is; for one seat it is the leader's share of the ballots, blank
  ones included. Klimek et al. (PNAS 2012) use the winner's share of the valid votes; with
  several seats there is no single winner's share of the votes, and the share of ballots naming
  the leader is what ballot stuffing for one candidate raises.

The election-level tests, each with its statistic, p-value and n:
- `last_digit`, `second_digit`: every candidate's count at every station, pooled (Beber and
  Scacco 2012; Mebane 2006). Last digits are uniform only where the counts' distribution is
  flat across each run of ten; pooled over a Majlis district's many small candidates it falls
  steeply, low last digits come a little more often, and with thousands of counts the test
  notices (8 % of simulated clean elections rejected at 5 %, not 5 %).
- `turnout_outliers`: the modified z-score (Iglewicz and Hoaglin 1993;
  `forensics.turnout_outliers`) of each station's turnout, taken on the standardised logit
  scale of `standardised_logits` (ballots of registered), within each district of at least
  SCOPE_STATIONS stations with a turnout, and over the smaller districts pooled (when they
  have SCOPE_STATIONS together; fewer stations have no outlier test). Stations above
  `forensics.OUTLIER_SCORE` are flagged one by one, with the normal tail of their score. The
  election-level statistic is the largest |z|; its p-value is that of the largest of n scores
  of normal values (`max_score_tail`, which counts the noise of the median and the MAD),
  combined over the scopes by Šidák's 1 − (1 − p_min)^scopes.
- `share_outliers`: the same for the leader's votes of the station's ballots, within districts
  of at least SCOPE_STATIONS stations only (the leader is a different person in each).
- `turnout_share_correlation`: Klimek et al.'s fingerprint as a number. Ballot stuffing for
  the leader raises both a station's turnout and the leader's share, so it makes them
  correlated; with no stuffing a station's turnout says little about its vote (the single round
  cluster of clean elections in Klimek et al., fig. 1). Pearson's r within each district of at
  least CORRELATION_STATIONS stations, Fisher's z = atanh(r) √(n − 3), combined over the
  districts by Stouffer's sum over √D; one-sided (positive) normal p-value. In a real election
  turnout and preference can be related without fraud (town against country), so a rejection
  here asks for a look at the fingerprint, no more.
- `identical_counts`: stations of one district whose whole result (ballots and every
  candidate's votes) is the same. p-value: a rough bound, n(n−1)/2 pairs times the chance that
  two stations agree on every count if each count varied as a Poisson count with the observed
  mean (e^{−2μ} I₀(2μ) per count, the Skellam law at 0); real counts vary more than Poisson,
  which only makes agreement rarer.

The summary's `verdict` names the tests of VERDICT_TESTS whose p-value is below α over their
number (Bonferroni), so that a clean election is called suspicious in about α of cases. The
last-digit test counts only when the counts are large (LAST_DIGIT_MEDIAN). The
second-digit test is reported but left out of the verdict: clean counts need not follow
Benford's law (Deckert, Myagkov and Ordeshook, "Benford's Law and the Detection of Election
Fraud", Political Analysis 2011), and in this project's simulated clean elections
(`verivote.audit.forensics_power`) it rejects at 5 % in about a sixth of them.
"""

from __future__ import annotations

import html
import io
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from verivote.audit.forensics import (
    MIN_COUNT,
    SECOND_DIGIT,
    fingerprint,
    identical_counts,
    last_digit,
    second_digit,
    turnout_outliers,
)
from verivote.audit.stations import StationCount

SCOPE_STATIONS = 20
"""A district with at least this many stations (with the value) is its own scope for the
outlier scores; turnout in smaller ones is scored over all of them pooled."""
CORRELATION_STATIONS = 10
"""A district needs at least this many stations with a turnout for the correlation test."""
BINS = 50
"""The fingerprint's bins per axis (2 % each)."""
TESTS = (
    "last_digit",
    "second_digit",
    "turnout_outliers",
    "share_outliers",
    "turnout_share_correlation",
    "identical_counts",
)
VERDICT_TESTS = tuple(t for t in TESTS if t != "second_digit")
"""The tests the verdict rests on (see the module docstring for the one left out)."""
LAST_DIGIT_MEDIAN = 100
"""The last-digit test counts in the verdict only when the median of the counts it tests is at
least this: counts in the tens follow the steep fall of how many candidates get how many votes,
so low last digits come more often within each run of ten. The demo's clean record (13
stations, counts mostly 10-60) fails the test at p = 4e-7."""
TEST_NAMES = {
    "last_digit": "Last digit (Beber and Scacco)",
    "second_digit": "Second digit, Benford (Mebane)",
    "turnout_outliers": "Turnout outliers (modified z)",
    "share_outliers": "Vote-share outliers (modified z)",
    "turnout_share_correlation": "Turnout–share correlation (Klimek fingerprint)",
    "identical_counts": "Identical station results",
}
VOTE_SHARE = (
    "the district's leading candidate (most votes over the district; a tie goes to the smaller "
    "code): their votes at the station over the station's ballots, i.e. the share of ballots "
    "naming them (a Majlis ballot names up to S candidates, so shares of one station's "
    "candidates add up to more than 1)"
)
TURNOUT = "ballots over the voters on the station's list (registered)"


def analyse(
    counts: Sequence[StationCount], alpha: float = 0.05, bins: int = BINS
) -> dict[str, Any]:
    """The forensics summary of the stations' counts (see the module docstring): JSON-able."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha lies strictly between 0 and 1, not {alpha}")
    seen: set[str] = set()
    for c in counts:
        if c.station in seen:
            raise ValueError(f"station {c.station} is counted twice")
        seen.add(c.station)
    by_district: dict[str, list[StationCount]] = defaultdict(list)
    for c in counts:
        by_district[c.district].append(c)
    districts = sorted(by_district)
    candidates = {d: sorted({k for c in by_district[d] for k in c.votes}) for d in districts}
    leaders = {d: leader(by_district[d]) for d in districts}

    turnout: dict[str, float] = {}
    share: dict[str, float] = {}
    turnout_of: dict[str, tuple[int, int]] = {}
    share_of: dict[str, tuple[int, int]] = {}
    for c in counts:
        t = c.turnout()
        if t is not None and c.registered:
            turnout[c.station] = t
            turnout_of[c.station] = (c.ballots, c.registered)
        lead = leaders[c.district]
        if lead is not None and c.ballots > 0:
            share[c.station] = c.votes.get(lead, 0) / c.ballots
            share_of[c.station] = (c.votes.get(lead, 0), c.ballots)
    without_list = sorted(c.station for c in counts if c.turnout() is None)

    reasons: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for c in counts:
        for kind, why in _inconsistencies(c):
            reasons[c.station].append((kind, why))

    tests: dict[str, dict[str, Any]] = {}
    every_count = [v for c in counts for v in c.votes.values()]
    tests["last_digit"] = _digit_test(every_count, last=True)
    tests["second_digit"] = _digit_test(every_count, last=False)

    district_of = {c.station: c.district for c in counts}
    turnout_scopes = _scopes(turnout_of, district_of, pool_small=True)
    tests["turnout_outliers"], t_out = _outlier_test(turnout_scopes, turnout, district_of)
    share_scopes = _scopes(share_of, district_of, pool_small=False)
    tests["share_outliers"], s_out = _outlier_test(share_scopes, share, district_of)
    for o in t_out:
        reasons[o["station"]].append(("turnout_outlier", (
            f"turnout {o['value']:.1%} is an outlier in {o['scope']} "
            f"(modified z {o['score']:+.2f}, p {_p(o['p_value'])})"
        )))  # fmt: skip
    for o in s_out:
        reasons[o["station"]].append(("share_outlier", (
            f"the leader's share {o['value']:.1%} is an outlier in {o['scope']} "
            f"(modified z {o['score']:+.2f}, p {_p(o['p_value'])})"
        )))  # fmt: skip

    tests["turnout_share_correlation"] = _correlation_test(by_district, turnout, share)

    groups: list[dict[str, Any]] = []
    chances: list[float] = []
    pairs = 0
    for d in districts:
        results = {c.station: _result(c, candidates[d]) for c in by_district[d]}
        n = len(results)
        pairs += n * (n - 1) // 2
        for same in identical_counts(results):
            chance = _agreement(results[same[0]][1:])
            chances.append(chance)
            p_group = min(1.0, n * (n - 1) / 2 * chance)
            groups.append({"district": d, "stations": same, "ballots": results[same[0]][0],
                           "p_value": p_group})  # fmt: skip
            for s in same:
                others = ", ".join(x for x in same if x != s)
                reasons[s].append(("identical", f"the same result as {others} (p {_p(p_group)})"))
    tests["identical_counts"] = {
        "statistic": float(sum(len(g["stations"]) for g in groups)),
        "p_value": min(1.0, pairs * min(chances)) if chances else 1.0,
        "n": len(counts),
    }

    cutoff = alpha / len(VERDICT_TESTS)
    tested = sorted(v for v in every_count if v >= MIN_COUNT)
    median = tested[len(tested) // 2] if tested else 0
    tests["last_digit"]["median_count"] = median
    for name in TESTS:
        tests[name]["rejects"] = tests[name]["p_value"] < alpha
        tests[name]["in_verdict"] = name in VERDICT_TESTS and (
            name != "last_digit" or median >= LAST_DIGIT_MEDIAN
        )
        tests[name]["rejects_bonferroni"] = (
            tests[name]["in_verdict"] and tests[name]["p_value"] < cutoff
        )

    points = [
        (min(1.0, turnout[s]), min(1.0, share[s]), c.ballots)
        for c in counts
        if (s := c.station) in turnout and s in share
    ]
    flagged = [
        {"station": s, "district": district_of[s],
         "kinds": sorted({k for k, _ in reasons[s]}), "reasons": [w for _, w in reasons[s]]}
        for s in sorted(reasons)
    ]  # fmt: skip
    return {
        "version": 1,
        "alpha": alpha,
        "bonferroni_alpha": cutoff,
        "definitions": {"turnout": TURNOUT, "vote_share": VOTE_SHARE},
        "stations": len(counts),
        "stations_without_list": without_list,
        "totals": _totals(counts),
        "districts": [
            {
                **_totals(by_district[d]),
                "district": d,
                "leader": leaders[d],
                "leader_votes": sum(c.votes.get(leaders[d] or "", 0) for c in by_district[d]),
                "candidates": len(candidates[d]),
            }
            for d in districts
        ],
        "tests": tests,
        "verdict": [name for name in VERDICT_TESTS if tests[name]["rejects_bonferroni"]],
        "last_digit_median": median,
        "turnout_outliers": t_out,
        "share_outliers": s_out,
        "identical": groups,
        "fingerprint": {
            "bins": bins,
            "rows": "turnout",
            "columns": "vote share of the district's leading candidate",
            "weight": "ballots",
            "stations": len(points),
            "grid": fingerprint(points, bins),
        },
        "flagged": flagged,
    }


def leader(stations: Sequence[StationCount]) -> str | None:
    total: dict[str, int] = defaultdict(int)
    for c in stations:
        for k, v in c.votes.items():
            total[k] += v
    if not total or max(total.values()) == 0:
        return None
    return min(total, key=lambda k: (-total[k], k))


def _inconsistencies(c: StationCount) -> Iterable[tuple[str, str]]:
    if c.ballots > c.checked_in:
        yield "ballots_over_checkins", f"{c.ballots} ballots but {c.checked_in} check-ins"
    if c.registered and c.checked_in > c.registered:
        yield (
            "checkins_over_list",
            f"{c.checked_in} check-ins but {c.registered} voters on the list",
        )
    over = sorted(k for k, v in c.votes.items() if v > c.ballots)
    if over:
        yield "votes_over_ballots", f"more votes than ballots ({c.ballots}) for {', '.join(over)}"


def _totals(stations: Sequence[StationCount]) -> dict[str, Any]:
    listed = [c for c in stations if c.turnout() is not None]
    registered = sum(c.registered or 0 for c in listed)
    return {
        "stations": len(stations),
        "stations_with_list": len(listed),
        "registered": registered,
        "checked_in": sum(c.checked_in for c in stations),
        "ballots": sum(c.ballots for c in stations),
        "turnout": sum(c.ballots for c in listed) / registered if registered else None,
    }


def _digit_test(values: Sequence[int], last: bool) -> dict[str, Any]:
    seen = [0] * 10
    for v in values:
        if v >= MIN_COUNT:
            seen[v % 10 if last else int(str(v)[1])] += 1
    test = last_digit(values) if last else second_digit(values)
    return {"statistic": test.statistic, "p_value": test.p_value, "n": test.n,
            "observed": seen, "expected": [0.1] * 10 if last else list(SECOND_DIGIT)}  # fmt: skip


def _scopes(
    values: Mapping[str, tuple[int, int]], district_of: Mapping[str, str], pool_small: bool
) -> dict[str, dict[str, tuple[int, int]]]:
    by: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    for s, v in values.items():
        by[district_of[s]][s] = v
    scopes: dict[str, dict[str, tuple[int, int]]] = {}
    small: dict[str, tuple[int, int]] = {}
    for d in sorted(by):
        if len(by[d]) >= SCOPE_STATIONS:
            scopes[f"district {d}"] = by[d]
        else:
            small.update(by[d])
    if pool_small and len(small) >= SCOPE_STATIONS:
        scopes["the small districts pooled"] = small
    return scopes


def _outlier_test(
    scopes: Mapping[str, Mapping[str, tuple[int, int]]],
    raw: Mapping[str, float],
    district_of: Mapping[str, str],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    n = 0
    top = 0.0
    tails = []
    found: list[dict[str, Any]] = []
    for scope, proportions in scopes.items():
        n += len(proportions)
        values = standardised_logits(proportions)
        median = statistics.median(values.values())
        mad = statistics.median(abs(v - median) for v in values.values())
        if mad > 0:
            score = max(0.6745 * abs(v - median) / mad for v in values.values())
            top = max(top, score)
            tails.append(max_score_tail(score, len(values)))
        for o in turnout_outliers(values):
            found.append({"station": o.station, "district": district_of[o.station],
                          "scope": scope, "value": raw[o.station], "score": o.score,
                          "p_value": o.p_value})  # fmt: skip
    found.sort(key=lambda o: (-abs(o["score"]), o["station"]))
    # Šidák over the scopes, which are independent under the null
    p = -math.expm1(len(tails) * math.log1p(-min(tails))) if tails and min(tails) < 1 else 1.0
    return {"statistic": top, "p_value": p, "n": n}, found


def standardised_logits(proportions: Mapping[str, tuple[int, int]]) -> dict[str, float]:
    """Each station's k of n (ballots of registered, or the leader's votes of ballots) on a
    scale where a clean scope is close to normal with one spread for every station.

    The empirical logit x = log((k + ½) / (n − k + ½)) unsquashes proportions near 0 and 1
    (raw turnout and shares are skewed), and has sampling variance v = 1/(k + ½) +
    1/(n − k + ½) (Cox and Snell, "Analysis of Binary Data", 1989): a small station's share
    wanders further by chance alone. With the scope's spread beyond sampling τ² =
    max(0, (1.4826 · MAD(x))² − median(v)), the value is (x − median(x)) / √(τ² + v): in
    simulated clean elections this halves the outlier test's false positives on shares.
    """
    x = {s: math.log((k + 0.5) / (max(0, n - k) + 0.5)) for s, (k, n) in proportions.items()}
    v = {s: 1 / (k + 0.5) + 1 / (max(0, n - k) + 0.5) for s, (k, n) in proportions.items()}
    if not x:
        return {}
    centre = statistics.median(x.values())
    mad = statistics.median(abs(a - centre) for a in x.values())
    spread = max(0.0, (1.4826 * mad) ** 2 - statistics.median(v.values()))
    return {s: (x[s] - centre) / math.sqrt(spread + v[s]) for s in x}


def max_score_tail(score: float, n: int, grid: int = 24) -> float:
    """P(the largest of n modified z-scores ≥ `score`) for n normal values.

    The median and the MAD of n normal values are themselves noisy (asymptotic standard
    deviations 1.2533 σ/√n and 1.1664 σ/√n: the MAD's efficiency is 37 %), which the normal
    tail of one score leaves out, so n · erfc(z/√2) says "outlier" far too often (16 % of
    clean scopes of 100 at a nominal 5 %). Given the centre's error m and the scale's ratio s,
    the largest score passes z with probability 1 − (Φ(zs − m) − Φ(−zs − m))ⁿ; this averages
    that over normal m and s on a grid of ±5 standard deviations. Checked against simulation
    (tests): within 15 % of the true tail at n ≥ 100, a little light at n = 20.
    """
    if n < 1 or score <= 0:
        return 1.0
    sd_centre = 1.2533 / math.sqrt(n)
    sd_scale = 1.1664 / math.sqrt(n)
    nodes = [-5 + 10 * (i + 0.5) / grid for i in range(grid)]
    weights = [math.exp(-x * x / 2) for x in nodes]
    total = 0.0
    for a, wa in zip(nodes, weights, strict=True):
        s = max(1e-9, 1 + sd_scale * a)
        for b, wb in zip(nodes, weights, strict=True):
            m = sd_centre * b
            outside = 0.5 * math.erfc((score * s - m) / _SQRT2) + 0.5 * math.erfc(
                (score * s + m) / _SQRT2
            )
            if outside >= 1:
                total += wa * wb
            elif outside > 0:
                total += wa * wb * -math.expm1(n * math.log1p(-outside))
    return min(1.0, total / sum(weights) ** 2)


_SQRT2 = math.sqrt(2)


def _correlation_test(
    by_district: Mapping[str, Sequence[StationCount]],
    turnout: Mapping[str, float],
    share: Mapping[str, float],
) -> dict[str, Any]:
    zs = []
    per = []
    n = 0
    for d in sorted(by_district):
        pts = [(turnout[c.station], share[c.station]) for c in by_district[d]
               if c.station in turnout and c.station in share]  # fmt: skip
        if len(pts) < CORRELATION_STATIONS:
            continue
        r = _pearson(pts)
        if r is None:
            continue
        r = max(-0.999999, min(0.999999, r))
        zs.append(math.atanh(r) * math.sqrt(len(pts) - 3))
        per.append({"district": d, "stations": len(pts), "r": r})
        n += len(pts)
    if not zs:
        return {"statistic": 0.0, "p_value": 1.0, "n": 0, "districts": []}
    z = sum(zs) / math.sqrt(len(zs))
    return {"statistic": z, "p_value": 0.5 * math.erfc(z / math.sqrt(2)), "n": n,
            "districts": per}  # fmt: skip


def _pearson(points: Sequence[tuple[float, float]]) -> float | None:
    mx = statistics.fmean(x for x, _ in points)
    my = statistics.fmean(y for _, y in points)
    sxy = sum((x - mx) * (y - my) for x, y in points)
    sxx = sum((x - mx) ** 2 for x, _ in points)
    syy = sum((y - my) ** 2 for _, y in points)
    if sxx <= 0 or syy <= 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def _result(c: StationCount, candidates: Sequence[str]) -> tuple[int, ...]:
    return (c.ballots, *(c.votes.get(k, 0) for k in candidates))


def _agreement(votes: Iterable[int]) -> float:
    """The chance that two independent Poisson counts of mean μ agree, multiplied over the
    counts: Σ_k e^{−2μ} μ^{2k} / (k!)², the Skellam law at 0."""
    chance = 1.0
    for mu in votes:
        if mu <= 0:
            continue
        if mu >= 50:  # the asymptotic series of e^{−x} I₀(x), x = 2μ
            x = 2.0 * mu
            one = (1 + 1 / (8 * x) + 9 / (128 * x * x)) / math.sqrt(2 * math.pi * x)
        else:
            one = sum(
                math.exp(2 * k * math.log(mu) - 2 * math.lgamma(k + 1) - 2 * mu)
                for k in range(int(mu + 12 * math.sqrt(mu) + 30))
            )
        chance *= min(1.0, one)
    return chance


def _p(p: float) -> str:
    return f"{p:.3g}" if p >= 1e-4 else f"{p:.1e}"


# ---------------------------------------------------------------------------------------------
# The HTML report


def render_html(summary: Mapping[str, Any], counts: Sequence[StationCount]) -> str:
    """The summary as one self-contained HTML page (no external assets): the tests, the
    fingerprint, the turnout histogram, the digit charts and the flagged stations."""
    e = _esc
    tests = summary["tests"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>Election forensics</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Election forensics</h1>",
        "<p class=note>These tests point at stations to look at; none of them proves fraud, "
        "and a clean result proves nothing either. The audit of the paper ballots is what "
        "checks a station.</p>",
        "<h2>Definitions</h2><dl>",
        f"<dt>Turnout</dt><dd>{e(summary['definitions']['turnout'])}.</dd>",
        f"<dt>Vote share</dt><dd>{e(summary['definitions']['vote_share'])}.</dd></dl>",
    ]
    missing = summary["stations_without_list"]
    if missing:
        shown = ", ".join(missing[:20]) + (" …" if len(missing) > 20 else "")
        parts.append(
            f"<p class=warn>{len(missing)} of {summary['stations']} stations have no list of "
            f"voters, hence no turnout: they are left out of the turnout tests, the "
            f"fingerprint and the turnout histogram ({e(shown)}).</p>"
        )
    totals = summary["totals"]
    parts += [
        "<h2>Totals</h2>",
        _table(
            [
                "district",
                "stations",
                "with a list",
                "registered",
                "checked in",
                "ballots",
                "turnout",
                "leading candidate",
                "leader's votes",
            ],
            [
                [
                    d["district"],
                    d["stations"],
                    d["stations_with_list"],
                    d["registered"],
                    d["checked_in"],
                    d["ballots"],
                    _pct(d["turnout"]),
                    d["leader"] or "—",
                    d["leader_votes"],
                ]
                for d in summary["districts"]
            ]
            + [
                [
                    "all",
                    totals["stations"],
                    totals["stations_with_list"],
                    totals["registered"],
                    totals["checked_in"],
                    totals["ballots"],
                    _pct(totals["turnout"]),
                    "",
                    "",
                ]
            ],
        ),
        "<h2>Tests</h2>",
        f"<p>Each test at α = {summary['alpha']:g}; the verdict uses α / {len(VERDICT_TESTS)} "
        f"= {summary['bonferroni_alpha']:.3g} (Bonferroni over the {len(VERDICT_TESTS)} tests "
        "it rests on). The second-digit test is shown but not part of the verdict: clean counts "
        "need not follow Benford's law (Deckert, Myagkov and Ordeshook, Political Analysis "
        "2011).</p>",
        _table(
            ["test", "statistic", "p-value", "n", f"p < {summary['alpha']:g}", "verdict"],
            [
                [
                    TEST_NAMES[k],
                    f"{tests[k]['statistic']:.3f}",
                    _p(tests[k]["p_value"]),
                    tests[k]["n"],
                    "yes" if tests[k]["rejects"] else "no",
                    "suspicious"
                    if tests[k]["rejects_bonferroni"]
                    else "—"
                    if tests[k]["in_verdict"]
                    else "not in the verdict",
                ]
                for k in TESTS
            ],
        ),
        "<h2>Fingerprint</h2>",
        "<p>Voters (ballots) by the station's turnout and the leading candidate's vote share "
        "(Klimek, Yegorov, Hanel and Thurner, PNAS 2012). A clean election is one round "
        "cluster; ballot stuffing smears it towards the upper right corner (100 %, 100 %).</p>",
        _plot_fingerprint(summary["fingerprint"]),
        "<h2>Turnout</h2>",
        _plot_turnout([t for c in counts if (t := c.turnout()) is not None]),
        "<h2>Digits</h2>",
        f"<p>Every candidate's count at every station, counts of at least {MIN_COUNT}; the "
        f"last-digit test counts in the verdict only if their median is at least "
        f"{LAST_DIGIT_MEDIAN} (here {summary['last_digit_median']}).</p>",
        _plot_digits("last", tests["last_digit"]),
        _plot_digits("second", tests["second_digit"]),
        f"<h2>Flagged stations ({len(summary['flagged'])})</h2>",
    ]
    if summary["flagged"]:
        parts.append(_table(
            ["station", "district", "why"],
            [[f["station"], f["district"], "; ".join(f["reasons"])] for f in summary["flagged"]],
        ))  # fmt: skip
    else:
        parts.append("<p>No station is flagged.</p>")
    for key, title in (("turnout_outliers", "Turnout outliers"),
                       ("share_outliers", "Vote-share outliers")):  # fmt: skip
        rows = summary[key]
        parts.append(f"<h2>{title} ({len(rows)})</h2>")
        if rows:
            parts.append(_table(
                ["station", "district", "scope", "value", "modified z", "p-value"],
                [[o["station"], o["district"], o["scope"], _pct(o["value"]),
                  f"{o['score']:+.2f}", _p(o["p_value"])] for o in rows],
            ))  # fmt: skip
    parts.append(f"<h2>Identical results ({len(summary['identical'])} groups)</h2>")
    if summary["identical"]:
        parts.append(_table(
            ["district", "stations", "ballots", "p-value (rough bound)"],
            [[g["district"], ", ".join(g["stations"]), g["ballots"], _p(g["p_value"])]
             for g in summary["identical"]],
        ))  # fmt: skip
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_esc(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS = (
    "body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.2em .5em;"
    "text-align:left}th{background:#f4f4f4}.note{color:#555}.warn{background:#fff3cd;"
    "padding:.5em}figure{margin:1em 0}svg{max-width:100%;height:auto}"
)


def _svg(name: str, draw: Any, size: tuple[float, float] = (6.0, 4.0)) -> str:
    """A figure drawn by `draw(figure)` as inline SVG, with matplotlib's SVG backend alone
    (never pyplot, so no GUI backend): ids salted by the plot's name (unique in the page),
    text as text, no date, so the same data always gives the same bytes."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(
        {
            "svg.hashsalt": f"verivote-forensics-{name}",
            "svg.fonttype": "none",
            "svg.id": f"plot-{name}",
            "font.size": 9.0,
        }
    ):
        fig = Figure(figsize=size, layout="constrained")
        draw(fig)
        out = io.StringIO()
        fig.savefig(out, format="svg", metadata={"Date": None})
    text = out.getvalue()
    svg = text[text.index("<svg") :]
    # the RDF block names the creator and namespaces: nothing a page needs
    start, end = svg.find("<metadata>"), svg.find("</metadata>")
    if 0 <= start < end:
        svg = svg[:start] + svg[end + len("</metadata>") :]
    return f'<figure id="{name}">{svg}</figure>'


def fingerprint_svg(summary: Mapping[str, Any]) -> str:
    """The fingerprint of an `analyse` summary as a standalone SVG document (the README's
    pictures)."""
    figure = _plot_fingerprint(summary["fingerprint"])
    start = figure.index("<svg")
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        + figure[start : figure.rindex("</svg>") + 6]
        + "\n"
    )


def _plot_fingerprint(fp: Mapping[str, Any]) -> str:
    from matplotlib.colors import LogNorm

    grid = fp["grid"]
    bins = fp["bins"]
    # rows of the grid are turnout: transposed, turnout runs along x and the share up y
    image = [[grid[t][s] or math.nan for t in range(bins)] for s in range(bins)]
    top = max((v for row in grid for v in row), default=0)

    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        if top > 0:
            im = ax.imshow(image, origin="lower", extent=(0, 100, 0, 100), aspect="equal",
                           cmap="viridis", norm=LogNorm(vmin=1, vmax=max(top, 2)),
                           interpolation="nearest")  # fmt: skip
            fig.colorbar(im, ax=ax, label="voters (ballots)")
        else:
            ax.text(50, 50, "no station has both a turnout and a vote share", ha="center")
        ax.set_xlim(0, 100)
        ax.set_ylim(0, 100)
        ax.set_xlabel("turnout (%)")
        ax.set_ylabel("leader's vote share (%)")

    return _svg("fingerprint", draw, (5.5, 4.5))


def _plot_turnout(turnout: Sequence[float]) -> str:
    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        if turnout:
            top = max(1.0, max(turnout))
            edges = [i / 50 for i in range(math.ceil(top * 50) + 1)]
            ax.hist([100 * t for t in turnout], bins=[100 * x for x in edges], color="#4477aa")
        else:
            ax.text(0.5, 0.5, "no station has a list of voters", ha="center",
                    transform=ax.transAxes)  # fmt: skip
        ax.set_xlabel("turnout (%)")
        ax.set_ylabel("stations")

    return _svg("turnout", draw)


def _plot_digits(which: str, test: Mapping[str, Any]) -> str:
    observed = test["observed"]
    n = sum(observed)

    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        digits = list(range(10))
        shares = [o / n if n else 0.0 for o in observed]
        ax.bar(digits, shares, color="#4477aa", label=f"observed (n = {n})")
        ax.plot(digits, test["expected"], "o-", color="#cc3311",
                label="uniform" if which == "last" else "Benford")  # fmt: skip
        ax.set_xticks(digits)
        ax.set_xlabel(f"{which} digit")
        ax.set_ylabel("share of counts")
        ax.set_title(f"χ² = {test['statistic']:.2f}, p = {_p(test['p_value'])}")
        ax.legend(loc="lower right")

    return _svg(f"{which}-digit", draw, (6.0, 3.5))
