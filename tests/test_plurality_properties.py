"""Invariants of the plurality family, checked on random ballots (hypothesis)."""

from __future__ import annotations

import random
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from verivote.model.ballots import Ballot
from verivote.rules.majlis import count_majlis, tally_majlis
from verivote.rules.methods import PluralityOptions, count_ballots
from verivote.rules.tiebreak import PublicLot

CANDIDATES = ("A", "B", "C", "D", "E", "F")
NAMES = (*CANDIDATES, "Stranger")

ballot_lists = st.lists(
    st.builds(
        Ballot,
        st.lists(st.sampled_from(NAMES), max_size=8).map(tuple),
        st.integers(min_value=1, max_value=5),
    ),
    max_size=40,
)
seats = st.integers(min_value=1, max_value=5)
thresholds = st.sampled_from([Fraction(1, 5), Fraction(1, 4), Fraction(1, 3), Fraction(0)])


def majlis(bs: list[Ballot], s: int, threshold: Fraction = Fraction(1, 5)):  # type: ignore[no-untyped-def]
    return count_majlis(
        tally_majlis(bs, CANDIDATES, s), CANDIDATES, s, PublicLot(b"seed", "d"), threshold
    )


@settings(max_examples=150)
@given(ballot_lists, seats, st.randoms(use_true_random=False))
def test_ballot_order_never_changes_a_majlis_result(
    bs: list[Ballot], s: int, rnd: random.Random
) -> None:
    shuffled = list(bs)
    rnd.shuffle(shuffled)
    assert majlis(shuffled, s) == majlis(bs, s)


@settings(max_examples=150)
@given(ballot_lists, seats, thresholds)
def test_majlis_winners_reach_the_threshold_and_never_exceed_the_seats(
    bs: list[Ballot], s: int, threshold: Fraction
) -> None:
    r = majlis(bs, s, threshold)
    tally = r.rounds[0].tally
    assert len(r.elected) <= s
    assert len(set(r.elected)) == len(r.elected)
    assert all(Fraction(int(tally[c])) >= threshold * r.valid for c in r.elected)
    assert r.runoff is not None
    assert len(r.runoff) <= 2 * (s - len(r.elected))
    assert not set(r.runoff) & set(r.elected)
    # Everyone outside the elected and the field has no more votes than the field's last.
    if r.runoff:
        floor = min(tally[c] for c in r.runoff)
        rest = set(CANDIDATES) - set(r.elected) - set(r.runoff)
        if len(r.runoff) == 2 * (s - len(r.elected)):
            assert all(tally[c] <= floor for c in rest)
        else:
            assert all(tally[c] == 0 for c in rest)


@settings(max_examples=150)
@given(ballot_lists, seats)
def test_every_ballot_is_valid_or_void_and_no_ballot_gives_more_than_s_votes(
    bs: list[Ballot], s: int
) -> None:
    r = majlis(bs, s)
    assert r.valid + r.void == sum(b.count for b in bs)
    assert sum(r.rounds[0].tally.values()) <= s * r.valid


@settings(max_examples=100)
@given(ballot_lists, seats, st.sampled_from(["block", "dhondt", "sainte-lague"]))
def test_never_more_winners_than_seats(bs: list[Ballot], s: int, method: str) -> None:
    r = count_ballots(PluralityOptions(method, s, CANDIDATES), bs, PublicLot(b"", "c"))
    if method == "block":
        assert len(r.elected) <= s
    else:
        assert len(r.elected) == (s if r.valid else 0)
