"""A batch-level comparison audit of one district (issue 18, item 2): the stations are the
batches, each station's signed result form is its reported count, and the audit board hand
counts the paper of the stations drawn. Pure functions over the audit's state;
`verivote.audit.batch_files` keeps it in the audit's folder.

Written from SHANGRLA (Stark, "Sets of Half-Average Nulls Generate Risk-Limiting Audits",
2020, sections 3.2 and 3.4: comparison audits and batches) and ALPHA (Stark 2023), not from
code. For an assertion with assorter A (values in [0, u]; the Majlis assorters of
`verivote.audit.alpha`, a ballot naming no candidate scoring 1/2 as in the ballot-polling
audit) the reported count gives, for each station b with n_b ballots, the reported assorter
total Â_b, a linear function of its form:

    w beats ℓ:        n_b/2 + (w_b − ℓ_b)/2
    w reached t:      u w_b + blank_b/2                        u = 1/(2t)
    c missed t:       u (n_b − blank_b − c_b) + blank_b/2       u = 1/(2(1 − t))

and the hand count gives the same of the paper, A_b. With Ā the reported mean over the N
ballots and v = 2Ā − 1 > 0 the reported assorter margin, each ballot of station b gets the
overstatement ω_b = (Â_b − A_b)/n_b ∈ [−u, u] (its station's mean) and the comparison value

    B_b = (1 − ω_b/u) / (2 − v/u)     in [0, 2/(2 − v/u)],

whose mean over all ballots exceeds 1/2 exactly when the true assorter mean does. Ballots are
drawn uniformly with replacement (a station with more ballots is drawn more often), each
draw an index SHA-256(seed, "batch", k) mod N into the stations' ballots in order, and the
B of each draw's station is tested by ALPHA with replacement. A station is hand counted once
however often it is drawn. A station whose box holds fewer ballots than its form counts the
missing ones as 0 for every assertion (the worst case); more ballots than the form means the
ballot manifest is wrong and only a full hand count of the station settles it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from fractions import Fraction
from itertools import repeat
from typing import Any

from verivote.audit.alpha import ShrinkTrunc, measure
from verivote.audit.ballot_polling import (
    CONFIRMED,
    FULL_COUNT,
    IN_PROGRESS,
    AuditError,
    checked_population,
)
from verivote.audit.ballot_polling import assertion_id as _id
from verivote.audit.sample_size import assertions

Count = Mapping[str, Any]
"""A station's count: {"ballots": n, "blank": n, "votes": {code: n}}."""


def upper(a: Mapping[str, Any], threshold: Fraction | None) -> float:
    """The assorter's upper bound u."""
    if a["kind"] == "beats":
        return 1.0
    if threshold is None:
        raise AuditError("a threshold assertion in an audit without a threshold")
    t = float(threshold)
    return 1 / (2 * t) if a["kind"] == "reached" else 1 / (2 * (1 - t))


def total(a: Mapping[str, Any], count: Count, threshold: Fraction | None) -> float:
    """The assorter's total over a station's ballots, from its count (module docstring)."""
    n, blank, votes = count["ballots"], count["blank"], count["votes"]
    u = upper(a, threshold)
    if a["kind"] == "beats":
        return float(n / 2 + (votes.get(a["winner"], 0) - votes.get(a["loser"], 0)) / 2)
    if a["kind"] == "reached":
        return float(u * votes.get(a["winner"], 0) + blank / 2)
    return float(u * (n - blank - votes.get(a["winner"], 0)) + blank / 2)


def plan(
    district: str,
    method: str,
    seats: int,
    elected: list[str],
    runoff: list[str],
    threshold: Fraction | None,
    reported: Mapping[str, Count],
    risk_limit: float,
    seed: str,
) -> dict[str, Any]:
    """A new batch comparison audit's state from the stations' reported counts."""
    population = checked_population(district, risk_limit, (c["ballots"] for c in reported.values()))
    votes: dict[str, int] = {}
    for c in reported.values():
        for code, n in c["votes"].items():
            votes[code] = votes.get(code, 0) + n
    valid = population - sum(c["blank"] for c in reported.values())
    found = assertions(method, votes, valid, elected, risk_limit, runoff, threshold)
    listed = []
    for a in found:
        doc = a.to_json()
        u = upper(doc, threshold)
        mean = sum(total(doc, c, threshold) for c in reported.values()) / population
        doc |= {"id": _id(doc), "upper": u, "margin": 2 * mean - 1}
        listed.append(doc)
    state: dict[str, Any] = {
        "kind": "batch-comparison",
        "district": district,
        "method": method,
        "seats": seats,
        "risk_limit": risk_limit,
        "seed": seed,
        "threshold": None if threshold is None else str(threshold),
        "population": population,
        "reported": {s: dict(c) for s, c in sorted(reported.items())},
        "assertions": listed,
        "hand_counts": {},
        "rounds": [],
        "status": IN_PROGRESS,
    }
    state["next_draws"] = min(clean_draws(state), 4 * population)
    return state


