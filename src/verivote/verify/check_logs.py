"""Part of check `board` for a record with a log per district (README, "National scale
(issue 17)"): the national log's seals commit to exactly the district logs on record
(`verivote.board.sealing`), every district entry is sealed, and every entry is in the log it
belongs to.

- Each `district-checkpoint` seal is well-formed, of this election, signed by the authority,
  of origin "<national origin>/<district>", and holds the root of the district's first `size`
  entries; the seals of one district never shrink and never give one size two roots (either is
  a fork of the district log); the last seal of a district is `districts/D/checkpoint`, its
  whole log.
- Every district entry is covered by a seal.
- A district's log holds only its own ballots and its own stations' polls statements, and the
  national log none of those.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from verivote.board.checkpoint import open_checkpoint
from verivote.board.districts import (
    BALLOT_TYPES,
    DISTRICT_TYPES,
    NATIONAL,
    route,
    station_districts,
)
from verivote.board.sealing import Sealed, check_seals
from verivote.crypto.hashing import election_base_hash
from verivote.verify.loader import Board, RecordLogs
from verivote.verify.report import Check


@dataclass(frozen=True)
class _Manifest:
    """What the checks need from entry 0, if it can be read: the base hash, each station's
    district and the district ids."""

    base_hash: str | None
    stations: dict[str, str] | None
    districts: set[str] | None


def _manifest(logs: RecordLogs) -> _Manifest:
    if not logs.national:
        return _Manifest(None, None, None)
    first = logs.national[0]
    try:
        base_hash: str | None = election_base_hash(first).hex()
    except (TypeError, ValueError):
        base_hash = None
    try:
        stations: dict[str, str] | None = station_districts(first)
        ids = {d["id"] for d in json.loads(first)["manifest"]["districts"]}
        districts: set[str] | None = {d for d in ids if isinstance(d, str)}
    except (ValueError, KeyError, TypeError):
        stations, districts = None, None
    return _Manifest(base_hash, stations, districts)


def check_logs(board: Board, check: Check) -> None:
    """Add to `check` every failure of the seals and district logs of `board` (which has
    district logs)."""
    logs = board.logs
    assert logs is not None
    manifest = _manifest(logs)
    if manifest.districts is not None:
        for district in sorted(set(logs.districts) - manifest.districts):
            check.fail(None, f"districts/{district}: not a district of the manifest", district)
    sealed = _check_seals(board, logs, manifest, check)
    for district, entries in sorted(logs.districts.items()):
        last = sealed.get(district)
        _check_final(board, logs, district, last, check)
        for index in range(last.size if last else 0, len(entries)):
            check.fail(
                board.position(district, index),
                f"never sealed in the national log: no district-checkpoint of {district}"
                " signed by the authority covers it",
                district,
                index,
            )
        _check_routing(board, district, len(entries), manifest, check)
    for entry_type in sorted(DISTRICT_TYPES):
        for position in board.indices(entry_type):
            log, index = board.where(position)
            if log == NATIONAL:
                check.fail(
                    position,
                    f"a {entry_type} entry in the national log: in a record with district"
                    " logs it belongs in its district's log",
                    log,
                    index,
                )


def _check_seals(
    board: Board, logs: RecordLogs, manifest: _Manifest, check: Check
) -> dict[str, Sealed]:
    authority = board.verifier_keys[0] if board.verifier_keys and board.origin else None
    problems, sealed = check_seals(logs.seals, logs.district_logs, authority, manifest.base_hash)
    for at, why in problems:
        check.fail(None, why, NATIONAL, at)
    return sealed


def _check_final(
    board: Board, logs: RecordLogs, district: str, last: Sealed | None, check: Check
) -> None:
    """The last good seal of the district is its checkpoint on record."""
    if last is None or not board.verifier_keys:
        return
    try:
        final, _ = open_checkpoint(logs.district_notes[district], [board.verifier_keys[0]])
    except ValueError:
        return  # `check_record` reports the district checkpoint itself
    if (final.size, final.root) != (last.size, last.root):
        check.fail(
            None,
            f"the last seal of {district} (size {last.size}) is not districts/{district}/"
            f"checkpoint (size {final.size}): the national log does not seal the district's"
            " whole log",
            NATIONAL,
            last.at,
        )


def _check_routing(
    board: Board, district: str, size: int, manifest: _Manifest, check: Check
) -> None:
    """Every entry of the district's log is a ballot of the district or a polls statement of
    one of its stations. The ballots are not parsed here (issue 17: a task per district log
    read them, `RecordLogs.strays`); the other entries of the log are few and kept parsed."""
    logs = board.logs
    assert logs is not None
    for index, (kind, named) in sorted(logs.strays.get(district, {}).items()):
        position = board.position(district, index)
        if position is None or index >= size:
            continue
        if kind in BALLOT_TYPES:
            if manifest.stations is None:
                continue
            if named is None:
                check.fail(position, f"a {kind} entry whose ballot names no district",
                           district, index)  # fmt: skip
            else:
                check.fail(position, f"a ballot of district {named} in the log of district "
                           f"{district}", district, index)  # fmt: skip
            continue
        doc = board.docs[position]
        if doc is None:
            continue  # reported as not an entry (the board check's canonical form)
        if kind not in DISTRICT_TYPES:
            check.fail(
                position,
                f"a {kind} entry in the log of {district}: only ballots and stations' statements"
                " go in a district's log",
                district,
                index,
            )
            continue
        if manifest.stations is None:
            continue  # the manifest check reports an unreadable manifest
        try:
            belongs = route(doc, manifest.stations)
        except ValueError as exc:
            check.fail(position, str(exc), district, index)
            continue
        if belongs != district:
            what = f"the {kind} of station {doc.get('station')} (district {belongs})"
            check.fail(position, f"{what} in the log of district {district}", district, index)
