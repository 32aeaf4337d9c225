"""Verifying ElectionGuard 2.0 election records with verivote's `eg4096` group.

`verify_electionguard_record(directory)` checks a record written in egk's JSON layout (the
ElectionGuard 2.1 serialization draft over the 2.0.0 cryptography; `record` lists its files)
and returns a `verivote.verify.Report` with these checks (spec 2.0.0 §6, Verifications 1–14):

    eg-parameters          1: spec version, standard group, H_P, H_M, H_B
    eg-guardians           2: every coefficient commitment's Schnorr proof
    eg-joint-key           3, 4: K = ∏ K_i, H_E = H(H_B; 0x12, K)
    eg-ballots             5, 6: every selection's and contest's range proof; structure
    eg-confirmation-codes  7: contest hashes, confirmation codes, uniqueness, chains
    eg-tally               8: the encrypted tally is the product of the CAST ballots
    eg-decryption          9, 10: the tally's decryptions, their proofs, T = K^t
    eg-challenged          12–14: challenged ballots' decryptions and contest data

Modules, one job each: `encoding` (numbers and validated elements), `record` (the files),
`hashing` (H and every hash), `proofs`, `contest_data` (hashed ElGamal with β),
`ballots` and `pool` (per-ballot checks on several processes), `check_*` (the checks) and
`verifier` (all of them, in order).
"""

from verivote.interop.electionguard.verifier import verify_electionguard_record

__all__ = ["verify_electionguard_record"]
