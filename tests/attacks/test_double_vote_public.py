"""Attack (issue 19, item 3): an operator who controls the check-in server and the board
checks one voter in at two districts (the database's once-only rule bypassed, as a colluding
operator can) so that the voter's name carries two ballots. Each station publishes the
pseudonyms of the voters it checked in; the verifier catches the voter's pseudonym in two
districts' lists from the published record alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.turnout_fixtures import TurnoutElection, turnout_election  # noqa: F401
from tests.verify_fixtures import copy_record, read_entries, resign, write_entries
from verivote.verify import verify_record


def _turnout(record: Path) -> dict[str, Any]:
    report = verify_record(record).to_json()
    checks = {c["id"]: c for c in report["checks"]}
    assert "turnout" in checks, "the verifier's report names a check `turnout`"
    return checks["turnout"]


def test_the_honest_record_passes_the_turnout_check(
    turnout_election: TurnoutElection,  # noqa: F811
) -> None:
    check = _turnout(turnout_election.record)
    assert check["passed"] is True, check
    assert check["items"] > 0


def test_a_voter_checked_in_at_two_districts_is_caught_from_the_record_alone(
    turnout_election: TurnoutElection,  # noqa: F811
    tmp_path: Path,
) -> None:
    record = copy_record(turnout_election.record, tmp_path / "record")
    docs = read_entries(record)
    stations = {s["id"]: s["district"] for s in docs[0]["manifest"]["stations"]}
    lists = [d for d in docs if d["type"] == "checkins"]
    first = lists[0]
    twice = first["pseudonyms"][0]
    other = next(d for d in lists if stations[d["station"]] != stations[first["station"]])
    other["pseudonyms"] = sorted([*other["pseudonyms"], twice])
    # The operator makes the station's closing statement agree with its longer list.
    close = next(d for d in docs if d["type"] == "polls-close" and d["station"] == other["station"])
    close["checked_in"] += 1
    write_entries(record, docs)
    resign(record, turnout_election.keys)

    check = _turnout(record)
    assert check["passed"] is False
    reasons = " | ".join(f["reason"] for f in check["failures"])
    assert twice in reasons
    assert "twice" in reasons or "again" in reasons
