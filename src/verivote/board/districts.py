"""Which log an entry belongs to, and the `district-checkpoint` entry that seals a district's
log into the national log (README, "National scale (issue 17)": Logs, District checkpoints).

    district log   the district's ballots (`ballot-cast`, `ballot-challenged`, by the ballot's
                   "district") and its stations' `polls-open` / `polls-close` (by the station's
                   district in the manifest, entry 0 of the national log)
    national log   everything else, and the seals:

    {"type": "district-checkpoint", "election": base hash (hex), "district": D,
     "checkpoint": the C2SP signed note of D's log, origin "<national origin>/<D>"}

The national origin is the authority's key name, "verivote/<election>", so a district's origin
is "verivote/<election>/<district>"; the authority's key signs both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from verivote.board.checkpoint import Checkpoint, parse_checkpoint
from verivote.board.note import parse_note
from verivote.model.canonical import canonical_json

__all__ = [
    "BALLOT_TYPES",
    "DISTRICT_TYPES",
    "NATIONAL",
    "POLLS_TYPES",
    "SEAL_TYPE",
    "Seal",
    "district_origin",
    "read_seal",
    "route",
    "seal_entry",
    "station_districts",
]

NATIONAL = ""
"""The national log's name (the store's `log` column holds the same)."""

SEAL_TYPE = "district-checkpoint"
BALLOT_TYPES = frozenset({"ballot-cast", "ballot-challenged"})
POLLS_TYPES = frozenset({"polls-open", "polls-close"})
STATION_TYPES = POLLS_TYPES | {"result-form", "checkins"}
"""A station's statements: its polls opening and closing, its paper result form (issue 18), and
the pseudonyms of the voters it checked in (issue 19)."""
DISTRICT_TYPES = BALLOT_TYPES | STATION_TYPES
"""The entry types that go to a district's log when the record has district logs."""

_SEAL_KEYS = frozenset({"type", "election", "district", "checkpoint"})


def district_origin(national_origin: str, district: str) -> str:
    """The checkpoint origin of a district's log."""
    return f"{national_origin}/{district}"


def station_districts(manifest_entry: bytes | Mapping[str, Any]) -> dict[str, str]:
    """Each station's district, from the manifest entry (entry 0 of the national log).

    Raises ValueError if the entry is not a manifest entry listing stations by id and district.
    """
    try:
        doc = json.loads(manifest_entry) if isinstance(manifest_entry, bytes) else manifest_entry
        stations = doc["manifest"]["stations"]
        mapping = {s["id"]: s["district"] for s in stations}
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"not a manifest entry with stations ({exc!r})") from None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        raise ValueError("a station's id or district is not a string")
    return mapping


def route(doc: Mapping[str, Any], stations: Mapping[str, str]) -> str:
    """The log of an entry: a district id, or NATIONAL.

    Raises ValueError for a district entry whose district cannot be told (a ballot without a
    district, a statement of an unknown station).
    """
    kind = doc.get("type")
    if kind in BALLOT_TYPES:
        ballot = doc.get("ballot")
        district = ballot.get("district") if isinstance(ballot, dict) else None
        if not isinstance(district, str) or not district:
            raise ValueError(f"a {kind} entry whose ballot names no district")
        return district
    if kind in STATION_TYPES:
        station = doc.get("station")
        if not isinstance(station, str) or station not in stations:
            raise ValueError(f"a {kind} entry of the station {station!r}, not in the manifest")
        return stations[station]
    return NATIONAL


def seal_entry(election: str, district: str, note: str) -> bytes:
    """The national-log entry that seals `district`'s log at the checkpoint `note`."""
    doc = {"type": SEAL_TYPE, "election": election, "district": district, "checkpoint": note}
    return canonical_json(doc)


@dataclass(frozen=True)
class Seal:
    """A `district-checkpoint` entry as read (its signatures not yet checked)."""

    election: Any
    district: str
    note: str
    checkpoint: Checkpoint


def read_seal(doc: Mapping[str, Any]) -> Seal:
    """The seal of a `district-checkpoint` entry; raises ValueError naming what is wrong.

    Checks the form only: exactly its four fields, a district id, and a signed note whose text
    is a checkpoint. Who signed it and what it commits to are the verifier's.
    """
    if doc.get("type") != SEAL_TYPE:
        raise ValueError(f"not a {SEAL_TYPE} entry")
    if set(doc) != _SEAL_KEYS:
        raise ValueError(f"a {SEAL_TYPE} entry has exactly the fields {sorted(_SEAL_KEYS)}")
    district, note = doc["district"], doc["checkpoint"]
    if not isinstance(district, str) or not district or "/" in district:
        raise ValueError(f"the district {district!r} is not a district id")
    if not isinstance(note, str):
        raise ValueError("the checkpoint is not a signed note")
    try:
        text, _ = parse_note(note)
        checkpoint = parse_checkpoint(text)
    except ValueError as exc:
        raise ValueError(f"the checkpoint is not a signed checkpoint note ({exc})") from None
    return Seal(doc["election"], district, note, checkpoint)
