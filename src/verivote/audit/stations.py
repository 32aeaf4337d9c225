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
from verivote.model.manifest import Manifest, parse_manifest
from verivote.model.result_form import FORM_TYPE, FormError, ResultForm, parse_form_text


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


@dataclass(frozen=True)
class RecordForms:
    """What a published record says of its stations' paper: its manifest, the result form of
    each station of the manifest (by station), and its `count` entry (None before the count)."""

    manifest: Manifest
    forms: list[ResultForm]
    count: dict[str, Any] | None


def record_forms(record: Path) -> RecordForms:
    """The result forms and the count of a published record, read in one pass over its logs
    (signatures not checked here: `verivote verify` does that). FormError for a record whose
    manifest or forms cannot be read."""
    read = read_record(record)
    try:
        manifest = parse_manifest(json.loads(read.entries[0])["manifest"])
    except (IndexError, KeyError, TypeError, ValueError) as exc:
        raise FormError(f"the record's first entry is not a manifest ({exc})") from None
    forms = []
    count = None
    for log in (read.entries, *(d.entries for d in read.districts)):
        for raw in log:
            if b'"type":"result-form"' not in raw and b'"type":"count"' not in raw:
                continue
            doc = json.loads(raw)
            if doc.get("type") == "count":
                count = doc
            elif doc.get("type") == FORM_TYPE:
                try:
                    forms.append(parse_form_text(parse_note(doc["note"])[0]))
                except (KeyError, TypeError, ValueError) as exc:
                    raise FormError(f"a result form that cannot be read ({exc})") from None
    known = {s.id for s in manifest.stations}
    mine = sorted((f for f in forms if f.station in known), key=lambda f: f.station)
    return RecordForms(manifest, mine, count)


def station_counts(record: Path) -> list[StationCount]:
    """Every published result form of a record, as the forensics read them."""
    return [
        StationCount(f.station, f.district, f.registered, f.checked_in, f.ballots_cast,
                     dict(f.votes))
        for f in record_forms(record).forms
    ]  # fmt: skip
