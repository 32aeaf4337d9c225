"""Check `tally`: the published encrypted tally is exactly the product of the cast ballots."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from verivote.verify.context import BLANK, Election
from verivote.verify.loader import Board
from verivote.verify.report import Check
from verivote.verify.sums import DistrictSum, Sums

TALLY = "tally"


def tally_cutoff(board: Board) -> int | None:
    """The cutoff of the (first) tally entry, if it is a board size no later than the entry."""
    found = board.of_type(TALLY)
    if not found:
        return None
    index, doc = found[0]
    cutoff = doc.get("cutoff")
    if isinstance(cutoff, bool) or not isinstance(cutoff, int) or not 0 <= cutoff <= index:
        return None
    return cutoff


def check_tally(
    board: Board, election: Election, sums: Sums, uncountable: Iterable[tuple[int, str]]
) -> Check:
    """One tally entry; its cutoff is no later than the entry itself; per district of the
    manifest its ballot count and every candidate's and the blank flag's ciphertext are those
    of the product of the cast ballots below the cutoff (`sums`); every cast ballot can be
    counted, and none was cast at or after the cutoff (it would be missing from the tally)."""
    check = Check(TALLY)
    found = board.of_type(TALLY)
    if not found:
        check.fail(None, "no tally entry")
        return check.close()
    for extra, _ in found[1:]:
        check.fail(extra, "a second tally entry")
    index, doc = found[0]
    cutoff = tally_cutoff(board)
    if cutoff is None:
        check.fail(
            index,
            f"the cutoff {doc.get('cutoff')!r} is not a board size up to the "
            f"tally's own position {index}",
        )
        return check.close()
    for entry, reason in sorted(uncountable):
        check.fail(entry, f"a cast ballot the tally cannot count: {reason}")
    _compare(election, index, doc.get("districts"), sums, check)
    for entry in board.indices("ballot-cast"):
        if entry >= cutoff:
            check.fail(entry, f"cast at or after the tally's cutoff {cutoff}: not counted")
    return check.close()


def _compare(election: Election, index: int, published: Any, sums: Sums, check: Check) -> None:
    layout = election.layout
    check.items = len(layout)
    if not isinstance(published, dict) or set(published) != set(layout):
        check.fail(index, "the tally's districts are not the manifest's")
        return
    group = election.group
    for district, codes in layout.items():
        doc = published[district]
        total = sums.get(district) or DistrictSum()
        one = (group.identity(), group.identity())
        pairs = total.pairs or [one] * (len(codes) + 1)
        try:
            ballots, candidates, blank = doc["ballots"], doc["candidates"], doc["blank"]
        except (KeyError, TypeError):
            check.fail(index, f"district {district}: malformed")
            continue
        if ballots != total.ballots:
            check.fail(
                index,
                f"district {district}: {ballots!r} ballots in the tally, "
                f"{total.ballots} cast before the cutoff",
            )
        if not isinstance(candidates, dict) or set(candidates) != set(codes):
            check.fail(index, f"district {district}: the candidates are not the manifest's")
            continue
        for label, pair in zip((*codes, BLANK), pairs, strict=True):
            expected = {"alpha": group.encode(pair[0]).hex(), "beta": group.encode(pair[1]).hex()}
            got = blank if label == BLANK else candidates[label]
            if got != expected:
                what = "the blank flags" if label == BLANK else f"candidate {label}"
                check.fail(
                    index,
                    f"district {district}, {what}: the ciphertext is not the "
                    "product of the cast ballots'",
                )
