"""A ballot-polling audit of one district, round by round (issue 18, item 2): pure functions
over the audit's state, which `verivote.audit.audit_files` keeps in the audit's folder.

- The population is the district's paper ballots, as the stations' result forms count them:
  one box a station, `ballots_cast` ballots in it, numbered 1 … n as the officials stack them.
- The sample is drawn by the consistent sampler (`verivote.audit.sampler`) from the public
  seed: the ballots in increasing ticket order, which is a uniformly random order of the
  population. A round's sample is the first n of that order, so each round extends the last.
- Each assertion (`verivote.audit.sample_size.assertions`) is measured by ALPHA without
  replacement (`verivote.audit.alpha.measure`, population N, truncated shrinkage η from the
  reported assorter mean) over the audit board's reading of the ballots, in ticket order.
  A ballot naming no candidate of the district (blank, or only names of no candidate) is
  neutral for every assertion: its assorter value is 1/2, so the mean over all ballots
  exceeds 1/2 exactly when the mean over the valid ones does (SHANGRLA's treatment of
  ballots that do not bear on an assertion). A ballot of the sample that the audit board
  cannot find counts as the worst case, 0.
- A round ends with every assertion's measured risk. The audit is `confirmed` when every one
  is at most the risk limit. Otherwise the next round doubles the sample (at least the
  largest expected sample size of the assertions still open), and when that would be the
  whole population a full hand count is called: it is the count then, not the audit, that
  decides.

The first round's size is the largest expected sample size (ASN) of the assertions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Any

from verivote.audit.alpha import Assorter, ShrinkTrunc, beats, measure, missed, reached
from verivote.audit.sample_size import assertions, sample_size
from verivote.audit.sampler import PaperBallot, sample

CONFIRMED = "confirmed"
IN_PROGRESS = "in progress"
FULL_COUNT = "full hand count"


class AuditError(ValueError):
    """Input the audit cannot use: the message says what, in one line."""


def checked_population(district: str, risk_limit: float, boxes: Iterable[int]) -> int:
    """The paper ballots of a district's boxes, once the risk limit and they are usable."""
    if not 0 < risk_limit < 1:
        raise AuditError(f"the risk limit lies strictly between 0 and 1, not {risk_limit}")
    population = sum(boxes)
    if population <= 0:
        raise AuditError(f"district {district} has no paper ballots on its result forms")
    return population


def assertion_id(a: Mapping[str, Any]) -> str:
    """A stable name of an assertion: `1101>1102`, `1101≥t`, `1101<t`."""
    if a["kind"] == "beats":
        return f"{a['winner']}>{a['loser']}"
    return f"{a['winner']}{'≥' if a['kind'] == 'reached' else '<'}t"


def plan(
    district: str,
    method: str,
    seats: int,
    votes: Mapping[str, int],
    valid: int,
    elected: Sequence[str],
    runoff: Sequence[str],
    threshold: Fraction | None,
    boxes: Mapping[str, int],
    risk_limit: float,
    seed: str,
) -> dict[str, Any]:
    """A new audit's state: its assertions, the ballot manifest (station → ballots) and
    round 1's size. AuditError if there is nothing to audit."""
    population = checked_population(district, risk_limit, boxes.values())
    found = assertions(method, votes, valid, elected, risk_limit, runoff, threshold)
    if not found:
        raise AuditError(f"district {district}: the outcome rests on no assertion to audit")
    return {
        "district": district,
        "method": method,
        "seats": seats,
        "risk_limit": risk_limit,
        "seed": seed,
        "threshold": None if threshold is None else str(threshold),
        "votes": dict(votes),
        "valid": valid,
        "elected": list(elected),
        "runoff": list(runoff),
        "boxes": dict(sorted(boxes.items())),
        "population": population,
        "assertions": [a.to_json() | {"id": assertion_id(a.to_json())} for a in found],
        "rounds": [],
        "status": IN_PROGRESS,
        "next_size": min(population, max(1, sample_size(found, valid))),
    }


def drawn(state: Mapping[str, Any], size: int) -> list[PaperBallot]:
    """The first `size` ballots of the audit's random order."""
    manifest = {(station, 1): n for station, n in state["boxes"].items()}
    return sample(state["seed"], manifest, size)


