"""Check `runoff`: a second round holds exactly the runoff fields of its first round."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from verivote.rules.districts import runoff_districts
from verivote.verify.context import Election
from verivote.verify.loader import Board
from verivote.verify.report import Check, Report

SKIPPED = "skipped: give --previous (the round-1 record) to check it"


@dataclass(frozen=True)
class PreviousRound:
    """The round-1 record given with --previous, as verified on its own."""

    board: Board
    election: Election | None
    report: Report


def check_runoff(board: Board, election: Election, previous: PreviousRound | None) -> Check:
    """For round 1: nothing to check. For round 2, given the round-1 record (which must
    verify): the manifest names it (election id and base hash); its districts are exactly
    `runoff_districts` of round 1's manifest and count, its stations exactly round 1's stations
    of those districts, its group, rule set, threshold and factions round 1's; a reused key
    ceremony is round 1's very transcript."""
    check = Check("runoff")
    manifest = election.manifest
    if manifest.round == 1:
        return check
    if previous is None:
        check.skipped = SKIPPED
        return check
    check.items = len(manifest.districts)
    if not previous.report.valid:
        failed = ", ".join(previous.report.failed())
        check.fail(None, f"the previous round's record does not verify (failed: {failed})")
    first = previous.election
    if first is None:
        check.fail(None, "the previous round's record has no usable manifest")
        return check.close()
    _check_names(election, first, check)
    counts = previous.board.of_type("count")
    if not counts:
        check.fail(None, "the previous round's record has no count")
        return check.close()
    try:
        expected = runoff_districts(first.manifest, counts[0][1])
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        check.fail(None, f"the previous round's count is malformed ({exc!r})")
        return check.close()
    _check_districts(manifest.model_dump(mode="json"), first, expected, check)
    _check_ceremony(board, previous.board, check)
    return check.close()


def _check_names(election: Election, first: Election, check: Check) -> None:
    named = election.manifest.previous_round
    assert named is not None  # a round-2 manifest names its first round
    if first.manifest.round != 1:
        check.fail(0, "the previous record is not a first round")
    if named.election_id != first.manifest.election_id:
        check.fail(
            0,
            f"the manifest names round 1 {named.election_id!r}, the previous record "
            f"is {first.manifest.election_id!r}",
        )
    if named.base_hash != first.base_hash.hex():
        check.fail(0, "the manifest's previous_round base hash is not the previous record's")


def _check_districts(
    mine: dict[str, Any], first: Election, expected: list[dict[str, Any]], check: Check
) -> None:
    before = first.manifest.model_dump(mode="json")
    for name in ("group", "rule_set", "threshold", "factions"):
        if mine[name] != before[name]:
            check.fail(0, f"the {name} is not round 1's")
    wanted = {d["id"]: d for d in expected}
    have = {d["id"]: d for d in mine["districts"]}
    for district in sorted(set(wanted) | set(have)):
        if district not in wanted:
            check.fail(0, f"district {district} has no runoff in round 1's count")
        elif district not in have:
            check.fail(0, f"district {district} has a runoff in round 1's count but is missing")
        elif have[district] != wanted[district]:
            check.fail(
                0, f"district {district}: its seats or candidates are not round 1's runoff field"
            )
    if [d["id"] for d in mine["districts"]] != [d["id"] for d in expected]:
        check.fail(0, "the districts are not in round 1's order")
    stations = [s for s in before["stations"] if s["district"] in wanted]
    if mine["stations"] != stations:
        check.fail(0, "the stations are not round 1's stations of the runoff districts")


def _check_ceremony(board: Board, first: Board, check: Check) -> None:
    mine = board.of_type("ceremony")
    if not mine or "reused_from" not in mine[0][1]:
        return  # a fresh ceremony: the `ceremony` check covers it
    theirs = first.of_type("ceremony")
    if not theirs or theirs[0][1].get("transcript") != mine[0][1].get("transcript"):
        check.fail(mine[0][0], "the reused key ceremony is not round 1's transcript")
