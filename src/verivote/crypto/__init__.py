"""Verifiable encryption: groups, hashing, ElGamal, proofs, key ceremony, threshold decryption.

DESIGN.md, "Cryptography". Every function here is pure given its randomness; randomness for a
real election comes from `secrets` (see `verivote.crypto.group.Group.random_scalar`).
"""
