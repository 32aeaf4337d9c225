"""A verivote manifest from a NIST SP 1500-20 Ballot Definition (CDF version 1.0.0).

What is taken, element by element:

* `Election` (one; `--election N` picks another): `Name` → the manifest's name, `StartDate` →
  its date. Every election is imported as a first round.
* `Party` → faction (id from its `@id`, name from `Name`).
* `CandidateContest` → district: its `@id` → district id, `Name` → name, `NumberElected` (or
  `VotesAllowed` when absent) → seats; the `ReportingUnit` that composes its
  `ElectionDistrictId` and is a state or a province → province.
* `CandidateOption` → candidate: the `BallotName`s of its `Candidate`s (a ticket's names
  joined by " / "), the first candidate's `PartyId` → faction, and a code: the option's or
  the candidate's `ExternalIdentifier` if it is 1 to 8 digits, else its place in the contest.
* Polling stations: the precinct-like `ReportingUnit`s (precinct, split-precinct,
  combined-precinct, polling-place, vote-center) named by a `BallotStyle` that lists an
  imported contest, or composing an imported contest's `ElectionDistrictId`; a verivote
  station votes in one district, the first such contest's.

Everything else is listed in `ImportResult.ignored`, one line per kind of thing: other contest
types (ballot measures, retention, party and activation contests), write-in options, ballot
layout (`BallotFormat`, `Shape`, the physical positions of `BallotStyle`), offices, and any
field of a kept element that a manifest has no place for.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from verivote.interop.nist.common import BD, Doc, InteropError, read_text, slug
from verivote.model.manifest import Manifest, ManifestError, parse_manifest

PRECINCTS = ("precinct", "split-precinct", "combined-precinct", "polling-place", "vote-center")
"""ReportingUnit types whose units are where people vote: verivote stations."""

_CODE = re.compile(r"^[0-9]{1,8}$")
MAX_SEATS = 100
"""The manifest's limit on the seats of one district."""


def _keys(names: str) -> frozenset[str]:
    return frozenset(names.split())


# The fields of each element that the import reads; any other field present is reported.
_REPORT_KEYS = _keys(
    "@type Election GpUnit Party GeneratedDate Issuer IssuerAbbreviation SequenceStart "
    "SequenceEnd VendorApplicationId Version IsTest TestType Notes ExternalIdentifier"
)
_ELECTION_KEYS = _keys(
    "@type Name StartDate EndDate Type OtherType Contest Candidate BallotStyle ElectionScopeId "
    "ExternalIdentifier"
)
_CONTEST_KEYS = _keys(
    "@id @type Name ElectionDistrictId NumberElected VotesAllowed ContestOption VoteVariation "
    "SequenceOrder ExternalIdentifier"
)
_OPTION_KEYS = _keys("@id @type CandidateIds IsWriteIn ExternalIdentifier SequenceOrder")
_CANDIDATE_KEYS = _keys("@id @type BallotName PartyId ExternalIdentifier")
_PARTY_KEYS = _keys("@id @type Name ExternalIdentifier")
_UNIT_KEYS = _keys("@id @type Type OtherType Name ComposingGpUnitIds ExternalIdentifier")

_WHY = {
    "BallotFormat": "ballot layout",
    "Shape": "ballot layout",
    "Office": "offices are not part of a manifest",
    "OfficeGroup": "offices are not part of a manifest",
    "Header": "ballot layout",
    "Person": "candidates are taken from their ballot names",
}


@dataclass(frozen=True)
class ImportResult:
    """The manifest (None when nothing could be used), its JSON form, and what was left out."""

    manifest: Manifest | None
    data: dict[str, Any] | None
    ignored: list[str]


@dataclass
class _Ignored:
    """Collects what the import leaves out: free notes, and unknown fields counted per
    element kind, so that a national ballot definition gives a short list."""

    notes: list[str] = field(default_factory=list)
    fields: Counter[tuple[str, str]] = field(default_factory=Counter)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def extra(self, kind: str, obj: Mapping[str, Any], known: frozenset[str]) -> None:
        for key in obj:
            if key not in known:
                self.fields[(kind, key)] += 1

    def lines(self) -> list[str]:
        out = list(self.notes)
        for (kind, key), n in self.fields.items():
            out.append(f"{kind}.{key} (on {n} {kind} element(s)): not in a manifest")
        return out


