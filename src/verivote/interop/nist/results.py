"""NIST SP 1500-100 version 2 (Election Results Reporting CDF) from published verivote rounds.

One `ElectionReport` holds one `Election` per round. What is mapped, element by element:

* `ElectionReport.GpUnit`: a `ReportingUnit` for the election's area (`ElectionScopeId`), one
  per province of the manifest (OtherType `province`), one per district (OtherType
  `electoral-district`) and one per polling station (`polling-place`); each unit lists the
  units it is made of in `ComposingGpUnitIds`.
* `ElectionReport.Party`: the factions. `ElectionReport.Person`: one per candidate, so that a
  candidate of round 1 and the same candidate in the round-2 runoff are one person.
* `Election`: Type `general` (round 1) or `runoff` (round 2); a runoff names its first round
  by `ExternalIdentifier`s (the verivote election id and base hash of round 1). Its
  `Candidate`s carry `PostElectionStatus`: `winner`, `advanced-to-runoff` or `defeated`.
* `CandidateContest`: one per district, `NumberElected` = seats = `VotesAllowed` (a block vote
  of up to S names), `NumberRunoff` = the size of the runoff field. Each candidate is a
  `CandidateSelection` (`IsWriteIn` false: the Majlis law counts no write-in) with one
  `VoteCounts` of type `total` for the district.
* Ballots: `Election.BallotCounts` per district (`BallotsCast` = valid + void ballots,
  `BallotsRejected` = void ballots, which the law leaves out of the threshold's base) and per
  station (`BallotsCast` from the station's `polls-close`); `CandidateContest.OtherCounts`
  gives the district's `Undervotes`, the vote slots left unused (ballots × S − votes).

Not mapped, because the format has no element for them: the election threshold and the round
1 quota (named in `OtherVoteVariation` only), the lots that broke ties, and the order of the
elected and of the runoff field (statuses are per candidate, not ranked).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field

from verivote.interop.nist.common import (
    BASE_HASH,
    CANDIDATE_CODE,
    DISTRICT_ID,
    ELECTION_ID,
    ERR,
    FACTION_ID,
    MINORITY,
    PREVIOUS_ROUND,
    PREVIOUS_ROUND_BASE_HASH,
    RULE_SET,
    STATION_ID,
    VENDOR_APPLICATION,
    Doc,
    InteropError,
    external_id,
    intl_text,
    slug,
    timestamp,
)
from verivote.interop.nist.record import PublishedRound
from verivote.model.manifest import District, Manifest
from verivote.model.result import Result

RESULTS_STATUSES = (
    "certified",
    "correction",
    "pre-election",
    "recount",
    "unofficial-complete",
    "unofficial-partial",
)
"""SP 1500-100 v2 `ResultsStatus`."""


@dataclass(frozen=True)
class ReportOptions:
    """The report's header (SP 1500-100 v2 `ElectionReport`) and the language of the names."""

    issuer: str
    issuer_abbreviation: str
    status: str = "unofficial-complete"
    language: str = "en"
    generated: datetime.datetime | None = None


# --- identifiers: unique across the whole report, as the format requires -------------------


def area_unit_id(election_id: str) -> str:
    return f"area-{election_id}"


def district_unit_id(district_id: str) -> str:
    return f"district-{district_id}"


def station_unit_id(station_id: str) -> str:
    return f"station-{station_id}"


def party_id(faction_id: str) -> str:
    return f"party-{faction_id}"


def person_id(district_id: str, code: str) -> str:
    return f"person-{district_id}-{code}"


# The elections of a report are the rounds of one election, so the round number tells them
# apart; a code has no "-", so "candidate-r1-" + district + "-" + code is unambiguous.


def candidate_id(round_no: int, district_id: str, code: str) -> str:
    return f"candidate-r{round_no}-{district_id}-{code}"


def contest_id(round_no: int, district_id: str) -> str:
    return f"contest-r{round_no}-{district_id}"


def selection_id(round_no: int, district_id: str, code: str) -> str:
    return f"selection-r{round_no}-{district_id}-{code}"


