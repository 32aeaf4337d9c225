"""A shuffle checked with its rows held outside the checking process (`check_held_shuffle`,
issue 17): the same verdict as `check_shuffle` on the same rows, for every way of cutting
them into parts, honest or tampered, with and without a pool."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_shuffle import CONTEXT, Rows, honest
from verivote.crypto.elgamal import Ciphertext, ElectionKey
from verivote.crypto.group import Group
from verivote.crypto.hashing import ItemHasher
from verivote.crypto.shuffle import (
    HeldRows,
    ShuffleProof,
    _add_rows,
    _feed_task,
    _pack_rows,
    check_held_shuffle,
    check_shuffle,
    shuffle_pool,
)


def read_part(group: Group[Any], part: bytes, width: int) -> bytes:
    """A part is its packed rows already (a store in memory)."""
    return part


def held(group: Group[Any], rows: Rows, cuts: list[int]) -> HeldRows:
    """`rows` cut after each index of `cuts`."""
    bounds = [0, *sorted({c for c in cuts if 0 < c < len(rows)}), len(rows)]
    parts = [_pack_rows(group, rows[a:b]) for a, b in itertools.pairwise(bounds)]
    counts = [b - a for a, b in itertools.pairwise(bounds)]
    return HeldRows(read_part, parts, counts, len(rows[0]))


@pytest.fixture(scope="module")
def case() -> tuple[ElectionKey[Any], Rows, Rows, ShuffleProof]:
    ek, rows, outputs, _, proof = honest("ristretto255", 9, 3)
    return ek, rows, outputs, proof


def test_the_feed_of_a_part_is_what_the_whole_hash_reads(
    case: tuple[ElectionKey[Any], Rows, Rows, ShuffleProof],
) -> None:
    ek, rows, _, _ = case
    g = ek.group
    whole = ItemHasher("t")
    _add_rows(whole, g, rows)
    cut = ItemHasher("t")
    cut.open_sequence(len(rows))
    for source in held(g, rows, [2, 5]).sources():
        cut.add_encoded(_feed_task(g, source, 3))
    assert cut.digest() == whole.digest()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cuts=st.lists(st.integers(0, 9), max_size=8))
def test_an_honest_shuffle_verifies_however_it_is_cut(
    case: tuple[ElectionKey[Any], Rows, Rows, ShuffleProof], cuts: list[int]
) -> None:
    ek, rows, outputs, proof = case
    g = ek.group
    assert check_held_shuffle(ek, CONTEXT, held(g, rows, cuts), held(g, outputs, cuts), proof)
    assert not check_held_shuffle(
        ek, CONTEXT + b"!", held(g, rows, cuts), held(g, outputs, cuts), proof
    )


def test_on_a_pool_too(case: tuple[ElectionKey[Any], Rows, Rows, ShuffleProof]) -> None:
    ek, rows, outputs, proof = case
    g = ek.group
    with shuffle_pool(ek, 2) as pool:
        assert check_held_shuffle(
            ek, CONTEXT, held(g, rows, [4]), held(g, outputs, [4]), proof, executor=pool, jobs=2
        )


def _swap(rows: Rows, i: int, j: int) -> Rows:
    out = list(rows)
    out[i], out[j] = out[j], out[i]
    return out


def _reversed_ciphertext(rows: Rows) -> Rows:
    ct = rows[0][0]
    return [(Ciphertext(ct.beta, ct.alpha), *rows[0][1:]), *rows[1:]]


@pytest.mark.parametrize(
    "tamper",
    ["swapped outputs", "changed input", "a row dropped", "counts differ", "a bad element",
     "short part", "s_hat"],
)  # fmt: skip
def test_a_tampered_shuffle_fails_as_it_does_whole(
    case: tuple[ElectionKey[Any], Rows, Rows, ShuffleProof], tamper: str
) -> None:
    ek, rows, outputs, proof = case
    g = ek.group
    cuts = [3, 6]
    ins, outs = held(g, rows, cuts), held(g, outputs, cuts)
    whole: bool | None = None
    if tamper == "swapped outputs":
        outs = held(g, _swap(outputs, 0, 8), cuts)
        whole = check_shuffle(ek, CONTEXT, rows, _swap(outputs, 0, 8), proof)
    elif tamper == "changed input":
        ins = held(g, _reversed_ciphertext(rows), cuts)
        whole = check_shuffle(ek, CONTEXT, _reversed_ciphertext(rows), outputs, proof)
    elif tamper == "a row dropped":
        ins, outs = held(g, rows[:8], cuts), held(g, outputs[:8], cuts)
        whole = check_shuffle(ek, CONTEXT, rows[:8], outputs[:8], proof)
    elif tamper == "counts differ":
        outs = held(g, outputs, [4, 6])
    elif tamper == "a bad element":
        part = bytearray(outs.parts[1])
        part[0:32] = b"\xff" * 32  # no ristretto255 encoding
        outs = dataclasses.replace(outs, parts=[outs.parts[0], bytes(part), outs.parts[2]])
    elif tamper == "short part":
        outs = dataclasses.replace(outs, parts=[outs.parts[0], outs.parts[1][:-64], outs.parts[2]])
    else:
        proof = dataclasses.replace(proof, s_hat=(proof.s_hat[1], proof.s_hat[0], *proof.s_hat[2:]))
        whole = check_shuffle(ek, CONTEXT, rows, outputs, proof)
    assert whole is not True
    assert not check_held_shuffle(ek, CONTEXT, ins, outs, proof)


def test_in_eg4096_too() -> None:
    ek, rows, outputs, _, proof = honest("eg4096", 3, 2)
    g = ek.group
    assert check_held_shuffle(ek, CONTEXT, held(g, rows, [1]), held(g, outputs, [1]), proof)
    swapped = _swap(outputs, 0, 2)
    assert not check_held_shuffle(ek, CONTEXT, held(g, rows, [1]), held(g, swapped, [1]), proof)
