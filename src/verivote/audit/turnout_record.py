"""The published check-ins of a record, as the ghost-voter audit reads them (issue 19, item 5):
every `checkins` entry of its logs, by district of the manifest (signatures not checked here:
`verivote verify` does that, and its `turnout` check holds the lists to the committed roll)."""

from __future__ import annotations

import json
from pathlib import Path

from verivote.board.record import read_record
from verivote.model.manifest import parse_manifest
from verivote.model.result_form import FormError

CheckIns = dict[str, list[tuple[str, str]]]
"""district → (station, pseudonym) of every check-in published there."""


def record_checkins(record: Path) -> CheckIns:
    """The check-ins of a published record, by district; FormError if it cannot be read."""
    try:
        read = read_record(record)
        manifest = parse_manifest(json.loads(read.entries[0])["manifest"])
    except (IndexError, KeyError, TypeError, ValueError, OSError) as exc:
        raise FormError(f"{record} is not a readable election record ({exc})") from None
    stations = {s.id: s.district for s in manifest.stations}
    out: CheckIns = {d.id: [] for d in manifest.districts}
    for log in (read.entries, *(d.entries for d in read.districts)):
        for raw in log:
            if b'"type":"checkins"' not in raw:
                continue
            doc = json.loads(raw)
            station = doc.get("station")
            if doc.get("type") != "checkins" or station not in stations:
                continue
            out[stations[station]].extend((station, p) for p in doc.get("pseudonyms", []))
    if not any(out.values()):
        raise FormError(f"{record} publishes no check-ins (its turnout is not provable)")
    return out
