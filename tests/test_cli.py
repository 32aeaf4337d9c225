"""The `verivote` command as a user meets it: real files, one-line errors, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import RCTAB
from tests.demo_fixtures import DemoRun
from verivote.board.record import check_record
from verivote.cli.app import run

MAJLIS_CSV = "count,rank1,rank2,rank3\n30,A,B,\n9,B,,\n4,C,D,\n7,D,,\n6,E,,\n2,,,\n"


@pytest.fixture
def majlis_csv(tmp_path: Path) -> Path:
    path = tmp_path / "district.csv"
    path.write_text(MAJLIS_CSV, encoding="utf-8")
    return path


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_tabulate_majlis_json_has_the_documented_shape(
    capsys: pytest.CaptureFixture[str], majlis_csv: Path
) -> None:
    code, out, _ = cli(
        capsys, "tabulate", str(majlis_csv), "--method", "majlis", "--seats", "3", "--json"
    )
    assert code == 0
    doc = json.loads(out)
    assert set(doc) >= {"method", "seats", "elected", "rounds", "void", "valid", "runoff", "lots"}
    assert doc["method"] == "majlis"
    assert doc["seats"] == 3
    assert doc["valid"] == 56
    assert doc["void"] == 2
    # B 39 and A 30 reach 20 % of 56 (11.2), D 11 does not; one seat stays empty, so the
    # runoff field is the 2 highest of the rest.
    assert doc["elected"] == ["B", "A"]
    assert doc["runoff"] == ["D", "E"]
    assert doc["rounds"][0]["tally"] == {"A": 30, "B": 39, "C": 4, "D": 11, "E": 6}


def test_tabulate_prints_a_readable_table_without_json(
    capsys: pytest.CaptureFixture[str], majlis_csv: Path
) -> None:
    code, out, _ = cli(capsys, "tabulate", str(majlis_csv), "--method", "majlis", "--seats", "3")
    assert code == 0
    assert "Round 1" in out
    assert "elected" in out
    assert "Runoff field" in out


def test_tabulate_a_published_tally(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    tally = tmp_path / "tally.csv"
    tally.write_text("candidate,votes\nA,30\nB,39\nC,4\nD,11\nE,6\n", encoding="utf-8")
    code, out, _ = cli(
        capsys,
        "tabulate",
        "--tally",
        str(tally),
        "--valid-ballots",
        "56",
        "--method",
        "majlis",
        "--seats",
        "3",
        "--json",
    )
    assert code == 0
    assert json.loads(out)["elected"] == ["B", "A"]


def test_tabulate_reads_an_rctab_contest_file(capsys: pytest.CaptureFixture[str]) -> None:
    case = RCTAB / "multi_seat_uwi_test"
    code, out, _ = cli(
        capsys,
        "tabulate",
        str(case / "ballots.csv"),
        "--contest",
        str(case / "contest.json"),
        "--json",
    )
    assert code == 0
    doc = json.loads(out)
    expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))
    assert doc["elected"] == expected["elected"]
    # STV tallies are decimal strings with 4 places.
    assert doc["rounds"][-1]["tally"]["A"] == "6.0000"


def test_a_flag_overrides_the_contest_file(capsys: pytest.CaptureFixture[str]) -> None:
    case = RCTAB / "2013_minneapolis_park"
    code, out, _ = cli(
        capsys,
        "tabulate",
        str(case / "ballots.csv"),
        "--contest",
        str(case / "contest.json"),
        "--seats",
        "1",
        "--method",
        "irv",
        "--json",
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["method"] == "irv"
    assert doc["seats"] == 1
    assert len(doc["elected"]) == 1


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["tabulate", "missing.csv", "--method", "majlis", "--seats", "2"],
            1,
            "no such ballot file",
        ),
        (["tabulate", "{csv}", "--method", "majlis", "--seats", "0"], 1, "at least 1 seat"),
        (["tabulate", "{csv}", "--method", "stv", "--seats", "0"], 1, "seat"),
        (["tabulate", "{csv}", "--method", "majlis", "--sets", "2"], 2, "No such option"),
        (["tabulate", "{csv}", "--method", "nope", "--seats", "2"], 2, "nope"),
        (["tabulate", "{csv}", "--method", "majlis"], 1, "give --seats"),
        (["tabulate", "{csv}", "--seats", "2"], 1, "give --method"),
        (
            ["tabulate", "{csv}", "--method", "majlis", "--seats", "2", "--threshold", "x"],
            1,
            "not a fraction",
        ),
        (
            ["tabulate", "{csv}", "--method", "majlis", "--seats", "2", "--seed", "zz"],
            1,
            "not hexadecimal",
        ),
        (["tabulate", "--method", "majlis", "--seats", "2"], 1, "BALLOTS.csv"),
        (["tabulate", "{bad}", "--method", "majlis", "--seats", "2"], 1, "line 3"),
        (["tabulate", "{csv}", "--contest", "nowhere.json"], 1, "nowhere.json"),
    ],
)
def test_errors_are_one_line_on_stderr_with_a_nonzero_exit(
    capsys: pytest.CaptureFixture[str],
    majlis_csv: Path,
    tmp_path: Path,
    args: list[str],
    code: int,
    message: str,
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("count,rank1\n1,A\nmany,B\n", encoding="utf-8")
    argv = [a.format(csv=majlis_csv, bad=bad) for a in args]
    got, out, err = cli(capsys, *argv)
    assert got == code
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err + out


def test_the_installed_command_never_prints_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("count,rank1\n1,A\n-1,B\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "verivote", "tabulate", str(bad), "--method", "fptp"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == "verivote: error: line 3: count must be at least 1, got -1"


@pytest.mark.parametrize("command", [[], ["tabulate"], ["demo"], ["bench"], ["bench", "majlis"]])
def test_every_command_has_help(capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    code, out, _ = cli(capsys, *command, "--help")
    assert code == 0
    assert "Usage" in out


@pytest.mark.slow
def test_demo_runs_an_election_with_a_runoff_and_writes_records(
    capsys: pytest.CaptureFixture[str], demo_run: DemoRun
) -> None:
    doc = demo_run.doc
    assert doc["round2"] is not None
    for key in ("round1", "round2"):
        record = Path(doc[key]["record"])
        assert check_record(record) == []
        assert (record / "results.md").is_file()
        # every voter checked in before casting: the closes publish it, station by station
        # in the district logs (issue 17): each station's statements in its district's log
        lines = [line for path in sorted(record.glob("districts/*/entries.jsonl"))
                 for line in path.read_text().splitlines()]  # fmt: skip
        closes = [json.loads(line) for line in lines if '"polls-close"' in line]
        assert sum(c["checked_in"] for c in closes) == doc[key]["checked_in"] > 0
        assert all(c["ballots_cast"] == c["checked_in"] for c in closes)
    # a second run into the same folder is refused, in one line, and changes nothing
    before = sorted(p.relative_to(demo_run.folder) for p in demo_run.folder.rglob("*"))
    code, _, err = cli(capsys, "demo", "--dir", str(demo_run.folder))
    assert code == 1
    assert "already holds" in err
    assert sorted(p.relative_to(demo_run.folder) for p in demo_run.folder.rglob("*")) == before


def test_bench_reports_a_rate(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "bench", "majlis", "--ballots", "2000", "--json")
    assert code == 0
    figures = json.loads(out)
    assert figures["ballots"] == 2000
    assert figures["ballots_per_second"] > 0


@pytest.mark.parametrize(
    ("options", "elected"),
    [({}, ["B", "A"]), ({"threshold": "3/5"}, ["B"]), ({"threshold": "3/4"}, [])],
)
def test_a_majlis_contest_file_gives_seats_candidates_and_threshold(
    capsys: pytest.CaptureFixture[str],
    majlis_csv: Path,
    tmp_path: Path,
    options: dict[str, str],
    elected: list[str],
) -> None:
    contest = tmp_path / "district.json"
    contest.write_text(
        json.dumps(
            {
                "name": "Tabriz",
                "method": "majlis",
                "seats": 3,
                "candidates": ["A", "B", "C", "D", "E"],
                "options": options,
            }
        ),
        encoding="utf-8",
    )
    code, out, err = cli(capsys, "tabulate", str(majlis_csv), "--contest", str(contest), "--json")
    assert code == 0, err
    assert json.loads(out)["elected"] == elected
