"""The pseudonyms' threshold OPRF (issue 19, item 1; `verivote.crypto.oprf`): a written-down
example recomputed from libsodium and hashlib directly, blinded threshold evaluation equal to
the direct one for every quorum, and the batched DLEQ proof's soundness: any wrong answer in a
batch, any other context or share, fails it."""

from __future__ import annotations

import hashlib
import itertools
import random

import pytest
import rbcl
from hypothesis import given, settings
from hypothesis import strategies as st

from verivote.crypto import oprf
from verivote.crypto.groups import get_group
from verivote.crypto.hashing import encode_items
from verivote.crypto.threshold import QuorumError

G = get_group("ristretto255")
CODE = "0012345679"

# The written-down example. Inputs:
ELECTION = hashlib.sha256(b"verivote oprf known answer").digest()
KEY = int.from_bytes(hashlib.sha256(b"verivote oprf known answer key").digest(), "big") % G.q
BLIND = int.from_bytes(hashlib.sha256(b"verivote oprf known answer blind").digest(), "big") % G.q
# Outputs:
ELECTION_HEX = "03a2619cbefa801a7e6c0fd5d1d0894a4e66a91559fe23d5f2f98ca369208daf"
H1_HEX = "f244a8320f21274a9c42ad65d1660bcb676e1cfefef53640b78d7fe9fb21412e"
BLINDED_HEX = "b8f79c52189aeeb3777cf88a8d66af5f70dd35b81b0f4a2030105d4745540836"
PSEUDONYM_HEX = "c6701e61e16f4313e0535db25d28bf6e7c4e76493ed93a9f92bf6585eed4061e"


def _scalar(k: int) -> bytes:
    return k.to_bytes(32, "little")


def test_the_written_down_example_recomputed_from_libsodium() -> None:
    """H1 = from_hash(SHA-512(tag ‖ election ‖ code), length-prefixed as `encode_items`
    writes them); P = H1^k; B = H1^r; (B^k)^(1/r) = P."""
    assert ELECTION.hex() == ELECTION_HEX
    digest = hashlib.sha512(encode_items("oprf-h2g", [ELECTION, CODE])).digest()
    h1 = rbcl.crypto_core_ristretto255_from_hash(digest)
    assert h1.hex() == H1_HEX == oprf.hash_to_group(G, ELECTION, CODE).hex()
    p = rbcl.crypto_scalarmult_ristretto255(_scalar(KEY), h1)
    assert p.hex() == PSEUDONYM_HEX == oprf.pseudonym(G, KEY, ELECTION, CODE).hex()
    r, blinded = oprf.blind(G, ELECTION, CODE, BLIND)
    assert blinded.hex() == BLINDED_HEX
    assert rbcl.crypto_scalarmult_ristretto255(_scalar(BLIND), h1) == blinded
    evaluated = rbcl.crypto_scalarmult_ristretto255(_scalar(KEY), blinded)
    assert oprf.unblind(G, r, evaluated).hex() == PSEUDONYM_HEX


def shamir(secret: int, n: int, k: int, rng: random.Random) -> dict[int, int]:
    coefficients = [secret] + [rng.randrange(G.q) for _ in range(k - 1)]
    return {i: sum(c * pow(i, e, G.q) for e, c in enumerate(coefficients)) % G.q
            for i in range(1, n + 1)}  # fmt: skip


def test_any_quorum_of_blinded_answers_gives_the_pseudonym() -> None:
    rng = random.Random(1)
    shares = shamir(KEY, 5, 3, rng)
    public = {i: G.pow_g(s) for i, s in shares.items()}
    codes = [f"{n:010d}" for n in range(7)]
    blinded = [oprf.blind(G, ELECTION, c) for c in codes]
    answers = {}
    for i in shares:
        evaluated, proof = oprf.evaluate(G, shares[i], public[i], [b for _, b in blinded], ["t"])
        assert oprf.verify_evaluation(G, public[i], [b for _, b in blinded], evaluated, proof,
                                      ["t"])  # fmt: skip
        answers[i] = evaluated
    for quorum in itertools.combinations(sorted(shares), 3):
        for j, (r, _) in enumerate(blinded):
            combined = oprf.combine(G, 3, {i: answers[i][j] for i in quorum})
            assert oprf.unblind(G, r, combined) == oprf.pseudonym(G, KEY, ELECTION, codes[j])
    with pytest.raises(QuorumError):
        oprf.combine(G, 3, {1: answers[1][0], 2: answers[2][0]})


def test_pseudonyms_differ_between_codes_and_elections() -> None:
    other = hashlib.sha256(b"another election").digest()
    assert oprf.pseudonym(G, KEY, ELECTION, CODE) != oprf.pseudonym(G, KEY, other, CODE)
    assert oprf.pseudonym(G, KEY, ELECTION, CODE) != oprf.pseudonym(G, KEY, ELECTION, "0012345680")


BATCH = [oprf.blind(G, ELECTION, f"{n:010d}", 1000 + n)[1] for n in range(12)]
SHARE = 123456789
PUBLIC = G.pow_g(SHARE)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, len(BATCH) - 1), st.integers(1, 2**64))
def test_one_wrong_answer_anywhere_in_a_batch_fails_its_proof(position: int, other: int) -> None:
    """A guardian that answers one element of a batch with another exponent, or another
    element, cannot make the batch's proof check (the weights hash every answer)."""
    evaluated, proof = oprf.evaluate(G, SHARE, PUBLIC, BATCH, ["ctx"])
    assert oprf.verify_evaluation(G, PUBLIC, BATCH, evaluated, proof, ["ctx"])
    wrong = list(evaluated)
    wrong[position] = G.pow(BATCH[position], (SHARE + other) % G.q or 1)
    assert not oprf.verify_evaluation(G, PUBLIC, BATCH, wrong, proof, ["ctx"])
    # nor with a proof made for the wrong answers by the honest key
    _, forged = oprf.evaluate(G, SHARE, PUBLIC, BATCH, ["ctx"])
    assert not oprf.verify_evaluation(G, PUBLIC, BATCH, wrong, forged, ["ctx"])


def test_a_proof_holds_only_for_its_context_share_and_batch() -> None:
    evaluated, proof = oprf.evaluate(G, SHARE, PUBLIC, BATCH, ["ctx"])
    assert not oprf.verify_evaluation(G, PUBLIC, BATCH, evaluated, proof, ["other"])
    assert not oprf.verify_evaluation(G, G.pow_g(SHARE + 1), BATCH, evaluated, proof, ["ctx"])
    assert not oprf.verify_evaluation(G, PUBLIC, BATCH[::-1], evaluated[::-1], proof, ["ctx"])
    assert not oprf.verify_evaluation(G, PUBLIC, BATCH[:-1], evaluated[:-1], proof, ["ctx"])
    bad = oprf.BatchProof(proof.challenge, G.q)  # out of range
    assert not oprf.verify_evaluation(G, PUBLIC, BATCH, evaluated, bad, ["ctx"])


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(oprf.OprfError, match="identity"):
        oprf.evaluate(G, SHARE, PUBLIC, [G.identity()], ["ctx"])
    with pytest.raises(oprf.OprfError, match="ristretto255"):
        oprf.hash_to_group(get_group("eg4096"), ELECTION, CODE)
    with pytest.raises(oprf.OprfError, match="nonzero"):
        oprf.blind(G, ELECTION, CODE, 0)
    assert not oprf.verify_evaluation(G, PUBLIC, [], [], oprf.BatchProof(0, 0), ["ctx"])
