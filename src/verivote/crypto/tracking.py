"""Tracking codes (DESIGN.md, "Cryptography"; issue 14, items 5 and 6).

    code(ballot) = H("tracking-code", base hash, canonical JSON of the ballot)

The device computes it as soon as it has encrypted the ballot and shows it before the voter
decides to cast or challenge; it is the same code whichever they choose (a challenged ballot's
`ballot_id` is this code too). Since every ballot holds a fresh 32-byte nonce, no two ballots
share a code. Codes are not chained on a station's previous ballot: nothing in a code orders it
against the station's other ballots. A voter who keeps the code finds the ballot on the board
and checks its inclusion proof. Codes are shown as 64 hex digits; `short` gives the 16 a voter
reads out.
"""

from __future__ import annotations

from typing import Any

from verivote.crypto.hashing import hash_items
from verivote.model.canonical import canonical_json


def tracking_code(base_hash: bytes, ballot: bytes) -> str:
    """The code of the ballot whose canonical JSON is `ballot`."""
    return hash_items("tracking-code", base_hash, ballot).hex()


def code_of(base_hash: bytes, ballot: dict[str, Any]) -> str:
    """The code of a ballot given as its JSON object (canonicalised here)."""
    return tracking_code(base_hash, canonical_json(ballot))


def short(code: str) -> str:
    """The first 16 hex digits in groups of four, for reading aloud: `3f2a-9c01-…`."""
    return "-".join(code[i : i + 4] for i in range(0, 16, 4))
