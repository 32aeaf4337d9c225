"""Check `tally`: the published encrypted tally is exactly the product of the cast ballots of
the homomorphic districts, and (issue 16) each mixnet district's `mix-input` entry, just
before the tally, holds exactly the rows of its cast written ballots below the cutoff, in
board order (the election's tally module describes both)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from verivote.verify.context import BLANK, Election
from verivote.verify.loader import Board
from verivote.verify.report import Check
from verivote.verify.sums import DistrictSum, Row, Sums

TALLY = "tally"
MIX_INPUT = "mix-input"


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
    board: Board,
    election: Election,
    sums: Sums,
    uncountable: Iterable[tuple[int, str]],
    rows: Mapping[int, tuple[str, Row]] | None = None,
) -> Check:
    """One tally entry; its cutoff is no later than the entry itself; per district of the
    manifest its ballot count and every candidate's and the blank flag's ciphertext are those
    of the product of the cast ballots below the cutoff (`sums`); every cast ballot can be
    counted, and none was cast at or after the cutoff (it would be missing from the tally).
    `rows`: every cast written ballot below the cutoff, (district, row) by board index (the
    ballot chunks' `rows`), which the mix-input entries must list exactly."""
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
    _compare_mix_inputs(board, election, index, cutoff, rows or {}, check)
    for entry in board.indices("ballot-cast"):
        if entry >= cutoff:
            check.fail(entry, f"cast at or after the tally's cutoff {cutoff}: not counted")
    return check.close()


def _compare(election: Election, index: int, published: Any, sums: Sums, check: Check) -> None:
    layout = election.layout
    check.items += len(layout)
    if not isinstance(published, dict) or set(published) != set(layout):
        check.fail(index, "the tally's districts are not the manifest's homomorphic districts")
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


def _compare_mix_inputs(
    board: Board,
    election: Election,
    tally_index: int,
    cutoff: int,
    rows: Mapping[int, tuple[str, Row]],
    check: Check,
) -> None:
    """One mix-input entry per mixnet district, in manifest order, just before the tally
    entry, each exactly the district's cast written rows below the cutoff in board order."""
    widths = election.widths
    check.items += len(widths)
    found = board.indices(MIX_INPUT)
    expected_at = list(range(tally_index - len(widths), tally_index))
    if found != expected_at:
        check.fail(
            found[0] if found else tally_index,
            f"mix-input entries at {found or 'no index'}, not one per mixnet district "
            f"({len(widths)}) just before the tally",
        )
        return
    by_district: dict[str, list[Row]] = {d: [] for d in widths}
    for entry in sorted(rows):
        district, row = rows[entry]
        if district in by_district:
            by_district[district].append(row)
    for at, (district, width) in zip(found, widths.items(), strict=True):
        doc = board.docs[at]
        expected = {
            "type": MIX_INPUT, "election": election.base_hash.hex(), "district": district,
            "cutoff": cutoff, "width": width, "rows": by_district[district],
        }  # fmt: skip
        if doc == expected:
            continue
        if not isinstance(doc, dict) or set(doc) != set(expected):
            check.fail(at, f"the mix input of district {district} has not exactly its fields")
            continue
        wrong = [k for k in ("election", "district", "cutoff", "width") if doc[k] != expected[k]]
        if wrong:
            check.fail(at, f"the mix input of district {district}: wrong {', '.join(wrong)}")
        if doc["rows"] != expected["rows"]:
            check.fail(
                at,
                f"the mix input of district {district} is not exactly its "
                f"{len(by_district[district])} cast written ballots' ciphertexts in board order",
            )
