"""The eg4096 backend: ElectionGuard 2.0's constants, validation, the fixed-base tables, the
multi-exponentiations, batched membership, and a real ElectionGuard 2.0 election record."""

from __future__ import annotations

import base64
import json
import random
import secrets
from pathlib import Path
from typing import Any

import gmpy2
import pytest
from gmpy2 import mpz

from tests.conftest import SHARED
from verivote.crypto.group import InvalidElement
from verivote.crypto.groups import eg4096, get_group
from verivote.crypto.groups.eg4096 import EG4096, G, P, Q, R, batch_is_member

RECORD = SHARED / "testdata" / "electionguard" / "someAvailable"


def the_group() -> EG4096:
    found = get_group("eg4096")
    assert isinstance(found, EG4096)
    return found


group = the_group()
R_PRIME = R // 2


def record(name: str) -> Any:
    path = RECORD / name
    if not path.is_file():
        pytest.fail(f"the ElectionGuard test record is missing at {path}")
    return json.loads(Path(path).read_text())


def b64_element(text: str) -> Any:
    return group.decode(base64.b64decode(text))


def members(n: int) -> list[Any]:
    return [group.pow_g(secrets.randbelow(Q)) for _ in range(n)]


def naive(pairs: list[tuple[Any, int]]) -> Any:
    acc = mpz(1)
    for a, k in pairs:
        acc = acc * gmpy2.powmod(a, k, P) % P
    return acc


# --- the constants ----------------------------------------------------------------------------
def test_constants_are_those_of_the_election_record() -> None:
    constants = record("constants.json")["constants"]
    assert int(constants["largePrime"], 16) == P
    assert int(constants["smallPrime"], 16) == Q
    assert int(constants["cofactor"], 16) == R
    assert int(constants["generator"], 16) == G


def test_constants_have_the_published_structure() -> None:
    assert Q == 2**256 - 189
    assert P == Q * R + 1
    assert P.bit_length() == 4096
    assert G != 1
    assert 1 < G < P
    assert gmpy2.powmod(G, Q, P) == 1
    assert group.q == Q
    assert (group.element_bytes, group.scalar_bytes) == (512, 32)


def test_the_facts_batch_membership_relies_on() -> None:
    """p − 1 = 2·q·r′ with q, r′ distinct odd primes (see `batch_is_member`)."""
    assert R % 2 == 0
    assert R_PRIME % 2 == 1
    assert P - 1 == 2 * Q * R_PRIME
    assert R_PRIME != Q
    assert R_PRIME.bit_length() == 3840
    assert gmpy2.gcd(Q, R) == 1
    # BPSW plus Miller–Rabin rounds (GMP's test with reps > 24)
    for n in (P, mpz(Q), R_PRIME):
        assert gmpy2.is_prime(n, 40)
    # and Miller–Rabin with bases from the OS CSPRNG: a composite passes each with prob. ≤ 1/4
    for n in (mpz(Q), R_PRIME):
        for _ in range(8):
            assert gmpy2.is_strong_prp(n, 2 + secrets.randbelow(int(n) - 3))


# --- validation -------------------------------------------------------------------------------
def test_from_int_accepts_members() -> None:
    for x in (1, int(G), G, group.pow_g(12345), int(group.pow_g(Q - 1))):
        assert group.from_int(x) == x
        assert group.is_member(x)
    assert isinstance(group.from_int(int(G)), type(G))


@pytest.mark.parametrize(
    ("x", "what"),
    [
        (0, "[1, p)"),
        (-1, "[1, p)"),
        (-int(G), "[1, p)"),
        (int(P), "[1, p)"),
        (int(P) + 1, "[1, p)"),
        (2**4096, "[1, p)"),
        (int(P) - 1, "subgroup"),  # order 2
        (2, "subgroup"),
        (3, "subgroup"),
        (int(G) * (int(P) - 1) % int(P), "subgroup"),  # order 2q
        (int(gmpy2.powmod(3, 2 * Q, P)), "subgroup"),  # order r′
    ],
)
def test_from_int_rejects_non_members(x: int, what: str) -> None:
    with pytest.raises(InvalidElement, match=what.replace("[", r"\[").replace(")", r"\)")):
        group.from_int(x)
    assert not group.is_member(x)


@pytest.mark.parametrize("x", [True, "5", 5.0, b"\x05", None])
def test_from_int_rejects_non_integers(x: object) -> None:
    with pytest.raises(InvalidElement, match="integer"):
        group.from_int(x)  # type: ignore[arg-type]
    assert not group.is_member(x)  # type: ignore[arg-type]


