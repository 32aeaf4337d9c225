"""The key ceremony and threshold decryption: 5 guardians, quorum 3."""

from __future__ import annotations

import dataclasses
import itertools
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from verivote.crypto.ceremony import (
    CeremonyError,
    CeremonyOutcome,
    GuardianSecrets,
    public_share,
    run_ceremony,
    verify_transcript,
)
from verivote.crypto.dlog import discrete_log
from verivote.crypto.elgamal import ElectionKey, add, encrypt
from verivote.crypto.groups import get_group
from verivote.crypto.keyfile import read_key_share, write_key_share
from verivote.crypto.proofs import verify_decryption
from verivote.crypto.threshold import QuorumError, combine, lagrange_coefficient, partial_decrypt

BASE = b"\x11" * 32
CONTEXT = [BASE, "tally", "contest-1", "candidate-7"]


@pytest.fixture(scope="module")
def ceremony() -> CeremonyOutcome:
    return run_ceremony(get_group("ristretto255"), 5, 3, BASE)


def decrypt_with(outcome: CeremonyOutcome, present: tuple[int, ...], values: list[int]) -> int:
    group = get_group(outcome.transcript.group)
    key = group.decode(bytes.fromhex(outcome.transcript.joint_key))
    ek = ElectionKey(group, key)
    total = add(group, [encrypt(ek, m, group.random_scalar()) for m in values])
    partials: dict[int, Any] = {}
    for g in present:
        pub = public_share(group, outcome.transcript, g)
        p = partial_decrypt(group, g, outcome.shares[g].secret, pub, total, CONTEXT)
        assert verify_decryption(group, pub, total.alpha, p.share, p.proof, CONTEXT)
        partials[g] = p.share
    return discrete_log(group, key, combine(group, outcome.transcript.quorum, total, partials))


def test_the_transcript_of_an_honest_ceremony_verifies(ceremony: CeremonyOutcome) -> None:
    t = ceremony.transcript
    assert verify_transcript(t) == []
    assert t.qualified == [1, 2, 3, 4, 5]
    assert t.complaints == []
    assert len(t.shares) == 5 * 4


def test_every_three_of_five_guardians_decrypt_the_right_sum(ceremony: CeremonyOutcome) -> None:
    values = [1, 0, 1, 1, 0, 1, 1]
    for present in itertools.combinations(range(1, 6), 3):
        assert decrypt_with(ceremony, present, values) == 5
    assert decrypt_with(ceremony, (1, 2, 3, 4, 5), values) == 5


def test_two_guardians_cannot_decrypt(ceremony: CeremonyOutcome) -> None:
    with pytest.raises(QuorumError, match="quorum is 3"):
        decrypt_with(ceremony, (2, 5), [1])


def test_lagrange_coefficients_interpolate_at_zero() -> None:
    q = get_group().q
    present = [1, 3, 4]
    # For P(x) = 7 + 2x + 5x², Σ wₗ P(ℓ) = P(0) = 7.
    poly = lambda x: (7 + 2 * x + 5 * x * x) % q  # noqa: E731
    assert sum(lagrange_coefficient(q, m, present) * poly(m) for m in present) % q == 7


def shares_of_another_polynomial(s: GuardianSecrets) -> GuardianSecrets:
    return dataclasses.replace(s, coefficients=[c + 1 for c in s.coefficients])


def test_a_guardian_sending_bad_shares_is_caught_by_complaints_and_excluded() -> None:
    group = get_group()
    outcome = run_ceremony(group, 5, 3, BASE, dishonest={4: shares_of_another_polynomial})
    t = outcome.transcript
    assert {(c.complainant, c.accused) for c in t.complaints} == {(i, 4) for i in (1, 2, 3, 5)}
    assert all("does not match the commitments" in c.reason for c in t.complaints)
    assert t.qualified == [1, 2, 3, 5]
    assert any("guardian 4 sent" in reason for reason in outcome.excluded)
    assert verify_transcript(t) == []
    # The election key no longer contains guardian 4's polynomial, and decryption still works.
    assert decrypt_with(outcome, (1, 2, 5), [1, 1, 0]) == 2


def test_a_transcript_that_hides_a_complaint_fails_verification() -> None:
    group = get_group()
    outcome = run_ceremony(group, 3, 2, BASE, dishonest={2: shares_of_another_polynomial})
    forged = outcome.transcript.model_copy(update={"qualified": [1, 2, 3]})
    assert any("qualified" in p for p in verify_transcript(forged))


def test_a_tampered_transcript_fails_verification(ceremony: CeremonyOutcome) -> None:
    t = ceremony.transcript
    keys = list(t.keys)
    swapped = keys[1].model_copy(update={"commitments": list(reversed(keys[1].commitments))})
    keys[1] = swapped
    problems = verify_transcript(t.model_copy(update={"keys": keys}))
    assert any("do not match the hash" in p for p in problems)
    other = get_group().encode(get_group().pow_g(5)).hex()
    assert verify_transcript(t.model_copy(update={"joint_key": other})) == [
        "the joint key is not the product of the qualified constant commitments"
    ]


@pytest.mark.parametrize(("n", "k"), [(0, 1), (3, 0), (3, 4)])
def test_impossible_parameters_are_refused(n: int, k: int) -> None:
    with pytest.raises(CeremonyError):
        run_ceremony(get_group(), n, k, BASE)


def test_one_guardian_quorum_one_works() -> None:
    outcome = run_ceremony(get_group(), 1, 1, BASE)
    assert verify_transcript(outcome.transcript) == []
    assert decrypt_with(outcome, (1,), [1, 1, 1]) == 3


def test_key_share_files_are_private_and_round_trip(
    ceremony: CeremonyOutcome, tmp_path: Path
) -> None:
    path = tmp_path / "guardian-2.key"
    write_key_share(path, ceremony.shares[2])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_key_share(path) == ceremony.shares[2]
    assert str(ceremony.shares[2].secret) not in repr(ceremony.shares[2])
    with pytest.raises(FileExistsError):
        write_key_share(path, ceremony.shares[2])
    os.chmod(path, 0o644)
    with pytest.raises(ValueError, match="chmod 600"):
        read_key_share(path)