def clean_draws(state: Mapping[str, Any]) -> int:
    """Draws expected to confirm every assertion if the forms are right: every B is then
    1/(2 − v/u), and ALPHA (as `end_round` runs it) is run on that value until it confirms."""
    cap = MAX_DRAWS * int(state["population"])
    most = 1
    for a in state["assertions"]:
        v, u = a["margin"], a["upper"]
        if v <= 0:
            return cap  # no margin: only a full count settles it
        b = 1 / (2 - v / u)
        found = measure(repeat(b, cap), 2 * b, state["risk_limit"], ShrinkTrunc(eta0(v, u)))
        most = max(most, found.drawn)
    return most


def eta0(margin: float, u: float) -> float:
    """ALPHA's prior guess of the mean of B: halfway between its value when the forms are
    right, 1/(2 − v/u), and its bound 2/(2 − v/u). Each B is that value when the forms are
    right, and the test's growth per draw is then larger the nearer η is to the bound, but a
    draw with an overstatement costs more; halfway keeps a 20-point margin to about 50
    draws at α = 5 % while an overstatement of one vote in a station costs a few draws."""
    b = 1 / (2 - margin / u)
    return 1.5 * b


def draw(seed: str, population: int, k: int) -> int:
    """The k-th draw's ballot index (from 0) among the district's `population` ballots."""
    digest = hashlib.sha256(f"{seed},batch,{k}".encode()).digest()
    return int.from_bytes(digest, "big") % population


def stations_of(state: Mapping[str, Any], draws: int) -> list[str]:
    """The station of each of the first `draws` draws, in draw order."""
    bounds = []
    end = 0
    for station, count in state["reported"].items():
        end += count["ballots"]
        bounds.append((end, station))
    out = []
    for k in range(draws):
        index = draw(state["seed"], state["population"], k)
        out.append(next(s for limit, s in bounds if index < limit))
    return out


def to_count(state: Mapping[str, Any]) -> list[str]:
    """The stations of the next round still to hand count, in order."""
    drawn = stations_of(state, state["next_draws"])
    return sorted(set(drawn) - set(state["hand_counts"]))


def comparison_value(
    a: Mapping[str, Any], reported: Count, counted: Count, threshold: Fraction | None
) -> float:
    """B of the assertion for a ballot of this station (module docstring)."""
    n = reported["ballots"]
    if counted["ballots"] > n:
        raise AuditError("a box holds more ballots than its form counts")
    u, v = a["upper"], a["margin"]
    omega = (total(a, reported, threshold) - total(a, counted, threshold)) / n
    return float((1 - omega / u) / (2 - v / u))


def end_round(state: dict[str, Any], counts: Mapping[str, Count]) -> dict[str, Any]:
    """Record the hand counts of the round's stations and measure every assertion over all
    the draws so far; then confirmed, another round (draws doubled), or a full hand count."""
    if state["status"] != IN_PROGRESS:
        raise AuditError(f"the audit is over: {state['status']}")
    wanted = to_count(state)
    if sorted(counts) != wanted:
        missing = sorted(set(wanted) - set(counts))
        extra = sorted(set(counts) - set(wanted))
        raise AuditError(f"this round hand counts {', '.join(wanted)}; missing {missing}, "
                         f"not drawn {extra}")  # fmt: skip
    threshold = None if state["threshold"] is None else Fraction(state["threshold"])
    too_many = [s for s, c in counts.items() if c["ballots"] > state["reported"][s]["ballots"]]
    state["hand_counts"].update({s: dict(c) for s, c in counts.items()})
    record: dict[str, Any] = {"round": len(state["rounds"]) + 1, "stations": sorted(counts)}
    while True:
        draws = state["next_draws"]
        risks = _measure(state, stations_of(state, draws), threshold, bool(too_many))
        if all(r["confirmed"] for r in risks.values()):
            state["status"] = CONFIRMED
        elif (
            too_many
            or len(state["hand_counts"]) == len(state["reported"])
            or 2 * draws > MAX_DRAWS * state["population"]
        ):
            state["status"] = FULL_COUNT
        else:
            # More draws: a draw of a station already counted needs no new hand count, so
            # the round goes on until a draw needs one.
            state["next_draws"] = 2 * draws
            if not to_count(state):
                continue
        break
    record |= {"draws": draws, "assertions": risks, "status": state["status"]}
    state["rounds"].append(record)
    if too_many:
        record["note"] = f"more ballots in the box than on the form at {', '.join(too_many)}"
    return record


MAX_DRAWS = 16
"""Draws at most this many times the ballots, then a full hand count: far beyond any audit
that can still end short of one."""


def _measure(
    state: Mapping[str, Any], drawn: list[str], threshold: Fraction | None, void: bool
) -> dict[str, dict[str, Any]]:
    risks: dict[str, dict[str, Any]] = {}
    for a in state["assertions"]:
        if void or a["margin"] <= 0:
            risks[a["id"]] = {"risk": 1.0, "confirmed": False}
            continue
        values = [
            comparison_value(a, state["reported"][s], state["hand_counts"][s], threshold)
            for s in drawn
        ]
        ub = 2 / (2 - a["margin"] / a["upper"])
        guess = eta0(a["margin"], a["upper"])
        outcome = measure(values, ub, state["risk_limit"], ShrinkTrunc(guess))
        risks[a["id"]] = {"risk": outcome.risk, "confirmed": outcome.confirmed}
    return risks
