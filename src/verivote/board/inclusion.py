"""A voter's proof in a record with district logs: two inclusion proofs (README, "National
scale (issue 17)", A voter's proof).

1. the entry (a ballot) in its district's log, under the district checkpoint of the first seal
   that covers it (RFC 9162 inclusion proof);
2. that seal, the `district-checkpoint` entry, in the national log under the national
   checkpoint that the witnesses cosign.

`prove_in_district` makes the pair from the logs; `check_in_district` is the voter's check,
which needs only the entry, the two proofs, the two signed notes and the authority's verifier
key (and the witnesses' keys to count their cosignatures, as for any national checkpoint).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from verivote.board.checkpoint import open_checkpoint
from verivote.board.districts import SEAL_TYPE, district_origin, read_seal
from verivote.board.merkle import leaf_hash, verify_inclusion
from verivote.board.note import parse_verifier

__all__ = [
    "DistrictInclusion",
    "Prover",
    "check_in_district",
    "find_seal",
    "prove_in_district",
    "prove_with_seal",
]


class Prover(Protocol):
    """Anything that gives RFC 9162 inclusion proofs of a log: a `MerkleLog`, or a log read
    from stored tiles."""

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]: ...


@dataclass(frozen=True)
class DistrictInclusion:
    """Entry `index` of `district`'s log under the sealed district checkpoint `district_note`
    (of `district_size` entries), and that seal (`seal_entry`, entry `seal_index` of the
    national log) under the national checkpoint `national_note` (of `national_size`)."""

    district: str
    index: int
    entry: bytes
    district_size: int
    district_proof: tuple[bytes, ...]
    district_note: str
    seal_index: int
    seal_entry: bytes
    national_size: int
    national_proof: tuple[bytes, ...]
    national_note: str

    def to_json(self) -> dict[str, Any]:
        """The JSON form: hashes in base64, entries as text."""

        def hashes(proof: Sequence[bytes]) -> list[str]:
            return [base64.b64encode(h).decode("ascii") for h in proof]

        return {
            "district": self.district,
            "index": self.index,
            "entry": self.entry.decode("utf-8"),
            "size": self.district_size,
            "proof": hashes(self.district_proof),
            "checkpoint": self.district_note,
            "seal": {
                "index": self.seal_index,
                "entry": self.seal_entry.decode("utf-8"),
                "size": self.national_size,
                "proof": hashes(self.national_proof),
                "checkpoint": self.national_note,
            },
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> DistrictInclusion:
        """Read the JSON form; raises ValueError if it is not one."""
        try:
            seal = doc["seal"]
            return cls(
                str(doc["district"]),
                _int(doc["index"]),
                str(doc["entry"]).encode("utf-8"),
                _int(doc["size"]),
                _hashes(doc["proof"]),
                str(doc["checkpoint"]),
                _int(seal["index"]),
                str(seal["entry"]).encode("utf-8"),
                _int(seal["size"]),
                _hashes(seal["proof"]),
                str(seal["checkpoint"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a district inclusion proof ({exc!r})") from None


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{value!r} is not an integer")
    return value


def _hashes(values: Any) -> tuple[bytes, ...]:
    if not isinstance(values, list):
        raise ValueError("a proof is a list of base64 hashes")
    try:
        return tuple(base64.b64decode(v, validate=True) for v in values)
    except (TypeError, ValueError):
        raise ValueError("a proof hash is not base64") from None


def find_seal(
    national: Sequence[bytes], district: str, index: int, size: int
) -> tuple[int, bytes, int] | None:
    """(national index, entry, sealed size) of the first seal of `district` among the first
    `size` national entries that covers entry `index` of the district's log; None if none."""
    for at in range(min(size, len(national))):
        raw = national[at]
        if b'"district-checkpoint"' not in raw:  # a cheap filter before parsing
            continue
        doc = json.loads(raw)
        if doc.get("type") != SEAL_TYPE or doc.get("district") != district:
            continue
        sealed = read_seal(doc).checkpoint.size
        if sealed > index:
            return at, raw, sealed
    return None


def prove_with_seal(
    seal: tuple[int, bytes],
    national: Prover,
    national_note: str,
    district_log: Prover,
    entry: bytes,
    index: int,
) -> DistrictInclusion:
    """The two proofs of entry `index` of a district's log, given the seal that covers it
    ((national index, entry), e.g. from the store's index of entry types or `find_seal`) and
    the national checkpoint `national_note` that includes the seal."""
    at, raw = seal
    sealed = read_seal(json.loads(raw))
    size = _note_size(national_note)
    if not (at < size and index < sealed.checkpoint.size):
        raise ValueError(f"the seal at {at} does not cover entry {index} within {size} entries")
    return DistrictInclusion(
        sealed.district,
        index,
        entry,
        sealed.checkpoint.size,
        tuple(district_log.inclusion_proof(index, sealed.checkpoint.size)),
        sealed.note,
        at,
        raw,
        size,
        tuple(national.inclusion_proof(at, size)),
        national_note,
    )


def prove_in_district(
    national: Sequence[bytes],
    national_log: Prover,
    national_note: str,
    district: str,
    district_log: Prover,
    entry: bytes,
    index: int,
) -> DistrictInclusion:
    """The two proofs of entry `index` of `district`'s log (its proofs from `district_log`),
    under the national checkpoint `national_note` of the first `size` entries of `national`
    (its proofs from `national_log`). Raises ValueError if no seal within that size covers it."""
    size = _note_size(national_note)
    found = find_seal(national, district, index, size)
    if found is None:
        raise ValueError(
            f"entry {index} of {district} is not sealed in the national checkpoint of {size}"
            " entries: seal the district and sign the national log, then ask again"
        )
    at, raw, _ = found
    return prove_with_seal((at, raw), national_log, national_note, district_log, entry, index)


def _note_size(note: str) -> int:
    lines = note.split("\n")
    if len(lines) < 2 or not lines[1].isdecimal():
        raise ValueError("the national checkpoint is not a checkpoint note")
    return int(lines[1])


def check_in_district(proof: DistrictInclusion, authority: str) -> bool:
    """A voter's check: the national checkpoint is signed by the authority (`authority`, its
    verifier key; the origin is its key name), the seal is in it, the seal is a
    `district-checkpoint` of the proof's district holding exactly `district_note`, signed by
    the authority with the district's origin, and the entry is in that district checkpoint."""
    try:
        origin = parse_verifier(authority).name
        national, _ = open_checkpoint(proof.national_note, [authority])
        if national.origin != origin or national.size != proof.national_size:
            return False
        if not verify_inclusion(
            leaf_hash(proof.seal_entry),
            proof.seal_index,
            proof.national_size,
            list(proof.national_proof),
            national.root,
        ):
            return False
        seal = read_seal(json.loads(proof.seal_entry))
        if seal.district != proof.district or seal.note != proof.district_note:
            return False
        sealed, _ = open_checkpoint(proof.district_note, [authority])
        if sealed.origin != district_origin(origin, proof.district):
            return False
        return sealed.size == proof.district_size and verify_inclusion(
            leaf_hash(proof.entry),
            proof.index,
            proof.district_size,
            list(proof.district_proof),
            sealed.root,
        )
    except (ValueError, TypeError, AttributeError):
        return False
