"""The public lot: a draw anyone can recompute from the seed, contest and names."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verivote.rules.lot import draw, lot_digest, parse_seed


def test_digest_is_sha256_of_seed_and_length_prefixed_contest_and_candidate() -> None:
    seed = bytes.fromhex("ab" * 32)
    expected = hashlib.sha256(
        seed + b"\x00\x00\x00\x06" + b"Tehran" + b"\x00\x00\x00\x03" + b"Ali"
    ).hexdigest()
    assert lot_digest(seed, "Tehran", "Ali").hex() == expected


def test_persian_names_hash_as_utf8() -> None:
    name = "علی"
    raw = name.encode("utf-8")
    expected = hashlib.sha256(b"s" + b"\x00\x00\x00\x01c" + len(raw).to_bytes(4, "big") + raw)
    assert lot_digest(b"s", "c", name) == expected.digest()


def test_length_prefixes_keep_contest_and_candidate_apart() -> None:
    assert lot_digest(b"", "ab", "c") != lot_digest(b"", "a", "bc")


def test_draw_orders_by_digest_and_records_everything_needed_to_rerun_it() -> None:
    lot = draw(b"\x01", "Tabriz", ["X", "Y", "Z"], "elect", 1)
    assert lot.order == sorted(lot.tied, key=lambda n: lot.digests[n])
    assert lot.seed == "01"
    assert lot.contest == "Tabriz"
    assert all(lot.digests[n] == lot_digest(b"\x01", "Tabriz", n).hex() for n in lot.tied)


@given(st.lists(st.text(min_size=1), min_size=2, max_size=8, unique=True), st.binary(max_size=32))
def test_the_draw_does_not_depend_on_the_order_of_the_tied(names: list[str], seed: bytes) -> None:
    a = draw(seed, "c", names, "elect", 1).order
    b = draw(seed, "c", list(reversed(names)), "elect", 1).order
    assert a == b


def test_seeds_are_hex_and_bad_ones_are_refused() -> None:
    assert parse_seed("0x00ff") == b"\x00\xff"
    with pytest.raises(ValueError, match="not hexadecimal"):
        parse_seed("xyz")
    with pytest.raises(ValueError, match="empty"):
        parse_seed("  ")
