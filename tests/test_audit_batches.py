"""Batch-level comparison audits against the stations' result forms (issue 18, item 2): the
stations are the batches. A correct set of forms is confirmed with every risk at most the
limit; forms that report the wrong winner are confirmed in at most α of seeded audits (the
rest go to a full hand count); the comparison value's mean is above 1/2 exactly when the
assertion holds."""

from __future__ import annotations

import random
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verivote.audit import batch_comparison as batch
from verivote.audit.ballot_polling import CONFIRMED, FULL_COUNT, IN_PROGRESS, AuditError

ALPHA = 0.05
CANDIDATES = ("1101", "1102", "1103")


def district(rng: random.Random, stations: int, shares: tuple[float, ...]) -> dict[str, Any]:
    """Each station's true count: ballots naming one candidate each by `shares`, a few
    blank."""
    out = {}
    for s in range(stations):
        n = rng.randint(60, 140)
        votes = dict.fromkeys(CANDIDATES, 0)
        blank = 0
        for _ in range(n):
            if rng.random() < 0.03:
                blank += 1
                continue
            votes[rng.choices(CANDIDATES, shares)[0]] += 1
        out[f"st-{s:03d}"] = {"ballots": n, "blank": blank, "votes": votes}
    return out


def run(reported: dict[str, Any], truth: dict[str, Any], seed: str) -> dict[str, Any]:
    elected = [max(CANDIDATES, key=lambda c: sum(r["votes"][c] for r in reported.values()))]
    state = batch.plan("d", "fptp", 1, elected, [], None, reported, ALPHA, seed)
    while state["status"] == IN_PROGRESS:
        batch.end_round(state, {s: truth[s] for s in batch.to_count(state)})
    return state


def seed_of(n: int) -> str:
    return f"{n:024d}"


def test_correct_forms_are_confirmed_with_risk_at_most_the_limit() -> None:
    rng = random.Random(1)
    counted = []
    for trial in range(40):
        truth = district(rng, 200, (0.5, 0.3, 0.2))
        state = run(truth, truth, seed_of(trial))
        assert state["status"] == CONFIRMED
        last = state["rounds"][-1]["assertions"]
        assert all(a["risk"] <= ALPHA for a in last.values())
        counted.append(len(state["hand_counts"]))
    # a 20-point margin needs about 60 draws: fewer than half the district's 200 stations
    assert max(counted) <= 100, counted


def test_forms_reporting_the_wrong_winner_are_rarely_confirmed() -> None:
    """The truth: 1102 leads 1101 by about 4 points; the forms move enough of 1102's votes to
    1101 at every station to report 1101 as the winner. 300 seeded audits."""
    rng = random.Random(2)
    confirmed = 0
    trials = 300
    for trial in range(trials):
        truth = district(rng, 30, (0.40, 0.44, 0.16))
        reported = {}
        for s, c in truth.items():
            moved = round(0.1 * c["votes"]["1102"])
            votes = c["votes"] | {"1101": c["votes"]["1101"] + moved,
                                  "1102": c["votes"]["1102"] - moved}  # fmt: skip
            reported[s] = c | {"votes": votes}
        state = run(reported, truth, seed_of(trial))
        assert state["status"] in (CONFIRMED, FULL_COUNT)
        confirmed += state["status"] == CONFIRMED
    assert confirmed <= ALPHA * trials, confirmed


def test_a_box_with_more_ballots_than_its_form_calls_a_full_hand_count() -> None:
    truth = district(random.Random(3), 10, (0.6, 0.3, 0.1))
    state = batch.plan("d", "fptp", 1, ["1101"], [], None, truth, ALPHA, seed_of(1))
    first = batch.to_count(state)
    counts = {s: dict(truth[s]) for s in first}
    counts[first[0]] = counts[first[0]] | {"ballots": counts[first[0]]["ballots"] + 5}
    record = batch.end_round(state, counts)
    assert state["status"] == FULL_COUNT
    assert "more ballots in the box" in record["note"]


def test_the_hand_counts_must_be_those_of_the_stations_drawn() -> None:
    truth = district(random.Random(4), 10, (0.6, 0.3, 0.1))
    state = batch.plan("d", "fptp", 1, ["1101"], [], None, truth, ALPHA, seed_of(2))
    with pytest.raises(AuditError, match="missing"):
        batch.end_round(state, {})
    assert state["rounds"] == []


def test_draws_are_reproducible_from_the_seed_and_cover_the_stations_by_size() -> None:
    truth = {"a": {"ballots": 900, "blank": 0, "votes": {"1101": 900}},
             "b": {"ballots": 100, "blank": 0, "votes": {"1101": 100}}}  # fmt: skip
    state: dict[str, Any] = {"seed": seed_of(3), "population": 1000, "reported": truth}
    drawn = batch.stations_of(state, 2000)
    assert drawn == batch.stations_of(state, 2000)
    assert 0.86 < drawn.count("a") / 2000 < 0.94


count = st.fixed_dictionaries({
    "ballots": st.integers(1, 50),
    "w": st.integers(0, 50), "l": st.integers(0, 50), "blank": st.integers(0, 50),
})  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(count, count), min_size=1, max_size=8), st.sampled_from(
    [("beats", None), ("reached", Fraction(1, 5)), ("missed", Fraction(1, 5))]))  # fmt: skip
def test_the_comparison_mean_is_above_half_exactly_when_the_assertion_holds(
    pairs: list[tuple[dict[str, int], dict[str, int]]], kind: tuple[str, Fraction | None]
) -> None:
    """Over all ballots, weighting each station by its ballots: mean B > 1/2 iff the true
    assorter mean > 1/2 (given a reported margin > 0)."""
    name, threshold = kind

    def as_count(c: dict[str, int], n: int) -> dict[str, Any]:
        w = min(c["w"], n)
        ell = min(c["l"], n - w)
        blank = min(c["blank"], n - w - ell)
        return {"ballots": n, "blank": blank, "votes": {"w": w, "l": ell}}

    reported, truth = {}, {}
    for i, (r, t) in enumerate(pairs):
        n = r["ballots"]
        reported[str(i)] = as_count(r, n)
        truth[str(i)] = as_count(t, n)
    a: dict[str, Any] = {"kind": name, "winner": "w", "loser": "l" if name == "beats" else None}
    a["upper"] = batch.upper(a, threshold)
    population = sum(c["ballots"] for c in reported.values())
    reported_mean = sum(batch.total(a, c, threshold) for c in reported.values()) / population
    a["margin"] = 2 * reported_mean - 1
    if a["margin"] <= 1e-9:
        return
    mean_b = (
        sum(
            c["ballots"] * batch.comparison_value(a, c, truth[s], threshold)
            for s, c in reported.items()
        )
        / population
    )
    true_mean = sum(batch.total(a, c, threshold) for c in truth.values()) / population
    if abs(true_mean - 0.5) > 1e-9:
        assert (mean_b > 0.5) == (true_mean > 0.5)
