"""The group interface, checked the same way over every backend (`get_group(name)`).

Known answers for ristretto255 come from RFC 9496, appendix A: A.1 (the encodings of the
multiples 0..15 of the generator) and A.2 (encodings that must be rejected).
"""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verivote.crypto.group import Group, InvalidElement
from verivote.crypto.groups import GROUP_NAMES, get_group
from verivote.crypto.groups.eg4096 import G as EG_G
from verivote.crypto.groups.eg4096 import P as EG_P

# eg4096 costs about a millisecond an operation: keep the example counts modest.
few = settings(max_examples=25, deadline=None)

names = pytest.mark.parametrize("name", GROUP_NAMES)

# Scalars: anything, including negatives and values past q (every operation reduces mod q).
scalars = st.one_of(
    st.integers(min_value=-(2**300), max_value=2**300),
    st.integers(min_value=0, max_value=16),
    st.sampled_from([2**252 + 27742317777372353535851937790883648493, 2**256 - 189]),
)


def element(group: Group[Any], k: int) -> Any:
    return group.pow_g(k)


# --- RFC 9496 A.1: B[i] = i·B, as encodings --------------------------------------------------
RISTRETTO_MULTIPLES = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76",
    "6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919",
    "94741f5d5d52755ece4f23f044ee27d5d1ea1e2bd196b462166b16152a9d0259",
    "da80862773358b466ffadfe0b3293ab3d9fd53c5ea6c955358f568322daf6a57",
    "e882b131016b52c1d3337080187cf768423efccbb517bb495ab812c4160ff44e",
    "f64746d3c92b13050ed8d80236a7f0007c3b3f962f5ba793d19a601ebb1df403",
    "44f53520926ec81fbd5a387845beb7df85a96a24ece18738bdcfa6a7822a176d",
    "903293d8f2287ebe10e2374dc1a53e0bc887e592699f02d077d5263cdd55601c",
    "02622ace8f7303a31cafc63f8fc48fdc16e1c8c8d234b2f0d6685282a9076031",
    "20706fd788b2720a1ed2a5dad4952b01f413bcf0e7564de8cdc816689e2db95f",
    "bce83f8ba5dd2fa572864c24ba1810f9522bc6004afe95877ac73241cafdab42",
    "e4549ee16b9aa03099ca208c67adafcafa4c3f3e4e5303de6026e3ca8ff84460",
    "aa52e000df2e16f55fb1032fc33bc42742dad6bd5a8fc0be0167436c5948501f",
    "46376b80f409b29dc2b5f6f0c52591990896e5716f41477cd30085ab7f10301e",
    "e0c418f7c8d9c4cdd7395b93ea124f3ad99021bb681dfc3302a9d99a2e53e64e",
]

# --- RFC 9496 A.2: encodings that must be rejected (a few of each kind) ----------------------
RISTRETTO_INVALID = [
    # non-canonical field encodings
    "00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "f3ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    # negative field elements
    "0100000000000000000000000000000000000000000000000000000000000000",
    "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "ed57ffd8c914fb201471d1c3d245ce3c746fcbe63a3679d51b6a516ebebe0e20",
    "c34c4e1826e5d403b78e246e88aa051c36ccf0aafebffe137d148a2bf9104562",
    # non-square x^2
    "26948d35ca62e643e26a83177332e6b6afeb9d08e4268b650f1f5bbd8d81d371",
    "4eac077a713c57b4f4397629a4145982c661f48044dd3f96427d40b147d9742f",
    "de6a7b00deadc788eb6b6c8d20c0ae96c2f2019078fa604fee5b87d6e989ad7b",
    # negative xy value
    "3eb858e78f5a7254d8c9731174a94f76755fd3941c0ac93735c07ba14579630e",
    "a45fdc55c76448c049a1ab33f17023edfb2be3581e9c7aade8a6125215e04220",
    "d483fe813c6ba647ebbfd3ec41adca1c6130c2beeee9d9bf065c8d151c5f396e",
    # s = -1, which causes y = 0
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
]


def invalid_encodings(name: str) -> list[bytes]:
    """Right-length byte strings that are not elements: out of range, non-canonical or not in
    the prime-order group."""
    if name == "ristretto255":
        return [b"\xff" * 32] + [bytes.fromhex(h) for h in RISTRETTO_INVALID]
    p = int(EG_P)
    return [
        bytes(512),  # 0
        p.to_bytes(512, "big"),  # p ≡ 0, the non-canonical zero
        (p + 1).to_bytes(512, "big"),  # non-canonical 1 (a member mod p)
        (p + 2**64).to_bytes(512, "big"),
        b"\xff" * 512,  # 2^4096 − 1 > p
        (p - 1).to_bytes(512, "big"),  # order 2
        (2).to_bytes(512, "big"),  # in Z_p^*, not in the subgroup
        (int(EG_G) * (p - 1) % p).to_bytes(512, "big"),  # order 2q
    ]


# --- encoding ---------------------------------------------------------------------------------
@names
@few
@given(k=scalars)
def test_encode_decode_round_trip(name: str, k: int) -> None:
    group = get_group(name)
    e = element(group, k)
    data = group.encode(e)
    assert isinstance(data, bytes)
    assert len(data) == group.element_bytes
    assert group.decode(data) == e
    assert group.encode(group.decode(data)) == data


@names
def test_identity_and_generator_round_trip(name: str) -> None:
    group = get_group(name)
    for e in (group.identity(), group.generator()):
        assert group.decode(group.encode(e)) == e
    assert group.generator() != group.identity()
    assert group.pow_g(1) == group.generator()
    assert group.pow_g(0) == group.identity()


