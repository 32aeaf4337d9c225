"""A single-log board split into a national log and a log per district, every district sealed
(README, "National scale (issue 17)": Logs, District checkpoints, Order).

`split_board` takes the board as the store holds it today (one sequence of entries) and
returns the logs of the record: each district entry routed to its district's log
(`verivote.board.districts.route`), and a `district-checkpoint` seal in the national log each
time a run of one district's entries ends (before the next entry of another log, and at the
end). Sealing at each change of log, rather than once before the next national entry, keeps
the merged order (`verivote.board.order`) exactly the single log's order, so every board
position the record states (a tally's cutoff, the lot's board size and root) keeps its meaning.

`cuts` are single-log sizes at which every open run is sealed as well: the sizes of earlier
checkpoints. With them the national log of a prefix of the board is a prefix of the national
log of the whole board, so national checkpoints made from successive splits extend one
another (a witness cosigns them; `verify --since` accepts them).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from verivote.board.checkpoint import Checkpoint, sign_checkpoint
from verivote.board.districts import (
    NATIONAL,
    SEAL_TYPE,
    district_origin,
    read_seal,
    route,
    seal_entry,
    station_districts,
)
from verivote.board.merkle import MerkleLog, leaf_hash
from verivote.board.note import parse_verifier, verifier_from_signer
from verivote.board.order import merge_order
from verivote.crypto.hashing import election_base_hash

__all__ = ["Logs", "merge_logs", "split_board"]


@dataclass
class Logs:
    """A record's logs: the national log's entries (seals included), each district's entries,
    and each district's checkpoint (the signed note over its whole log, which is also the note
    of its last seal)."""

    national: list[bytes] = field(default_factory=list)
    districts: dict[str, list[bytes]] = field(default_factory=dict)
    checkpoints: dict[str, str] = field(default_factory=dict)


class _Sealer:
    def __init__(self, signer_key: str, election: str, logs: Logs) -> None:
        self._signer = signer_key
        self._origin = parse_verifier(verifier_from_signer(signer_key)).name
        self._election = election
        self._logs = logs
        self._trees: dict[str, MerkleLog] = {}

    def append(self, district: str, entry: bytes) -> None:
        self._logs.districts.setdefault(district, []).append(entry)
        self._trees.setdefault(district, MerkleLog()).append(leaf_hash(entry))

    def seal(self, district: str) -> None:
        tree = self._trees[district]
        checkpoint = Checkpoint(district_origin(self._origin, district), tree.size, tree.root())
        note = sign_checkpoint(checkpoint, [self._signer])
        self._logs.national.append(seal_entry(self._election, district, note))
        self._logs.checkpoints[district] = note


def split_board(entries: Sequence[bytes], signer_key: str, cuts: Iterable[int] = ()) -> Logs:
    """The logs of the single-log board `entries` (entry 0 the manifest), district runs sealed
    with the authority's `signer_key` at each change of log, at each size in `cuts` and at the
    end. Raises ValueError for an entry that is not a JSON object, a district entry whose
    district cannot be told, or a board that already holds seals."""
    logs = Logs()
    if not entries:
        return logs
    stations = station_districts(entries[0])
    sealer = _Sealer(signer_key, election_base_hash(entries[0]).hex(), logs)
    at_cut = set(cuts)
    open_run: str | None = None
    for index, entry in enumerate(entries):
        if index in at_cut and open_run is not None:
            sealer.seal(open_run)
            open_run = None
        try:
            doc = json.loads(entry)
        except ValueError:
            raise ValueError(f"entry {index} is not JSON") from None
        if not isinstance(doc, dict):
            raise ValueError(f"entry {index} is not a JSON object")
        if doc.get("type") == SEAL_TYPE:
            raise ValueError(f"entry {index} is already a {SEAL_TYPE}: the board is split")
        try:
            log = route(doc, stations)
        except ValueError as exc:
            raise ValueError(f"entry {index}: {exc}") from None
        if open_run is not None and log != open_run:
            sealer.seal(open_run)
            open_run = None
        if log == NATIONAL:
            logs.national.append(entry)
        else:
            sealer.append(log, entry)
            open_run = log
    if open_run is not None:
        sealer.seal(open_run)
    return logs


def merge_logs(national: Sequence[bytes], districts: dict[str, Sequence[bytes]]) -> list[bytes]:
    """The entries of the logs in the merged order (seals left out): for the logs of
    `split_board`, the board it split. Raises ValueError for a seal that cannot be read."""
    seals: dict[int, tuple[str, int] | None] = {}
    for index, entry in enumerate(national):
        doc = json.loads(entry)
        if isinstance(doc, dict) and doc.get("type") == SEAL_TYPE:
            seal = read_seal(doc)
            seals[index] = (seal.district, seal.checkpoint.size)
    order = merge_order(len(national), seals, {d: len(e) for d, e in districts.items()})
    return [national[i] if log == NATIONAL else districts[log][i] for log, i in order]
