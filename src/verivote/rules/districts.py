"""The counting law applied to a whole election's decrypted tallies, district by district, and
the public seed of its lots (issue 5, step `count`). Pure functions: the election package
publishes their result and the verifier recomputes it from the record.

The lot's seed (issue 14, item 4; README, "The lot") is

    seed = H("lot-seed", origin, size, root, lot)

where size is the board index of the tally entry + 1, root the Merkle root of the board's first
size entries (which hold every cast ballot and the tally itself) and lot the encoded element
that a quorum of guardians decrypted from their contributions made before the tally
(`verivote.crypto.lot`). The size is prescribed, not chosen, and the lot element was unknown to
everyone until after the tally: nobody could try boards until a tie fell their way.
"""

from __future__ import annotations

from typing import Any

from verivote.crypto.hashing import hash_items
from verivote.model.manifest import Manifest
from verivote.model.result import Result
from verivote.rules.majlis import count_majlis, count_majlis_runoff, parse_fraction
from verivote.rules.plurality import BlockTally
from verivote.rules.tiebreak import PublicLot


def lot_seed(origin: str, size: int, root: bytes, lot: bytes) -> bytes:
    """The public seed of every lot of the count (see the module docstring): `size` is the
    tally entry's index + 1, `root` the root of the first `size` entries, `lot` the decrypted
    lot element's canonical encoding."""
    return hash_items("lot-seed", origin, size, root, lot)


def count_districts(
    manifest: Manifest, decrypted: dict[str, Any], seed: bytes
) -> dict[str, Result]:
    """The count of every district from the decrypted tallies: pure, no I/O."""
    threshold = parse_fraction(manifest.threshold)
    results: dict[str, Result] = {}
    for district in manifest.districts:
        tally = decrypted["districts"][district.id]
        codes = [c.code for c in district.candidates]
        votes = {code: int(tally["votes"][code]) for code in codes}
        blank = int(tally["blank"])
        block = BlockTally(votes, int(tally["ballots"]) - blank, blank)
        lot = PublicLot(seed, district.id)
        if manifest.round == 2:
            results[district.id] = count_majlis_runoff(block, codes, district.seats, lot)
        else:
            results[district.id] = count_majlis(block, codes, district.seats, lot, threshold)
    return results


def runoff_districts(manifest: Manifest, count: dict[str, Any]) -> list[dict[str, Any]]:
    """The districts of round 2 (as manifest JSON) from round 1's published count: each
    district with R empty seats and a runoff field gets min(R, field) seats and the field's
    candidates, in the field's order, with their codes, names and factions."""
    districts = []
    for district in manifest.districts:
        result = count["districts"][district.id]
        empty = result["seats"] - len(result["elected"])
        field = result.get("runoff") or []
        if empty <= 0 or not field:
            continue
        by_code = {c.code: c for c in district.candidates}
        data = district.model_dump(mode="json")
        data["seats"] = min(empty, len(field))
        data["candidates"] = [by_code[code].model_dump(mode="json") for code in field]
        districts.append(data)
    return districts
