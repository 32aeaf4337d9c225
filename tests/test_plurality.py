"""FPTP, block vote, two-round majority and the party-list methods, worked by hand."""

from __future__ import annotations

from fractions import Fraction

import pytest

from tests.conftest import ballots
from verivote.rules.methods import PluralityOptions, count_ballots, count_tally
from verivote.rules.party_list import count_party_list
from verivote.rules.tiebreak import PublicLot


def lot() -> PublicLot:
    return PublicLot(bytes(32), "contest")


def test_fptp_elects_the_most_votes_and_voids_a_ballot_naming_two() -> None:
    opts = PluralityOptions("fptp", 1, ("A", "B", "C"))
    r = count_ballots(opts, ballots((3, "A"), (4, "B"), (2, "C"), (5, "A B")), lot())
    assert r.elected == ["B"]
    assert (r.valid, r.void) == (9, 5)


def test_block_vote_voids_a_ballot_with_more_names_than_seats() -> None:
    opts = PluralityOptions("block", 2, ("A", "B", "C"))
    r = count_ballots(opts, ballots((3, "A B"), (2, "B C"), (4, "A B C")), lot())
    assert r.elected == ["B", "A"]
    assert r.rounds[0].tally == {"A": 3, "B": 5, "C": 2}
    assert (r.valid, r.void) == (5, 4)


def test_block_vote_never_elects_a_candidate_without_votes() -> None:
    opts = PluralityOptions("block", 3, ("A", "B", "C"))
    r = count_ballots(opts, ballots((3, "A B")), lot())
    assert r.elected == ["A", "B"]


def test_two_round_majority_wins_outright() -> None:
    opts = PluralityOptions("two-round", 1, ("A", "B", "C"))
    r = count_ballots(opts, ballots((6, "A"), (3, "B"), (2, "C")), lot())
    assert r.elected == ["A"]
    assert r.runoff is None


def test_two_round_exactly_half_is_not_a_majority_and_top_two_go_to_runoff() -> None:
    opts = PluralityOptions("two-round", 1, ("A", "B", "C"))
    r = count_ballots(opts, ballots((5, "A"), (3, "B"), (2, "C")), lot())
    assert r.elected == []
    assert r.runoff == ["A", "B"]


def test_tally_input_gives_the_same_result_as_the_ballots() -> None:
    opts = PluralityOptions("majlis", 2, ("A", "B", "C", "D"))
    bs = ballots((5, "A B"), (4, "C D"), (1, "D"), (2, ""))
    from_ballots = count_ballots(opts, bs, lot())
    from_tally = count_tally(opts, {"A": 5, "B": 5, "C": 4, "D": 5}, 10, lot(), void=2)
    assert from_tally == from_ballots


def test_a_tally_that_cannot_come_from_the_ballots_is_refused() -> None:
    opts = PluralityOptions("majlis", 1, ("A", "B"))
    with pytest.raises(ValueError, match="only 3 valid ballots"):
        count_tally(opts, {"A": 4}, 3, lot())
    with pytest.raises(ValueError, match="more than 1 per valid ballot"):
        count_tally(opts, {"A": 3, "B": 3}, 3, lot())
    with pytest.raises(ValueError, match="not a candidate"):
        count_tally(opts, {"Z": 1}, 3, lot())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "block", "seats": 0}, "at least 1 seat"),
        ({"method": "fptp", "seats": 2}, "exactly 1"),
        ({"method": "vote-by-mood", "seats": 1}, "unknown method"),
        ({"method": "block", "seats": 1, "round": 2}, "round 2"),
        ({"method": "majlis", "seats": 1, "threshold": Fraction(3, 2)}, "between 0 and 1"),
    ],
)
def test_bad_options_are_refused_with_a_clear_message(kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError, match=message):
        PluralityOptions(candidates=("A",), **kwargs)


VOTES = {"A": 100_000, "B": 80_000, "C": 30_000, "D": 20_000}


def test_dhondt_allocation_of_the_textbook_example() -> None:
    r = count_party_list(VOTES, list(VOTES), 8, "dhondt", lot())
    assert r.seats_won == {"A": 4, "B": 3, "C": 1}
    assert r.elected == ["A", "B", "A", "B", "A", "C", "B", "A"]


def test_sainte_lague_allocation_of_the_textbook_example() -> None:
    r = count_party_list(VOTES, list(VOTES), 8, "sainte-lague", lot())
    assert r.seats_won == {"A": 3, "B": 3, "C": 1, "D": 1}
    # A's third quotient and D's first are both 20,000 and both win a seat: no lot.
    assert r.lots == []


def test_party_list_legal_threshold_removes_small_parties_first() -> None:
    r = count_party_list(VOTES, list(VOTES), 8, "sainte-lague", lot(), threshold=Fraction(1, 10))
    assert "D" not in (r.seats_won or {})  # D has 8.7 % of the votes
    assert sum((r.seats_won or {}).values()) == 8


def test_party_list_tie_for_the_last_seat_goes_to_the_lot() -> None:
    r = count_party_list({"A": 10, "B": 10}, ["A", "B"], 1, "dhondt", lot())
    assert len(r.lots) == 1
    assert r.elected == [r.lots[0].order[0]]
