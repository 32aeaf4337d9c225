"""Check `count`: the published seats are what the counting law gives on the decrypted tally,
with every lot drawn from the seed that the board up to the tally and the guardians' lot fix
(issue 14, item 4: no other board size, no other seed)."""

from __future__ import annotations

from typing import Any

from verivote.rules.districts import count_districts, lot_seed
from verivote.verify.context import Election
from verivote.verify.loader import Board, Doc
from verivote.verify.report import Check

FIELDS = ("seats", "elected", "runoff", "lots", "rounds", "valid", "void", "method")
"""The parts of a district's result named when they differ, most telling first."""


def check_count(board: Board, election: Election) -> Check:
    """One count entry, of this manifest's rule set and round; its checkpoint_size is the tally
    entry's index + 1 and nothing else; its seed is lot_seed(origin, size, root of the first
    size entries, the decrypted tally's lot element, which the `lot` check checks); and
    `count_districts` on the published decrypted tally with that seed gives exactly the
    published result of every district (seats, elected, runoff field, lots)."""
    check = Check("count")
    found = board.of_type("count")
    if not found:
        check.fail(None, "no count entry")
        return check.close()
    for extra, _ in found[1:]:
        check.fail(extra, "a second count entry")
    index, doc = found[0]
    manifest = election.manifest
    check.items = len(manifest.districts)
    if doc.get("rule_set") != manifest.rule_set or doc.get("round") != manifest.round:
        check.fail(
            index,
            f"counted as {doc.get('rule_set')!r} round {doc.get('round')!r}, the "
            f"manifest says {manifest.rule_set} round {manifest.round}",
        )
    decrypted = board.of_type("decrypted-tally")
    if not decrypted:
        check.fail(None, "not checked: no decrypted tally to count")
        return check.close()
    seed = _seed(board, index, doc.get("checkpoint_size"), decrypted[0], check)
    if seed is None:
        return check.close()
    if doc.get("seed") != seed.hex():
        check.fail(index, "the lot seed is not the one the board up to the tally and the lot give")
    try:
        results = count_districts(manifest, decrypted[0][1], seed)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        check.fail(decrypted[0][0], f"the decrypted tally cannot be counted ({exc!r})")
        return check.close()
    published = doc.get("districts")
    if not isinstance(published, dict) or set(published) != set(results):
        check.fail(index, "the counted districts are not the manifest's")
        return check.close()
    for district, result in results.items():
        expected = result.to_json_dict()
        if published[district] != expected:
            check.fail(index, f"district {district}: {_difference(published[district], expected)}")
    return check.close()


def _seed(
    board: Board, index: int, size: Any, decrypted: tuple[int, Doc], check: Check
) -> bytes | None:
    """The lot seed from the board's entries up to and including the tally and the lot
    element; `size` must be exactly that many entries."""
    tallies = board.indices("tally")
    if not tallies or tallies[0] >= index:
        check.fail(index, "no tally entry before the count: nothing fixes the lot's seed")
        return None
    prescribed = tallies[0] + 1
    if isinstance(size, bool) or size != prescribed:
        check.fail(
            index,
            f"checkpoint_size {size!r} is not the board's size at the tally ({prescribed}), "
            "the only board the lot's seed may hash",
        )
        return None
    origin = board.origin
    if origin is None:
        check.fail(None, "the record names no authority, whose key name is the log's origin")
        return None
    lot = decrypted[1].get("lot")
    try:
        element = bytes.fromhex(lot) if isinstance(lot, str) else None
    except ValueError:
        element = None
    if element is None:
        check.fail(decrypted[0], "the decrypted tally holds no lot element to seed the count")
        return None
    return lot_seed(origin, prescribed, board.log.root(prescribed), element)


def _difference(published: Any, expected: dict[str, Any]) -> str:
    if not isinstance(published, dict):
        return "the result is malformed"
    for name in FIELDS:
        if published.get(name) != expected.get(name):
            return (
                f"the law gives {name} {expected.get(name)!r}, the record says "
                f"{published.get(name)!r}"
            )
    return "the result differs from what the law gives"
