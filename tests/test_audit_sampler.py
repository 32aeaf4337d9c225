"""The audit's consistent sampler (issue 18): the same seed and manifest draw the same
ballots; a larger sample keeps every ballot of a smaller one; the ticket is SHA-256 of the
written-down input; a seed must be a public dice roll's digits; the draw is close to uniform
over stations."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verivote.audit.sampler import (
    PaperBallot,
    SeedError,
    ballots,
    parse_seed,
    pull_list,
    sample,
    ticket,
)

SEED = "3141 5926 5358 9793 2384"
MANIFEST = {("tabriz-001", 1): 120, ("tabriz-001", 2): 80, ("tabriz-002", 1): 200,
            ("karaj-001", 1): 100}  # fmt: skip


def test_a_ticket_is_the_sha256_of_the_written_down_input() -> None:
    b = PaperBallot("tabriz-001", 2, 17)
    text = b"31415926535897932384,tabriz-001,2,17"
    assert ticket("31415926535897932384", b) == int.from_bytes(hashlib.sha256(text).digest(), "big")


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 500), st.integers(0, 100))
def test_a_larger_sample_keeps_every_ballot_of_a_smaller_one(n: int, more: int) -> None:
    small = sample(SEED, MANIFEST, n)
    large = sample(SEED, MANIFEST, n + more)
    assert large[:n] == small
    assert len(set(large)) == len(large) == min(n + more, 500)


def test_the_same_seed_draws_the_same_list_and_another_seed_another() -> None:
    assert sample(SEED, MANIFEST, 30) == sample(SEED.replace(" ", ""), MANIFEST, 30)
    assert sample(SEED, MANIFEST, 30) != sample("2718 2818 2845 9045 2353", MANIFEST, 30)


def test_the_pull_list_names_every_drawn_ballot_by_station_and_box() -> None:
    drawn = sample(SEED, MANIFEST, 40)
    listed = pull_list(drawn)
    flat = {PaperBallot(s, box, p) for s, boxes in listed.items() for box, ps in boxes.items()
            for p in ps}  # fmt: skip
    assert flat == set(drawn)
    for station, boxes in listed.items():
        for box, positions in boxes.items():
            assert positions == sorted(positions)
            assert all(1 <= p <= MANIFEST[(station, box)] for p in positions)


def test_the_draw_is_close_to_uniform_over_the_ballots() -> None:
    # 100 seeds, 50 ballots each from 500: each station's share of the draws within a few
    # percent of its share of the ballots.
    counts: Counter[str] = Counter()
    for k in range(100):
        counts.update(b.station for b in sample(f"{k:020d}", MANIFEST, 50))
    total = sum(counts.values())
    for station, share in {"tabriz-001": 0.4, "tabriz-002": 0.4, "karaj-001": 0.2}.items():
        assert abs(counts[station] / total - share) < 0.03


@pytest.mark.parametrize("bad", ["", "1234", "12345678901234567890x", "١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨٩٠"])
def test_a_seed_is_at_least_twenty_ascii_digits(bad: str) -> None:
    with pytest.raises(SeedError):
        parse_seed(bad)


def test_the_manifest_is_every_ballot_of_every_box() -> None:
    assert len(list(ballots(MANIFEST))) == 500
    with pytest.raises(ValueError, match="holds -1"):
        list(ballots({("s", 1): -1}))
