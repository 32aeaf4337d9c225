"""Reading plaintext ballots back from an SP 1500-103 `CastVoteRecordReport`.

For one contest, each `CVR`'s current snapshot (`CurrentSnapshotId`) gives one ballot in
verivote's form (`verivote.model.ballots.Ballot`): rank r holds the candidate marked at rank
r, an `Overvote` when several are (or when a position is flagged "overvote"), and nothing
when none is. A candidate is named by its verivote code when its `Candidate.Code` has one,
else by its `Name`; a write-in by its `CVRWriteIn.Text`. Positions with `HasIndication` "no"
are no marks. Records that carry no rank are read in the order of their positions, one rank
each, as a vote-for-N ballot has no order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from verivote.interop.nist.common import (
    CANDIDATE_CODE,
    DISTRICT_ID,
    STATION_ID,
    Doc,
    InteropError,
    find_identifier,
)
from verivote.interop.nist.cvr import OVERVOTE
from verivote.model.ballots import Ballot, Mark, Overvote


@dataclass(frozen=True)
class CvrBallots:
    """The ballots of one contest: `candidates` in the contest's order, `ballots` with runs of
    identical consecutive records merged, and the number of records per station."""

    contest_id: str
    name: str
    seats: int | None
    candidates: list[str]
    ballots: list[Ballot]
    station_ballots: dict[str, int] = field(default_factory=dict)


def _contests(report: Mapping[str, Any]) -> list[tuple[Doc, Doc]]:
    """Every (`Election`, `Contest`) pair of the report."""
    out: list[tuple[Doc, Doc]] = []
    for elec in report.get("Election") or []:
        for con in elec.get("Contest") or []:
            out.append((elec, con))
    return out


def _pick(report: Mapping[str, Any], contest: str | None) -> tuple[Doc, Doc]:
    """The `Contest` asked for, by `@id` or by the verivote district id in its `Code`."""
    found = _contests(report)
    if contest is None:
        if len(found) != 1:
            names = ", ".join(str(c.get("@id")) for _, c in found)
            raise InteropError(f"the report has {len(found)} contests: name one ({names})")
        return found[0]
    for elec, con in found:
        if contest in (con.get("@id"), find_identifier(con, DISTRICT_ID, "Code")):
            return elec, con
    raise InteropError(f"the report has no contest {contest!r}")


def read_cvr_ballots(report: Mapping[str, Any], contest: str | None = None) -> CvrBallots:
    """The ballots of `contest` (its `@id` or verivote district id; the only contest of the
    report when None) in an SP 1500-103 `CastVoteRecordReport`."""
    if report.get("@type") != "CVR.CastVoteRecordReport":
        raise InteropError(
            "not an SP 1500-103 CastVoteRecordReport (its @type is missing or other)"
        )
    elec, con = _pick(report, contest)
    people = {c.get("@id"): c for c in elec.get("Candidate") or []}
    # ContestSelection @id -> the name its marks carry; None for a write-in selection.
    choices: dict[str, str | None] = {}
    order: list[str] = []
    for sel in con.get("ContestSelection") or []:
        ids = sel.get("CandidateIds") or []
        if sel.get("IsWriteIn") or not ids:
            choices[sel["@id"]] = None
            continue
        person = people.get(ids[0], {})
        name = find_identifier(person, CANDIDATE_CODE, "Code") or person.get("Name") or ids[0]
        choices[sel["@id"]] = str(name)
        order.append(str(name))
    units = {u.get("@id"): u for u in report.get("GpUnit") or []}
    stations: Counter[str] = Counter()
    ballots: list[Ballot] = []
    for n, record in enumerate(report.get("CVR") or [], start=1):
        if record.get("ElectionId") not in (None, elec.get("@id")):
            continue
        marks = _ballot(record, con["@id"], choices, n)
        if marks is None:
            continue
        unit = record.get("BallotStyleUnitId")
        if isinstance(unit, str):
            stations[find_identifier(units.get(unit, {}), STATION_ID, "Code") or unit] += 1
        if ballots and ballots[-1].marks == marks:
            ballots[-1] = Ballot(marks, ballots[-1].count + 1)
        else:
            ballots.append(Ballot(marks))
    seats = con.get("NumberElected")
    return CvrBallots(
        contest_id=find_identifier(con, DISTRICT_ID, "Code") or str(con["@id"]),
        name=str(con.get("Name", con["@id"])),
        seats=seats if isinstance(seats, int) else None,
        candidates=order,
        ballots=ballots,
        station_ballots=dict(stations),
    )


def _snapshot(record: Mapping[str, Any], n: int) -> Mapping[str, Any]:
    """The `CVRSnapshot` a `CVR` names as current: the one its marks are read from."""
    current = record.get("CurrentSnapshotId")
    for snap in record.get("CVRSnapshot") or []:
        if snap.get("@id") == current:
            return dict(snap)
    raise InteropError(f"CVR {n}: no snapshot {current!r} (its CurrentSnapshotId)")


def _ballot(
    record: Mapping[str, Any], contest_id: str, choices: Mapping[str, str | None], n: int
) -> tuple[Mark, ...] | None:
    """The marks of one CVR in the contest, or None if the CVR has no such contest."""
    snapshot = _snapshot(record, n)
    mine = [c for c in snapshot.get("CVRContest") or [] if c.get("ContestId") == contest_id]
    if not mine:
        return None
    # (rank or None, name or None for an unnamed overvote, flagged as an overvote)
    marks: list[tuple[int | None, str | None, bool]] = []
    for cc in mine:
        for sel in cc.get("CVRContestSelection") or []:
            ref = sel.get("ContestSelectionId")
            if ref is not None and ref not in choices:
                raise InteropError(f"CVR {n}: unknown contest selection {ref!r}")
            for pos in sel.get("SelectionPosition") or []:
                if pos.get("HasIndication") == "no":
                    continue
                rank = pos.get("Rank", sel.get("Rank"))
                flagged = pos.get("OtherStatus") == OVERVOTE or ref is None
                if ref is None:
                    name = None
                elif choices[ref] is not None:
                    name = choices[ref]
                else:
                    text = (pos.get("CVRWriteIn") or {}).get("Text")
                    name = str(text) if text else str(ref)
                marks.append((rank if isinstance(rank, int) else None, name, flagged))
    return _ranked(marks)


def _ranked(marks: list[tuple[int | None, str | None, bool]]) -> tuple[Mark, ...]:
    """Marks by `Rank`: one name, or an `Overvote` when a rank has several or a flagged one."""
    if any(rank is None for rank, _, _ in marks):
        # No ranks: a vote-for-N record; its positions in order, one per rank.
        marks = [(i, name, flagged) for i, (_, name, flagged) in enumerate(marks, start=1)]
    at: dict[int, list[tuple[str | None, bool]]] = {}
    for rank, name, flagged in marks:
        assert rank is not None
        at.setdefault(rank, []).append((name, flagged))
    if not at:
        return ()
    if min(at) < 1:
        raise InteropError(f"a selection position has rank {min(at)}")
    out: list[Mark] = [None] * max(at)
    for rank, found in at.items():
        if len(found) == 1 and not found[0][1]:
            out[rank - 1] = found[0][0]
        else:
            out[rank - 1] = Overvote(tuple(name for name, _ in found if name is not None))
    return tuple(out)
