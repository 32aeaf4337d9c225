"""Check `tally`: the published encrypted tally is exactly the product of the cast ballots of
the homomorphic districts, and (issue 16) each mixnet district's `mix-input` entry, just
before the tally, holds exactly the rows of its cast written ballots below the cutoff, in
board order (the election's tally module describes both)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from concurrent.futures import Executor
from typing import Any

from verivote.board.lines import LineRef, read_ref
from verivote.verify.ballot_results import Segments
from verivote.verify.context import BLANK, Election
from verivote.verify.loader import Board
from verivote.verify.report import Check
from verivote.verify.sums import DistrictSum, Sums, rows_digest

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
    segments: Segments | None = None,
    pool: Executor | None = None,
) -> Check:
    """One tally entry; its cutoff is no later than the entry itself; per district of the
    manifest its ballot count and every candidate's and the blank flag's ciphertext are those
    of the product of the cast ballots below the cutoff (`sums`); every cast ballot can be
    counted, and none was cast at or after the cutoff (it would be missing from the tally).
    `segments`: the cast written ballots below the cutoff, per district by chunks in board
    order (the ballot chunks' `segments`), which the mix-input entries must list exactly:
    compared by segments' digests (`sums.rows_digest`), each entry's read by a task of
    `pool` if given (issue 17: the main process compares no row)."""
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
    _compare_mix_inputs(board, election, index, cutoff, segments or {}, pool, check)
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


def input_segments(task: tuple[LineRef | bytes, list[int]]) -> tuple[int | None, list[bytes]]:
    """(how many rows the mix-input entry holds, or None if its rows are not a list; the
    `rows_digest` of each segment of `counts` rows of them, in order)."""
    ref, counts = task
    try:
        doc = json.loads(read_ref(ref))
    except (ValueError, RecursionError):
        return None, []
    rows = doc.get("rows") if isinstance(doc, dict) else None
    if not isinstance(rows, list):
        return None, []
    out = []
    at = 0
    for count in counts:
        out.append(rows_digest(rows[at : at + count])[1])
        at += count
    return len(rows), out


def _compare_mix_inputs(
    board: Board,
    election: Election,
    tally_index: int,
    cutoff: int,
    segments: Segments,
    pool: Executor | None,
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
    wanted = {d: segments.get(d, []) for d in widths}
    tasks = [
        (board.ref(at), [n for _, n, _ in wanted[d]]) for at, d in zip(found, widths, strict=True)
    ]
    read = map(input_segments, tasks) if pool is None else pool.map(input_segments, tasks)
    for at, (district, width), (have, digests) in zip(found, widths.items(), read, strict=True):
        doc = board.docs[at]
        rows = sum(n for _, n, _ in wanted[district])
        expected = {
            "type": MIX_INPUT, "election": election.base_hash.hex(), "district": district,
            "cutoff": cutoff, "width": width,
        }  # fmt: skip
        same_rows = have == rows and digests == [d for _, _, d in wanted[district]]
        if not isinstance(doc, dict) or set(doc) != {*expected, "rows"}:
            check.fail(at, f"the mix input of district {district} has not exactly its fields")
            continue
        wrong = [k for k in ("election", "district", "cutoff", "width") if doc[k] != expected[k]]
        if wrong:
            check.fail(at, f"the mix input of district {district}: wrong {', '.join(wrong)}")
        if not same_rows:
            check.fail(
                at,
                f"the mix input of district {district} is not exactly its "
                f"{rows} cast written ballots' ciphertexts in board order",
            )
