"""What each polling station's signed result form says, as the audit and the forensics read it
(issue 18). `verivote.polling.forms` makes and publishes the forms and `verivote verify` checks
them; `StationCount` is the plain data the statistics take, and `station_counts` reads it from
a published record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verivote.board.note import parse_note
from verivote.board.record import read_record
from verivote.model.manifest import parse_manifest
from verivote.model.result_form import FORM_TYPE, FormError, parse_form_text


@dataclass(frozen=True)
class StationCount:
    """One station's result form: its district, the voters on its list (`registered`; None
    where the law keeps no list per station), the voters it checked in, the ballots in its
    box, and each candidate's votes (candidate code -> count) on its paper ballots."""

    station: str
    district: str
    registered: int | None
    checked_in: int
    ballots: int
    votes: Mapping[str, int]

    def turnout(self) -> float | None:
        """Ballots over the voters on the list, when the station has a list."""
        if not self.registered:
            return None
        return self.ballots / self.registered


def station_counts(record: Path) -> list[StationCount]:
    """Every published result form of a record, as the forensics and the audit read them
    (signatures not checked here: `verivote verify` does that)."""
    read = read_record(record)
    try:
        manifest = parse_manifest(json.loads(read.entries[0])["manifest"])
    except (IndexError, KeyError, TypeError, ValueError) as exc:
        raise FormError(f"the record's first entry is not a manifest ({exc})") from None
    out = []
    for log in (read.entries, *(d.entries for d in read.districts)):
        for raw in log:
            if b'"type":"result-form"' not in raw:
                continue
            doc = json.loads(raw)
            if doc.get("type") != FORM_TYPE:
                continue
            form = _form_of_note(doc["note"])
            out.append(StationCount(
                form.station, form.district, form.registered, form.checked_in,
                form.ballots_cast, dict(form.votes),
            ))  # fmt: skip
    known = {s.id for s in manifest.stations}
    return sorted((c for c in out if c.station in known), key=lambda c: c.station)


def _form_of_note(note: str) -> Any:
    text, _ = parse_note(note)
    return parse_form_text(text)