# --- the report ---------------------------------------------------------------------------


def order_rounds(rounds: Sequence[PublishedRound]) -> list[PublishedRound]:
    """Round 1 then its runoff; refuse anything else (two first rounds, a runoff of another
    election), since GpUnit and Party ids are shared by the report's elections."""
    if not rounds:
        raise InteropError("no record to export")
    by_round: dict[int, PublishedRound] = {}
    for r in rounds:
        if r.manifest.round in by_round:
            other = by_round[r.manifest.round].manifest.election_id
            raise InteropError(
                f"two round-{r.manifest.round} records ({other} and {r.manifest.election_id}): "
                "give one election's round 1 and/or its runoff"
            )
        by_round[r.manifest.round] = r
    first, second = by_round.get(1), by_round.get(2)
    if first is not None and second is not None:
        previous = second.manifest.previous_round
        assert previous is not None  # the manifest model requires it in round 2
        if previous.base_hash != first.base_hash:
            raise InteropError(
                f"{second.manifest.election_id} is the runoff of {previous.election_id} "
                f"(base hash {previous.base_hash[:16]}…), not of {first.manifest.election_id}"
            )
    return [r for r in (first, second) if r is not None]


def results_report(rounds: Sequence[PublishedRound], options: ReportOptions) -> Doc:
    """SP 1500-100 v2 `ElectionReport` of one election's round 1 and/or round 2."""
    if options.status not in RESULTS_STATUSES:
        raise InteropError(
            f"unknown results status {options.status!r}; one of {', '.join(RESULTS_STATUSES)}"
        )
    ordered = order_rounds(rounds)
    units = _Units(options.language)
    parties: dict[str, Doc] = {}
    people: dict[str, Doc] = {}
    elections: list[Doc] = []
    for r in ordered:
        units.add_round(r.manifest)
        for faction in r.manifest.factions:
            parties.setdefault(faction.id, party(faction.id, faction.name, options.language))
        for district in r.manifest.districts:
            for c in district.candidates:
                pid = person_id(district.id, c.code)
                people.setdefault(pid, person(pid, c.name, c.faction, options.language))
        elections.append(election(r, options.language))
    report: Doc = {
        "@type": f"{ERR}.ElectionReport",
        "Format": "summary-contest",
        "GeneratedDate": timestamp(options.generated),
        "Issuer": options.issuer,
        "IssuerAbbreviation": options.issuer_abbreviation,
        "SequenceStart": 1,
        "SequenceEnd": 1,
        "Status": options.status,
        "VendorApplicationId": VENDOR_APPLICATION,
        "Notes": (
            "Derived from the verivote election record(s) "
            + ", ".join(f"{r.manifest.election_id} (base hash {r.base_hash})" for r in ordered)
            + "; the signed record is the authority, and `verivote verify` checks it."
        ),
        "GpUnit": units.all(),
        "Party": list(parties.values()),
        "Person": list(people.values()),
        "Election": elections,
    }
    return report


