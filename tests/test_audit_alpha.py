"""ALPHA (issue 18): BRAVO and the threshold tests are its special case (with replacement, η
fixed at the reported mean: the same outcome draw by draw), and without replacement, with the
truncated shrinkage estimate, a false assertion is confirmed in at most α of seeded audits
while a true one is confirmed, at the latest once the ballots drawn settle it."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verivote.audit import alpha, sequential

ALPHA = 0.05
T = Fraction(1, 5)


@given(st.lists(st.sampled_from([1, -1, 0]), max_size=400), st.floats(0.51, 0.95))
def test_bravo_is_alpha_with_replacement_and_a_fixed_eta(draws: list[int], s_w: float) -> None:
    ballots = [frozenset({"w"}) if d > 0 else frozenset({"l"}) if d < 0 else frozenset({"x"})
               for d in draws]  # fmt: skip
    assorter = alpha.beats("w", "l")
    general = alpha.measure([assorter.value(b) for b in ballots], 1.0, ALPHA, s_w)
    bravo = sequential.beats(draws, s_w, ALPHA)
    assert (general.confirmed, general.drawn) == (bravo.confirmed, bravo.drawn)
    assert general.risk == pytest.approx(bravo.risk, rel=1e-9)


@given(st.lists(st.booleans(), max_size=400), st.floats(0.21, 0.9), st.floats(0.01, 0.19))
def test_the_threshold_tests_are_alpha_with_the_threshold_assorters(
    named: list[bool], above: float, below: float
) -> None:
    for p, assorter, eta in [
        (above, alpha.reached("c", T), above / (2 * float(T))),
        (below, alpha.missed("c", T), (1 - below) / (2 * (1 - float(T)))),
    ]:
        values = [assorter.value(frozenset({"c"}) if n else frozenset()) for n in named]
        general = alpha.measure(values, assorter.upper, ALPHA, eta)
        direct = sequential.share(named, p, float(T), ALPHA)
        assert (general.confirmed, general.drawn) == (direct.confirmed, direct.drawn)
        assert general.risk == pytest.approx(direct.risk, rel=1e-9)


def _population(n: int, shares: dict[str, float], seed: int) -> list[frozenset[str]]:
    """n ballots, each naming candidate c with probability shares[c] independently."""
    rng = random.Random(seed)
    return [frozenset(c for c, p in shares.items() if rng.random() < p) for _ in range(n)]


CASES = {
    # kind: (assorter, reported shares, true shares under which the assertion is false)
    "w beats l": (alpha.beats("w", "l"), {"w": 0.40, "l": 0.30}, {"w": 0.30, "l": 0.31}),
    "w reached 20 %": (alpha.reached("w", T), {"w": 0.30}, {"w": 0.195}),
    "c missed 20 %": (alpha.missed("c", T), {"c": 0.12}, {"c": 0.205}),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_without_replacement_a_false_assertion_is_confirmed_at_most_alpha_of_the_time(
    kind: str,
) -> None:
    assorter, reported, false_truth = CASES[kind]
    n = 1500
    reported_pop = _population(n, reported, 1)
    eta0 = sum(assorter.value(b) for b in reported_pop) / n
    wrong_pop = _population(n, false_truth, 2)
    assert sum(assorter.value(b) for b in wrong_pop) / n <= 0.5  # the assertion is false
    trials, confirmed_wrong, confirmed_right = 300, 0, 0
    for seed in range(trials):
        rng = random.Random(seed)
        for pop, right in ((wrong_pop, False), (reported_pop, True)):
            order = pop[:]
            rng.shuffle(order)
            out = alpha.measure((assorter.value(b) for b in order[:600]), assorter.upper,
                                ALPHA, alpha.ShrinkTrunc(eta0), population=n)  # fmt: skip
            if out.confirmed:
                assert out.risk <= ALPHA
                confirmed_right += right
                confirmed_wrong += not right
    assert confirmed_wrong <= ALPHA * trials
    assert confirmed_right >= 0.9 * trials


def test_drawing_every_ballot_settles_the_assertion_either_way() -> None:
    assorter = alpha.beats("w", "l")
    won = [frozenset({"w"})] * 51 + [frozenset({"l"})] * 49
    lost = [frozenset({"w"})] * 49 + [frozenset({"l"})] * 51
    for pop, expected in ((won, True), (lost, False)):
        order = pop[:]
        random.Random(7).shuffle(order)
        out = alpha.measure((assorter.value(b) for b in order), 1.0, ALPHA,
                            alpha.ShrinkTrunc(0.51), population=len(order))  # fmt: skip
        assert out.confirmed is expected


def test_values_outside_the_assorters_bound_and_extra_draws_are_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        alpha.measure([1.5], 1.0, ALPHA, 0.6)
    with pytest.raises(ValueError, match="more draws"):
        alpha.measure([0.5, 0.5, 0.5], 1.0, ALPHA, 0.6, population=2)
