"""A ballot-polling audit of one district of a real record, round by round (issue 18, item 2):
planned from the count and the stations' signed result forms, sampled from a public seed, the
audit board's entries recorded, the risk measured after each round, until every assertion is
confirmed or a full hand count is called."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.audit_site_fixtures import SEED, audit_site
from tests.demo_fixtures import demo_environment
from verivote.audit import audit_files
from verivote.audit.ballot_polling import CONFIRMED, FULL_COUNT, IN_PROGRESS, AuditError, drawn
from verivote.audit.stations import station_counts
from verivote.sim.paper_forms import audit_board_entries


@dataclass(frozen=True)
class Election:
    record: Path
    paper: dict[str, list[list[str]]]
    count: dict[str, object]


@pytest.fixture(scope="module")
def election(tmp_path_factory: pytest.TempPathFactory) -> Election:
    """The session's small election (`audit_site_fixtures`: 300 voters), its record's count."""
    site = audit_site(tmp_path_factory)
    lines = (site.record / "log" / "entries.jsonl").read_text().splitlines()
    count = next(json.loads(line) for line in lines if '"type":"count"' in line)
    return Election(site.record, site.paper, count)


def run_audit(
    record: Path, folder: Path, district: str, paper: Mapping[str, Sequence[Sequence[str]]]
) -> dict[str, object]:
    audit_files.start(record, district, 0.05, SEED, folder)
    while (state := audit_files.read_state(folder))["status"] == IN_PROGRESS:
        n = len(state["rounds"]) + 1
        pulled = audit_files.pull_path(folder, n).read_text()
        audit_files.enter(folder, audit_board_entries(paper, pulled))
    return audit_files.read_state(folder)


def test_the_forms_list_every_paper_ballot_of_the_district(election: Election) -> None:
    counts = {c.station: c for c in station_counts(election.record)}
    assert counts
    for station, ballots in election.paper.items():
        assert counts[station].ballots == len(ballots)


def test_a_correct_outcome_is_confirmed_with_its_risk_at_most_the_limit(
    election: Election, tmp_path: Path
) -> None:
    state = run_audit(election.record, tmp_path, "tehran", election.paper)
    rounds = state["rounds"]
    assert isinstance(rounds, list)
    assert rounds, "at least one round"
    last = rounds[-1]
    if state["status"] == CONFIRMED:
        assert all(a["risk"] <= 0.05 for a in last["assertions"].values())
    else:  # only an assertion without a margin may need every ballot
        assert state["status"] == FULL_COUNT
    sizes = [r["size"] for r in rounds]
    assert sizes == sorted(sizes)
    assert len(set(sizes)) == len(sizes)
    for n in range(1, len(rounds) + 1):
        assert audit_files.entries_path(tmp_path, n).exists()


def test_paper_that_contradicts_the_outcome_leads_to_a_full_hand_count(
    election: Election, tmp_path: Path
) -> None:
    """The paper says the runner-up won: every ballot naming the reported winner of karaj
    names the runner-up instead, and the other way round."""
    result = election.count["districts"]["karaj"]  # type: ignore[index]
    tally = result["rounds"][0]["tally"]
    winner = result["elected"][0]
    runner = max((c for c in tally if c != winner), key=lambda c: tally[c])
    swap = {winner: runner, runner: winner}
    paper = {s: [[swap.get(c, c) for c in b] for b in bs] for s, bs in election.paper.items()}
    state = run_audit(election.record, tmp_path, "karaj", paper)
    assert state["status"] == FULL_COUNT
    last = state["rounds"][-1]["assertions"]  # type: ignore[index]
    assert not last[f"{winner}>{runner}"]["confirmed"]


def test_the_sample_is_drawn_from_the_seed_and_each_round_extends_the_last(
    election: Election, tmp_path: Path
) -> None:
    a = audit_files.start(election.record, "karaj", 0.05, SEED, tmp_path / "a")
    b = audit_files.start(election.record, "karaj", 0.05, SEED, tmp_path / "b")
    assert (
        audit_files.pull_path(tmp_path / "a", 1).read_text()
        == audit_files.pull_path(tmp_path / "b", 1).read_text()
    )
    small = drawn(a, 10)
    assert drawn(b, 40)[:10] == small
    other = audit_files.start(election.record, "karaj", 0.05, "2" * 24, tmp_path / "c")
    assert drawn(other, 10) != small


def test_entries_that_do_not_match_the_pull_list_are_refused(
    election: Election, tmp_path: Path
) -> None:
    audit_files.start(election.record, "karaj", 0.05, SEED, tmp_path)
    pulled = audit_files.pull_path(tmp_path, 1).read_text()
    good = audit_board_entries(election.paper, pulled)
    lines = good.splitlines()
    with pytest.raises(AuditError, match="have no entry"):
        audit_files.enter(tmp_path, "\n".join(lines[:-1]) + "\n")
    with pytest.raises(AuditError, match="again"):
        audit_files.enter(tmp_path, good + lines[1] + "\n")
    with pytest.raises(AuditError, match="not on this round's pull list"):
        audit_files.enter(tmp_path, good.replace(lines[1], "karaj-999,1,1,", 1))
    with pytest.raises(AuditError, match="header"):
        audit_files.enter(tmp_path, "a,b\n")
    assert audit_files.read_state(tmp_path)["rounds"] == []
    audit_files.enter(tmp_path, good)
    assert len(audit_files.read_state(tmp_path)["rounds"]) == 1


def test_bad_starts_are_one_line_errors(election: Election, tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="at least 20 digits"):
        audit_files.start(election.record, "karaj", 0.05, "123", tmp_path / "x")
    with pytest.raises(AuditError, match="no district"):
        audit_files.start(election.record, "nowhere", 0.05, SEED, tmp_path / "y")
    with pytest.raises(AuditError, match="strictly between"):
        audit_files.start(election.record, "karaj", 1.5, SEED, tmp_path / "z")


def in_process(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`verivote audit ARGS` run in this process: (exit status, stdout, stderr)."""
    from verivote.cli.app import run as run_cli

    status = run_cli(["audit", *args])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_the_audit_commands(
    election: Election, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`start` as the installed command in a process of its own, the rest in this one."""
    folder = tmp_path / "audit"
    done = subprocess.run(
        [sys.executable, "-m", "verivote", "audit", "start", str(election.record), "--district",
         "karaj", "--seed", SEED, "--dir", str(folder), "--risk-limit", "0.05"],
        capture_output=True, text=True, env=demo_environment(), timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "round 1:" in done.stdout
    entries = tmp_path / "entries.csv"
    entries.write_text(
        audit_board_entries(election.paper, audit_files.pull_path(folder, 1).read_text())
    )
    status, out, err = in_process(capsys, "enter", "--dir", str(folder), "--entries",
                                  str(entries), "--json")  # fmt: skip
    assert status == 0, err
    doc = json.loads(out)
    assert doc["round"] == 1
    assert set(doc["assertions"]) == {a["id"] for a in audit_files.read_state(folder)["assertions"]}
    status, out, _ = in_process(capsys, "status", "--dir", str(folder))
    assert status == 0
    assert "round 1" in out
    status, _, err = in_process(capsys, "enter", "--dir", str(tmp_path / "none"), "--entries",
                                str(entries))  # fmt: skip
    assert status == 1
    assert err.count("\n") == 1
    assert "no audit in" in err


def test_a_batch_comparison_audit_of_the_record(
    election: Election, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The stations of Karaj are the batches: hand counts equal to the forms confirm the
    outcome or count every station; the commands run as a user runs them."""
    from verivote.audit.audit_files import batch_list_path, read_batch_state
    from verivote.model.manifest import parse_manifest
    from verivote.sim.paper_forms import hand_counts

    manifest = parse_manifest(
        json.loads((election.record / "log" / "entries.jsonl").read_text().splitlines()[0])[
            "manifest"
        ]
    )
    karaj = manifest.district("karaj")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "verivote", "audit", *args],
                              capture_output=True, text=True, env=demo_environment(),
                              timeout=120)  # fmt: skip

    folder = tmp_path / "batch"
    done = run("batch-start", str(election.record), "--district", "karaj", "--seed", SEED,
               "--dir", str(folder))  # fmt: skip
    assert done.returncode == 0, done.stderr
    rounds = 0
    while (state := read_batch_state(folder))["status"] == IN_PROGRESS:
        rounds += 1
        listed = batch_list_path(folder, rounds).read_text().split()[1:]
        counts = tmp_path / f"counts-{rounds}.csv"
        counts.write_text(hand_counts(karaj, election.paper, listed))
        status, out, err = in_process(capsys, "batch-enter", "--dir", str(folder), "--counts",
                                      str(counts), "--json")  # fmt: skip
        assert status == 0, err
        assert json.loads(out)["round"] == rounds
    assert state["status"] in (CONFIRMED, FULL_COUNT)
    if state["status"] == CONFIRMED:
        assert all(a["risk"] <= 0.05 for a in state["rounds"][-1]["assertions"].values())
    # the hand counts equal the forms: no station shows an overstatement
    for station, counted in state["hand_counts"].items():
        assert counted == state["reported"][station]
