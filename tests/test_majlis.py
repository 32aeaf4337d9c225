"""The Majlis law of 2024 (rule set majlis-2024), worked by hand."""

from __future__ import annotations

from fractions import Fraction

import pytest

from tests.conftest import ballots
from verivote.model.ballots import Ballot, Overvote
from verivote.rules.lot import draw
from verivote.rules.majlis import (
    count_majlis,
    count_majlis_runoff,
    parse_fraction,
    tally_majlis,
)
from verivote.rules.plurality import tally_block
from verivote.rules.tiebreak import PublicLot

SEED = bytes(range(32))


def lot(contest: str = "district") -> PublicLot:
    return PublicLot(SEED, contest)


def majlis(bs: list[Ballot], cands: str, seats: int, **kw: Fraction):  # type: ignore[no-untyped-def]
    names = cands.split()
    return count_majlis(tally_majlis(bs, names, seats), names, seats, lot(), **kw)


# --- normalising one ballot -------------------------------------------------------------


def test_names_that_are_not_candidates_of_the_district_are_ignored() -> None:
    t = tally_majlis(ballots((1, "A Stranger B")), ["A", "B", "C"], 3)
    assert t.votes == {"A": 1, "B": 1, "C": 0}
    assert (t.valid, t.void) == (1, 0)


def test_a_candidate_written_twice_counts_once() -> None:
    t = tally_majlis(ballots((1, "A A B A")), ["A", "B", "C"], 3)
    assert t.votes == {"A": 1, "B": 1, "C": 0}


def test_a_ballot_with_more_than_s_candidates_keeps_its_first_s() -> None:
    t = tally_majlis(ballots((2, "D C B A")), ["A", "B", "C", "D"], 2)
    assert t.votes == {"A": 0, "B": 0, "C": 2, "D": 2}
    assert t.valid == 2


def test_excess_is_counted_after_removing_strangers_and_repeats() -> None:
    # 4 marks but only 2 distinct candidates once "X" and the repeat are dropped: not excess.
    t = tally_majlis(ballots((1, "A X A B")), ["A", "B", "C"], 2, excess="void")
    assert t.votes == {"A": 1, "B": 1, "C": 0}
    assert t.valid == 1


def test_excess_void_option_voids_a_ballot_with_too_many_candidates() -> None:
    t = tally_majlis(ballots((1, "A B C"), (1, "A")), ["A", "B", "C"], 2, excess="void")
    assert t.votes == {"A": 1, "B": 0, "C": 0}
    assert (t.valid, t.void) == (1, 1)


def test_fewer_names_than_seats_is_a_valid_ballot() -> None:
    t = tally_majlis(ballots((1, "B")), ["A", "B", "C"], 3)
    assert (t.valid, t.void) == (1, 0)


def test_blank_ballot_and_ballot_with_no_candidate_left_are_void() -> None:
    bs = [*ballots((3, ""), (2, "X Y")), Ballot((None, Overvote()), 1)]
    t = tally_majlis(bs, ["A", "B"], 2)
    assert (t.valid, t.void) == (0, 6)
    r = count_majlis(t, ["A", "B"], 2, lot())
    assert r.elected == []
    assert r.runoff == []
    assert (r.valid, r.void) == (0, 6)


# --- round 1 ----------------------------------------------------------------------------


def test_a_candidate_at_exactly_twenty_percent_of_valid_ballots_is_elected() -> None:
    # 10 valid ballots: 2 votes is exactly 20 %; void ballots do not raise the threshold.
    bs = ballots((2, "A"), (1, "B"), (1, "C"), (1, "D"), (1, "E"), (1, "F"), (3, "G"), (5, ""))
    r = majlis(bs, "A B C D E F G", 2)
    assert r.valid == 10
    assert r.void == 5
    assert r.rounds[0].threshold == 2
    assert r.elected == ["G", "A"]
    assert r.runoff == []


def test_one_vote_below_the_threshold_is_not_elected() -> None:
    bs = ballots((2, "A"), (3, "B"), (3, "C"), (3, "D"))  # 11 valid: 20 % is 2.2
    r = majlis(bs, "A B C D", 4)
    assert r.elected == ["B", "C", "D"]
    assert "A" not in r.elected
    assert r.runoff == ["A"]  # 2R = 2 places, only one candidate left