@dataclass
class _Units:
    """The report's GpUnits, shared by its elections: each unit once, with the union of the
    units composing it (round 2 holds only some districts of round 1)."""

    language: str
    units: dict[str, Doc] = field(default_factory=dict)
    provinces: dict[str, str] = field(default_factory=dict)

    def province_id(self, name: str) -> str:
        """A province is named, not identified, in the manifest: two names that make the same
        slug ("North", "North!") still get distinct units."""
        if name not in self.provinces:
            taken = {p.removeprefix("province-") for p in self.provinces.values()}
            self.provinces[name] = f"province-{slug(name, taken)}"
        return self.provinces[name]

    def _unit(
        self, uid: str, kind: str, name: str, other: str | None = None, idents: Sequence[Doc] = ()
    ) -> Doc:
        if uid not in self.units:
            unit: Doc = {"@id": uid, "@type": f"{ERR}.ReportingUnit", "Type": kind}
            if other is not None:
                unit["OtherType"] = other
            unit["Name"] = intl_text(ERR, name, self.language)
            if idents:
                unit["ExternalIdentifier"] = list(idents)
            self.units[uid] = unit
        return self.units[uid]

    @staticmethod
    def _compose(parent: Doc, child: str) -> None:
        parts = parent.setdefault("ComposingGpUnitIds", [])
        if child not in parts:
            parts.append(child)

    def add_round(self, manifest: Manifest) -> None:
        """SP 1500-100 v2 `ReportingUnit`s of one manifest: area, provinces, districts and
        stations, composed in that order."""
        root = manifest.previous_round.election_id if manifest.previous_round else None
        area = self._unit(
            area_unit_id(root or manifest.election_id),
            "other",
            manifest.name,
            "electoral-area",
            [external_id(ERR, ELECTION_ID, root or manifest.election_id)],
        )
        for d in manifest.districts:
            idents = [external_id(ERR, DISTRICT_ID, d.id)]
            if d.minority is not None:
                idents.append(external_id(ERR, MINORITY, d.minority))
            unit = self._unit(district_unit_id(d.id), "other", d.name, "electoral-district", idents)
            if d.province is not None:
                province = self._unit(self.province_id(d.province), "other", d.province, "province")
                self._compose(province, unit["@id"])
                self._compose(area, province["@id"])
            else:
                self._compose(area, unit["@id"])
        for s in manifest.stations:
            station = self._unit(
                station_unit_id(s.id),
                "polling-place",
                s.name,
                idents=[external_id(ERR, STATION_ID, s.id)],
            )
            self._compose(self.units[district_unit_id(s.district)], station["@id"])

    def all(self) -> list[Doc]:
        return list(self.units.values())


def party(faction_id: str, name: str, language: str) -> Doc:
    """SP 1500-100 v2 `Party` for a faction."""
    return {
        "@id": party_id(faction_id),
        "@type": f"{ERR}.Party",
        "Name": intl_text(ERR, name, language),
        "ExternalIdentifier": [external_id(ERR, FACTION_ID, faction_id)],
    }


def person(pid: str, name: str, faction: str | None, language: str) -> Doc:
    """SP 1500-100 v2 `Person`: the candidate across rounds (`Candidate.PersonId`)."""
    doc: Doc = {"@id": pid, "@type": f"{ERR}.Person", "FullName": intl_text(ERR, name, language)}
    if faction is not None:
        doc["PartyId"] = party_id(faction)
    return doc


def election(r: PublishedRound, language: str) -> Doc:
    """SP 1500-100 v2 `Election` of one round, with its candidates, contests and ballots."""
    m = r.manifest
    idents = [
        external_id(ERR, ELECTION_ID, m.election_id),
        external_id(ERR, BASE_HASH, r.base_hash),
        external_id(ERR, RULE_SET, m.rule_set),
    ]
    if m.previous_round is not None:
        idents += [
            external_id(ERR, PREVIOUS_ROUND, m.previous_round.election_id),
            external_id(ERR, PREVIOUS_ROUND_BASE_HASH, m.previous_round.base_hash),
        ]
    root = m.previous_round.election_id if m.previous_round else m.election_id
    candidates: list[Doc] = []
    contests: list[Doc] = []
    ballots: list[Doc] = []
    for order, d in enumerate(m.districts, start=1):
        result = r.results[d.id]
        candidates += [
            candidate(m, d, c.code, c.name, c.faction, _status(m, result, c.code), language)
            for c in d.candidates
        ]
        contests.append(contest(m, d, order, result))
        ballots.append(
            {
                "@type": f"{ERR}.BallotCounts",
                "GpUnitId": district_unit_id(d.id),
                "Type": "total",
                "BallotsCast": result.valid + result.void,
                "BallotsRejected": result.void,
            }
        )
    for s in m.stations:
        if s.id in r.station_ballots:
            ballots.append(
                {
                    "@type": f"{ERR}.BallotCounts",
                    "GpUnitId": station_unit_id(s.id),
                    "Type": "total",
                    "BallotsCast": r.station_ballots[s.id],
                }
            )
    return {
        "@type": f"{ERR}.Election",
        "Name": intl_text(ERR, m.name, language),
        "StartDate": m.date.isoformat(),
        "EndDate": m.date.isoformat(),
        "Type": "runoff" if m.round == 2 else "general",
        "ElectionScopeId": area_unit_id(root),
        "ExternalIdentifier": idents,
        "CountStatus": [{"@type": f"{ERR}.CountStatus", "Status": "completed", "Type": "total"}],
        "Candidate": candidates,
        "Contest": contests,
        "BallotCounts": ballots,
    }


