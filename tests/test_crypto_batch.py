"""Checking many selections from their wire form, one by one or in a batch: the verdict is
the same, and one bad item among many is always found."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.crypto_helpers import keypair
from verivote.crypto import wire
from verivote.crypto.batch import EncodedSelection, verify_many, verify_one
from verivote.crypto.elgamal import encrypt
from verivote.crypto.parallel import verify_selections
from verivote.crypto.proofs import prove_range

GROUPS = [
    pytest.param("ristretto255", id="ristretto255"),
    pytest.param("eg4096", id="eg4096", marks=pytest.mark.slow),
]


def selections(name: str, count: int) -> tuple[Any, list[EncodedSelection]]:
    group, _, ek = keypair(name)
    items: list[EncodedSelection] = []
    for i in range(count):
        m = i % 2
        r = group.random_scalar()
        ct = encrypt(ek, m, r)
        ctx = ["election", "contest", i]
        proof = prove_range(ek, ct, m, r, 1, ctx)
        items.append(
            (wire.ciphertext_to_json(group, ct), wire.range_proof_to_json(group, proof), ctx)
        )
    return ek, items


def other_hex(group: Any, text: str) -> str:
    e = wire.element_from_hex(group, text)
    return wire.element_hex(group, group.mul(e, group.generator()))


def tamper(group: Any, item: EncodedSelection, how: str) -> EncodedSelection:
    ct, proof, ctx = copy.deepcopy(item[0]), copy.deepcopy(item[1]), list(item[2])
    if how == "alpha":
        ct["alpha"] = other_hex(group, ct["alpha"])
    elif how == "beta-not-a-member":
        # p − 1 in eg4096 (order 2); 32 bytes of 0xff (not canonical) in ristretto255
        if group.name == "ristretto255":
            ct["beta"] = "ff" * group.element_bytes
        else:
            ct["beta"] = _p_minus_one(group)
    elif how == "challenge":
        c = wire.scalar_from_hex(group, proof["challenges"][0])
        proof["challenges"][0] = wire.scalar_hex(group, (c + 1) % group.q)
    elif how == "response":
        v = wire.scalar_from_hex(group, proof["responses"][1])
        proof["responses"][1] = wire.scalar_hex(group, (v + 1) % group.q)
    elif how == "commitment":
        proof["commitments"][1][0] = other_hex(group, proof["commitments"][1][0])
    elif how == "context":
        ctx[-1] = 10_000
    elif how == "malformed":
        del proof["responses"]
    return ct, proof, ctx


def _p_minus_one(group: Any) -> str:
    from verivote.crypto.groups.eg4096 import P

    return int(P - 1).to_bytes(group.element_bytes, "big").hex()


HOW = ["alpha", "beta-not-a-member", "challenge", "response", "commitment", "context", "malformed"]


@pytest.mark.parametrize("name", GROUPS)
def test_honest_selections_pass_one_by_one_in_a_batch_and_on_all_cores(name: str) -> None:
    ek, items = selections(name, 12)
    assert all(verify_one(ek, item) for item in items)
    assert verify_many(ek, items) == [True] * 12
    assert verify_selections(ek, items, processes=2) == [True] * 12


@pytest.mark.parametrize("name", GROUPS)
@pytest.mark.parametrize("how", HOW)
def test_one_bad_selection_among_many_is_found(name: str, how: str) -> None:
    ek, items = selections(name, 6)
    bad = 3
    items[bad] = tamper(ek.group, items[bad], how)
    expected = [i != bad for i in range(6)]
    assert not verify_one(ek, items[bad])
    assert verify_many(ek, items) == expected
