"""NIST SP 1500-103 (Cast Vote Records CDF, version 1.0.0) from plaintext ballots.

verivote's plaintext ballots (the ballot CSV of DESIGN.md: the output of a mixnet contest, or
the paper ballots of an audit) become one `CVR` per voter, each with one `CVRSnapshot` of type
`original`: the marks as read, before any counting rule interprets them. The mapping:

* `Election` with one `CandidateContest` (a manifest's district, or a contest file's contest),
  its `CandidateSelection`s (one per candidate, then one with `IsWriteIn` true) and
  `Candidate`s; factions are `Party`s.
* `GpUnit`s: the contest's area (the district) and, when the ballots are known to come from
  one polling station, that station (`polling-place`), named by each CVR's `BallotStyleUnitId`.
* A mark at rank r (the CSV's column r) is a `SelectionPosition` with `Rank` r under the
  `CVRContestSelection` of its candidate; a name that is no candidate is a write-in
  (`CVRWriteIn.Text`); an overvote at rank r (`#overvote:A|B`) is one position per named
  candidate at rank r, flagged `OtherStatus` "overvote", and a bare `#overvote` is such a
  position under a `CVRContestSelection` without a `ContestSelectionId`. A skipped rank has
  no position. `IsAllocable` is left out: allocation is the counting law's business.

A blank ballot still has its `CVRContest`, with no selection, so that it counts as a ballot
(void under the Majlis law).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TextIO

from verivote.interop.nist.common import (
    CANDIDATE_CODE,
    CVR,
    DISTRICT_ID,
    ELECTION_ID,
    FACTION_ID,
    STATION_ID,
    VENDOR_APPLICATION,
    Doc,
    InteropError,
    cvr_code,
    slug,
    timestamp,
)
from verivote.model.ballots import Ballot, Mark, Overvote
from verivote.model.contest import Contest
from verivote.model.manifest import Manifest
from verivote.rules.rcv import RCV_METHODS

OVERVOTE = "overvote"
"""`OtherStatus` of a SelectionPosition that is part of an overvote at its rank."""
DEVICE_ID = "device-verivote"


@dataclass(frozen=True)
class CvrCandidate:
    name: str
    code: str | None = None
    faction: str | None = None


@dataclass(frozen=True)
class CvrContest:
    """Everything a CVR report says about the contest besides the ballots.

    `key` names the contest in `@id`s; `area` and `station` are (verivote id, name) pairs;
    `factions` are (id, name) pairs."""

    election_id: str
    election_name: str
    key: str
    name: str
    seats: int
    votes_allowed: int
    vote_variation: str
    other_vote_variation: str | None
    candidates: tuple[CvrCandidate, ...]
    factions: tuple[tuple[str, str], ...] = ()
    area: tuple[str, str] | None = None
    station: tuple[str, str] | None = None

    @property
    def election_ref(self) -> str:
        return f"election-{self.election_id}"

    @property
    def contest_ref(self) -> str:
        return f"contest-{self.key}"

    @property
    def area_ref(self) -> str:
        return f"district-{self.area[0]}" if self.area else f"area-{self.key}"

    @property
    def station_ref(self) -> str | None:
        return f"station-{self.station[0]}" if self.station else None

    @property
    def write_in_ref(self) -> str:
        return f"selection-{self.key}-write-in"

    def _tag(self, index: int) -> str:
        # The ballot code when there is one, else the place in the list ("n3"): never equal.
        code = self.candidates[index].code
        return code if code is not None else f"n{index + 1}"

    def selection_ref(self, index: int) -> str:
        return f"selection-{self.key}-{self._tag(index)}"

    def candidate_ref(self, index: int) -> str:
        return f"candidate-{self.key}-{self._tag(index)}"

    def lookup(self) -> dict[str, int]:
        """Ballot cell -> candidate index: the code first (what the law counts), then the
        name, since a Majlis voter may write either."""
        out: dict[str, int] = {}
        for i, c in enumerate(self.candidates):
            if c.code is not None:
                out.setdefault(c.code, i)
        for i, c in enumerate(self.candidates):
            out.setdefault(c.name, i)
        return out


def contest_from_manifest(
    manifest: Manifest, district_id: str | None, station_id: str | None = None
) -> CvrContest:
    """The contest of a manifest's district (the only one when `district_id` is None), seen
    from one of its stations when `station_id` is given."""
    if district_id is None:
        if len(manifest.districts) != 1:
            ids = ", ".join(d.id for d in manifest.districts)
            raise InteropError(
                f"the manifest has {len(manifest.districts)} districts: name one ({ids})"
            )
        district = manifest.districts[0]
    else:
        try:
            district = manifest.district(district_id)
        except KeyError:
            raise InteropError(f"the manifest has no district {district_id!r}") from None
    station: tuple[str, str] | None = None
    if station_id is not None:
        try:
            s = manifest.station(station_id)
        except KeyError:
            raise InteropError(f"the manifest has no station {station_id!r}") from None
        if s.district != district.id:
            raise InteropError(f"station {s.id} votes in district {s.district}, not {district.id}")
        station = (s.id, s.name)
    if manifest.round == 1:
        variation, other = "other", f"{manifest.rule_set} round 1"
    else:
        variation, other = ("n-of-m" if district.seats > 1 else "plurality"), None
    used = {c.faction for c in district.candidates}
    return CvrContest(
        election_id=manifest.election_id,
        election_name=manifest.name,
        key=district.id,
        name=district.name,
        seats=district.seats,
        votes_allowed=district.seats,
        vote_variation=variation,
        other_vote_variation=other,
        candidates=tuple(CvrCandidate(c.name, c.code, c.faction) for c in district.candidates),
        factions=tuple((f.id, f.name) for f in manifest.factions if f.id in used),
        area=(district.id, district.name),
        station=station,
    )


_VARIATIONS = {
    "block": "n-of-m",
    "fptp": "plurality",
    "two-round": "majority",
    "dhondt": "proportional",
    "sainte-lague": "proportional",
}


def contest_from_file(contest: Contest, station: str | None = None) -> CvrContest:
    """The contest of a contest file (`verivote tabulate --contest`): its candidates and,
    as declared candidates too, the ones its options exclude from the count."""
    names = list(contest.candidates)
    names += [n for n in contest.options.excluded if n not in names]
    method = contest.method
    if method in RCV_METHODS:
        variation, allowed = "rcv", 1
    elif method in ("majlis", "block"):
        # A block vote: each voter names up to S candidates.
        variation, allowed = _VARIATIONS.get(method, "other"), max(contest.seats, 1)
    else:
        variation, allowed = _VARIATIONS.get(method, "other"), 1
    key = slug(contest.name)
    return CvrContest(
        election_id=key,
        election_name=contest.name,
        key=key,
        name=contest.name,
        seats=contest.seats,
        votes_allowed=allowed,
        vote_variation=variation,
        other_vote_variation=method if variation in ("other", "rcv") else None,
        candidates=tuple(CvrCandidate(n) for n in names),
        station=(slug(station), station) if station else None,
    )


# --- the report ---------------------------------------------------------------------------


def report_header(spec: CvrContest, generated: datetime.datetime | None, notes: str | None) -> Doc:
    """SP 1500-103 `CastVoteRecordReport` without its `CVR`s: election, contest, candidates,
    parties, GpUnits and the reporting device (verivote itself)."""
    candidates: list[Doc] = []
    selections: list[Doc] = []
    for i, c in enumerate(spec.candidates):
        cand: Doc = {"@id": spec.candidate_ref(i), "@type": f"{CVR}.Candidate", "Name": c.name}
        if c.code is not None:
            cand["Code"] = [cvr_code(CANDIDATE_CODE, c.code)]
        if c.faction is not None:
            cand["PartyId"] = f"party-{c.faction}"
        candidates.append(cand)
        selections.append(
            {
                "@id": spec.selection_ref(i),
                "@type": f"{CVR}.CandidateSelection",
                "CandidateIds": [spec.candidate_ref(i)],
            }
        )
    selections.append(
        {"@id": spec.write_in_ref, "@type": f"{CVR}.CandidateSelection", "IsWriteIn": True}
    )
    contest: Doc = {
        "@id": spec.contest_ref,
        "@type": f"{CVR}.CandidateContest",
        "Name": spec.name,
        "ContestSelection": selections,
        "VotesAllowed": spec.votes_allowed,
        "VoteVariation": spec.vote_variation,
    }
    if spec.area is not None:
        contest["Code"] = [cvr_code(DISTRICT_ID, spec.area[0])]
    if spec.seats > 0:
        contest["NumberElected"] = spec.seats
    if spec.other_vote_variation is not None:
        contest["OtherVoteVariation"] = spec.other_vote_variation
    units: list[Doc] = [
        {
            "@id": spec.area_ref,
            "@type": f"{CVR}.GpUnit",
            "Type": "other",
            "OtherType": "electoral-district" if spec.area else "contest-area",
            "Name": spec.area[1] if spec.area else spec.name,
        }
    ]
    if spec.area is not None:
        units[0]["Code"] = [cvr_code(DISTRICT_ID, spec.area[0])]
    if spec.station is not None and spec.station_ref is not None:
        units.append(
            {
                "@id": spec.station_ref,
                "@type": f"{CVR}.GpUnit",
                "Type": "polling-place",
                "Name": spec.station[1],
                "Code": [cvr_code(STATION_ID, spec.station[0])],
            }
        )
    header: Doc = {
        "@type": f"{CVR}.CastVoteRecordReport",
        "Version": "1.0.0",
        "GeneratedDate": timestamp(generated),
        "ReportType": ["other"],
        "OtherReportType": "plaintext ballots (verivote ballot CSV)",
        "ReportGeneratingDeviceIds": [DEVICE_ID],
        "ReportingDevice": [
            {"@id": DEVICE_ID, "@type": f"{CVR}.ReportingDevice", "Application": VENDOR_APPLICATION}
        ],
        "GpUnit": units,
        "Election": [
            {
                "@id": spec.election_ref,
                "@type": f"{CVR}.Election",
                "Name": spec.election_name,
                "Code": [cvr_code(ELECTION_ID, spec.election_id)],
                "ElectionScopeId": spec.area_ref,
                "Candidate": candidates,
                "Contest": [contest],
            }
        ],
    }
    if spec.factions:
        header["Party"] = [
            {
                "@id": f"party-{fid}",
                "@type": f"{CVR}.Party",
                "Name": name,
                "Code": [cvr_code(FACTION_ID, fid)],
            }
            for fid, name in spec.factions
        ]
    if notes:
        header["Notes"] = notes
    return header


def _position(rank: int, write_in: str | None = None, overvote: bool = False) -> Doc:
    pos: Doc = {
        "@type": f"{CVR}.SelectionPosition",
        "HasIndication": "yes",
        "NumberVotes": 1,
        "Rank": rank,
    }
    if write_in is not None:
        pos["CVRWriteIn"] = {"@type": f"{CVR}.CVRWriteIn", "Text": write_in}
    if overvote:
        pos["Status"] = ["other"]
        pos["OtherStatus"] = OVERVOTE
    return pos


def contest_marks(spec: CvrContest, marks: Iterable[Mark], lookup: dict[str, int]) -> Doc:
    """SP 1500-103 `CVRContest` of one ballot: a `CVRContestSelection` per selection marked,
    in order of first mark, each with a `SelectionPosition` per rank it is marked at."""
    groups: dict[str | None, list[Doc]] = {}

    def put(name: str | None, rank: int, overvote: bool) -> None:
        if name is None:
            groups.setdefault(None, []).append(_position(rank, overvote=True))
            return
        index = lookup.get(name)
        if index is None:
            groups.setdefault(spec.write_in_ref, []).append(_position(rank, name, overvote))
        else:
            groups.setdefault(spec.selection_ref(index), []).append(
                _position(rank, overvote=overvote)
            )

    for rank, mark in enumerate(marks, start=1):
        if isinstance(mark, str):
            put(mark, rank, False)
        elif isinstance(mark, Overvote):
            for name in mark.names or (None,):
                put(name, rank, True)
    selections: list[Doc] = []
    for ref, positions in groups.items():
        sel: Doc = {"@type": f"{CVR}.CVRContestSelection"}
        if ref is not None:
            sel["ContestSelectionId"] = ref
        sel["SelectionPosition"] = positions
        selections.append(sel)
    return {
        "@type": f"{CVR}.CVRContest",
        "ContestId": spec.contest_ref,
        "CVRContestSelection": selections,
    }


def cast_vote_record(
    spec: CvrContest, marks: Iterable[Mark], number: int, lookup: dict[str, int]
) -> Doc:
    """SP 1500-103 `CVR` of voter `number` (1-based): one `original` snapshot."""
    snapshot = f"snapshot-{number}"
    doc: Doc = {
        "@type": f"{CVR}.CVR",
        "UniqueId": str(number),
        "ElectionId": spec.election_ref,
        "CurrentSnapshotId": snapshot,
        "CVRSnapshot": [
            {
                "@id": snapshot,
                "@type": f"{CVR}.CVRSnapshot",
                "Type": "original",
                "CVRContest": [contest_marks(spec, marks, lookup)],
            }
        ],
    }
    if spec.station_ref is not None:
        doc["BallotStyleUnitId"] = spec.station_ref
    return doc


def cast_vote_records(spec: CvrContest, ballots: Iterable[Ballot]) -> Iterator[Doc]:
    """One `CVR` per voter: a ballot of multiplicity k gives k records."""
    lookup = spec.lookup()
    number = 0
    for ballot in ballots:
        if ballot.count < 1:
            raise InteropError(f"a ballot has multiplicity {ballot.count}")
        for _ in range(ballot.count):
            number += 1
            yield cast_vote_record(spec, ballot.marks, number, lookup)


def cvr_report(
    spec: CvrContest,
    ballots: Iterable[Ballot],
    generated: datetime.datetime | None = None,
    notes: str | None = None,
) -> Doc:
    """The whole SP 1500-103 `CastVoteRecordReport` in memory."""
    doc = report_header(spec, generated, notes)
    doc["CVR"] = list(cast_vote_records(spec, ballots))
    return doc


def write_cvr_report(
    out: TextIO,
    spec: CvrContest,
    ballots: Iterable[Ballot],
    generated: datetime.datetime | None = None,
    notes: str | None = None,
) -> int:
    """Write the report to `out` one CVR at a time (a district's ballots may not fit in
    memory as JSON objects); returns the number of CVRs written. The text is the same JSON
    document `cvr_report` gives."""
    head = json.dumps(report_header(spec, generated, notes), ensure_ascii=False)
    out.write(head[:-1] + ', "CVR": [')
    count = 0
    for record in cast_vote_records(spec, ballots):
        out.write(("," if count else "") + "\n" + json.dumps(record, ensure_ascii=False))
        count += 1
    out.write("\n]}\n")
    return count
