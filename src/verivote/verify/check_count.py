"""Check `count`: the published seats are what the counting law gives on the decrypted tally,
with every lot drawn from the seed that the signed board fixed."""

from __future__ import annotations

from typing import Any

from verivote.rules.districts import count_districts, lot_seed
from verivote.verify.context import Election
from verivote.verify.loader import Board
from verivote.verify.report import Check

FIELDS = ("seats", "elected", "runoff", "lots", "rounds", "valid", "void", "method")
"""The parts of a district's result named when they differ, most telling first."""


def check_count(board: Board, election: Election) -> Check:
    """One count entry, of this manifest's rule set and round; its checkpoint_size is a board
    size no later than the entry itself; its seed is lot_seed(origin, size, root of the first
    size entries); and `count_districts` on the published decrypted tally with that seed gives
    exactly the published result of every district (seats, elected, runoff field, lots)."""
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
    seed = _seed(board, index, doc.get("checkpoint_size"), check)
    if seed is None:
        return check.close()
    if doc.get("seed") != seed.hex():
        check.fail(index, "the lot seed is not the one the board's root gives")
    decrypted = board.of_type("decrypted-tally")
    if not decrypted:
        check.fail(None, "not checked: no decrypted tally to count")
        return check.close()
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


def _seed(board: Board, index: int, size: Any, check: Check) -> bytes | None:
    """The lot seed from the board's first `size` entries, which must precede the count."""
    if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= index:
        check.fail(
            index,
            f"checkpoint_size {size!r} is not a board size up to the count's own position {index}",
        )
        return None
    origin = board.origin
    if origin is None:
        check.fail(None, "the record names no authority, whose key name is the log's origin")
        return None
    return lot_seed(origin, size, board.log.root(size))


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