def _objects(items: Any) -> list[Doc]:
    return [x for x in items or [] if isinstance(x, dict)]


def _in_ballot_order(items: Any) -> list[Doc]:
    """Contests or options in `SequenceOrder` (their order on the ballot) when every one has
    it; else as listed."""
    found = _objects(items)
    if all(isinstance(x.get("SequenceOrder"), int) for x in found):
        return sorted(found, key=lambda x: int(x["SequenceOrder"]))
    return found


def import_ballot_definition(
    doc: Mapping[str, Any],
    *,
    election: int = 1,
    election_id: str | None = None,
    language: str | None = None,
) -> ImportResult:
    """A manifest from an SP 1500-20 `BallotDefinition` (see the module docstring)."""
    if doc.get("@type") != f"{BD}.BallotDefinition":
        raise InteropError("not an SP 1500-20 BallotDefinition (its @type is missing or other)")
    ignored = _Ignored()
    for key in doc:
        if key not in _REPORT_KEYS:
            ignored.note(f"{key}: not in a manifest ({_WHY.get(key, 'no verivote equivalent')})")
    elections = _objects(doc.get("Election"))
    if not elections:
        ignored.note("the ballot definition holds no Election")
        return ImportResult(None, None, ignored.lines())
    if not 1 <= election <= len(elections):
        raise InteropError(f"there is no election {election}: the file holds {len(elections)}")
    for n, other in enumerate(elections, start=1):
        if n != election:
            ignored.note(
                f"Election {n} ({read_text(other.get('Name'), language) or 'unnamed'}): "
                f"a manifest holds one election (choose it with --election {n})"
            )
    chosen = elections[election - 1]
    units = {u["@id"]: u for u in _objects(doc.get("GpUnit")) if isinstance(u.get("@id"), str)}
    for unit in units.values():
        ignored.extra("ReportingUnit", unit, _UNIT_KEYS)
    factions = _factions(doc, ignored, language)
    data = _election(chosen, units, factions, ignored, election_id, language)
    if data is None:
        return ImportResult(None, None, ignored.lines())
    try:
        manifest = parse_manifest(data, "imported manifest")
    except ManifestError as exc:
        raise InteropError(str(exc)) from None
    return ImportResult(
        manifest, manifest.model_dump(mode="json", exclude_none=True), ignored.lines()
    )


def _factions(doc: Mapping[str, Any], ignored: _Ignored, language: str | None) -> dict[str, Doc]:
    """Party `@id` -> the faction's manifest JSON."""
    out: dict[str, Doc] = {}
    for party in _objects(doc.get("Party")):
        if party.get("@type") != f"{BD}.Party":
            ignored.note(
                f"{party.get('@type', 'party')} {party.get('@id')}: coalitions are not "
                "factions; their candidates keep their own party"
            )
            continue
        ignored.extra("Party", party, _PARTY_KEYS)
        pid = str(party.get("@id"))
        name = read_text(party.get("Name"), language) or pid
        out[pid] = {"id": slug(pid, (f["id"] for f in out.values())), "name": name}
    return out


