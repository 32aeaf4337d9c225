"""Written ballots as group elements (issue 16, item 1): `verivote.crypto.encoding`."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verivote.crypto.encoding import (
    BallotTooLong,
    EncodingError,
    _ristretto_embed,
    ballot_integer,
    chunk_bits,
    codes_of_integer,
    decode_codes,
    elements_needed,
    encode_codes,
    ristretto_tries,
)
from verivote.crypto.groups import get_group

R = get_group("ristretto255")
EG = get_group("eg4096")
TEHRAN = [f"{i:04d}" for i in range(1000, 1030)]

codes_st = st.from_regex(r"[0-9]{1,8}", fullmatch=True)
ballots_st = st.lists(codes_st, max_size=30)
short_ballots_st = st.lists(st.from_regex(r"[0-9]{1,4}", fullmatch=True), max_size=30)


def _hex(group: Any, elements: list[Any]) -> list[str]:
    return [group.encode(e).hex() for e in elements]


# --- known answers --------------------------------------------------------------------------------
def test_ballot_integer_known_answers() -> None:
    assert ballot_integer([]) == 0
    assert ballot_integer(["0"]) == 8  # L = idx("0") + 1 = 1, D = 1
    assert ballot_integer(["9"]) == 80
    assert ballot_integer(["00"]) == ((10 + 0 + 1) << 3) | 1  # D = 2, idx("00") = 10
    assert ballot_integer(["0", "0"]) == ((1 * 10 + 1) << 3)  # bijective base 10: "11"
    assert ballot_integer(["7", "007"]) != ballot_integer(["007", "7"])
    for x in (0, 8, 80, 89, 97):
        assert ballot_integer(codes_of_integer(x)) == x


RISTRETTO_KAT = [
    ([], ["00" * 32, "00" * 32]),
    (["0"], ["0010" + "00" * 30, "00" * 32]),
    (
        ["007", "7", "1234", "1234"],
        ["02f6e23421c33209" + "00" * 24, "00" * 32],
    ),
    (
        TEHRAN,
        [
            "06e6ffd385d102a8f14edc3c659406f15f592dad4954e358b43a37d73bead429",
            "0462aad8fe2b6848fd3a72391267ad301e1d8989dd0000000000000000000000",
        ],
    ),
]

EG4096_KAT = [  # SHA-256 of the 17 elements' 512-byte encodings, concatenated
    ([], "e4635d9dd59a9bfe4c8f5aa399162fb9eda3b5e8298a2ed803c8c351c5ee36de"),
    (["0"], "768442932ef489771fb5a103eb2031c4855e492b97510243c7e560d4020c264b"),
    (
        ["007", "7", "1234", "1234"],
        "6a0ebd1547e01b84c5fc27c104fe78bda52375c4634ef2daebab6588cf58db53",
    ),
    (TEHRAN, "47eee8d948fe89b7e9a5836e1d822db241d52b41a6a856bcd0582e8456470470"),
]


@pytest.mark.parametrize(("codes", "expected"), RISTRETTO_KAT)
def test_ristretto_known_answers(codes: list[str], expected: list[str]) -> None:
    elements = encode_codes(R, codes, 2)
    assert _hex(R, elements) == expected
    assert decode_codes(R, [R.decode(bytes.fromhex(h)) for h in expected]) == codes


@pytest.mark.parametrize(("codes", "expected"), EG4096_KAT)
def test_eg4096_known_answers(codes: list[str], expected: str) -> None:
    elements = encode_codes(EG, codes, 17)
    digest = hashlib.sha256(b"".join(EG.encode(e) for e in elements)).hexdigest()
    assert digest == expected
    assert decode_codes(EG, elements) == codes


def test_eg4096_is_the_exponential_map() -> None:
    assert encode_codes(EG, ["0"], 1) == [EG.pow_g(8)]
    assert encode_codes(EG, ["9", "0"], 2) == [EG.pow_g((10 * 10 + 1) << 3), EG.identity()]


# --- every code, both groups ----------------------------------------------------------------------
def test_every_code_up_to_9999_round_trips_on_ristretto255() -> None:
    for i in range(10_000):
        for code in {str(i), f"{i:04d}"}:
            assert decode_codes(R, encode_codes(R, [code], 1)) == [code]


def test_every_code_of_four_digits_round_trips_on_ristretto255_in_one_list() -> None:
    codes = [f"{i:04d}" for i in range(10_000)]
    for start in range(0, 10_000, 30):
        ballot = codes[start : start + 30]
        assert decode_codes(R, encode_codes(R, ballot, 2)) == ballot


def test_a_sample_of_codes_round_trips_on_eg4096() -> None:
    sample = ["0", "9", "00", "99", "000", "999", "0000", "9999", "00000000", "99999999"]
    sample += [str(secrets.randbelow(10**k)).zfill(k) for k in range(1, 9) for _ in range(5)]
    for code in sample:
        width = elements_needed(EG, 1)
        assert decode_codes(EG, encode_codes(EG, [code], width)) == [code]


# --- widths: Tehran -------------------------------------------------------------------------------
def test_tehran_fits_in_two_ristretto255_elements() -> None:
    """Issue 16: "A Tehran ballot is at most 2 ciphertexts" (30 of 3,545 codes, 4 digits)."""
    assert chunk_bits(R) == 245
    assert elements_needed(R, 30, 4) == 2
    worst = ["9999"] * 30
    assert ballot_integer(worst).bit_length() <= 2 * 245
    assert decode_codes(R, encode_codes(R, worst, 2)) == worst
    # codes of up to 8 digits: 4 elements, and no encoding at all does it in 3 ristretto255
    # elements (fewer than 2^253 of them each), since there are more such ballots than that
    assert elements_needed(R, 30, 8) == 4
    assert (111_111_110**30).bit_length() > 3 * 253
    worst8 = ["99999999"] * 30
    assert decode_codes(R, encode_codes(R, worst8, 4)) == worst8


def test_tehran_on_eg4096_needs_the_exponential_map_widths() -> None:
    """eg4096 is not a safe-prime group, so 24 bits per element (see the module docstring):
    17 elements for Tehran with 4-digit codes, 34 with 8-digit codes."""
    p, q = EG.p, EG.q  # type: ignore[attr-defined]
    assert (p - 1) % (2 * q) == 0
    assert (p - 1) // (2 * q) > 2**3000  # not p = 2q + 1
    assert chunk_bits(EG) == 24
    assert elements_needed(EG, 30, 4) == 17
    assert elements_needed(EG, 30, 8) == 34
    worst = ["9999"] * 30
    assert decode_codes(EG, encode_codes(EG, worst, 17)) == worst


def test_elements_needed_is_tight() -> None:
    for group in (R, EG):
        for codes_max in (0, 1, 2, 5, 30):
            for digits in (1, 4, 8):
                width = elements_needed(group, codes_max, digits)
                worst = ["9" * digits] * codes_max
                assert len(encode_codes(group, worst, width)) == width
                if width > 1:
                    with pytest.raises(BallotTooLong):
                        encode_codes(group, worst, width - 1)


# --- try-and-increment on ristretto255 ------------------------------------------------------------
def test_ristretto255_acceptance_rate_and_tries() -> None:
    """About 1 candidate in 4 is a canonical ristretto255 encoding: 4 tries expected."""
    n = 4_000
    tries = [ristretto_tries(secrets.randbits(245)) for _ in range(n)]
    mean = sum(tries) / n
    assert 3.6 < mean < 4.4, mean  # geometric with p ≈ 1/4: mean 4, sd of the mean ≈ 0.055
    assert n / sum(tries) == pytest.approx(0.25, abs=0.025)


def test_encoding_is_deterministic() -> None:
    ballot = ["12", "0012", "12", "99999999"]
    assert encode_codes(R, ballot, 3) == encode_codes(R, list(ballot), 3)
    assert encode_codes(EG, ballot, 10) == encode_codes(EG, tuple(ballot), 10)


# --- properties -----------------------------------------------------------------------------------
@settings(max_examples=500, deadline=None)
@given(ballots_st)
def test_round_trip_ristretto255(codes: list[str]) -> None:
    assert decode_codes(R, encode_codes(R, codes, 4)) == codes


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(short_ballots_st)
def test_round_trip_eg4096(codes: list[str]) -> None:
    assert decode_codes(EG, encode_codes(EG, codes, 17)) == codes


@settings(max_examples=500, deadline=None)
@given(ballots_st, ballots_st)
def test_injective(a: list[str], b: list[str]) -> None:
    if a != b:
        assert ballot_integer(a) != ballot_integer(b)
        assert encode_codes(R, a, 4) != encode_codes(R, b, 4)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=2**490 - 1))
def test_every_integer_decodes_canonically_or_is_refused(x: int) -> None:
    try:
        codes = codes_of_integer(x)
    except EncodingError:
        return
    assert ballot_integer(codes) == x


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2**252), min_size=1, max_size=3))
def test_random_ristretto255_elements_decode_faithfully_or_are_refused(ks: list[int]) -> None:
    elements = [R.pow_g(k) for k in ks]
    try:
        codes = decode_codes(R, elements)
    except EncodingError:
        return
    assert encode_codes(R, codes, len(elements)) == elements


def test_random_elements_near_valid_ones_are_refused() -> None:
    good = encode_codes(R, ["1234", "5678"], 1)[0]
    s = bytearray(good)
    s[0] += 2  # a later counter for the same chunk: maybe valid, never canonical
    for _ in range(200):
        try:
            other = R.decode(bytes(s))
        except ValueError:
            s[0] = (s[0] + 2) % 256
            continue
        with pytest.raises(EncodingError):
            decode_codes(R, [other])
        break
    else:
        pytest.fail("no valid later counter found")


def test_random_eg4096_elements_are_refused_or_decode_faithfully() -> None:
    for _ in range(3):
        with pytest.raises(EncodingError):
            decode_codes(EG, [EG.pow_g(EG.random_scalar())])
    # a small exponent is a chunk: it decodes and re-encodes to the same element
    for x in (8, 80, 2**24 - 1):
        element = EG.pow_g(x)
        try:
            codes = decode_codes(EG, [element])
        except EncodingError:
            continue
        assert encode_codes(EG, codes, 1) == [element]


def test_non_canonical_header_is_refused() -> None:
    # the header says the longest code has 4 digits, but the only code ("0") has 1
    x = (1 << 3) | 3
    with pytest.raises(EncodingError, match="longest code"):
        codes_of_integer(x)
    element = R.decode(_ristretto_embed(x))  # a valid element carrying that integer
    with pytest.raises(EncodingError, match="longest code"):
        decode_codes(R, [element])


# --- refusals -------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["", "123456789", "12a", " 12", "12\n", "١٢", "-1", "+1"])
def test_bad_codes_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="1 to 8 decimal digits") as info:
        encode_codes(R, ["12", bad], 2)
    assert "code 2 of the ballot" in str(info.value)
    assert not isinstance(info.value, EncodingError)


def test_non_string_codes_are_refused() -> None:
    with pytest.raises(ValueError, match="1 to 8 decimal digits"):
        encode_codes(R, [12], 2)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="a list of codes"):
        encode_codes(R, "1234", 2)


def test_too_many_codes_for_the_width_are_refused() -> None:
    with pytest.raises(
        BallotTooLong, match="needs 3 ristretto255 elements; the district's width is 2"
    ):
        encode_codes(R, ["9999"] * 37, 2)
    with pytest.raises(ValueError, match="at least 1"):
        encode_codes(R, [], 0)
    with pytest.raises(EncodingError):
        decode_codes(R, [])