def test_encoding_is_fixed_width_big_endian() -> None:
    assert group.encode(group.identity()) == bytes(511) + b"\x01"
    assert group.encode(G) == int(G).to_bytes(512, "big")
    assert group.decode(bytearray(group.encode(G))) == G  # type: ignore[arg-type]
    assert group.decode(bytes(511) + b"\x01") == 1


def test_decode_names_the_problem() -> None:
    with pytest.raises(InvalidElement, match="512 bytes"):
        group.decode(bytes(32))
    with pytest.raises(InvalidElement, match=r"\[1, p\)"):
        group.decode(bytes(512))
    with pytest.raises(InvalidElement, match="subgroup"):
        group.decode((int(P) - 1).to_bytes(512, "big"))


# --- fixed-base tables ------------------------------------------------------------------------
EDGE_EXPONENTS = [0, 1, 2, 1023, 1024, Q - 1, Q, Q + 1, -1, -Q, 2**256 - 1, 2**255, 2**300 + 7]


def test_pow_g_matches_powmod() -> None:
    for k in [*EDGE_EXPONENTS, *(secrets.randbelow(Q) for _ in range(30))]:
        assert group.pow_g(k) == gmpy2.powmod(G, k % Q, P), k


def test_fixed_base_matches_powmod_and_is_cached() -> None:
    base = group.pow_g(secrets.randbelow(Q))
    power = group.fixed_base(base)
    for k in [*EDGE_EXPONENTS, *(secrets.randbelow(Q) for _ in range(10))]:
        assert power(k) == gmpy2.powmod(base, k % Q, P)
    # the table is kept: asking again reuses it, and pow uses it too
    assert eg4096._cached_table(base) is not None
    assert group.fixed_base(mpz(int(base)))(5) == gmpy2.powmod(base, 5, P)
    assert group.pow(base, 77) == gmpy2.powmod(base, 77, P)
    assert group.fixed_base(group.identity())(12345) == 1


def test_fixed_base_cache_keeps_the_most_recent_few() -> None:
    bases = members(eg4096._LRU_SIZE + 1)
    powers = [group.fixed_base(b) for b in bases]
    assert eg4096._cached_table(bases[0]) is None  # evicted
    assert all(eg4096._cached_table(b) is not None for b in bases[1:])
    assert len(eg4096._lru) == eg4096._LRU_SIZE
    k = secrets.randbelow(Q)
    for b, power in zip(bases, powers, strict=True):  # evicted or not, each still works
        assert power(k) == gmpy2.powmod(b, k, P)


def test_table_layout() -> None:
    table = eg4096._generator_table()
    assert len(table) == eg4096._ROWS
    assert eg4096._W * eg4096._ROWS >= 256
    assert all(len(row) == 1 << eg4096._W for row in table)
    assert table[1][1] == gmpy2.powmod(G, 1 << eg4096._W, P)
    last = eg4096._W * (eg4096._ROWS - 1)
    assert table[-1][-1] == gmpy2.powmod(G, ((1 << eg4096._W) - 1) << last, P)


# --- multi-exponentiation ---------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 3, 5, 17, 64, 150])
def test_multi_pow_matches_naive(n: int) -> None:
    pairs = [(b, secrets.randbelow(Q)) for b in members(n)]
    assert group.multi_pow(pairs) == naive(pairs)


def test_straus_and_pippenger_at_every_width() -> None:
    pairs = [(b, secrets.randbelow(Q)) for b in members(9)]
    pairs += [(pairs[0][0], 1), (pairs[1][0], 2**255), (pairs[2][0], 3), (pairs[3][0], 0)]
    expected = naive(pairs)
    for w in range(1, 9):
        assert eg4096._straus(pairs, w) == expected, w
    for c in range(1, 11):
        assert eg4096._pippenger(pairs, c) == expected, c
    assert eg4096._straus([(G, 0)], 4) == eg4096._pippenger([(G, 0)], 4) == 1


def test_multiexp_needs_no_subgroup() -> None:
    """The multi-exponentiations are plain Z_p^* arithmetic, as batch membership needs."""
    outsiders = [P - 1, mpz(2), mpz(3), G * (P - 1) % P, gmpy2.powmod(3, 2 * Q, P)]
    pairs = [(x, secrets.randbits(128) | 1) for x in outsiders + members(3)]
    assert eg4096._multiexp(pairs, 128) == naive(pairs)
    assert eg4096._straus(pairs, 4) == naive(pairs)
    assert eg4096._pippenger(pairs, 5) == naive(pairs)