@names
def test_decode_rejects_wrong_length(name: str) -> None:
    group = get_group(name)
    good = group.encode(group.generator())
    for data in (b"", good[:-1], good + b"\x00", b"\x00" + good, bytes(group.element_bytes * 2)):
        with pytest.raises(InvalidElement):
            group.decode(data)


@names
def test_decode_rejects_non_bytes(name: str) -> None:
    group = get_group(name)
    with pytest.raises(InvalidElement):
        group.decode("00" * group.element_bytes)  # type: ignore[arg-type]


@names
def test_decode_rejects_invalid_encodings(name: str) -> None:
    group = get_group(name)
    for data in invalid_encodings(name):
        assert len(data) == group.element_bytes
        with pytest.raises(InvalidElement):
            group.decode(data)


def test_ristretto255_multiples_of_the_generator() -> None:
    """RFC 9496 A.1: the encodings of 0·B .. 15·B, by pow_g, pow and repeated mul."""
    group = get_group("ristretto255")
    acc = group.identity()
    for i, hexed in enumerate(RISTRETTO_MULTIPLES):
        expected = bytes.fromhex(hexed)
        assert group.encode(group.pow_g(i)) == expected
        assert group.encode(group.pow(group.generator(), i)) == expected
        assert group.encode(acc) == expected
        assert group.decode(expected) == acc
        acc = group.mul(acc, group.generator())


# --- group laws -------------------------------------------------------------------------------
@names
@few
@given(a=scalars, b=scalars, c=scalars)
def test_mul_is_associative_and_commutative(name: str, a: int, b: int, c: int) -> None:
    group = get_group(name)
    x, y, z = element(group, a), element(group, b), element(group, c)
    assert group.mul(group.mul(x, y), z) == group.mul(x, group.mul(y, z))
    assert group.mul(x, y) == group.mul(y, x)
    assert group.mul(x, group.identity()) == x


@names
@few
@given(a=scalars, b=scalars)
def test_exponents_add(name: str, a: int, b: int) -> None:
    group = get_group(name)
    assert group.pow_g(a + b) == group.mul(group.pow_g(a), group.pow_g(b))
    assert group.pow_g(a) == group.pow(group.generator(), a)
    assert group.pow_g(a + group.q) == group.pow_g(a)


@names
@few
@given(a=scalars, x=scalars, y=scalars)
def test_exponents_multiply(name: str, a: int, x: int, y: int) -> None:
    group = get_group(name)
    base = element(group, a)
    assert group.pow(group.pow(base, x), y) == group.pow(base, x * y)
    assert group.pow(base, group.q) == group.identity()
    assert group.mul(group.pow(base, x), group.pow(base, -x)) == group.identity()


@names
@few
@given(a=scalars, b=scalars)
def test_div_undoes_mul(name: str, a: int, b: int) -> None:
    group = get_group(name)
    x, y = element(group, a), element(group, b)
    assert group.div(group.mul(x, y), y) == x
    assert group.div(x, x) == group.identity()
    assert group.mul(group.div(group.identity(), y), y) == group.identity()


@names
@settings(max_examples=8, deadline=None)  # every new eg4096 base builds a 15 MB table
@given(b=scalars, ks=st.lists(scalars, min_size=1, max_size=6))
def test_fixed_base_matches_pow(name: str, b: int, ks: list[int]) -> None:
    group = get_group(name)
    base = element(group, b)
    power = group.fixed_base(base)
    for k in ks:
        assert power(k) == group.pow(base, k)
    assert group.fixed_base(group.generator())(ks[0]) == group.pow_g(ks[0])


@names
@few
@given(pairs=st.lists(st.tuples(scalars, scalars), max_size=7), with_g=st.booleans())
def test_multi_pow_matches_naive_product(
    name: str, pairs: list[tuple[int, int]], with_g: bool
) -> None:
    group = get_group(name)
    terms = [(element(group, a), k) for a, k in pairs]
    if with_g and terms:
        terms.append((group.generator(), pairs[0][1]))
        terms.append((group.identity(), pairs[0][0]))
    naive = group.identity()
    for base, k in terms:
        naive = group.mul(naive, group.pow(base, k))
    assert group.multi_pow(terms) == naive


@names
@few
@given(ks=st.lists(scalars, max_size=8))
def test_prod(name: str, ks: list[int]) -> None:
    group = get_group(name)
    assert group.prod([group.pow_g(k) for k in ks]) == group.pow_g(sum(ks))


@names
@few
@given(k=st.integers(min_value=0))
def test_scalar_encoding(name: str, k: int) -> None:
    group = get_group(name)
    k %= group.q
    data = group.encode_scalar(k)
    assert len(data) == group.scalar_bytes
    assert group.decode_scalar(data) == k


@names
def test_decode_scalar_rejects_out_of_range(name: str) -> None:
    group = get_group(name)
    with pytest.raises(ValueError, match="below"):
        group.decode_scalar(group.q.to_bytes(group.scalar_bytes, "big"))
    with pytest.raises(ValueError, match="bytes"):
        group.decode_scalar(bytes(group.scalar_bytes + 1))


@names
def test_random_scalar_is_in_range(name: str) -> None:
    group = get_group(name)
    ks = {group.random_scalar() for _ in range(20)}
    assert all(0 <= k < group.q for k in ks)
    assert len(ks) == 20


# --- pickling ---------------------------------------------------------------------------------
@names
def test_pickling_returns_the_same_object(name: str) -> None:
    group = get_group(name)
    assert get_group(name) is group
    assert pickle.loads(pickle.dumps(group)) is group
    assert group.name == name
    assert name in repr(group)
