"""Reading what the NIST exports need from a published election record, without a
database: the manifest (entry 0), the `count` entry and the stations' `polls-close` entries
(results), and a mixnet district's `mix-decryption` entry (its decoded ballots, for CVRs).

The record is read with the verifier's loader (`verivote.verify.loader`) after the board's own
integrity check (`verivote.board.record.check_record`: Merkle root and signatures), so the
export never speaks for entries that the election authority and the witnesses did not sign.
That check is not the verifier: `verivote verify` re-runs the proofs and the count.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from verivote.board.record import ENTRIES, check_record
from verivote.crypto.hashing import election_base_hash
from verivote.interop.nist.common import InteropError
from verivote.model.ballots import Ballot
from verivote.model.manifest import Manifest, ManifestError, parse_manifest
from verivote.model.result import Result
from verivote.verify.loader import Board, RecordError, load_board

MIX_DECRYPTION = "mix-decryption"
"""The board entry of a mixnet district's decoded ballots (`verivote.election.mixing`)."""


@dataclass(frozen=True)
class PublishedRound:
    """One round of an election as its record publishes it: the manifest, its base hash (hex),
    the count of every district (issue 2's Result) and each station's count of cast ballots."""

    manifest: Manifest
    base_hash: str
    results: dict[str, Result]
    station_ballots: dict[str, int]


def published_round(
    manifest: Manifest,
    base_hash: str,
    count: Mapping[str, Any],
    station_ballots: Mapping[str, int] | None = None,
) -> PublishedRound:
    """Check a `count` entry against its manifest and return the round it describes."""
    if count.get("election") != base_hash:
        raise InteropError(
            f"the count entry belongs to election {count.get('election')!r}, "
            f"not to this manifest (base hash {base_hash})"
        )
    districts = count.get("districts")
    if not isinstance(districts, Mapping):
        raise InteropError("the count entry has no districts")
    results: dict[str, Result] = {}
    for district in manifest.districts:
        if district.id not in districts:
            raise InteropError(f"the count entry has no result for district {district.id}")
        try:
            result = Result.model_validate(districts[district.id])
        except ValidationError as exc:
            raise InteropError(
                f"the count of district {district.id} is malformed: {exc.errors()[0]['msg']}"
            ) from None
        if not result.rounds:
            raise InteropError(f"the count of district {district.id} has no round")
        codes = {c.code for c in district.candidates}
        unknown = set(result.rounds[0].tally) - codes
        if unknown:
            raise InteropError(
                f"the count of district {district.id} names unknown candidates "
                f"{', '.join(sorted(unknown))}"
            )
        results[district.id] = result
    return PublishedRound(manifest, base_hash, results, dict(station_ballots or {}))


def _board(path: Path) -> tuple[Board, Manifest]:
    """The checked board of a record and its manifest (entry 0)."""
    if not path.is_dir():
        raise InteropError(f"{path} is not a record directory")
    if not (path / ENTRIES).is_file():
        raise InteropError(f"{path} holds no election record ({ENTRIES} is missing)")
    problems = check_record(path)
    if problems:
        raise InteropError(
            f"{path}: the record does not check ({problems[0]}); `verivote verify` says more"
        )
    try:
        board = load_board(path)
    except RecordError as exc:
        raise InteropError(str(exc)) from None
    first = board.docs[0] if board.docs else None
    if first is None or first.get("type") != "manifest":
        raise InteropError(f"{path}: the first entry of the record is not the manifest")
    try:
        return board, parse_manifest(first.get("manifest"), f"{path}: manifest")
    except ManifestError as exc:
        raise InteropError(str(exc)) from None


def load_record_manifest(directory: str | os.PathLike[str]) -> Manifest:
    """The manifest of a published record, once the record's signatures check."""
    return _board(Path(directory))[1]


def load_published_round(directory: str | os.PathLike[str]) -> PublishedRound:
    """Read one published record (the directory `verivote publish` writes)."""
    path = Path(directory)
    board, manifest = _board(path)
    base_hash = election_base_hash(board.entries[0]).hex()
    counts = board.of_type("count")
    if not counts:
        raise InteropError(f"{path}: the record has no count entry (was it published?)")
    stations: dict[str, int] = {}
    for _, doc in board.of_type("polls-close"):
        if doc.get("election") == base_hash and isinstance(doc.get("ballots_cast"), int):
            stations[str(doc.get("station"))] = int(doc["ballots_cast"])
    try:
        return published_round(manifest, base_hash, counts[-1][1], stations)
    except InteropError as exc:
        raise InteropError(f"{path}: {exc}") from None


@dataclass(frozen=True)
class DecodedBallots:
    """A mixnet district's decoded ballots as its record publishes them (issue 16, item 3):
    the rows of the last shuffle, decrypted and decoded, in that (shuffled) order."""

    manifest: Manifest
    district: str
    ballots: list[Ballot]
    undecodable: int
    """Rows that did not decode (null in the entry): ballots with no candidate, void."""


def load_decoded_ballots(
    directory: str | os.PathLike[str], district_id: str | None = None
) -> DecodedBallots:
    """The decoded ballots of a mixnet district (the only one when `district_id` is None) from
    its `mix-decryption` entry in a published record, once the record's signatures check.
    Each ballot holds the codes as decrypted (what the station device encrypted); a row that
    does not decode is a ballot with no mark. `verivote verify` checks the decryption."""
    path = Path(directory)
    board, manifest = _board(path)
    mixed = [d.id for d in manifest.mixnet_districts()]
    if district_id is None:
        if len(mixed) != 1:
            raise InteropError(
                f"{path}: the record has {len(mixed)} mixnet districts: name one with --district"
                + (f" ({', '.join(mixed)})" if mixed else "")
            )
        district_id = mixed[0]
    elif district_id not in mixed:
        known = {d.id for d in manifest.districts}
        raise InteropError(
            f"{path}: district {district_id} is counted homomorphically: no ballot of it is "
            "ever decrypted (give a ballot CSV instead)"
            if district_id in known
            else f"{path}: the manifest has no district {district_id!r}"
        )
    base_hash = election_base_hash(board.entries[0]).hex()
    found = [
        doc
        for _, doc in board.of_type(MIX_DECRYPTION)
        if doc.get("election") == base_hash and doc.get("district") == district_id
    ]
    if not found:
        raise InteropError(
            f"{path}: the record has no mix-decryption entry for district {district_id} "
            "(was the mix decrypted and the record published?)"
        )
    rows = found[0].get("ballots")
    if not isinstance(rows, list):
        raise InteropError(f"{path}: the mix-decryption entry of {district_id} has no ballots")
    ballots: list[Ballot] = []
    undecodable = 0
    for n, row in enumerate(rows, 1):
        if row is None:
            undecodable += 1
            ballots.append(Ballot(()))
        elif isinstance(row, list) and all(isinstance(code, str) for code in row):
            ballots.append(Ballot(tuple(row)))
        else:
            raise InteropError(
                f"{path}: ballot {n} of the mix-decryption entry of {district_id} is not a "
                "list of codes"
            )
    return DecodedBallots(manifest, district_id, ballots, undecodable)
