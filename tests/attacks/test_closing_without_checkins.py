"""Attack (issue 15, item 2): an operator publishes a station's closing statement without its
count of voters checked in, so that the verifier cannot hold the station to no more ballots
than voters. In an election whose manifest declares its roll, the verifier fails that station."""

from __future__ import annotations

from typing import Any

from tests.manifests import small_manifest_data
from verivote.board.merkle import MerkleLog
from verivote.crypto.groups import get_group
from verivote.model.manifest import parse_manifest
from verivote.verify.check_participation import check_participation
from verivote.verify.context import Election
from verivote.verify.loader import Board

STATION = "tabriz-001"


def board_of(docs: list[dict[str, Any]]) -> Board:
    by_type: dict[str, list[int]] = {}
    for index, doc in enumerate(docs):
        by_type.setdefault(doc["type"], []).append(index)
    return Board(
        directory=None,  # type: ignore[arg-type]
        entries=tuple(b"" for _ in docs), docs=tuple(docs), malformed=(), checkpoint_note="",
        verifier_keys=(), log=MerkleLog(), _by_type=by_type,
    )  # fmt: skip


def closes(roll: bool, close: dict[str, Any]) -> list[str]:
    data = small_manifest_data()
    data["polling"] = {"roll": roll}
    manifest = parse_manifest(data)
    election = Election(manifest, b"\x00" * 32, get_group(manifest.group))
    docs = [
        {"type": "manifest"},
        {"type": "polls-open", "station": STATION},
        {"type": "polls-close", "station": STATION, "ballots_cast": 0, **close},
    ]
    return [f.reason for f in check_participation(board_of(docs), election).failures]


def test_a_closing_statement_without_check_ins_fails_when_the_election_has_a_roll() -> None:
    assert closes(roll=True, close={"checked_in": 0}) == []
    reasons = closes(roll=True, close={})
    assert len(reasons) == 1
    assert "lacks checked_in" in reasons[0]


def test_an_election_without_a_roll_publishes_no_check_ins() -> None:
    assert closes(roll=False, close={}) == []