def new_ballots(state: Mapping[str, Any]) -> list[PaperBallot]:
    """The ballots the next round adds to the sample (in ticket order)."""
    before = state["rounds"][-1]["size"] if state["rounds"] else 0
    return drawn(state, state["next_size"])[before:]


def _assorter(a: Mapping[str, Any], threshold: Fraction | None) -> Assorter:
    if a["kind"] == "beats":
        return beats(a["winner"], a["loser"])
    if threshold is None:
        raise AuditError("a threshold assertion in an audit without a threshold")
    return (reached if a["kind"] == "reached" else missed)(a["winner"], threshold)


def _reported_mean(a: Mapping[str, Any], state: Mapping[str, Any], upper: float) -> float:
    """The assorter's mean over all the district's ballots if the reported count is right."""
    votes, valid, population = state["votes"], state["valid"], state["population"]
    invalid = max(0, population - valid)
    if a["kind"] == "beats":
        w, ell = votes.get(a["winner"], 0), votes.get(a["loser"], 0)
        # Winner-only ballots (w − b of them, b naming both) score 1, loser-only (ℓ − b)
        # 0, the rest 1/2: the mean is 1/2 + (w − ℓ)/(2V) whatever b is.
        mean_valid = 0.5 + (w - ell) / (2 * valid) if valid else 0.5
    elif a["kind"] == "reached":
        mean_valid = upper * votes.get(a["winner"], 0) / valid if valid else 0.0
    else:
        mean_valid = upper * (1 - votes.get(a["winner"], 0) / valid) if valid else 0.0
    return float((mean_valid * valid + 0.5 * invalid) / population)


def measure_all(
    state: Mapping[str, Any], readings: Sequence[frozenset[str] | None]
) -> dict[str, dict[str, Any]]:
    """Each assertion's ALPHA outcome over the ballots read so far, in ticket order (None: a
    ballot the board could not find, which counts against every assertion: the value 0)."""
    threshold = None if state["threshold"] is None else Fraction(state["threshold"])
    candidates = set(state["votes"])
    out = {}
    for a in state["assertions"]:
        assorter = _assorter(a, threshold)
        values = []
        for ballot in readings:
            if ballot is None:
                values.append(0.0)
            elif not ballot & candidates:
                values.append(0.5)
            else:
                values.append(assorter.value(ballot))
        eta0 = min(assorter.upper, max(0.5 + 1e-3, _reported_mean(a, state, assorter.upper)))
        outcome = measure(values, assorter.upper, state["risk_limit"], ShrinkTrunc(eta0),
                          population=state["population"])  # fmt: skip
        out[a["id"]] = {"risk": outcome.risk, "confirmed": outcome.confirmed}
    return out


def end_round(state: dict[str, Any], readings: Sequence[frozenset[str] | None]) -> dict[str, Any]:
    """Close the current round with every ballot of the sample read so far (`readings`, in
    ticket order, the earlier rounds' first): record each assertion's risk, then decide:
    confirmed, another round, or a full hand count. Returns the round's record."""
    if state["status"] != IN_PROGRESS:
        raise AuditError(f"the audit is over: {state['status']}")
    size = state["next_size"]
    if len(readings) != size:
        raise AuditError(f"round {len(state['rounds']) + 1} needs {size} ballots read, not "
                         f"{len(readings)}")  # fmt: skip
    risks = measure_all(state, readings)
    record = {"round": len(state["rounds"]) + 1, "size": size, "assertions": risks}
    state["rounds"].append(record)
    open_ = [a for a in state["assertions"] if not risks[a["id"]]["confirmed"]]
    if not open_:
        state["status"] = CONFIRMED
    elif size >= state["population"]:
        state["status"] = FULL_COUNT
    else:
        largest = max(_asn(a) for a in open_)
        grown = max(2 * size, size + 1, math.ceil(largest) if math.isfinite(largest) else 0)
        if grown >= state["population"]:
            state["status"] = FULL_COUNT
        state["next_size"] = min(state["population"], grown)
    record["status"] = state["status"]
    return record


def _asn(a: Mapping[str, Any]) -> float:
    return math.inf if a["asn"] is None else float(a["asn"])
