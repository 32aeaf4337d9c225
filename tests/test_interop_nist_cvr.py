"""`verivote export nist-cvr`: SP 1500-103 cast vote records of plaintext ballots, checked
against the official schema, read back, and counted again to the same result."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import RCTAB
from tests.manifests import small_manifest_data
from tests.test_interop_nist_schemas import CVR, validate
from tests.verify_fixtures import VerifyElection
from verivote.cli.app import run
from verivote.interop.nist.common import InteropError
from verivote.interop.nist.cvr import (
    CvrCandidate,
    CvrContest,
    contest_from_file,
    contest_from_manifest,
    cvr_report,
    write_cvr_report,
)
from verivote.interop.nist.cvr_reader import read_cvr_ballots
from verivote.model.ballot_csv import read_ballots
from verivote.model.ballots import Ballot, Mark, Overvote
from verivote.model.contest import load_contest
from verivote.model.manifest import parse_manifest
from verivote.rules.lot import DEFAULT_SEED
from verivote.rules.majlis import tally_majlis
from verivote.rules.rcv import count_rcv, rcv_options_from_contest, tiebreak_from_contest

# Every RCTab case but the four of Minneapolis (80,000 voters and more: a minute of CVRs).
CASES = (
    sorted(p for p in RCTAB.iterdir() if p.is_dir() and "minneapolis" not in p.name)
    if RCTAB.is_dir()
    else []
)


def _voters(ballots: Iterable[Ballot]) -> list[tuple[Mark, ...]]:
    """One entry per voter, with overvotes' names in a fixed order (a CVR keeps which
    candidates share a rank, not the order the CSV cell listed them in)."""
    out: list[tuple[Mark, ...]] = []
    for b in ballots:
        marks = tuple(
            Overvote(tuple(sorted(m.names))) if isinstance(m, Overvote) else m for m in b.marks
        )
        out += [marks] * b.count
    return out


def test_the_rctab_cases_are_found() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_rctab_ballots_round_trip_and_count_the_same(case: Path) -> None:
    contest = load_contest(case / "contest.json")
    ballots = read_ballots(case / "ballots.csv")
    doc = json.loads(json.dumps(cvr_report(contest_from_file(contest), ballots)))
    validate(doc, CVR)
    back = read_cvr_ballots(doc)
    assert _voters(back.ballots) == _voters(ballots)
    assert back.candidates[: len(contest.candidates)] == contest.candidates
    if contest.method in ("irv", "stv", "bottoms-up", "bottoms-up-threshold", "multi-pass-irv"):
        options = rcv_options_from_contest(contest)
        original = count_rcv(ballots, options, tiebreak_from_contest(contest, DEFAULT_SEED))
        again = count_rcv(back.ballots, options, tiebreak_from_contest(contest, DEFAULT_SEED))
        assert again == original
        expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))
        assert sorted(again.elected) == sorted(expected["elected"])


def _manifest_csv(tmp_path: Path) -> Path:
    path = tmp_path / "tabriz.csv"
    path.write_text(
        "count,rank1,rank2,rank3,rank4\n"
        "3,1101,Zahra Ahmadi,,\n"  # a code and a name
        "2,,,,\n"  # blank: void under the law
        "1,1103,Someone Else,1103,\n"  # a write-in and a repeated code
        '1,#overvote,1104,"Ali Karimi",1105\n'  # more names than seats, an overvote
        "1,#overvote:1101|Nobody,,,1102\n",
        encoding="utf-8",
    )
    return path


def test_a_districts_ballots_read_back_as_codes_and_tally_the_same(tmp_path: Path) -> None:
    manifest = parse_manifest(small_manifest_data())
    spec = contest_from_manifest(manifest, "tabriz", "tabriz-002")
    ballots = read_ballots(_manifest_csv(tmp_path))
    doc = cvr_report(spec, ballots, notes="test ballots")
    validate(doc, CVR)
    back = read_cvr_ballots(doc, "tabriz")
    names = {c.name: c.code for c in manifest.district("tabriz").candidates}
    coded = [
        Ballot(tuple(names.get(m, m) if isinstance(m, str) else m for m in b.marks), b.count)
        for b in ballots
    ]
    assert _voters(back.ballots) == _voters(coded)
    assert back.station_ballots == {"tabriz-002": 8}
    assert back.seats == 3
    codes = [c.code for c in manifest.district("tabriz").candidates]
    assert back.candidates == codes
    assert tally_majlis(back.ballots, codes, 3) == tally_majlis(coded, codes, 3)
    # Not vacuous: "Zahra Ahmadi" written by name on 3 ballots counts for her code 1102.
    assert tally_majlis(back.ballots, codes, 3).votes["1102"] == 4
    assert tally_majlis(back.ballots, codes, 3).void == 2


def test_the_streamed_report_is_the_same_document(tmp_path: Path) -> None:
    manifest = parse_manifest(small_manifest_data())
    spec = contest_from_manifest(manifest, "tabriz")
    ballots = read_ballots(_manifest_csv(tmp_path))
    out = io.StringIO()
    assert write_cvr_report(out, spec, ballots, notes="n") == 8
    streamed = json.loads(out.getvalue())
    whole = cvr_report(spec, ballots, notes="n")
    streamed.pop("GeneratedDate")
    whole.pop("GeneratedDate")
    assert streamed == whole


def test_a_station_of_another_district_is_refused() -> None:
    manifest = parse_manifest(small_manifest_data())
    with pytest.raises(InteropError, match="votes in district tabriz"):
        contest_from_manifest(manifest, "armenians-south", "tabriz-001")
    with pytest.raises(InteropError, match="2 districts: name one"):
        contest_from_manifest(manifest, None)


# --- property: any ballots of any contest round-trip -----------------------------------------

_name = (
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")),
        min_size=1,
        max_size=8,
    )
    .map(str.strip)
    .filter(lambda s: s and not s.startswith("#"))
)


@st.composite
def contests_and_ballots(draw: st.DrawFn) -> tuple[CvrContest, list[Ballot]]:
    names = draw(st.lists(_name, min_size=1, max_size=6, unique=True))
    # Manifest candidates have codes, contest-file candidates none; mix them to test both.
    candidates = tuple(
        CvrCandidate(n, str(1000 + i) if draw(st.booleans()) else None) for i, n in enumerate(names)
    )
    seats = draw(st.integers(1, 3))
    spec = CvrContest("e", "E", "c", "C", seats, seats, "n-of-m", None, candidates)
    pool = [*names, *(c.code for c in candidates if c.code)]
    cell: st.SearchStrategy[Mark] = st.one_of(
        st.sampled_from(pool),
        _name,  # mostly write-ins
        st.none(),
        st.lists(st.sampled_from(pool) | _name, max_size=3).map(lambda n: Overvote(tuple(n))),
    )
    rows = st.lists(cell, max_size=5).map(lambda m: _trim(tuple(m)))
    ballots = draw(st.lists(st.builds(Ballot, rows, st.integers(1, 3)), max_size=8))
    return spec, ballots


def _trim(marks: tuple[Mark, ...]) -> tuple[Mark, ...]:
    end = len(marks)
    while end and marks[end - 1] is None:
        end -= 1
    return marks[:end]


def _canonical(spec: CvrContest, ballots: Iterable[Ballot]) -> list[tuple[Mark, ...]]:
    """What a reader should get: each candidate by its code when it has one, else by name."""
    lookup = spec.lookup()

    def name(mark: str) -> str:
        i = lookup.get(mark)
        if i is None:
            return mark
        c = spec.candidates[i]
        return c.code or c.name

    out = []
    for marks in _voters(ballots):
        out.append(
            tuple(
                name(m)
                if isinstance(m, str)
                else Overvote(tuple(sorted(name(n) for n in m.names)))
                if isinstance(m, Overvote)
                else None
                for m in marks
            )
        )
    return out


@settings(max_examples=60, deadline=None)
@given(contests_and_ballots())
def test_any_ballots_round_trip(case: tuple[CvrContest, list[Ballot]]) -> None:
    spec, ballots = case
    doc = json.loads(json.dumps(cvr_report(spec, ballots)))
    validate(doc, CVR)
    back = read_cvr_ballots(doc)
    assert _voters(back.ballots) == _canonical(spec, ballots)
    codes = [c.code or c.name for c in spec.candidates]
    canonical = [Ballot(m) for m in _canonical(spec, ballots)]
    assert tally_majlis(back.ballots, codes, spec.seats) == tally_majlis(
        canonical, codes, spec.seats
    )


# --- the command line ----------------------------------------------------------------------


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_exports_a_districts_ballots(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(yaml.safe_dump(small_manifest_data()), encoding="utf-8")
    out = tmp_path / "cvr.json"
    code, _, err = cli(
        capsys,
        "export",
        "nist-cvr",
        str(_manifest_csv(tmp_path)),
        "--manifest",
        str(manifest),
        "--district",
        "tabriz",
        "--station",
        "tabriz-001",
        "-o",
        str(out),
    )
    assert code == 0, err
    assert "8 cast vote records of Tabriz, Azarshahr and Osku" in err
    doc = json.loads(out.read_text(encoding="utf-8"))
    validate(doc, CVR)
    assert {u["Type"] for u in doc["GpUnit"]} == {"other", "polling-place"}
    assert all(c["BallotStyleUnitId"] == "station-tabriz-001" for c in doc["CVR"])


def test_cli_takes_the_manifest_of_a_record(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, verify_election: VerifyElection
) -> None:
    ballots = tmp_path / "runoff.csv"
    ballots.write_text("count,rank1\n2,1103\n1,1104\n", encoding="utf-8")
    code, out, err = cli(
        capsys, "export", "nist-cvr", str(ballots), "--record", str(verify_election.round2)
    )
    assert code == 0, err
    doc = json.loads(out)
    validate(doc, CVR)
    assert doc["Election"][0]["Contest"][0]["VoteVariation"] == "plurality"  # 1 seat left
    assert [b.marks for b in read_cvr_ballots(doc).ballots] == [("1103",), ("1104",)]


def test_cli_exports_a_contest_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    case = RCTAB / "test_set_overvote_delimiter"
    out = tmp_path / "cvr.json"
    code, _, err = cli(
        capsys,
        "export",
        "nist-cvr",
        str(case / "ballots.csv"),
        "--contest",
        str(case / "contest.json"),
        "-o",
        str(out),
    )
    assert code == 0, err
    doc = json.loads(out.read_text(encoding="utf-8"))
    validate(doc, CVR)
    assert len(doc["CVR"]) == 9
    assert doc["Election"][0]["Contest"][0]["VoteVariation"] == "rcv"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "give exactly one of --manifest, --record and --contest"),
        (["--manifest", "M", "--district", "nowhere"], "the manifest has no district 'nowhere'"),
        (["--manifest", "M", "--district", "tabriz", "--station", "x"], "no station 'x'"),
        (["--manifest", "M", "--contest", "C"], "give exactly one of"),
    ],
)
def test_cli_option_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, extra: list[str], message: str
) -> None:
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps(small_manifest_data()), encoding="utf-8")
    args = [str(manifest) if a == "M" else a for a in extra]
    code, _, err = cli(capsys, "export", "nist-cvr", str(_manifest_csv(tmp_path)), *args)
    assert code == 1
    assert err.startswith("verivote: error: ")
    assert message in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--record", "R"], "the record has 0 mixnet districts: name one with --district"),
        (["--record", "R", "--district", "tabriz"], "district tabriz is counted homomorphically"),
        (["--record", "R", "--district", "nowhere"], "the manifest has no district 'nowhere'"),
        ([], "give a ballot CSV, or --record alone for a mixnet district's ballots"),
        (["--record", "R", "--station", "tabriz-001"], "--station goes with a ballot CSV"),
    ],
)
def test_decoded_ballots_come_only_from_a_records_mixnet_district(
    capsys: pytest.CaptureFixture[str],
    verify_election: VerifyElection,
    extra: list[str],
    message: str,
) -> None:
    """Without a ballot CSV the CVRs are a mixnet district's `mix-decryption` entry (the
    end-to-end test exports one, tests/test_e2e.py); anything else is a one-line error."""
    args = [str(verify_election.round1) if a == "R" else a for a in extra]
    code, out, err = cli(capsys, "export", "nist-cvr", *args)
    assert code == 1
    assert out == ""
    assert err.startswith("verivote: error: ")
    assert message in err
    assert err.count("\n") == 1


def test_a_bad_ballot_file_leaves_no_output(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps(small_manifest_data()), encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("count,rank1\n1,1101\nx,1102\n", encoding="utf-8")
    out = tmp_path / "cvr.json"
    code, _, err = cli(
        capsys,
        "export",
        "nist-cvr",
        str(bad),
        "--manifest",
        str(manifest),
        "--district",
        "tabriz",
        "-o",
        str(out),
    )
    assert code == 1
    assert err == "verivote: error: line 3: count 'x' is not a whole number\n"
    assert set(tmp_path.iterdir()) == {manifest, bad}
