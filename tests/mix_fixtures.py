"""Test data of the mix path (issue 16) built by hand until the written-ballot flow lands:
a manifest with a mixnet district (more than 30 candidates), its written ballots encrypted as
rows of ElGamal ciphertexts of `encode_codes` elements, and the `mix-input` entry the tally
publishes for them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tests.manifests import small_manifest_data
from verivote.crypto.elgamal import Ciphertext, ElectionKey, encrypt_element
from verivote.crypto.encoding import elements_needed, encode_codes
from verivote.crypto.rows import rows_to_json
from verivote.election.service import ElectionContext
from verivote.store import Store

MIXED = "tehran"
"""The mixnet district: 35 candidates (codes 3001…3035), 4 seats."""
SEATS = 4
CODES = [str(3001 + i) for i in range(35)]
MIXERS = ["principlists", "reformists", "independents"]
"""The test manifest's factions: every one mixes, in this order (the default)."""


def mix_manifest_data() -> dict[str, Any]:
    """`small_manifest_data` with a third district, counted on the mix path by the default
    rule (more than 30 candidates)."""
    data = small_manifest_data()
    data["districts"].append(
        {
            "id": MIXED,
            "name": "Tehran, Rey, Shemiranat, Eslamshahr and Pardis",
            "seats": SEATS,
            "province": "Tehran",
            "candidates": [
                {"code": c, "name": f"Candidate {c}", "faction": MIXERS[i % 3]}
                for i, c in enumerate(CODES)
            ],
        }
    )
    data["stations"].append({"id": "tehran-001", "name": "School 9", "district": MIXED})
    return data


def width(group_name: str = "ristretto255") -> int:
    from verivote.crypto.groups import get_group

    return elements_needed(get_group(group_name), SEATS, 4)


def written_rows(
    ek: ElectionKey[Any], ballots: Sequence[Sequence[str]], w: int
) -> list[tuple[Ciphertext[Any], ...]]:
    """Each written ballot as a row of w ciphertexts of its encoded elements."""
    g = ek.group
    return [
        tuple(encrypt_element(ek, e, g.random_scalar()) for e in encode_codes(g, codes, w))
        for codes in ballots
    ]


def mix_input_doc(
    ctx: ElectionContext, ballots: Sequence[Sequence[str]], cutoff: int = 0
) -> dict[str, Any]:
    """The mix-input entry of the mixnet district for these written ballots."""
    assert ctx.key is not None
    w = width(ctx.key.group.name)
    return {
        "type": "mix-input",
        "election": ctx.base_hash.hex(),
        "district": MIXED,
        "cutoff": cutoff,
        "width": w,
        "rows": rows_to_json(ctx.key.group, written_rows(ctx.key, ballots, w)),
    }


def publish_mix_input(store: Store, ctx: ElectionContext, ballots: Sequence[Sequence[str]]) -> int:
    from verivote.model.canonical import canonical_json

    cutoff = store.entry_count(ctx.election_id)
    doc = mix_input_doc(ctx, ballots, cutoff)
    return store.append_entry(ctx.election_id, canonical_json(doc), "mix-input")


BALLOTS: list[list[str]] = [
    ["3001", "3002", "3003", "3004"],
    ["3001", "3002"],
    ["3001", "3001", "3005"],  # a repeat counts once
    ["3001", "9999", "3006"],  # a stranger is ignored
    ["3002", "3003", "3004", "3005", "3006", "3007"],  # more than 4 names: the first 4
    [],  # blank: void
    ["9998"],  # only a stranger: void
]
"""Seven written ballots of the mixnet district, with the law's cases."""