def test_multi_pow_mixes_tables_and_odd_terms() -> None:
    cached = members(1)[0]
    group.fixed_base(cached)
    others = members(3)
    pairs = [
        (G, 5),
        (cached, -3),
        (others[0], 0),
        (group.identity(), 99),
        (others[1], Q + 4),
        (G, Q - 5),
        (others[2], 2**256 - 1),
    ]
    expected = naive([(a, k % Q) for a, k in pairs])
    assert group.multi_pow(pairs) == expected
    assert group.multi_pow([]) == 1
    assert group.multi_pow([(G, Q)]) == 1


# --- batch membership -------------------------------------------------------------------------
ORDER_R_PRIME = gmpy2.powmod(3, 2 * Q, P)


def outsiders() -> list[tuple[str, Any]]:
    """Non-members of every kind, with a check of what each one is."""
    h = ORDER_R_PRIME
    assert h != 1
    assert gmpy2.powmod(h, R_PRIME, P) == 1
    return [
        ("p - 1 (order 2)", P - 1),
        ("g·(p − 1) (order 2q)", G * (P - 1) % P),
        ("order r′", h),
        ("g·h (order q·r′, a quadratic residue)", G * h % P),
        ("(p − 1)·h (order 2r′)", (P - 1) * h % P),
        ("2", mpz(2)),
        ("3", mpz(3)),
        ("0", mpz(0)),
        ("p", P),
        ("p + g", P + G),
        ("-g", -G),
    ]


def test_batch_accepts_members() -> None:
    assert batch_is_member([])
    assert batch_is_member([G])
    assert batch_is_member([1, 1, 1])
    assert batch_is_member(members(2))
    assert batch_is_member([int(x) for x in members(40)])
    assert batch_is_member([*members(5), G, 1, G])


@pytest.mark.parametrize("kind", range(11))
def test_batch_detects_a_single_outsider_among_many(kind: int) -> None:
    what, bad = outsiders()[kind]
    assert not group.is_member(bad), what
    rng = random.Random(kind)
    good = members(40)
    for n in (1, 2, 40):
        for _ in range(4):
            xs = good[: n - 1]
            xs.insert(rng.randrange(n), bad)
            assert not batch_is_member(xs), (what, n)


def test_batch_detects_outsiders_with_the_same_legendre_symbol_product() -> None:
    """Two order-2 factors cancel in a product; each element is checked on its own."""
    good = members(10)
    xs = [*good, P - 1, P - 1]
    assert not batch_is_member(xs)
    xs = [*good, G * (P - 1) % P, (P - 1) * ORDER_R_PRIME % P]
    assert not batch_is_member(xs)
    # an outsider and its inverse: only random exponents tell them from members
    h = ORDER_R_PRIME
    assert not batch_is_member([*good, h, gmpy2.invert(h, P)])


def test_batch_rejects_non_integers() -> None:
    assert not batch_is_member([G, "1"])  # type: ignore[list-item]
    assert not batch_is_member([G, True])


# --- a real ElectionGuard 2.0 election record -------------------------------------------------
def test_record_public_keys() -> None:
    init = record("election_initialized.json")
    joint = b64_element(init["joint_public_key"])
    keys = [b64_element(g["coefficient_proofs"][0]["public_key"]) for g in init["guardians"]]
    assert group.prod(keys) == joint  # K = ∏ K_i,0
    commitments = [
        b64_element(proof["public_key"])
        for guardian in init["guardians"]
        for proof in guardian["coefficient_proofs"]
    ]
    assert batch_is_member(commitments)


def test_record_tally_decryptions() -> None:
    """ElectionGuard 2.0 encodes a tally t as K^t: each decrypted B/M must equal K^t."""
    joint = b64_element(record("election_initialized.json")["joint_public_key"])
    power = group.fixed_base(joint)
    ciphertext_parts = []
    checked = 0
    for contest in record("tally.json")["contests"]:
        for selection in contest["selections"]:
            t = int(selection["tally"])
            b_over_m = b64_element(selection["b_over_m"])
            assert b_over_m == power(t) == group.pow(joint, t)
            assert b_over_m == group.multi_pow([(joint, t + 1), (joint, -1)])
            vote = selection["encrypted_vote"]
            ciphertext_parts += [base64.b64decode(vote["pad"]), base64.b64decode(vote["data"])]
            checked += 1
    assert checked > 10
    values = [int.from_bytes(part, "big") for part in ciphertext_parts]
    assert batch_is_member(values)
    assert all(group.is_member(v) for v in values[:4])
