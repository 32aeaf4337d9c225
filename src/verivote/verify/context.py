"""What the later checks know once the manifest and the ceremony have been checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from verivote.crypto.ceremony import CeremonyTranscript
from verivote.crypto.elgamal import ElectionKey
from verivote.crypto.group import Group
from verivote.crypto.written import written_width
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
        """The districts counted homomorphically (those of the tally entry, issue 16)."""
        return homomorphic_layout(self.manifest)

    @property
    def widths(self) -> dict[str, int]:
        """Each mixnet district's written-ballot width, in manifest order (issue 16)."""
        return {d.id: written_width(self.group, d) for d in self.manifest.mixnet_districts()}


def homomorphic_layout(manifest: Manifest) -> Layout:
    """Each homomorphic district's candidate codes, in the manifest's order."""
    return {
        d.id: tuple(c.code for c in d.candidates)
        for d in manifest.districts
        if d.counted_by == "homomorphic"
    }


@dataclass(frozen=True)
class Keys:
    """The checked ceremony transcript and the joint election key it gives."""

    transcript: CeremonyTranscript
    key: ElectionKey[Any]


# --- the manifest's mix settings (issue 16) -----------------------------------------------------


def mixnet_districts(manifest: Manifest) -> list[str]:
    """The ids of the districts counted on the mix path, in manifest order."""
    return [d.id for d in manifest.mixnet_districts()]
