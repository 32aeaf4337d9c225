"""Ballot-polling audits (issue 18): the expected sample sizes against BRAVO's published
formula, the assertions of a Majlis outcome, and seeded simulations of the sequential tests:
a correct outcome is confirmed at risk ≤ α, a wrong one (a flipped winner, a threshold really
missed, a runoff candidate who really reached it) goes to a full hand count in at least
(1 − α) of 1,000 trials."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verivote.audit import sequential
from verivote.audit.sample_size import NotCovered, assertions, bravo_asn, sample_size, share_asn
from verivote.cli.app import run

ALPHA = 0.05
TRIALS = 1000
FULL_COUNT = 2000
"""Draws after which a trial stops and the audit is a full hand count."""


def _published(p_w: float, p_l: float, alpha: float) -> float:
    """ASN ≈ (ln(1/α) + ln(2s_w)/2) / (p_w ln(2s_w) + p_ℓ ln(2 − 2s_w)), as printed in BRAVO
    (Lindeman, Stark, Yates 2012) and in issue 18."""
    s_w = p_w / (p_w + p_l)
    return (math.log(1 / alpha) + math.log(2 * s_w) / 2) / (
        p_w * math.log(2 * s_w) + p_l * math.log(2 - 2 * s_w)
    )


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.1, 0.2])
@pytest.mark.parametrize(
    ("p_w", "p_l"), [(0.6, 0.4), (0.55, 0.45), (0.52, 0.48), (0.7, 0.3), (0.35, 0.25),
                     (0.3, 0.1), (0.45, 0.44)],
)  # fmt: skip
def test_the_bravo_asn_is_the_published_formula(p_w: float, p_l: float, alpha: float) -> None:
    assert bravo_asn(p_w, p_l, alpha) == pytest.approx(_published(p_w, p_l, alpha), rel=1e-12)


def test_a_two_candidate_contest_at_60_to_40_needs_about_119_ballots_at_10_percent() -> None:
    # (ln 10 + ln 1.2 / 2) / (0.6 ln 1.2 + 0.4 ln 0.8) = 2.39375 / 0.020136 = 118.88
    assert bravo_asn(0.6, 0.4, 0.1) == pytest.approx(118.88, abs=0.01)


def test_no_margin_means_a_full_hand_count() -> None:
    assert math.isinf(bravo_asn(0.4, 0.4, ALPHA))
    assert math.isinf(bravo_asn(0.3, 0.4, ALPHA))
    assert math.isinf(share_asn(0.2, 0.2, ALPHA, above=True))
    assert math.isinf(share_asn(0.25, 0.2, ALPHA, above=False))


@given(st.floats(0.21, 0.95), st.floats(0.001, 0.01), st.sampled_from([0.01, 0.05, 0.1]))
def test_a_threshold_closer_to_the_share_needs_more_ballots(p: float, d: float, a: float) -> None:
    t = 0.2
    assert share_asn(p, t, a, above=True) < share_asn(max(t + 1e-4, p - d), t, a, above=True)
    q = 1 - p  # some share below 0.8
    assert share_asn(q * 0.2, t, a, above=False) <= share_asn(min(t - 1e-4, q * 0.2 + d), t, a,
                                                              above=False)  # fmt: skip


def _majlis_votes() -> dict[str, int]:
    # 1,000 valid ballots, 3 seats: a and b reach 20 % and are elected; c and d (under 20 %)
    # make the runoff field, twice the one seat left; e and f are left out.
    return {"a": 420, "b": 310, "c": 190, "d": 160, "e": 90, "f": 40}


def test_a_majlis_round_one_with_a_runoff_rests_on_every_kind_of_assertion() -> None:
    found = assertions("majlis", _majlis_votes(), 1000, ["a", "b"], ALPHA,
                       runoff=["c", "d"], threshold=Fraction(1, 5))  # fmt: skip
    kinds = {(a.kind, a.winner, a.loser) for a in found}
    assert {("beats", w, loser) for w in "ab" for loser in "cdef"} <= kinds
    assert {("reached", "a", None), ("reached", "b", None)} <= kinds
    assert {("missed", "c", None), ("missed", "d", None)} <= kinds
    assert {("beats", c, loser) for c in "cd" for loser in "ef"} <= kinds
    assert len(found) == 8 + 2 + 2 + 4
    # the tightest assertion decides: c at 19 % against the 20 % line
    tightest = max(found, key=lambda a: a.asn)
    assert (tightest.kind, tightest.winner) == ("missed", "c")
    assert sample_size(found, 1000) == min(1000, math.ceil(tightest.asn))


def test_party_lists_and_ranked_methods_are_said_not_covered() -> None:
    for method in ("dhondt", "irv", "stv"):
        with pytest.raises(NotCovered, match="not covered"):
            assertions(method, {"a": 3, "b": 1}, 4, ["a"], ALPHA)


# --- seeded simulations of the audits -------------------------------------------------------


def _pairs(rng: random.Random, p_w: float, p_l: float) -> Iterator[int]:
    for _ in range(FULL_COUNT):
        u = rng.random()
        yield 1 if u < p_w else -1 if u < p_w + p_l else 0


def _named(rng: random.Random, p: float) -> Iterator[bool]:
    for _ in range(FULL_COUNT):
        yield rng.random() < p


def _confirmed(trials: Iterator[sequential.Outcome]) -> tuple[int, float]:
    outcomes = list(trials)
    done = [o for o in outcomes if o.confirmed]
    assert all(o.risk <= ALPHA for o in done)
    mean = sum(o.drawn for o in done) / len(done) if done else math.inf
    return len(done), mean


@pytest.mark.parametrize("kind", ["block vote", "threshold reached", "runoff: threshold missed"])
def test_a_correct_outcome_is_confirmed_and_a_wrong_one_goes_to_a_full_count(kind: str) -> None:
    reported: dict[str, tuple[float, float]] = {
        "block vote": (0.35, 0.25), "threshold reached": (0.30, 0.2),
        "runoff: threshold missed": (0.12, 0.2),
    }  # fmt: skip
    truth_if_wrong: dict[str, tuple[float, float]] = {
        "block vote": (0.25, 0.35),  # the winner and the loser flipped
        "threshold reached": (0.18, 0.2),  # the winner really missed the line
        "runoff: threshold missed": (0.22, 0.2),  # the runoff candidate really reached it
    }
    x, y = reported[kind]

    def audit(seed: int, truth: tuple[float, float]) -> sequential.Outcome:
        rng = random.Random(f"{kind}/{seed}")
        if kind == "block vote":
            return sequential.beats(_pairs(rng, *truth), x / (x + y), ALPHA)
        return sequential.share(_named(rng, truth[0]), x, y, ALPHA)

    right, mean = _confirmed(audit(s, (x, y)) for s in range(TRIALS))
    wrong, _ = _confirmed(audit(s, truth_if_wrong[kind]) for s in range(TRIALS))
    assert right >= 0.95 * TRIALS
    assert wrong <= ALPHA * TRIALS  # a full hand count in at least (1 − α) of the trials
    asn = bravo_asn(x, y, ALPHA) if kind == "block vote" else share_asn(x, y, ALPHA, x > y)
    assert mean == pytest.approx(asn, rel=0.25)  # the expected size is what audits draw


# --- the command ------------------------------------------------------------------------------


def test_the_sample_size_command_prints_the_assertions_as_one_json_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = tmp_path / "tally.csv"
    tally.write_text(
        "candidate,votes\n" + "".join(f"{c},{v}\n" for c, v in _majlis_votes().items())
    )
    code = run([
        "audit", "sample-size", "--tally", str(tally), "--valid-ballots", "1000",
        "--method", "majlis", "--seats", "3", "--risk-limit", "0.05", "--json",
    ])  # fmt: skip
    assert code == 0
    doc = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(doc) == {"assertions", "sample_size"}
    assert all(set(a) == {"kind", "winner", "loser", "asn"} for a in doc["assertions"])
    assert {a["kind"] for a in doc["assertions"]} == {"beats", "reached", "missed"}
    # c, at 19 % against the 20 % line, needs more than the 1,000 ballots: a full hand count
    assert max(a["asn"] for a in doc["assertions"]) > 1000
    assert doc["sample_size"] == 1000


def test_the_sample_size_command_refuses_a_bad_risk_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = tmp_path / "tally.csv"
    tally.write_text("candidate,votes\na,3\nb,1\n")
    code = run(["audit", "sample-size", "--tally", str(tally), "--valid-ballots", "4",
                "--risk-limit", "1.5", "--json"])  # fmt: skip
    assert code == 1
    assert "--risk-limit must lie strictly between 0 and 1" in capsys.readouterr().err
