"""The authority's side of the district logs (README, "National scale (issue 17)"): sealing
each district's log into the national log, the sealed sizes of a record, and a voter's two
proofs.

- `seal_districts` signs, for every district whose log grew since its last seal, a checkpoint
  of that log (origin "verivote/<election>/<district>", the authority's key) and appends its
  `district-checkpoint` entry to the national log (`Store.seal`: one transaction per
  district). `board checkpoint` seals before it signs the national log, and the tally before
  it reads its cutoff, so the tally follows every ballot it counts.
- `last_seals` gives, for a national log up to a checkpoint, each district's size at its
  last seal in it and that seal's note: the `districts/` of the record.
- `prove_ballot` gives a district ballot's two inclusion proofs (`board.inclusion`).
"""

from __future__ import annotations

import json
from pathlib import Path

from verivote.board.checkpoint import Checkpoint, sign_checkpoint
from verivote.board.districts import SEAL_TYPE, district_origin, read_seal, seal_entry
from verivote.board.inclusion import DistrictInclusion, prove_with_seal
from verivote.board.note import verifier_from_signer
from verivote.crypto.keyfile import read_private
from verivote.election.service import ElectionContext, ElectionError
from verivote.store import Store

AUTHORITY_FILE = "authority.key"


def authority_signer(keys_dir: Path) -> str:
    """The authority's note signer key from the keys folder; ElectionError if unreadable."""
    path = keys_dir / AUTHORITY_FILE
    if not path.is_file():
        raise ElectionError(f"missing key file {path}")
    try:
        signer = read_private(path).strip()
        verifier_from_signer(signer)
    except ValueError as exc:
        raise ElectionError(f"{path}: {exc}") from None
    return signer


def seal_districts(store: Store, ctx: ElectionContext, signer: str) -> dict[str, int]:
    """Seal every district log with entries not yet sealed; returns each sealed district's
    new sealed size."""
    election = ctx.base_hash.hex()
    national_origin = f"verivote/{ctx.election_id}"
    done: dict[str, int] = {}
    for district in sorted(store.unsealed(ctx.election_id)):

        def make(size: int, root: bytes, district: str = district) -> tuple[bytes, str]:
            checkpoint = Checkpoint(district_origin(national_origin, district), size, root)
            note = sign_checkpoint(checkpoint, [signer])
            return seal_entry(election, district, note), note

        sealed = store.seal(ctx.election_id, district, make)
        if sealed is not None:
            done[district] = sealed[0]
    return done


def last_seals(store: Store, election_id: str, size: int) -> dict[str, tuple[int, str]]:
    """Each district sealed within the first `size` national entries: the sealed size and
    signed note of its last seal there. ValueError for a seal that cannot be read."""
    last: dict[str, tuple[int, str]] = {}
    for _, raw in store.entries_of_type(election_id, SEAL_TYPE, end=size):
        seal = read_seal(json.loads(raw))
        last[seal.district] = (seal.checkpoint.size, seal.note)
    return dict(sorted(last.items()))


class _StoredLog:
    """A log's inclusion proofs from the store's tiles (`board.inclusion.Prover`)."""

    def __init__(self, store: Store, election_id: str, log: str) -> None:
        self._store, self._id, self._log = store, election_id, log

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return self._store.inclusion_proof(self._id, index, size, self._log)


def prove_ballot(
    store: Store, election_id: str, district: str, index: int, national: tuple[int, str]
) -> DistrictInclusion:
    """Entry `index` of `district`'s log under the seal that first covered it, and that seal
    under the national checkpoint `national` (size, note). ElectionError if the entry is not
    yet sealed within that checkpoint."""
    run = store.sealing_of(election_id, district, index)
    size, note = national
    if run is None or run.seal_idx is None or run.seal_idx >= size:
        raise ElectionError(
            "the ballot is on the board but not yet in a signed checkpoint; "
            "run `verivote board checkpoint` and ask again"
        )
    seal_raw = store.entries(election_id, run.seal_idx, run.seal_idx + 1)[0]
    entry = store.entries(election_id, index, index + 1, log=district)[0]
    return prove_with_seal(
        (run.seal_idx, seal_raw),
        _StoredLog(store, election_id, ""),
        note,
        _StoredLog(store, election_id, district),
        entry,
        index,
    )