def _status(manifest: Manifest, result: Result, code: str) -> str:
    """SP 1500-100 v2 `CandidatePostElectionStatus` of a candidate after this round."""
    if code in result.elected:
        return "winner"
    if manifest.round == 1 and code in (result.runoff or []):
        return "advanced-to-runoff"
    return "defeated"


def candidate(
    m: Manifest,
    d: District,
    code: str,
    name: str,
    faction: str | None,
    status: str,
    language: str,
) -> Doc:
    """SP 1500-100 v2 `Candidate` of one round, with its ballot code as ExternalIdentifier."""
    doc: Doc = {
        "@id": candidate_id(m.round, d.id, code),
        "@type": f"{ERR}.Candidate",
        "BallotName": intl_text(ERR, name, language),
        "ExternalIdentifier": [external_id(ERR, CANDIDATE_CODE, code)],
        "PersonId": person_id(d.id, code),
        "PostElectionStatus": status,
    }
    if faction is not None:
        doc["PartyId"] = party_id(faction)
    return doc


def contest(m: Manifest, d: District, order: int, result: Result) -> Doc:
    """SP 1500-100 v2 `CandidateContest` of one district: seats, selections, vote counts."""
    tally = result.rounds[0].tally
    votes = {c.code: int(tally.get(c.code, 0)) for c in d.candidates}
    ballots = result.valid + result.void
    doc: Doc = {
        "@id": contest_id(m.round, d.id),
        "@type": f"{ERR}.CandidateContest",
        "Name": d.name,
        "ElectionDistrictId": district_unit_id(d.id),
        "ExternalIdentifier": [external_id(ERR, DISTRICT_ID, d.id)],
        "NumberElected": d.seats,
        "VotesAllowed": d.seats,
        "SequenceOrder": order,
    }
    if m.round == 1:
        # The count of round 1 is no plain plurality: a threshold, then a runoff.
        doc["VoteVariation"] = "other"
        doc["OtherVoteVariation"] = (
            f"{m.rule_set} round 1: block vote of up to {d.seats}; elected with at least "
            f"{m.threshold} of the valid ballots; a runoff between the next highest for the "
            "seats left"
        )
        if result.runoff:
            doc["NumberRunoff"] = len(result.runoff)
    else:
        doc["VoteVariation"] = "n-of-m" if d.seats > 1 else "plurality"
    doc["CountStatus"] = [{"@type": f"{ERR}.CountStatus", "Status": "completed", "Type": "total"}]
    doc["ContestSelection"] = [
        {
            "@id": selection_id(m.round, d.id, c.code),
            "@type": f"{ERR}.CandidateSelection",
            "CandidateIds": [candidate_id(m.round, d.id, c.code)],
            "IsWriteIn": False,
            "SequenceOrder": position,
            "VoteCounts": [
                {
                    "@type": f"{ERR}.VoteCounts",
                    "GpUnitId": district_unit_id(d.id),
                    "Type": "total",
                    "Count": votes[c.code],
                }
            ],
        }
        for position, c in enumerate(d.candidates, start=1)
    ]
    doc["OtherCounts"] = [
        {
            "@type": f"{ERR}.OtherCounts",
            "GpUnitId": district_unit_id(d.id),
            # Each ballot holds S vote slots; a blank (void) ballot leaves all S unused.
            "Undervotes": ballots * d.seats - sum(votes.values()),
        }
    ]
    return doc