def _election(
    elec: Doc,
    units: Mapping[str, Doc],
    factions: Mapping[str, Doc],
    ignored: _Ignored,
    election_id: str | None,
    language: str | None,
) -> dict[str, Any] | None:
    ignored.extra("Election", elec, _ELECTION_KEYS)
    name = read_text(elec.get("Name"), language) or "Imported election"
    start, end = elec.get("StartDate"), elec.get("EndDate")
    if end not in (None, start):
        ignored.note(f"Election.EndDate {end}: a manifest has one date, its StartDate {start}")
    if elec.get("Type") == "runoff":
        ignored.note(
            "Election.Type runoff: imported as a first round (a verivote round 2 is made "
            "from round 1's published count: `verivote runoff`)"
        )
    candidates = {c["@id"]: c for c in _objects(elec.get("Candidate")) if "@id" in c}
    for cand in candidates.values():
        ignored.extra("Candidate", cand, _CANDIDATE_KEYS)
    districts: list[Doc] = []
    contest_district: dict[str, str] = {}
    for contest in _in_ballot_order(elec.get("Contest")):
        kind = str(contest.get("@type", "")).removeprefix(f"{BD}.")
        if kind != "CandidateContest":
            ignored.note(
                f"{kind or 'contest'} {contest.get('@id')}: a manifest holds candidate "
                "contests only"
            )
            continue
        district = _district(
            contest,
            candidates,
            units,
            factions,
            ignored,
            language,
            [d["id"] for d in districts],
        )
        if district is not None:
            districts.append(district)
            contest_district[str(contest["@id"])] = district["id"]
    if not districts:
        ignored.note("no candidate contest with candidates: there is no district to import")
        return None
    stations = _stations(elec, units, contest_district, ignored, language)
    return {
        "election_id": election_id or slug(name).lower(),
        "name": name,
        "date": start,
        "factions": list(factions.values()),
        "districts": districts,
        "stations": stations,
    }


def _province(unit_id: str, units: Mapping[str, Doc], language: str | None) -> str | None:
    """The name of the state or province composed (in part) of `unit_id`, if one is."""
    for unit in units.values():
        if unit_id in (unit.get("ComposingGpUnitIds") or []) and (
            unit.get("Type") == "state" or unit.get("OtherType") == "province"
        ):
            return read_text(unit.get("Name"), language) or str(unit["@id"])
    return None


def _district(
    contest: Doc,
    candidates: Mapping[str, Doc],
    units: Mapping[str, Doc],
    factions: Mapping[str, Doc],
    ignored: _Ignored,
    language: str | None,
    taken: Iterable[str],
) -> Doc | None:
    """One district (manifest JSON) from a CandidateContest, or None if it has no candidate."""
    cid = str(contest.get("@id"))
    ignored.extra("CandidateContest", contest, _CONTEST_KEYS)
    allowed = contest.get("VotesAllowed")
    elected = contest.get("NumberElected")
    seats = elected if isinstance(elected, int) and elected >= 1 else allowed
    if not isinstance(seats, int) or not 1 <= seats <= MAX_SEATS:
        ignored.note(f"contest {cid}: {seats!r} seats is not 1 to {MAX_SEATS}; contest left out")
        return None
    if isinstance(allowed, int) and allowed != seats:
        ignored.note(
            f"contest {cid}: VotesAllowed {allowed} is not kept; a Majlis ballot allows as many "
            f"names as seats ({seats})"
        )
    variation = contest.get("VoteVariation")
    if variation not in (None, "n-of-m", "plurality"):
        ignored.note(
            f"contest {cid}: VoteVariation {variation} is not kept; a manifest counts every "
            "district under its rule set (majlis-2024)"
        )
    options = _candidates(cid, contest, candidates, factions, ignored, language)
    if not options:
        ignored.note(f"contest {cid}: no candidate option; contest left out")
        return None
    district: Doc = {
        "id": slug(cid, taken),
        "name": str(contest.get("Name") or cid),
        "seats": seats,
        "candidates": options,
    }
    unit = contest.get("ElectionDistrictId")
    province = _province(unit, units, language) if isinstance(unit, str) else None
    if province is not None:
        district["province"] = province
    return district


def _numeric_code(obj: Mapping[str, Any]) -> str | None:
    for ident in obj.get("ExternalIdentifier") or []:
        value = ident.get("Value") if isinstance(ident, Mapping) else None
        if isinstance(value, str) and _CODE.match(value):
            return value
    return None


