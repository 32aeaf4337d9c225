"""Every proof verifies when honest and fails when any one element of the statement or of the
proof is changed; ElGamal adds homomorphically."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.crypto_helpers import keypair
from verivote.crypto.elgamal import Ciphertext, ElectionKey, add, decrypt_to_power, encrypt
from verivote.crypto.proofs import (
    DecryptionProof,
    RangeProof,
    SchnorrProof,
    prove_decryption,
    prove_range,
    prove_schnorr,
    verify_decryption,
    verify_range,
    verify_schnorr,
)

GROUPS = [
    pytest.param("ristretto255", 60, id="ristretto255"),
    pytest.param("eg4096", 6, id="eg4096", marks=pytest.mark.slow),
]
CONTEXT = [b"base-hash", "contest-1", "selection-3"]
deltas = st.integers(min_value=1, max_value=2**64)
SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}


def other_element(group: Any, e: Any, delta: int) -> Any:
    return group.mul(e, group.pow_g(delta))


@pytest.mark.parametrize(("name", "examples"), GROUPS)
def test_elgamal_decrypts_and_adds(name: str, examples: int) -> None:
    group, s, ek = keypair(name)
    values = [0, 1, 1, 5, 0, 2]
    cts = [encrypt(ek, m, group.random_scalar()) for m in values]
    assert decrypt_to_power(group, s, cts[3]) == ek.pow_k(5)
    assert decrypt_to_power(group, s, add(group, cts)) == ek.pow_k(sum(values))


@pytest.mark.parametrize(("name", "examples"), GROUPS)
def test_range_proof_honest_verifies_and_any_change_fails(name: str, examples: int) -> None:
    group, _, ek = keypair(name)

    @settings(max_examples=examples, **SETTINGS)
    @given(
        limit=st.integers(min_value=1, max_value=3),
        data=st.data(),
        delta=deltas,
    )
    def check(limit: int, data: st.DataObject, delta: int) -> None:
        value = data.draw(st.integers(min_value=0, max_value=limit))
        r = group.random_scalar()
        ct = encrypt(ek, value, r)
        proof = prove_range(ek, ct, value, r, limit, CONTEXT)
        assert verify_range(ek, ct, proof, CONTEXT)
        q = group.q
        n = limit + 1
        where = data.draw(st.integers(min_value=0, max_value=2 * n + 5))
        cs, vs = list(proof.challenges), list(proof.responses)
        bad_ek, bad_ct, bad_ctx, bad_proof = ek, ct, CONTEXT, proof
        if where < n:
            cs[where] = (cs[where] + delta) % q
            bad_proof = RangeProof(tuple(cs), tuple(vs))
        elif where < 2 * n:
            vs[where - n] = (vs[where - n] + delta) % q
            bad_proof = RangeProof(tuple(cs), tuple(vs))
        elif where == 2 * n:
            bad_ct = Ciphertext(other_element(group, ct.alpha, delta), ct.beta)
        elif where == 2 * n + 1:
            bad_ct = Ciphertext(ct.alpha, other_element(group, ct.beta, delta))
        elif where == 2 * n + 2:
            bad_ek = ElectionKey(group, other_element(group, ek.key, delta))
        elif where == 2 * n + 3:
            bad_ctx = [b"base-hash", "contest-1", "selection-4"]
        elif where == 2 * n + 4:
            bad_ctx = [b"other-election", "contest-1", "selection-3"]
        else:
            # the same proof claimed for a wider range
            bad_proof = RangeProof((*cs, 0), (*vs, 0))
        assert not verify_range(bad_ek, bad_ct, bad_proof, bad_ctx)

    check()


@pytest.mark.parametrize(("name", "examples"), GROUPS)
def test_a_proof_for_a_value_outside_the_range_cannot_be_made_or_forged(
    name: str, examples: int
) -> None:
    group, _, ek = keypair(name)
    r = group.random_scalar()
    ct = encrypt(ek, 2, r)
    with pytest.raises(ValueError, match="outside"):
        prove_range(ek, ct, 2, r, 1, CONTEXT)
    # A proof made for a 0 does not transfer to the ciphertext of a 2 with the same nonce.
    zero = encrypt(ek, 0, r)
    proof = prove_range(ek, zero, 0, r, 1, CONTEXT)
    assert not verify_range(ek, ct, proof, CONTEXT)


@pytest.mark.parametrize(("name", "examples"), GROUPS)
def test_schnorr_honest_verifies_and_any_change_fails(name: str, examples: int) -> None:
    group, s, ek = keypair(name)

    @settings(max_examples=examples, **SETTINGS)
    @given(where=st.integers(min_value=0, max_value=3), delta=deltas)
    def check(where: int, delta: int) -> None:
        proof = prove_schnorr(group, s, ek.key, CONTEXT, None)
        assert verify_schnorr(group, ek.key, proof, CONTEXT)
        q = group.q
        public, ctx = ek.key, CONTEXT
        if where == 0:
            proof = SchnorrProof((proof.challenge + delta) % q, proof.response)
        elif where == 1:
            proof = SchnorrProof(proof.challenge, (proof.response + delta) % q)
        elif where == 2:
            public = other_element(group, public, delta)
        else:
            ctx = [b"base-hash", "coefficient", 2]
        assert not verify_schnorr(group, public, proof, ctx)

    check()


@pytest.mark.parametrize(("name", "examples"), GROUPS)
def test_decryption_proof_honest_verifies_and_any_change_fails(name: str, examples: int) -> None:
    group, s, ek = keypair(name)
    ct = encrypt(ek, 3, group.random_scalar())

    @settings(max_examples=examples, **SETTINGS)
    @given(where=st.integers(min_value=0, max_value=5), delta=deltas)
    def check(where: int, delta: int) -> None:
        share, proof = prove_decryption(group, s, ek.key, ct.alpha, CONTEXT)
        assert verify_decryption(group, ek.key, ct.alpha, share, proof, CONTEXT)
        q = group.q
        public, alpha, ctx = ek.key, ct.alpha, CONTEXT
        if where == 0:
            proof = DecryptionProof((proof.challenge + delta) % q, proof.response)
        elif where == 1:
            proof = DecryptionProof(proof.challenge, (proof.response + delta) % q)
        elif where == 2:
            public = other_element(group, public, delta)
        elif where == 3:
            alpha = other_element(group, alpha, delta)
        elif where == 4:
            share = other_element(group, share, delta)
        else:
            ctx = [b"base-hash", "contest-2", "selection-3"]
        assert not verify_decryption(group, public, alpha, share, proof, ctx)

    check()


def test_out_of_range_proof_scalars_are_refused() -> None:
    group, s, ek = keypair()
    proof = prove_schnorr(group, s, ek.key, CONTEXT, None)
    # challenge + q is the same challenge mod q, but not a canonical scalar
    assert not verify_schnorr(
        group, ek.key, SchnorrProof(proof.challenge + group.q, proof.response), CONTEXT
    )
