"""Known answers: seeded nonces give fixed bytes, so any change to the hash inputs or to the
wire format shows up here. If a change is deliberate, the format version must change too."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from verivote.crypto import wire
from verivote.crypto.elgamal import ElectionKey, encrypt
from verivote.crypto.groups import get_group
from verivote.crypto.proofs import (
    Nonces,
    prove_decryption,
    prove_range,
    prove_schnorr,
    verify_decryption,
    verify_range,
    verify_schnorr,
)

RISTRETTO_ANSWERS = {
    "key": "00fe0bb32a37ec21f5aa1504d91108093b97a1f38c5a62db0924d06ab7b92c09",
    "ciphertext": {
        "alpha": "5a25a4cfcf9aca47f29130f9e01457e07ff31b9fb9db8b795020709cc48f7d6e",
        "beta": "ece255550a84ffd1c501a74e298e611162a80d48d9bef615198f3f59df1fc952",
    },
    "range": {
        "challenges": [
            "08a1cc53d2caef83b88415e397558f31c4827a6a8216f9478a79f3071973fa02",
            "04225dd394465be36cc189261136de1d7ef71a7252741a05696669b456daaf8e",
        ],
        "responses": [
            "0866f309d95535e77b86927a3d7b606816a6ee3a1cbf0af35a8f90180e97650c",
            "0a868ed6b5a5f7574ea4f6ce74d4b1b7e6077db2ad6d05ac581652dc16bbc887",
        ],
        "commitments": [
            [
                "6ca046524c9bc78a6eb38956e094116c96a60608c4d9240d0fd5b2c562104e78",
                "6ec1f30147570df38a7f45143289c3c450e8fe7d20f500befb18c7b99a289b30",
            ],
            [
                "b0b8c0a55eb24742e6de921a4d2045a3b0edf5404598785ab5044cdf7dd00c02",
                "a43a35eb6428bb8dc830325f70f52740f08d2c9bc69d07476f2c1bd43e03456e",
            ],
        ],
    },
    "schnorr": {
        "challenge": "08d1ab5bfa6c093285ed3df824feea5d419993a567ef8b6bb68c6cfb8839bb89",
        "response": "0f62a6fe556d1127f5673f957fa6e5dcb70872fdd2771613d0aad815c17afed5",
    },
    "share": "8ce7a92984b86a22d6f96e92d0a1b6b95b54e04ea026055b7ada62690cfc7360",
    "decryption": {
        "challenge": "0b8e82b933cc89f0bdd05288936b8aa3bce388328bfeda17cb87ab3839c7a1ea",
        "response": "0322c076100553ac508f85c93d2ae45ea14171309b1cdabfdfe298a33497a46a",
    },
}

# SHA-256 of the canonical JSON of the same computation in eg4096 (too long to list).
EG4096_DIGEST = "6bb57feae6c1a303173c3436c62279d993aef6fa1ad5f69ed953b3d5c7878a12"


def known_answers(name: str) -> dict[str, Any]:
    group = get_group(name)
    nonces = Nonces(group, b"verivote known answers")
    s = nonces()
    ek = ElectionKey(group, group.pow_g(s))
    r = nonces()
    ct = encrypt(ek, 1, r)
    ctx = [b"base", "contest", "sel"]
    rp = prove_range(ek, ct, 1, r, 1, ctx, nonces)
    sp = prove_schnorr(group, s, ek.key, [b"base"], nonces)
    share, dp = prove_decryption(group, s, ek.key, ct.alpha, [b"base"], nonces)
    # The answers are also valid proofs, decoded back from their wire form.
    ct2 = wire.ciphertext_from_json(group, wire.ciphertext_to_json(group, ct))
    rp2 = wire.range_proof_from_json(group, wire.range_proof_to_json(group, rp))
    assert verify_range(ek, ct2, rp2, ctx)
    assert verify_schnorr(
        group, ek.key, wire.schnorr_from_json(group, wire.schnorr_to_json(group, sp)), [b"base"]
    )
    assert verify_decryption(group, ek.key, ct.alpha, share, dp, [b"base"])
    return {
        "key": wire.element_hex(group, ek.key),
        "ciphertext": wire.ciphertext_to_json(group, ct),
        "range": wire.range_proof_to_json(group, rp),
        "schnorr": wire.schnorr_to_json(group, sp),
        "share": wire.element_hex(group, share),
        "decryption": wire.schnorr_to_json(group, dp),
    }


def test_ristretto255_known_answers() -> None:
    assert known_answers("ristretto255") == RISTRETTO_ANSWERS


@pytest.mark.slow
def test_eg4096_known_answers() -> None:
    doc = json.dumps(known_answers("eg4096"), sort_keys=True, separators=(",", ":"))
    assert hashlib.sha256(doc.encode()).hexdigest() == EG4096_DIGEST


def test_decoders_reject_bad_wire_values() -> None:
    group = get_group("ristretto255")
    with pytest.raises(ValueError, match="hex"):
        wire.element_from_hex(group, "zz")
    with pytest.raises(ValueError, match="32 bytes"):
        wire.element_from_hex(group, "00")
    with pytest.raises(ValueError, match="not a canonical"):
        wire.element_from_hex(group, "ff" * 32)
    with pytest.raises(ValueError, match="below"):
        wire.scalar_from_hex(group, "ff" * 32)