def test_at_most_s_candidates_are_elected_highest_first() -> None:
    bs = ballots((5, "A B C"), (4, "B C D"), (1, "D"))
    r = majlis(bs, "A B C D", 2)
    # Ballots keep their first 2 names: A 5, B 9, C 4, D 1. A, B and C reach 20 % of 10;
    # the two highest take the two seats.
    assert r.rounds[0].tally == {"A": 5, "B": 9, "C": 4, "D": 1}
    assert r.elected == ["B", "A"]
    assert r.runoff == []


def test_runoff_field_is_twice_the_empty_seats_from_the_highest_remaining() -> None:
    bs = ballots(
        (30, "A"), (9, "B"), (8, "C"), (7, "D"), (6, "E"), (5, "F"), (4, "G"), (1, "H")
    )  # 70 valid; 20 % = 14
    r = majlis(bs, "A B C D E F G H", 3)
    assert r.elected == ["A"]
    assert r.runoff == ["B", "C", "D", "E"]


def test_district_where_nobody_reaches_twenty_percent_sends_top_2s_to_round_two() -> None:
    bs = ballots((6, "A"), (5, "B"), (5, "C"), (4, "D"), (4, "E"), (4, "F"), (3, "G"))
    r = majlis(bs, "A B C D E F G", 1)  # 31 valid: 20 % is 6.2, A has 6
    assert r.elected == []
    # B and C tie for the second place in the field: the lot decides.
    assert len(r.lots) == 1
    assert r.runoff == ["A", r.lots[0].order[0]]
    assert r.lots[0].purpose == "runoff"
    assert sorted(r.lots[0].tied) == ["B", "C"]


def test_tie_at_the_threshold_for_the_last_seat_is_broken_by_lot() -> None:
    bs = ballots((4, "A B"), (4, "C"), (2, "D"))  # 10 valid, A, B, C at 4 ≥ 2, 2 seats
    r = majlis(bs, "A B C D", 2)
    assert len(r.elected) == 2
    (tie,) = r.lots
    assert tie.purpose == "elect"
    assert sorted(tie.tied) == ["A", "B", "C"]
    assert r.elected == tie.order[:2]
    # The draw is public: anyone re-running it with the recorded seed gets the same order.
    again = draw(bytes.fromhex(tie.seed), tie.contest, tie.tied, tie.purpose, tie.round)
    assert again.order == tie.order
    # Both seats are filled in round 1, so there is no runoff field.
    assert r.runoff == []


def test_a_tie_that_decides_nothing_draws_no_lot() -> None:
    bs = ballots((4, "A B"), (1, "C"))
    r = majlis(bs, "A B C", 2)
    assert sorted(r.elected) == ["A", "B"]
    assert r.lots == []


def test_the_old_thresholds_one_third_and_one_quarter() -> None:
    bs = ballots((30, "A"), (26, "B"), (44, "C"))
    assert majlis(bs, "A B C", 2, threshold=Fraction(1, 3)).elected == ["C"]
    assert majlis(bs, "A B C", 2, threshold=Fraction(1, 4)).elected == ["C", "A", "B"][:2]


def test_minority_seat_district_uses_the_same_rules() -> None:
    # Armenians of the south: one seat, three candidates; the winner needs 20 % too.
    bs = ballots((120, "Ara"), (80, "Sevak"), (40, "Levon"), (10, "Other"), (6, ""))
    r = majlis(bs, "Ara Sevak Levon", 1)
    assert r.elected == ["Ara"]
    assert r.valid == 240
    assert r.void == 16
    assert r.runoff == []


# --- round 2 ----------------------------------------------------------------------------


def test_round_two_is_plurality_without_threshold_among_the_field() -> None:
    field = ["B", "C", "D", "E"]
    bs = ballots((3, "B C"), (2, "D E"), (2, "E A"), (1, "C"))
    t = tally_block(bs, field, 2, "truncate")
    r = count_majlis_runoff(t, field, 2, lot())
    assert r.rounds[0].round == 2
    assert r.rounds[0].threshold is None
    assert r.elected == ["C", "E"]  # C 4, E 4 (A is not in the field), B 3, D 2


def test_parse_fraction_accepts_decimal_percent_and_ratio() -> None:
    assert parse_fraction("0.2") == parse_fraction("20%") == parse_fraction("1/5") == Fraction(1, 5)
    with pytest.raises(ValueError, match="not a fraction"):
        parse_fraction("a fifth")
    with pytest.raises(ValueError, match="between 0 and 1"):
        parse_fraction("3/2")


def test_seats_below_one_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1 seat"):
        majlis(ballots((1, "A")), "A", 0)
