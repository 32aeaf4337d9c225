"""Reading totals back from an SP 1500-100 v2 `ElectionReport`.

It reads what `verivote.interop.nist.results` writes, and the same elements in reports of
other systems: identifiers come from the verivote `ExternalIdentifier`s when present and
from the NIST `@id`s otherwise. Per contest it gives the votes of each candidate
(`CandidateSelection.VoteCounts` of type `total` at the contest's district, or summed over
the units below it when the district has none), the ballots (`Election.BallotCounts`), the
undervotes (`OtherCounts`) and each candidate's `PostElectionStatus`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from verivote.interop.nist.common import (
    BASE_HASH,
    CANDIDATE_CODE,
    DISTRICT_ID,
    ELECTION_ID,
    PREVIOUS_ROUND,
    STATION_ID,
    Doc,
    InteropError,
    find_identifier,
    read_text,
)


@dataclass(frozen=True)
class ContestTotals:
    """One contest as the report gives it; `votes` maps candidate codes (or ids) to votes."""

    district: str
    name: str
    seats: int | None
    votes: dict[str, int]
    ballots: int | None = None
    void: int | None = None
    undervotes: int | None = None
    elected: frozenset[str] = frozenset()
    runoff: frozenset[str] = frozenset()

    @property
    def valid(self) -> int | None:
        if self.ballots is None:
            return None
        return self.ballots - (self.void or 0)


@dataclass(frozen=True)
class ElectionTotals:
    """One `Election` of the report: a round of a verivote election."""

    election_id: str
    name: str
    round: int
    base_hash: str | None
    previous_round: str | None
    contests: dict[str, ContestTotals]
    station_ballots: dict[str, int] = field(default_factory=dict)


def _whole(value: Any, where: str) -> int:
    # JSON numbers: a vote count written as 12.0 is still 12 votes; 12.5 is not a count of
    # verivote's (whose methods here count whole ballots).
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InteropError(f"{where}: {value!r} is not a number")
    exact = Decimal(str(value))
    if exact != exact.to_integral_value():
        raise InteropError(f"{where}: {value} is not a whole number")
    return int(exact)


def _index(report: Mapping[str, Any]) -> dict[str, Doc]:
    objects: dict[str, Doc] = {}
    for key in ("GpUnit", "Party", "Person"):
        for obj in report.get(key) or []:
            if isinstance(obj, dict) and isinstance(obj.get("@id"), str):
                objects[obj["@id"]] = obj
    return objects


def _unit_names(report: Mapping[str, Any]) -> dict[str, str]:
    """GpUnit `@id` -> verivote id (district or station), or the `@id` itself."""
    out: dict[str, str] = {}
    for unit in report.get("GpUnit") or []:
        if isinstance(unit, Mapping) and isinstance(unit.get("@id"), str):
            out[unit["@id"]] = (
                find_identifier(unit, DISTRICT_ID)
                or find_identifier(unit, STATION_ID)
                or unit["@id"]
            )
    return out


def _below(units: Mapping[str, Doc], top: str) -> set[str]:
    """Every GpUnit below `top` by `ComposingGpUnitIds` (not `top` itself)."""
    seen: set[str] = set()
    todo = list(units.get(top, {}).get("ComposingGpUnitIds") or [])
    while todo:
        uid = todo.pop()
        if uid in seen:
            continue
        seen.add(uid)
        todo += list(units.get(uid, {}).get("ComposingGpUnitIds") or [])
    return seen


def read_results(report: Mapping[str, Any]) -> list[ElectionTotals]:
    """The totals of every `Election` of an SP 1500-100 v2 `ElectionReport`."""
    if report.get("@type") != "ElectionResults.ElectionReport":
        raise InteropError("not an SP 1500-100 v2 ElectionReport (its @type is missing or other)")
    objects = _index(report)
    names = _unit_names(report)
    out: list[ElectionTotals] = []
    for n, elec in enumerate(report.get("Election") or [], start=1):
        if not isinstance(elec, Mapping):
            raise InteropError(f"Election {n} is not an object")
        out.append(_election(elec, n, objects, names))
    return out


def _election(
    elec: Mapping[str, Any], n: int, objects: Mapping[str, Doc], names: Mapping[str, str]
) -> ElectionTotals:
    codes: dict[str, str] = {}
    status: dict[str, str] = {}
    for cand in elec.get("Candidate") or []:
        cid = cand.get("@id")
        codes[cid] = find_identifier(cand, CANDIDATE_CODE) or cid
        if isinstance(cand.get("PostElectionStatus"), str):
            status[cid] = cand["PostElectionStatus"]
    ballots: dict[str, tuple[int, int | None]] = {}
    for bc in elec.get("BallotCounts") or []:
        if bc.get("Type") == "total" and "BallotsCast" in bc:
            rejected = bc.get("BallotsRejected")
            ballots[bc["GpUnitId"]] = (
                _whole(bc["BallotsCast"], f"BallotCounts of {bc['GpUnitId']}"),
                None if rejected is None else _whole(rejected, "BallotsRejected"),
            )
    contests: dict[str, ContestTotals] = {}
    for con in elec.get("Contest") or []:
        if con.get("@type") != "ElectionResults.CandidateContest":
            continue
        totals = _contest(con, codes, status, ballots, objects, names)
        contests[totals.district] = totals
    stations = {
        names.get(uid, uid): cast
        for uid, (cast, _) in ballots.items()
        if objects.get(uid, {}).get("Type") == "polling-place"
    }
    kind = elec.get("Type")
    return ElectionTotals(
        election_id=find_identifier(elec, ELECTION_ID) or f"election-{n}",
        name=read_text(elec.get("Name")) or "",
        round=2 if kind == "runoff" else 1,
        base_hash=find_identifier(elec, BASE_HASH),
        previous_round=find_identifier(elec, PREVIOUS_ROUND),
        contests=contests,
        station_ballots=stations,
    )


def _contest(
    con: Mapping[str, Any],
    codes: Mapping[str, str],
    status: Mapping[str, str],
    ballots: Mapping[str, tuple[int, int | None]],
    objects: Mapping[str, Doc],
    names: Mapping[str, str],
) -> ContestTotals:
    where = f"contest {con.get('@id')}"
    unit = con.get("ElectionDistrictId")
    if not isinstance(unit, str):
        raise InteropError(f"{where} has no ElectionDistrictId")
    below = _below(objects, unit)
    votes: dict[str, int] = {}
    elected: set[str] = set()
    runoff: set[str] = set()
    for sel in con.get("ContestSelection") or []:
        if sel.get("@type") != "ElectionResults.CandidateSelection" or sel.get("IsWriteIn"):
            continue
        ids = sel.get("CandidateIds") or []
        if len(ids) != 1:
            raise InteropError(f"{where}: selection {sel.get('@id')} is not one candidate")
        code = codes.get(ids[0], ids[0])
        at_unit = [vc for vc in sel.get("VoteCounts") or [] if vc.get("Type") == "total"]
        mine = [vc for vc in at_unit if vc.get("GpUnitId") == unit]
        chosen = mine or [vc for vc in at_unit if vc.get("GpUnitId") in below]
        votes[code] = sum(_whole(vc.get("Count"), f"{where}, {code}") for vc in chosen)
        if status.get(ids[0]) in ("winner", "projected-winner"):
            elected.add(code)
        elif status.get(ids[0]) == "advanced-to-runoff":
            runoff.add(code)
    under = [
        oc["Undervotes"]
        for oc in con.get("OtherCounts") or []
        if oc.get("GpUnitId") == unit and "Undervotes" in oc
    ]
    cast, void = ballots.get(unit, (None, None))
    seats = con.get("NumberElected")
    return ContestTotals(
        district=find_identifier(con, DISTRICT_ID) or names.get(unit, unit),
        name=str(con.get("Name", "")),
        seats=seats if isinstance(seats, int) else None,
        votes=votes,
        ballots=cast,
        void=void,
        undervotes=_whole(under[0], f"{where} undervotes") if under else None,
        elected=frozenset(elected),
        runoff=frozenset(runoff),
    )
