"""Attack (issue 19, items 2 and 3): a pseudonym that is not on the committed roll. The roll
is published before polling day as a Merkle tree of (district, pseudonym) leaves under a
signed commitment; an operator who checks in someone not on it (an invented voter, to cover a
stuffed ballot), or who slips a leaf into the published roll after the commitment, is caught
by the verifier."""

from __future__ import annotations

import secrets
from pathlib import Path

from tests.attacks.test_double_vote_public import _turnout
from tests.turnout_fixtures import TurnoutElection, turnout_election  # noqa: F401
from tests.verify_fixtures import copy_record, read_entries, resign, write_entries

ROLL = "roll.txt"


def test_a_check_in_of_a_pseudonym_not_on_the_roll_is_caught(
    turnout_election: TurnoutElection,  # noqa: F811
    tmp_path: Path,
) -> None:
    record = copy_record(turnout_election.record, tmp_path / "record")
    docs = read_entries(record)
    invented = secrets.token_hex(32)
    target = next(d for d in docs if d["type"] == "checkins")
    target["pseudonyms"] = sorted([*target["pseudonyms"], invented])
    close = next(
        d for d in docs if d["type"] == "polls-close" and d["station"] == target["station"]
    )
    close["checked_in"] += 1
    write_entries(record, docs)
    resign(record, turnout_election.keys)

    check = _turnout(record)
    assert check["passed"] is False
    assert any(invented in f["reason"] and "on no roll" in f["reason"] for f in check["failures"])


def test_a_leaf_slipped_into_the_published_roll_is_caught(
    turnout_election: TurnoutElection,  # noqa: F811
    tmp_path: Path,
) -> None:
    record = copy_record(turnout_election.record, tmp_path / "record")
    leaves = (record / ROLL).read_text(encoding="ascii").splitlines()
    district = leaves[0].split(",")[0]
    leaves = sorted([*leaves, f"{district},{secrets.token_hex(32)}"])
    (record / ROLL).write_text("".join(x + "\n" for x in leaves), encoding="ascii")

    check = _turnout(record)
    assert check["passed"] is False
    reasons = " | ".join(f["reason"] for f in check["failures"])
    assert "root" in reasons or "leaves" in reasons
