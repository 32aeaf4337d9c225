"""The synthetic election's paper result forms (issue 18, item 1): what each station's
officials count from the paper ballots in its box, enter twice, sign and publish.

The paper ballots are the round's jobs, the codes each voter marked (`RoundOutcome.paper`),
counted by the law as written (`verivote.polling.forms.count_paper`). The synthetic parts, drawn
from the station's id so a run is reproducible: the voters on each station's list (turnout
between 45 % and 80 %; the law keeps no per-station list in Iran, other countries' forms carry
one, and the forensics need it) and which factions' observers were at the count (every one,
but one absent at every fourth station).

The officials: one station head per group of stations (in `verivote demo` the station device's
folder, a process of its own), and each faction's observer (in that faction's witness folder).
Each makes their own keys and signs only forms equal to their own copy
(`verivote.parties.official`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from verivote.election.service import ElectionContext
from verivote.model.manifest import District
from verivote.model.result_form import ResultForm, head_name, observer_name
from verivote.parties.official import OfficialKeys, sign_forms
from verivote.polling.forms import (
    assemble,
    challenged_by_station,
    count_paper,
    make_form,
    publish_forms,
    publish_signers,
)
from verivote.store import Store


def _draw(station: str, what: str) -> float:
    """A reproducible number in [0, 1) for `station`."""
    digest = hashlib.sha256(f"{what}:{station}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def registered_at(station: str, ballots: int) -> int:
    """The voters on the station's (synthetic) list: its ballots over a turnout of 45–80 %."""
    turnout = 0.45 + 0.35 * _draw(station, "turnout")
    return max(ballots, round(ballots / turnout))


def observers_at(station: str, factions: Sequence[str]) -> list[str]:
    """The factions whose observers were at the count: all, but one at every fourth station."""
    if not factions or _draw(station, "absent") >= 0.25:
        return sorted(factions)
    absent = factions[int(_draw(station, "which") * len(factions))]
    return sorted(f for f in factions if f != absent)


def head_groups(stations: Sequence[str], heads: int) -> dict[int, list[str]]:
    """The stations of each head (1 … heads), dealt in turn, as the station devices are."""
    k = max(1, min(heads, len(stations)))
    return {h: list(stations[h - 1 :: k]) for h in range(1, k + 1)}


def station_forms(
    ctx: ElectionContext,
    paper: Mapping[str, Sequence[Sequence[str]]],
    counts: Mapping[str, tuple[int, int]],
    challenged: Mapping[str, int],
) -> list[ResultForm]:
    """Each closed station's form as an official enters it from the paper in its box, with
    the station's voters checked in (`counts`: station → (checked in, ballots), the store's
    counters) and its challenged ballots."""
    factions = [f.id for f in ctx.manifest.factions]
    forms = []
    for station in ctx.manifest.stations:
        ballots = paper.get(station.id, [])
        checked_in = counts.get(station.id, (0, 0))[0]
        forms.append(make_form(
            ctx.base_hash.hex(), station.id, ctx.manifest.district(station.district), ballots,
            checked_in=checked_in, challenged=challenged.get(station.id, 0),
            observers=observers_at(station.id, factions),
            registered=registered_at(station.id, max(checked_in, len(ballots))),
        ))  # fmt: skip
    return forms


class LocalOfficials:
    """The officials of a round in this process (tests and `InProcessParties`): one head
    for every station and each faction's observer, each in a folder of its own under
    `directory`."""

    def __init__(self, directory: Path, round_number: int) -> None:
        self.head = OfficialKeys(directory / f"head-round{round_number}")
        self.observers: dict[str, OfficialKeys] = {}
        self.directory = directory
        self.round = round_number

    def make_keys(self, ctx: ElectionContext) -> tuple[dict[str, str], dict[str, str]]:
        """({station: head key}, {faction: observer key}): each official makes their own."""
        names = [head_name(s.id) for s in ctx.manifest.stations]
        made = self.head.create(names)
        heads = {s.id: made[head_name(s.id)] for s in ctx.manifest.stations}
        observers = {}
        for f in ctx.manifest.factions:
            keys = OfficialKeys(self.directory / f"observer-{f.id}-round{self.round}")
            self.observers[f.id] = keys
            observers[f.id] = keys.create([observer_name(f.id)])[observer_name(f.id)]
        return heads, observers

    def sign(
        self, forms: Sequence[ResultForm], second: Sequence[ResultForm]
    ) -> dict[str, list[str]]:
        """Every official's signature lines of each form: the head against the second entry,
        each observer against its own count (the same paper, counted at the table)."""
        lines: dict[str, list[str]] = {}
        for keys, own in [(self.head, second), *((o, second) for o in self.observers.values())]:
            for station, signed in sign_forms(keys.load(), forms, own).items():
                lines.setdefault(station, []).extend(signed)
        return lines


def publish_round_forms(
    store: Store,
    ctx: ElectionContext,
    paper: Mapping[str, Sequence[Sequence[str]]],
    sign: Any,
) -> int:
    """Enter every closed station's form twice, have `sign(forms, second)` collect the
    officials' signature lines, and publish the signed forms; returns how many."""
    counts = store.station_counts(ctx.election_id)
    challenged = challenged_by_station(store, ctx.election_id)
    # Two officials count the same paper, each entering the form on their own.
    first = station_forms(ctx, paper, counts, challenged)
    second = station_forms(ctx, paper, counts, challenged)
    lines = sign(first, second)
    notes = {f.station: assemble(f, lines.get(f.station, [])) for f in first}
    return len(publish_forms(store, ctx, notes))


def publish_keys(
    store: Store, ctx: ElectionContext, keys: tuple[dict[str, str], dict[str, str]]
) -> None:
    """Publish the officials' keys before any station opens."""
    publish_signers(store, ctx, *keys)


def box_order(station: str, ballots: Sequence[Sequence[str]]) -> list[Sequence[str]]:
    """The station's paper ballots as its officials stacked them after the count, numbered
    from 1: the box's order is not the order of voting (drawn from the station's id)."""
    import random

    stacked = list(ballots)
    random.Random(hashlib.sha256(f"box:{station}".encode()).digest()).shuffle(stacked)
    return stacked


def audit_board_entries(paper: Mapping[str, Sequence[Sequence[str]]], pull_list: str) -> str:
    """What the audit board writes on reading each ballot of a pull list (`verivote audit`'s
    CSV): the codes the paper ballot names, as marked."""
    import csv
    import io

    boxes: dict[str, list[Sequence[str]]] = {}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["station", "box", "position", "codes"])
    for row in csv.DictReader(io.StringIO(pull_list)):
        station = row["station"]
        if station not in boxes:
            boxes[station] = box_order(station, paper.get(station, []))
        ballot = boxes[station][int(row["position"]) - 1]
        writer.writerow([station, row["box"], row["position"], " ".join(ballot)])
    return out.getvalue()


def hand_counts(
    district: District, paper: Mapping[str, Sequence[Sequence[str]]], stations: Sequence[str]
) -> str:
    """The audit board's hand counts of `stations`' boxes (`verivote audit batch-enter`'s CSV:
    station,ballots,blank,<code>…), counted by the law as the officials counted them."""
    codes = [c.code for c in district.candidates]
    lines = [",".join(["station", "ballots", "blank", *codes])]
    for station in stations:
        ballots = paper.get(station, [])
        votes, blank = count_paper(district, ballots)
        lines.append(",".join([station, str(len(ballots)), str(blank),
                               *(str(votes[c]) for c in codes)]))  # fmt: skip
    return "\n".join(lines) + "\n"
