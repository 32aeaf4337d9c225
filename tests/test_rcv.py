"""Hand-worked counts for each RCV option, the option checks, and properties of every count.

Every expected number below was worked out by hand from testdata/rctab/README.md, "Counting
rules"; the comment above each test shows the working.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verivote.model.ballots import Ballot, Mark, Overvote
from verivote.model.contest import Contest, load_contest
from verivote.model.result import Result
from verivote.rules.rcv import (
    EXHAUSTED_KEY,
    FINAL_SURPLUS_KEY,
    RcvOptions,
    count_rcv,
    rcv_options_from_contest,
    tiebreak_from_contest,
)
from verivote.rules.tiebreak import CandidateOrder, PreviousRounds, PublicLot, TieBreak

ABC = ("A", "B", "C")
FOUR = ("A", "B", "C", "D")
OV = Overvote()


def b(count: int, *marks: Mark) -> Ballot:
    return Ballot(tuple(marks), count)


def opts(**kw: Any) -> RcvOptions:
    base: dict[str, Any] = {"method": "irv", "seats": 1, "candidates": ABC}
    base.update(kw)
    return RcvOptions(**base)


def run(ballots: list[Ballot], tiebreak: TieBreak | None = None, **kw: Any) -> Result:
    options = opts(**kw)
    return count_rcv(ballots, options, tiebreak or CandidateOrder(options.candidates))


def tallies(result: Result) -> list[dict[str, Decimal]]:
    return [dict(r.tally) for r in result.rounds]


def D(text: str) -> Decimal:
    return Decimal(text)


# --- overvotes -----------------------------------------------------------------------------

# 4 A, 3 B, 2 "C, overvote, B". Round 1: A4 B3 C2, threshold floor(9/2)+1 = 5, C goes.
OVERVOTED = [b(4, "A"), b(3, "B"), b(2, "C", OV, "B")]


def test_overvote_exhaust() -> None:
    # The overvote ends C's ballots: round 2 is A4 B3, threshold floor(7/2)+1 = 4, A wins.
    result = run(OVERVOTED, overvote="exhaust")
    assert tallies(result)[1] == {"A": 4, "B": 3}
    assert result.rounds[1].threshold == 4
    assert result.rounds[1].exhausted == 2
    assert result.rounds[1].transfers == {"C": {EXHAUSTED_KEY: 2}}
    assert result.elected == ["A"]


def test_overvote_skip() -> None:
    # The overvote is passed over and the ballots reach B: round 2 is A4 B5, B wins.
    result = run(OVERVOTED, overvote="skip")
    assert tallies(result)[1] == {"A": 4, "B": 5}
    assert result.rounds[1].transfers == {"C": {"B": 2}}
    assert result.elected == ["B"]


def test_overvote_skip_still_counts_as_a_marked_rank() -> None:
    # max_skipped_ranks 0: "C, overvote, B" has no gap, because the overvote is a mark.
    result = run(OVERVOTED, overvote="skip", max_skipped_ranks=0)
    assert result.elected == ["B"]


def test_overvote_exhaust_if_multiple_continuing() -> None:
    # Candidates A B C D. Round 1: A4 B3 C1 D6, threshold floor(14/2)+1 = 8.
    # C goes first: "C, {A|B}, D": A and B both continue -> exhausted.
    # Round 2: A4 B3 D6; B goes: "B, {B|D}, A": only D continues -> D, not A.
    # Round 3: A4 D9, threshold 7: D wins.
    ballots = [
        b(4, "A"),
        b(3, "B", Overvote(("B", "D")), "A"),
        b(1, "C", Overvote(("A", "B")), "D"),
        b(6, "D", Overvote(("C", "B")), "A"),
    ]
    result = run(ballots, candidates=FOUR, overvote="exhaust_if_multiple_continuing")
    assert tallies(result) == [
        {"A": 4, "B": 3, "C": 1, "D": 6},
        {"A": 4, "B": 3, "D": 6},
        {"A": 4, "D": 9},
    ]
    assert result.rounds[1].transfers == {"C": {EXHAUSTED_KEY: 1}}
    assert result.rounds[2].transfers == {"B": {"D": 3}}
    assert result.elected == ["D"]


def test_overvote_naming_no_continuing_candidate_is_passed_over() -> None:
    # A5 B1 C2 D4, threshold 7: B goes (exhausts). Round 2: A5 C2 D4: C goes. "C, {C|B}, A":
    # nobody in the overvote continues, so the walk goes on to A. Round 3: A7 D4.
    ballots = [b(5, "A"), b(1, "B"), b(2, "C", Overvote(("C", "B")), "A"), b(4, "D")]
    result = run(ballots, candidates=FOUR, overvote="exhaust_if_multiple_continuing")
    assert tallies(result)[2] == {"A": 7, "D": 4}
    assert result.elected == ["A"]


def test_overvote_naming_one_continuing_candidate_goes_to_it() -> None:
    ballots = [b(5, "A"), b(6, "B"), b(2, "C", Overvote(("C", "B")), "A"), b(1, "C")]
    # Round 1: A5 B6 C3, threshold 8: C goes. Its 2 ballots: {C|B} holds exactly one
    # continuing candidate, B, so they go to B (not A). Round 2: A5 B8, exhausted 1.
    result = run(ballots, overvote="exhaust_if_multiple_continuing")
    assert tallies(result)[1] == {"A": 5, "B": 8}
    assert result.rounds[1].exhausted == 1


# --- skipped ranks and duplicates ----------------------------------------------------------


@pytest.mark.parametrize(
    ("max_skipped", "winner"),
    [
        # "C, _, _, B": B is 3 ranks after C; allowed when 3 <= max_skipped_ranks + 1.
        (0, "A"),
        (1, "A"),
        (2, "B"),
        (None, "B"),
    ],
)
def test_max_skipped_ranks(max_skipped: int | None, winner: str) -> None:
    ballots = [b(4, "A"), b(3, "B"), b(2, "C", None, None, "B")]
    result = run(ballots, max_skipped_ranks=max_skipped)
    assert result.elected == [winner]


def test_skipped_first_ranks_exhaust_at_once() -> None:
    # "_, _, A" with max_skipped_ranks 1: rank 3 − rank 0 = 3 > 2, exhausted in round 1. It is
    # still a valid ballot (it has a mark); a ballot with no mark at all is void.
    ballots = [b(3, None, None, "A"), b(2, "B"), b(1, "A"), b(4), b(1, None, None)]
    result = run(ballots, max_skipped_ranks=1)
    assert result.valid == 6
    assert result.void == 5
    assert result.rounds[0].exhausted == 3
    assert tallies(result)[0] == {"A": 1, "B": 2, "C": 0}


@pytest.mark.parametrize(("rule", "winner"), [("skip", "B"), ("exhaust", "A")])
def test_duplicate_rankings(rule: str, winner: str) -> None:
    # "C, C, B": after C goes, skip passes over the repeated C and reaches B (A4 B5);
    # exhaust stops at the repeated C (A4 B3).
    ballots = [b(4, "A"), b(3, "B"), b(2, "C", "C", "B")]
    result = run(ballots, duplicate_rankings=rule)
    assert result.elected == [winner]


# --- elimination ---------------------------------------------------------------------------

# A8 B7 C2 D1, threshold 10. Batch walk: sum below 2 is 1 < 2 -> {D}; sum below 7 is 3 < 7
# -> {C, D}; sum below 8 is 10 >= 8. So C and D go together.
BATCH = [b(8, "A"), b(7, "B"), b(2, "C", "B"), b(1, "D", "B")]


def test_batch_elimination() -> None:
    result = run(BATCH, candidates=FOUR, batch_elimination=True)
    assert [r.eliminated for r in result.rounds] == [["C", "D"], []]
    assert tallies(result)[1] == {"A": 8, "B": 10}
    assert result.rounds[1].transfers == {"C": {"B": 2}, "D": {"B": 1}}
    assert result.elected == ["B"]


def test_without_batch_elimination_one_goes_per_round() -> None:
    result = run(BATCH, candidates=FOUR)
    assert [r.eliminated for r in result.rounds] == [["D"], ["C"], []]
    assert result.elected == ["B"]


def test_batch_of_one_is_a_single_elimination() -> None:
    # A5 B4 C3 D1: only {D} qualifies (1 < 3; 4 >= 4; 8 >= 5): an ordinary elimination.
    ballots = [b(5, "A"), b(4, "B"), b(3, "C"), b(1, "D")]
    result = run(ballots, candidates=FOUR, batch_elimination=True)
    assert result.rounds[0].eliminated == ["D"]


def test_continue_until_two() -> None:
    # A7 B3 C2 D1: threshold floor(13/2)+1 = 7, A wins in round 1. Without the option the
    # count ends there. With it: D goes (its ballot reaches A, who keeps collecting), then C
    # (its ballots exhaust), and it stops with A and B. The threshold stays 7 although the
    # votes fall to 11 (which would give 6).
    ballots = [b(7, "A"), b(3, "B"), b(2, "C"), b(1, "D", "A")]
    assert len(run(ballots, candidates=FOUR).rounds) == 1
    result = run(ballots, candidates=FOUR, continue_until_two=True)
    assert result.elected == ["A"]
    assert [r.elected for r in result.rounds] == [["A"], [], [], []]
    assert [r.eliminated for r in result.rounds] == [[], ["D"], ["C"], []]
    assert tallies(result)[-1] == {"A": 8, "B": 3}
    assert [r.threshold for r in result.rounds] == [7, 7, 7, 7]


def test_excluded_candidates_are_passed_over() -> None:
    # X is excluded: "X, B" counts for B from round 1; "X" alone is exhausted at once.
    ballots = [b(3, "X", "B"), b(2, "A"), b(1, "X")]
    result = run(ballots, candidates=("A", "B"), excluded=("X",))
    assert tallies(result)[0] == {"A": 2, "B": 3}
    assert result.rounds[0].exhausted == 1
    assert result.valid == 6
    assert result.elected == ["B"]


# --- undeclared write-ins ------------------------------------------------------------------

UWI = "Undeclared Write-ins"


def test_undeclared_write_ins_cannot_win() -> None:
    # UWI5 A3 B1, threshold 5: UWI reaches it but cannot win, and while it holds votes nobody
    # is elected; it is eliminated alone. Round 2: A3 B1, threshold 3: A wins.
    ballots = [b(5, UWI), b(3, "A"), b(1, "B")]
    result = run(ballots, candidates=("A", "B", UWI), undeclared_write_in=UWI)
    assert [r.eliminated for r in result.rounds] == [[UWI], []]
    assert result.elected == ["A"]


def test_unknown_names_are_write_ins_only_when_write_ins_count() -> None:
    ballots = [b(2, "Zed"), b(3, "A"), b(2, "B")]
    result = run(ballots, candidates=("A", "B", UWI), undeclared_write_in=UWI)
    assert tallies(result)[0] == {"A": 3, "B": 2, UWI: 2}
    with pytest.raises(ValueError, match="'Zed' is neither a candidate nor excluded"):
        run(ballots, candidates=("A", "B"))


# --- tie-breaks ----------------------------------------------------------------------------

# A2 B2 C3: A and B tie for the fewest votes.
TIED = [b(2, "A"), b(2, "B"), b(3, "C")]


@pytest.mark.parametrize(("order", "loser"), [(("C", "A", "B"), "B"), (("B", "A", "C"), "A")])
def test_tie_break_by_candidate_order(order: tuple[str, ...], loser: str) -> None:
    # useCandidateOrder eliminates the tied candidate that comes latest in the order.
    result = run(TIED, CandidateOrder(order))
    assert result.rounds[0].eliminated == [loser]
    assert result.lots == []


def test_tie_break_by_candidate_order_for_a_seat() -> None:
    # Two left at 2 votes each, threshold 3: the earliest in the order wins.
    result = run([b(2, "A"), b(2, "B")], CandidateOrder(("B", "A")), candidates=("A", "B"))
    assert result.elected == ["B"]


def test_tie_break_by_public_lot_is_recorded() -> None:
    lot = PublicLot(bytes(32), "tie test")
    result = run(TIED, lot)
    assert len(result.lots) == 1
    drawn = result.lots[0]
    assert drawn.purpose == "eliminate"
    assert drawn.round == 1
    assert sorted(drawn.tied) == ["A", "B"]
    assert result.rounds[0].eliminated == [drawn.order[-1]]
    # A second count with the same lot object records only its own draws.
    assert len(run(TIED, lot).lots) == 1


def test_tie_break_by_previous_rounds() -> None:
    # Round 1: A5 B3 C4 D1, threshold 7: D goes, its ballot to B. Round 2: A5 B4 C4: B and C
    # tie; in round 1 B had fewer (3 < 4), so B goes, and no lot is drawn. Candidate order
    # alone would eliminate C (the latest).
    ballots = [b(5, "A"), b(3, "B"), b(4, "C"), b(1, "D", "B")]
    result = run(ballots, PreviousRounds(PublicLot(bytes(32), "prev")), candidates=FOUR)
    assert result.rounds[1].eliminated == ["B"]
    assert result.lots == []
    assert run(ballots, candidates=FOUR).rounds[1].eliminated == ["C"]


# --- thresholds ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quota", "seats", "threshold"),
    [
        ("droop", 2, D("4")),  # floor(10/3) + 1
        ("hare", 2, D("5")),  # ceil(10/2)
        ("droop-fractional", 2, D("3.3334")),  # 10/3 truncated to 4 places + 0.0001
        ("hare-fractional", 3, D("3.3334")),  # 10/3 rounded up at 4 places
        ("hare", 3, D("4")),  # ceil(10/3)
    ],
)
def test_stv_thresholds(quota: str, seats: int, threshold: Decimal) -> None:
    ballots = [b(4, "A"), b(3, "B"), b(2, "C"), b(1, "D")]
    result = run(ballots, method="stv", seats=seats, candidates=FOUR, threshold=quota)
    assert result.rounds[0].threshold == threshold


def test_droop_elects_where_hare_does_not() -> None:
    # A4 B3 C3 for 2 seats: Droop 4 elects A in round 1, Hare 5 elects nobody.
    ballots = [b(4, "A"), b(3, "B"), b(3, "C")]
    droop = run(ballots, method="stv", seats=2, threshold="droop")
    hare = run(ballots, method="stv", seats=2, threshold="hare")
    assert droop.rounds[0].elected == ["A"]
    assert hare.rounds[0].elected == []


def test_irv_threshold_is_recomputed_each_round_unless_first_round_decides() -> None:
    # A4 B3 C2; C's ballots exhaust. Round 2 holds 7 votes: threshold 4, or 5 (from round 1).
    ballots = [b(4, "A"), b(3, "B"), b(2, "C")]
    assert [r.threshold for r in run(ballots).rounds] == [5, 4]
    fixed = run(ballots, first_round_determines_threshold=True)
    assert [r.threshold for r in fixed.rounds] == [5, 5]
    assert fixed.elected == ["A"]  # two left: the top vote-getter wins below the threshold


# --- STV surplus ---------------------------------------------------------------------------

# 3 seats, 2 decimal places. 10 "A, B, C", 3 "B", 4 "D", 3 "E": 20 votes, Droop 6.
SURPLUS = [b(10, "A", "B", "C"), b(3, "B"), b(4, "D"), b(3, "E")]
FIVE = ("A", "B", "C", "D", "E")


def test_stv_surplus_truncated_per_ballot() -> None:
    # Round 1: A10 elected. f = 4/10 = 0.40: each A ballot passes 0.40 -> B 3 + 4.00 = 7.
    # Round 2: B7 elected. f = 1/7 = 0.142857 -> 0.14. B's own 3 ballots pass 0.14 each and
    #   exhaust (0.42). A's 10 ballots, worth 0.40, pass trunc(0.40 × 0.14 = 0.056) = 0.05
    #   each: C gets 0.50, not 0.56. B keeps 7 − 0.92 = 6.08, shown as the quota 6.
    # Round 3: C0.50 D4 E3, nobody reaches 6: C goes (exhausts). Round 4: E goes.
    # Round 5: D alone for the last seat: elected. Round 6: the final round.
    result = run(SURPLUS, method="stv", seats=3, candidates=FIVE, decimal_places=2)
    assert result.fractional
    assert [r.elected for r in result.rounds] == [["A"], ["B"], [], [], ["D"], []]
    assert [r.eliminated for r in result.rounds] == [[], [], ["C"], ["E"], [], []]
    assert tallies(result)[1] == {"A": 6, "B": 7, "C": 0, "D": 4, "E": 3}
    assert tallies(result)[2] == {"A": 6, "B": 6, "C": D("0.50"), "D": 4, "E": 3}
    assert result.rounds[1].transfers == {"A": {"B": 4}}
    assert result.rounds[2].transfers == {"B": {"C": D("0.50"), EXHAUSTED_KEY: D("0.42")}}
    assert result.rounds[2].exhausted == D("0.42")
    assert tallies(result)[-1] == {"A": 6, "B": 6, "D": 4}
    assert result.elected == ["A", "B", "D"]


def test_stv_surplus_at_four_places() -> None:
    # The same count at 4 places: f_B = 0.1428; A ballots pass trunc(0.4 × 0.1428 = 0.05712)
    # = 0.0571 each (C gets 0.571), B's own pass 0.1428 each (0.4284 exhausted).
    result = run(SURPLUS, method="stv", seats=3, candidates=FIVE, decimal_places=4)
    assert result.rounds[2].transfers == {"B": {"C": D("0.571"), EXHAUSTED_KEY: D("0.4284")}}


def test_stv_final_round_sets_surplus_aside() -> None:
    # 2 seats, 9 votes, Droop 4: A6 B3 -> round 1 A elected (B3 C0 still short).
    # Round 2: f = 2/6 = 0.3333; A's ballots "A, C" give C 6 × 0.3333 = 1.9998. B3 C1.9998:
    # nobody reaches 4; with 2 hopefuls for 1 seat, C (fewer) goes and its ballots exhaust.
    # Round 3: B alone for the last seat. Round 4: final round, B below the quota keeps all.
    ballots = [b(6, "A", "C"), b(3, "B")]
    result = run(ballots, method="stv", seats=2)
    assert [r.elected for r in result.rounds] == [["A"], [], ["B"], []]
    assert tallies(result)[1] == {"A": 4, "B": 3, "C": D("1.9998")}
    assert tallies(result)[-1] == {"A": 4, "B": 3}
    # Electing both in one round sets their surplus aside in the next, last round.
    ballots = [b(6, "A"), b(5, "B"), b(1, "C")]  # 12 votes, Droop 5: A and B elected.
    result = run(ballots, method="stv", seats=2)
    assert [r.elected for r in result.rounds] == [["A", "B"], []]
    last = result.rounds[-1]
    # A: f = 1/6 = 0.1666, 6 × 0.1666 = 0.9996 set aside; B: f = 0, nothing.
    assert last.transfers == {"A": {FINAL_SURPLUS_KEY: D("0.9996")}, "B": {}}
    assert last.tally == {"A": 5, "B": 5, "C": 1}


def test_a_quota_of_zero_still_fills_only_the_seats() -> None:
    # No ballots: V = 0 and the Hare quota is 0, which every candidate "reaches"; the seat
    # goes to one of them by the tie-break (candidate order: A).
    result = run([], method="stv", seats=1, threshold="hare")
    assert result.elected == ["A"]


def test_one_winner_per_round() -> None:
    # A4 B4 C1 for 2 seats, Droop floor(9/3)+1 = 4: both reach it. Normally both win in
    # round 1; with multiWinnerAllowOnlyOneWinnerPerRound only the top one does, the tie
    # going to the candidate order (A), and B follows in round 2.
    ballots = [b(4, "A"), b(4, "B"), b(1, "C")]
    both = run(ballots, method="stv", seats=2)
    assert [r.elected for r in both.rounds] == [["A", "B"], []]
    one = run(ballots, method="stv", seats=2, one_winner_per_round=True)
    assert [r.elected for r in one.rounds] == [["A"], ["B"], []]


# --- option checks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"method": "borda"}, "unknown ranked-choice method"),
        ({"seats": 2}, "fills exactly 1 seat"),
        ({"method": "stv", "seats": 0}, "needs seats >= 1"),
        ({"method": "multi-pass-irv", "seats": 0}, "needs seats >= 1"),
        ({"overvote": "ignore"}, "unknown overvote rule"),
        ({"duplicate_rankings": "count"}, "unknown duplicate_rankings"),
        ({"max_skipped_ranks": -1}, "max_skipped_ranks"),
        ({"threshold": "imperiali"}, "unknown threshold"),
        ({"threshold": "hare"}, "Hare quota needs several seats"),
        ({"decimal_places": 0}, "decimal_places"),
        ({"stop_after_round": 0}, "stop_after_round"),
        ({"candidates": ()}, "at least one candidate"),
        ({"candidates": ("A", "A")}, "listed twice"),
        ({"excluded": ("A",)}, "listed twice"),
        ({"undeclared_write_in": "UWI"}, "must be one of the candidates"),
        ({"cutoff_elimination": True}, "cutoff_elimination"),
        ({"method": "stv", "seats": 2, "continue_until_two": True}, "continue_until_two"),
        ({"one_winner_per_round": True}, "one_winner_per_round"),
        ({"method": "stv", "seats": 2, "threshold": "bottoms-up-percentage"}, "only for"),
        ({"method": "bottoms-up-threshold", "seats": 0}, "needs bottoms_up_percentage"),
        (
            {"method": "bottoms-up-threshold", "seats": 0, "bottoms_up_percentage": D("15")},
            "uses threshold 'bottoms-up-percentage'",
        ),
        (
            {
                "method": "bottoms-up-threshold",
                "seats": 0,
                "threshold": "bottoms-up-percentage",
                "bottoms_up_percentage": D("120"),
            },
            "at most 100",
        ),
    ],
)
def test_invalid_options(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        opts(**kw)


def contest(**kw: Any) -> Contest:
    data: dict[str, Any] = {"name": "c", "method": "irv", "seats": 1, "candidates": list(ABC)}
    data.update(kw)
    return Contest.model_validate(data)


def test_options_from_contest() -> None:
    c = contest(
        method="stv",
        seats=2,
        candidates=["A", "B", "C", "X"],
        options={
            "winner_election_mode": "multiWinnerAllowOnlyOneWinnerPerRound",
            "excluded": ["X"],
            "threshold": "hare",
            "rctab_config": {"rules": {}},
        },
        notes=["ignored"],
    )
    o = rcv_options_from_contest(c)
    assert o.candidates == ABC
    assert o.excluded == ("X",)
    assert o.one_winner_per_round
    assert o.threshold == "hare"
    assert o.max_skipped_ranks is None
    assert o.decimal_places == 4
    pct = contest(method="bottoms-up-threshold", seats=0, options={"bottoms_up_percentage": "15"})
    assert rcv_options_from_contest(pct).threshold == "bottoms-up-percentage"


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"method": "majlis", "options": {"threshold": "1/5"}}, "not a ranked-choice method"),
        ({"options": {"threshold": "1/5"}}, "quota name"),
        ({"options": {"threshold": 0.2}}, "quota name"),
        ({"options": {"winner_election_mode": "bottomsUp"}}, "does not fit method"),
    ],
)
def test_invalid_contest_options(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rcv_options_from_contest(contest(**kw))


def test_tiebreak_from_contest() -> None:
    order = contest(options={"tiebreak": "useCandidateOrder", "tiebreak_order": ["C", "B", "A"]})
    tb = tiebreak_from_contest(order, bytes(32))
    assert isinstance(tb, CandidateOrder)
    assert tb.rank(["A", "C"], "elect", 1, []) == ["C", "A"]
    plain = tiebreak_from_contest(contest(options={"tiebreak": "useCandidateOrder"}), b"")
    assert plain.rank(["C", "A"], "elect", 1, []) == ["A", "C"]
    prev = contest(options={"tiebreak": "previousRoundCountsThenRandom"})
    assert isinstance(tiebreak_from_contest(prev, bytes(32)), PreviousRounds)
    for mode in ("random", "stopCountingAndAsk"):
        lot = tiebreak_from_contest(contest(options={"tiebreak": mode}), bytes(32))
        assert isinstance(lot, PublicLot)
        assert lot.contest == "c"
    with pytest.raises(ValueError, match="unknown tiebreak mode"):
        tiebreak_from_contest(contest(options={"tiebreak": "coin"}), b"")
    with pytest.raises(ValueError, match=r"needs options\.tiebreak_order"):
        tiebreak_from_contest(contest(options={"tiebreak": "generatePermutation"}), b"")


def test_contest_defaults_and_majlis_threshold() -> None:
    c = contest(method="majlis", options={"threshold": "1/5"})
    assert c.options.threshold == "1/5"
    assert contest(options={"threshold": 0.2}).options.threshold == 0.2
    o = contest().options
    assert (o.overvote, o.duplicate_rankings, o.threshold, o.tiebreak) == (
        "exhaust",
        "skip",
        "droop",
        "random",
    )
    assert (o.max_skipped_ranks, o.bottoms_up_percentage, o.winner_election_mode) == (
        None,
        None,
        None,
    )
    assert o.excluded == []


def test_load_contest_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        load_contest(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_contest(bad)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(
        json.dumps({"name": "x", "method": "irv", "seats": -1, "candidates": "A", "options": {}}),
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="seats") as info:
        load_contest(wrong)
    assert "\n" not in str(info.value)
    assert "candidates" in str(info.value)


# --- properties ----------------------------------------------------------------------------

NAMES = ("A", "B", "C", "D", "E")

marks = st.one_of(
    st.none(),
    st.sampled_from(NAMES),
    st.just(OV),
    st.lists(st.sampled_from(NAMES), min_size=2, max_size=3, unique=True).map(
        lambda names: Overvote(tuple(names))
    ),
)
ballot_lists = st.lists(
    st.builds(
        lambda ms, n: Ballot(tuple(ms), n),
        st.lists(marks, max_size=5),
        st.integers(min_value=1, max_value=4),
    ),
    max_size=14,
)


SEATED = ("irv", "stv", "bottoms-up", "multi-pass-irv")


@st.composite
def option_sets(
    draw: st.DrawFn, methods: tuple[str, ...] = (*SEATED, "bottoms-up-threshold")
) -> RcvOptions:
    method = draw(st.sampled_from(methods))
    n = draw(st.integers(min_value=2, max_value=5))
    extra: dict[str, Any] = {}
    if method == "stv":
        extra["threshold"] = draw(
            st.sampled_from(["droop", "droop-fractional", "hare", "hare-fractional"])
        )
        extra["one_winner_per_round"] = draw(st.booleans())
    if method in ("irv", "multi-pass-irv"):
        extra["continue_until_two"] = draw(st.booleans())
        extra["first_round_determines_threshold"] = draw(st.booleans())
    seats = 1 if method == "irv" else draw(st.integers(min_value=1, max_value=3))
    if method == "bottoms-up-threshold":
        seats = 0
        extra["threshold"] = "bottoms-up-percentage"
        extra["bottoms_up_percentage"] = draw(st.sampled_from([D("5"), D("15"), D("33.3")]))
        extra["cutoff_elimination"] = draw(st.booleans())
        extra["first_round_determines_threshold"] = draw(st.booleans())
    return RcvOptions(
        method=method,
        seats=seats,
        candidates=NAMES[:n],
        excluded=NAMES[n:],
        overvote=draw(st.sampled_from(["exhaust", "skip", "exhaust_if_multiple_continuing"])),
        max_skipped_ranks=draw(st.one_of(st.none(), st.integers(min_value=0, max_value=2))),
        duplicate_rankings=draw(st.sampled_from(["skip", "exhaust"])),
        batch_elimination=draw(st.booleans()),
        decimal_places=draw(st.integers(min_value=1, max_value=4)),
        **extra,
    )


def _count(ballots: list[Ballot], options: RcvOptions) -> Result:
    return count_rcv(ballots, options, PublicLot(b"seed", "property"))


@settings(max_examples=300, deadline=None)
@given(ballot_lists, option_sets(), st.randoms(use_true_random=False))
def test_ballot_order_never_matters(
    ballots: list[Ballot], options: RcvOptions, rnd: random.Random
) -> None:
    shuffled = list(ballots)
    rnd.shuffle(shuffled)
    assert _count(shuffled, options) == _count(ballots, options)


@settings(max_examples=300, deadline=None)
@given(ballot_lists, option_sets())
def test_votes_are_conserved(ballots: list[Ballot], options: RcvOptions) -> None:
    """In every round: Σ tally + exhausted + kept surplus + set-aside surplus = valid votes.

    The tally lists the candidates in the count (STV winners at min(kept, quota)). A winner W
    whose ballots moved into round r had tally T in round r − 1; it passed on the votes in
    `transfers[W]` (to candidates, to "exhausted", or set aside as the final-round surplus)
    and keeps T − Σ transfers[W]. The part of that above its shown tally (its residual
    surplus, ≥ 0) is no longer in any tally, nor is the set-aside surplus. Outside STV both
    are 0. Every eliminated candidate passes on exactly its last tally.
    """
    result = _count(ballots, options)
    valid = Decimal(sum(x.count for x in ballots if any(m is not None for m in x.marks)))
    assert result.valid == valid
    residual: dict[str, Decimal] = {}
    set_aside = Decimal(0)
    previous: dict[str, Decimal] = {}
    for r in result.rounds:
        if r.round == 1:
            residual, set_aside, previous = {}, Decimal(0), {}
        for source, moved in r.transfers.items():
            out = sum(moved.values(), Decimal(0))
            if source in r.tally:  # an STV winner
                kept_extra = previous[source] - out - r.tally[source]
                assert kept_extra >= 0
                residual[source] = kept_extra
                set_aside += moved.get(FINAL_SURPLUS_KEY, Decimal(0))
            else:
                assert out == previous[source]
        assert all(v >= 0 for v in r.tally.values())
        total = sum(r.tally.values(), Decimal(0)) + r.exhausted
        assert total + sum(residual.values(), Decimal(0)) + set_aside == valid
        if options.method != "stv":
            assert not residual
            assert set_aside == 0
        previous = dict(r.tally)


@settings(max_examples=300, deadline=None)
@given(ballot_lists, option_sets(methods=SEATED))
def test_never_more_winners_than_seats(ballots: list[Ballot], options: RcvOptions) -> None:
    result = _count(ballots, options)
    assert len(result.elected) <= options.seats
    assert len(set(result.elected)) == len(result.elected)
    assert [n for r in result.rounds for n in r.elected] == result.elected


@settings(max_examples=300, deadline=None)
@given(ballot_lists, option_sets(methods=("irv",)))
def test_irv_winner_has_a_majority_of_continuing_votes(
    ballots: list[Ballot], options: RcvOptions
) -> None:
    """The IRV winner holds more than half the votes in the count in the round it wins,
    unless at most two candidates are left (README: with exactly two left the one with more
    votes wins; a single one left takes the last seat) or the threshold was fixed in round 1.
    """
    options = replace(options, first_round_determines_threshold=False)
    result = _count(ballots, options)
    (winner,) = result.elected
    deciding = next(r for r in result.rounds if r.elected)
    votes = sum(deciding.tally.values(), Decimal(0))
    assert 2 * deciding.tally[winner] > votes or len(deciding.tally) <= 2
    if len(deciding.tally) > 2:
        assert deciding.threshold is not None
        assert deciding.tally[winner] >= deciding.threshold
