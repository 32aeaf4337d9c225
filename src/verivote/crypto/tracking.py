"""Tracking codes: each cast ballot's code chains over the station's previous one.

    start(station)  = H("tracking-start", base hash, station)
    code(ballot)    = H("tracking-code", base hash, station, previous code, ballot entry)

where the ballot entry is the canonical JSON of the ballot as published. A voter who keeps the
code can find the ballot on the board and check its inclusion proof; because codes chain, a
station's board cannot drop or reorder a ballot without changing every later code. Codes are
shown as 64 hex digits; `short` gives the 16 a voter reads out.
"""

from __future__ import annotations

from verivote.crypto.hashing import hash_items


def tracking_start(base_hash: bytes, station_id: str) -> str:
    return hash_items("tracking-start", base_hash, station_id).hex()


def tracking_code(base_hash: bytes, station_id: str, previous: str, ballot: bytes) -> str:
    return hash_items("tracking-code", base_hash, station_id, previous, ballot).hex()


def ballot_id(base_hash: bytes, ballot: bytes) -> str:
    """The identifier of a ballot that was challenged instead of cast (outside any chain)."""
    return hash_items("challenged-ballot", base_hash, ballot).hex()


def short(code: str) -> str:
    """The first 16 hex digits in groups of four, for reading aloud: `3f2a-9c01-…`."""
    return "-".join(code[i : i + 4] for i in range(0, 16, 4))