def _candidates(
    cid: str,
    contest: Doc,
    candidates: Mapping[str, Doc],
    factions: Mapping[str, Doc],
    ignored: _Ignored,
    language: str | None,
) -> list[Doc]:
    out: list[Doc] = []
    given: list[str | None] = []
    tickets = 0
    for option in _in_ballot_order(contest.get("ContestOption")):
        oid = option.get("@id")
        if option.get("@type") != f"{BD}.CandidateOption":
            ignored.note(f"contest {cid}: option {oid} is not a candidate option; left out")
            continue
        ignored.extra("CandidateOption", option, _OPTION_KEYS)
        if option.get("IsWriteIn"):
            ignored.note(f"contest {cid}: write-in option {oid} left out (the law counts none)")
            continue
        people = [candidates[i] for i in option.get("CandidateIds") or [] if i in candidates]
        if not people:
            ignored.note(f"contest {cid}: option {oid} names no known candidate; left out")
            continue
        names = [read_text(p.get("BallotName"), language) or str(p["@id"]) for p in people]
        if len(names) > 1:
            tickets += 1
        entry: Doc = {"name": " / ".join(names)}
        party = next((p["PartyId"] for p in people if p.get("PartyId")), None)
        if party is not None:
            if party in factions:
                entry["faction"] = factions[party]["id"]
            else:
                ignored.note(f"contest {cid}: party {party} of option {oid} is not a Party")
        out.append(entry)
        given.append(_numeric_code(option) or _numeric_code(people[0]))
    if tickets:
        ignored.note(
            f"contest {cid}: {tickets} option(s) are tickets of several candidates; each is one "
            "verivote candidate, named by all its members joined by ' / '"
        )
    # The printed codes when every option has a distinct one; else their place on the ballot.
    if all(given) and len(set(given)) == len(given):
        codes = [str(code) for code in given]
    else:
        if any(given):
            ignored.note(f"contest {cid}: candidate codes are incomplete or repeat; renumbered")
        codes = [str(n) for n in range(1, len(out) + 1)]
    seen: Counter[str] = Counter()
    for entry, code in zip(out, codes, strict=True):
        entry["code"] = code
        seen[entry["name"]] += 1
        if seen[entry["name"]] > 1:
            # The manifest forbids two candidates of one name in a district.
            ignored.note(f"contest {cid}: two options named {entry['name']!r}; renamed")
            entry["name"] = f"{entry['name']} ({seen[entry['name']]})"
    return out


def _stations(
    elec: Doc,
    units: Mapping[str, Doc],
    contest_district: Mapping[str, str],
    ignored: _Ignored,
    language: str | None,
) -> list[Doc]:
    """Stations from ballot styles and from the units composing each contest's district."""
    where: dict[str, list[str]] = {}

    def add(unit_id: str, district: str) -> None:
        unit = units.get(unit_id)
        if unit is None or unit.get("Type") not in PRECINCTS:
            return
        places = where.setdefault(unit_id, [])
        if district not in places:
            places.append(district)

    layout = False
    for style in _objects(elec.get("BallotStyle")):
        content = _objects(style.get("OrderedContent"))
        contests = [
            str(c.get("ContestId")) for c in content if c.get("@type") == f"{BD}.OrderedContest"
        ]
        if "ImageUri" in style or any(
            "Physical" in c or c.get("@type") == f"{BD}.OrderedHeader" for c in content
        ):
            layout = True
        for unit_id in style.get("GpUnitIds") or []:
            for ref in contests:
                if ref in contest_district:
                    add(unit_id, contest_district[ref])
    if layout:
        ignored.note("BallotStyle layout (physical positions, headers, images): not in a manifest")
    for contest in _in_ballot_order(elec.get("Contest")):
        district = contest_district.get(str(contest.get("@id")))
        unit = units.get(str(contest.get("ElectionDistrictId")))
        if district is not None and unit is not None:
            for child in unit.get("ComposingGpUnitIds") or []:
                add(child, district)
    stations: list[Doc] = []
    for unit_id, places in where.items():
        if len(places) > 1:
            ignored.note(
                f"station {unit_id} votes in {len(places)} districts ({', '.join(places)}); "
                f"a verivote station has one: kept in {places[0]}"
            )
        stations.append(
            {
                "id": slug(unit_id, (s["id"] for s in stations)),
                "name": read_text(units[unit_id].get("Name"), language) or unit_id,
                "district": places[0],
            }
        )
    return stations
