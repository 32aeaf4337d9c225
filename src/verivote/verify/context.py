"""What the later checks know once the manifest and the ceremony have been checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from verivote.crypto.ceremony import CeremonyTranscript
from verivote.crypto.elgamal import ElectionKey
from verivote.crypto.group import Group
from verivote.model.manifest import Manifest

Layout = dict[str, tuple[str, ...]]
"""Each district's candidate codes in the manifest's order: the order of a ballot's
selections and of a tally's ciphertexts."""

BLANK = "blank"
"""The label of the blank flag among a district's tally ciphertexts and partial decryptions."""


@dataclass(frozen=True)
class Election:
    """The election the record is of: its manifest (entry 0), base hash and group."""

    manifest: Manifest
    base_hash: bytes
    group: Group[Any]

    @property
    def layout(self) -> Layout:
        return {d.id: tuple(c.code for c in d.candidates) for d in self.manifest.districts}

    @property
    def homomorphic_layout(self) -> Layout:
        """The layout of the districts counted by the homomorphic tally (the others are on
        the mix path, `verivote.verify.check_mix`)."""
        mixed = set(mixnet_districts(self.manifest))
        return {d: codes for d, codes in self.layout.items() if d not in mixed}


@dataclass(frozen=True)
class Keys:
    """The checked ceremony transcript and the joint election key it gives."""

    transcript: CeremonyTranscript
    key: ElectionKey[Any]


# --- the manifest's mix settings (issue 16) -----------------------------------------------------
# TODO(merge "written"): District.counted_by, Manifest.mixers() and Manifest.mix_quorum() come
# with the written branch; until then these read them if present and otherwise apply the plan's
# default rules (mixnet above 30 candidates, every faction mixes, every mixer is needed). The
# verifier's own copy: it does not import the election package.
_MIXNET_ABOVE = 30


def mixnet_districts(manifest: Manifest) -> list[str]:
    """The ids of the districts counted on the mix path, in manifest order."""
    out = []
    for d in manifest.districts:
        mode = getattr(d, "counted_by", None)
        if not isinstance(mode, str):
            mode = "mixnet" if len(d.candidates) > _MIXNET_ABOVE else "homomorphic"
        if mode == "mixnet":
            out.append(d.id)
    return out


def mixers_of(manifest: Manifest) -> list[str]:
    """The factions that mix, in mixing order."""
    found = getattr(manifest, "mixers", None)
    if callable(found):
        return [str(m) for m in found()]
    return [f.id for f in manifest.factions]


def mix_quorum_of(manifest: Manifest) -> int:
    """How many distinct mixers each district with ballots needs."""
    found = getattr(manifest, "mix_quorum", None)
    if callable(found):
        return int(found())
    return len(mixers_of(manifest))
