"""The forensics statistics (issue 18, item 3): the χ² tail against published critical
values, Benford's second-digit law's known first term, and each test on synthetic stations,
clean and with a known irregularity."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verivote.audit.forensics import (
    SECOND_DIGIT,
    chi2_sf,
    fingerprint,
    identical_counts,
    last_digit,
    second_digit,
    turnout_outliers,
)


@pytest.mark.parametrize(
    ("x", "df", "p"),
    [(3.841, 1, 0.05), (6.635, 1, 0.01), (5.991, 2, 0.05), (16.919, 9, 0.05),
     (21.666, 9, 0.01), (27.877, 9, 0.001), (18.307, 10, 0.05), (43.773, 30, 0.05)],
)  # fmt: skip
def test_the_chi2_tail_matches_the_published_critical_values(x: float, df: int, p: float) -> None:
    assert chi2_sf(x, df) == pytest.approx(p, rel=2e-3)


@given(st.floats(0.0, 200.0))
def test_with_two_degrees_of_freedom_the_tail_is_exp_minus_half_x(x: float) -> None:
    assert chi2_sf(x, 2) == pytest.approx(math.exp(-x / 2), rel=1e-9, abs=1e-300)


def test_benfords_second_digit_law() -> None:
    assert sum(SECOND_DIGIT) == pytest.approx(1.0)
    assert SECOND_DIGIT[0] == pytest.approx(0.11968, abs=1e-5)
    assert SECOND_DIGIT[9] == pytest.approx(0.08500, abs=1e-5)
    assert list(SECOND_DIGIT) == sorted(SECOND_DIGIT, reverse=True)


def _honest_counts(seed: int, n: int = 2000) -> list[int]:
    rng = random.Random(seed)
    return [int(rng.lognormvariate(5.0, 0.8)) for _ in range(n)]


def test_honest_last_digits_pass_and_invented_ones_fail() -> None:
    passed = sum(last_digit(_honest_counts(seed)).p_value > 0.01 for seed in range(40))
    assert passed >= 36  # about 99 % should, at the 1 % level
    rng = random.Random(5)
    invented = [c - c % 5 if rng.random() < 0.3 else c for c in _honest_counts(1)]
    assert last_digit(invented).p_value < 1e-6


def test_counts_below_ten_are_left_out_of_the_digit_tests() -> None:
    assert last_digit([1, 2, 3, 9]).n == 0
    assert second_digit([5, 10, 123]).n == 2


def test_second_digits_of_benford_like_counts_pass() -> None:
    rng = random.Random(3)
    # counts spread over orders of magnitude follow Benford's law closely
    counts = [int(10 ** rng.uniform(1.5, 4.5)) for _ in range(5000)]
    assert second_digit(counts).p_value > 0.001
    assert second_digit([c - c % 100 + 55 for c in counts if c >= 100]).p_value < 1e-9


def test_a_stuffed_station_stands_out_by_its_turnout() -> None:
    rng = random.Random(9)
    turnout = {f"s{i:03d}": min(1.0, max(0.0, rng.gauss(0.41, 0.05))) for i in range(300)}
    turnout["s042"] = 0.97
    found = turnout_outliers(turnout)
    assert found[0].station == "s042"
    assert found[0].score > 3.5
    assert found[0].p_value < 1e-3


def test_identical_results_are_grouped_and_tiny_stations_ignored() -> None:
    results = {"a": [120, 80, 3], "b": [120, 80, 3], "c": [119, 80, 3], "d": [1, 0, 0],
               "e": [1, 0, 0]}  # fmt: skip
    assert identical_counts(results) == [["a", "b"]]


def test_the_fingerprint_puts_voters_in_the_cell_of_their_stations_turnout_and_share() -> None:
    grid = fingerprint([(0.41, 0.55, 300), (1.0, 1.0, 500), (0.0, 0.0, 7)], bins=10)
    assert grid[4][5] == 300
    assert grid[9][9] == 500
    assert grid[0][0] == 7
    assert sum(map(sum, grid)) == 807
    with pytest.raises(ValueError, match="lie in"):
        fingerprint([(1.2, 0.5, 10)])
