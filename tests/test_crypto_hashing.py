"""The one hash function: domain separation, injective encoding, wide reduction."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verivote.crypto.hashing import ItemHasher, challenge, encode_items, hash_items

items = st.recursive(
    st.binary(max_size=8) | st.text(max_size=4) | st.integers(min_value=0, max_value=2**80),
    lambda children: st.lists(children, max_size=3),
    max_leaves=6,
)


def test_known_answer_of_the_encoding_and_hash() -> None:
    # tag "x", items b"a" and ["b", 3]: every byte of the encoding written out.
    expected = (
        b"\x02" + (12).to_bytes(8, "big") + b"verivote/1/x"
        + b"\x01" + (1).to_bytes(8, "big") + b"a"
        + b"\x04" + (2).to_bytes(8, "big")
        + b"\x02" + (1).to_bytes(8, "big") + b"b"
        + b"\x03" + (1).to_bytes(8, "big") + b"\x03"
    )  # fmt: skip
    assert encode_items("x", [b"a", ["b", 3]]) == expected
    assert hash_items("x", b"a", ["b", 3]) == hashlib.sha256(expected).digest()
    assert hash_items("x", b"a", ["b", 3]).hex() == (
        "d05a3cdde73fd059e4fae820cbffe23821caea54d482a6a77214c08ddf60154c"
    )


@given(st.lists(items, max_size=4), st.lists(items, max_size=4))
def test_different_item_lists_never_encode_alike(a: list, b: list) -> None:  # type: ignore[type-arg]
    if a != b:
        assert encode_items("t", a) != encode_items("t", b)


def test_concatenation_and_type_ambiguities_are_kept_apart() -> None:
    assert hash_items("t", b"ab", b"c") != hash_items("t", b"a", b"bc")
    assert hash_items("t", "a") != hash_items("t", b"a")
    assert hash_items("t", 0) != hash_items("t", b"")
    assert hash_items("t", [b"a"]) != hash_items("t", b"a")
    assert hash_items("a", b"x") != hash_items("b", b"x")


def test_challenge_is_a_wide_reduction_of_sha512() -> None:
    q = 2**252 + 27742317777372353535851937790883648493
    digest = hashlib.sha512(encode_items("c", [b"x"])).digest()
    assert challenge(q, "c", b"x") == int.from_bytes(digest, "big") % q


def test_unhashable_items_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        hash_items("t", -1)
    with pytest.raises(TypeError):
        hash_items("t", True)
    with pytest.raises(TypeError):
        hash_items("t", 1.5)  # type: ignore[arg-type]


_ITEMS = st.recursive(
    st.binary(max_size=40) | st.text(max_size=10) | st.integers(min_value=0, max_value=2**300),
    lambda inner: st.lists(inner, max_size=4),
    max_leaves=20,
)


@given(st.lists(_ITEMS, max_size=5), st.lists(_ITEMS, max_size=5))
def test_the_incremental_hasher_equals_hash_items(head: list[Any], tail: list[Any]) -> None:
    """A statement fed piece by piece (a sequence opened by its count, then its items) hashes
    exactly as the whole list of items does."""
    hasher = ItemHasher("incremental")
    for item in head:
        hasher.add(item)
    hasher.open_sequence(len(tail))
    for item in tail:
        hasher.add(item)
    assert hasher.digest() == hash_items("incremental", *head, tail)
