"""Discrete logs of decrypted tallies."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verivote.crypto.dlog import DiscreteLogError, discrete_log
from verivote.crypto.groups import get_group


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=0, max_value=10**8 - 1))
def test_finds_any_tally_below_ten_to_the_eighth(t: int) -> None:
    g = get_group()
    base = g.pow_g(12345)
    assert discrete_log(g, base, g.pow(base, t)) == t


def test_values_beyond_the_bound_are_an_error() -> None:
    g = get_group()
    base = g.pow_g(777)
    with pytest.raises(DiscreteLogError, match="below 1,000"):
        discrete_log(g, base, g.pow(base, 5000), bound=1000)
