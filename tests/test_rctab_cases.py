"""The RCTab regression cases of testdata/rctab/, counted by `verivote.rules.rcv`.

Each sub-folder holds `ballots.csv`, `contest.json` and RCTab's `expected.json` (see that
folder's README.md). The cases are discovered, not listed, and read in place: no case data is
copied into this project. Every round is compared exactly: tally, threshold, elected and
eliminated, with numbers parsed as decimals.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RCTAB
from verivote.model.ballot_csv import read_ballots
from verivote.model.contest import load_contest
from verivote.model.result import Result, Round
from verivote.rules.lot import DEFAULT_SEED
from verivote.rules.rcv import count_rcv, rcv_options_from_contest, tiebreak_from_contest

EXPECTED_CASES = 26
SLOW_CASES = ("_scale",)

CASES = sorted(p for p in RCTAB.iterdir() if p.is_dir()) if RCTAB.is_dir() else []


def _param(case: Path) -> Any:
    marks = [pytest.mark.slow] if case.name.endswith(SLOW_CASES) else []
    return pytest.param(case, id=case.name, marks=marks)


def test_every_case_is_found() -> None:
    assert len(CASES) >= EXPECTED_CASES, f"found {len(CASES)} cases in {RCTAB}"


def _compare_rounds(got: list[Round], expected: list[dict[str, Any]], where: str) -> None:
    assert [r.round for r in got] == [e["round"] for e in expected], f"{where}: round numbers"
    for mine, theirs in zip(got, expected, strict=True):
        at = f"{where} round {theirs['round']}"
        tally = {name: Decimal(v) for name, v in theirs["tally"].items()}
        assert mine.tally == tally, f"{at}: tally"
        assert mine.threshold == Decimal(theirs["threshold"]), f"{at}: threshold"
        assert mine.elected == theirs["elected"], f"{at}: elected"
        assert mine.eliminated == theirs["eliminated"], f"{at}: eliminated"


def _count(case: Path) -> Result:
    contest = load_contest(case / "contest.json")
    return count_rcv(
        read_ballots(case / "ballots.csv"),
        rcv_options_from_contest(contest),
        tiebreak_from_contest(contest, DEFAULT_SEED),
    )


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_rctab_case(case: Path) -> None:
    result = _count(case)
    with (case / "expected.json").open(encoding="utf-8") as fh:
        expected = json.load(fh, parse_float=Decimal)

    assert result.elected == expected["elected"]
    if "passes" in expected:
        passes = sorted({r.pass_number for r in result.rounds if r.pass_number is not None})
        assert passes == [p["pass"] for p in expected["passes"]]
        for p in expected["passes"]:
            rounds = [r for r in result.rounds if r.pass_number == p["pass"]]
            assert [n for r in rounds for n in r.elected] == p["elected"], f"pass {p['pass']}"
            _compare_rounds(rounds, p["rounds"], f"pass {p['pass']}")
    else:
        assert all(r.pass_number is None for r in result.rounds)
        _compare_rounds(result.rounds, expected["rounds"], case.name)
    # RCTab's random tie-breaks never decide these cases, so the public lot must stay unused.
    assert result.lots == []
