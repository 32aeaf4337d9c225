"""Checks `eg-parameters`, `eg-guardians` and `eg-joint-key`: what the election is before any
ballot (spec 2.0.0 §3.1, §3.2; Verifications 1–4)."""

from __future__ import annotations

from verivote.crypto.groups.eg4096 import G, P, Q, R
from verivote.interop.electionguard import hashing, proofs
from verivote.interop.electionguard.record import INITIALIZED, Config, Constants, Initialized
from verivote.verify.report import Check

PARAMETERS = "eg-parameters"
GUARDIANS = "eg-guardians"
JOINT_KEY = "eg-joint-key"


def check_parameters(
    constants: Constants | str,
    config: Config | str,
    manifest_bytes: bytes | str,
) -> Check:
    """Verification 1: the record follows spec 2.0.0 (1.A), its group is the standard one,
    p, q, r, g of §3.1.1 (1.B), and H_P, H_M, H_B are those recomputed from it (1.C):
    H_P = H(H_V; 0x00, p, q, g), H_M = H(H_P; 0x01, manifest), H_B = H(H_P; 0x02, H_M, n, k).
    A `str` argument is why that file could not be read. Also 1 ≤ k ≤ n."""
    check = Check(PARAMETERS)
    if isinstance(constants, str):
        check.fail(None, constants)
    else:
        check.items += 5
        if constants.version != hashing.VERSION.decode():
            check.fail(
                None,
                f"constants.json: protocol version {constants.version!r}, not "
                f"{hashing.VERSION.decode()!r} (1.A)",
            )
        standard = {"p (largePrime)": P, "q (smallPrime)": Q, "r (cofactor)": R, "g": G}
        given = {
            "p (largePrime)": constants.p,
            "q (smallPrime)": constants.q,
            "r (cofactor)": constants.r,
            "g": constants.g,
        }
        for name, value in standard.items():
            if given[name] != value:
                check.fail(None, f"constants.json: {name} is not the standard value (1.B)")
    if isinstance(config, str):
        check.fail(None, config)
        if isinstance(manifest_bytes, str):
            check.fail(None, manifest_bytes)
        return check.close()
    check.items += 3
    if not 1 <= config.k <= config.n:
        check.fail(None, f"election_config.json: quorum {config.k} of {config.n} guardians")
    # H_P is recomputed from the standard constants: 1.B already says if the file differs
    h_p = hashing.parameter_base_hash(int(P), Q, int(G))
    if config.h_p != h_p:
        check.fail(None, "election_config.json: parameter_base_hash is not H_P (1.C)")
    if isinstance(manifest_bytes, str):
        check.fail(None, manifest_bytes)
        return check.close()
    h_m = hashing.manifest_hash(config.h_p, manifest_bytes)
    if config.h_m != h_m:
        check.fail(None, "election_config.json: manifest_hash is not H_M of manifest.json (1.C)")
    h_b = hashing.election_base_hash(config.h_p, config.h_m, config.n, config.k)
    if config.h_b != h_b:
        check.fail(None, "election_config.json: election_base_hash is not H_B (1.C)")
    return check.close()


def check_guardians(
    config: Config | None, initialized: Initialized | str, invalid: list[str]
) -> Check:
    """Verification 2: n guardians with distinct indices 1 … n, each with k commitments
    K_i,0 … K_i,k−1 in the order-q subgroup (2.A: `invalid` names those that are not), each
    with a valid Schnorr proof (2.B, 2.C) hashed under the published H_P."""
    check = Check(GUARDIANS)
    if isinstance(initialized, str):
        check.fail(None, initialized)
        return check.close()
    for place in invalid:
        if place.startswith("guardians"):
            check.fail(None, f"{INITIALIZED}: {place}: not in the order-q subgroup (2.A)")
    if config is None:
        check.fail(None, "not checked: election_config.json cannot be read")
        return check.close()
    guardians = initialized.guardians
    if len(guardians) != config.n:
        check.fail(None, f"{len(guardians)} guardians, the configuration says n = {config.n}")
    indices = [g.index for g in guardians]
    if sorted(indices) != list(range(1, len(indices) + 1)):
        check.fail(None, f"guardian indices {sorted(indices)} are not 1 … {len(indices)}")
    ids = [g.guardian_id for g in guardians]
    if len(set(ids)) != len(ids):
        check.fail(None, "a guardian id appears twice")
    for guardian in guardians:
        if len(guardian.proofs) != config.k:
            check.fail(
                None,
                f"guardian {guardian.guardian_id}: {len(guardian.proofs)} commitments, the "
                f"quorum k = {config.k} needs {config.k}",
            )
        for j, proof in enumerate(guardian.proofs):
            check.items += 1
            reason = proofs.schnorr(config.h_p, guardian.index, j, proof)
            if reason:
                check.fail(None, f"guardian {guardian.guardian_id} coefficient {j}: {reason}")
    return check.close()


def check_joint_key(
    config: Config | None, initialized: Initialized | str, invalid: list[str]
) -> Check:
    """Verifications 3 and 4: K and every guardian key K_i = K_i,0 lie in the order-q subgroup
    and are not 1 (3.A), K = ∏ K_i (3.B), and H_E = H(H_B; 0x12, K) (4.A), with the published
    H_B."""
    check = Check(JOINT_KEY)
    if isinstance(initialized, str):
        check.fail(None, initialized)
        return check.close()
    if "joint_public_key" in invalid:
        check.fail(None, f"{INITIALIZED}: joint_public_key: not in the order-q subgroup (3.A)")
    product = 1
    for guardian in initialized.guardians:
        check.items += 1
        if not guardian.proofs:
            check.fail(None, f"guardian {guardian.guardian_id}: no public key K_i,0")
            continue
        key = guardian.proofs[0].commitment
        if key == 1:
            check.fail(None, f"guardian {guardian.guardian_id}: the public key is 1 (3.A)")
        product = product * key % P
    if initialized.key == 1:
        check.fail(None, "the joint public key K is 1: it would not hide any vote")
    if product != initialized.key:
        check.fail(None, "the joint public key K is not the product of the guardians' keys (3.B)")
    if config is None:
        check.fail(None, "H_E not checked: election_config.json cannot be read")
    elif hashing.extended_base_hash(config.h_b, initialized.key) != initialized.h_e:
        check.fail(None, "extended_base_hash is not H(H_B; 0x12, K) (4.A)")
    return check.close()
