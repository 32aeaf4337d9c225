"""ElectionGuard 2.0.0's hash function and every hash a verifier recomputes.

Spec 2.0.0 §5: H(B0; B1) = HMAC-SHA-256(B0, B1), keyed by a 32-byte hash of the level above
(the version, H_P, H_B or H_E), where B1 is a one-byte domain separator followed by the inputs,
each in its fixed-width form (§5.1): an element of Z_p as b(x, 512), a scalar or a hash as
b(x, 32), an index or count as b(i, 4), a variable-length byte string as b(len, 4) ‖ bytes.
A challenge is H(…) read as a big-endian integer and reduced mod q (it is compared with a
published c ∈ Z_q).

Two inputs are hashed differently by egk (the implementation that wrote the test record) than
§5's byte tables say; both forms are accepted where noted, since each binds the same values:
- the confirmation code's B_aux: egk hashes its bytes without the 4-byte length (§3.4.2);
- the contest data's C1 in the decryption challenge: egk hashes the upper-case hex string of C1
  instead of its bytes (§3.6.4, Verification 14.B).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from typing import Any

from verivote.crypto.groups.eg4096 import Q
from verivote.interop.electionguard.encoding import element_bytes, int4

VERSION = b"v2.0.0"
"""The specification version a record must follow (Verification 1.A)."""


def eg_hash(key: bytes, separator: int, *parts: bytes) -> bytes:
    """H(key; separator, parts…) = HMAC-SHA-256(key, separator ‖ parts) (spec §5)."""
    return hmac.new(key, bytes([separator]) + b"".join(parts), hashlib.sha256).digest()


def to_q(digest: bytes) -> int:
    """A hash output as an element of Z_q (challenges are compared mod q)."""
    return int.from_bytes(digest, "big") % Q


def version_key(version: bytes = VERSION) -> bytes:
    """H_V: the version string's UTF-8 bytes padded with zeros to 32 bytes (spec §3.1.2)."""
    return version.ljust(32, b"\0")


def parameter_base_hash(p: int, q: int, g: int) -> bytes:
    """H_P = H(H_V; 0x00, p, q, g) (spec §3.1.2; its published value is in the spec)."""
    return eg_hash(version_key(), 0x00, element_bytes(p), q.to_bytes(32, "big"), element_bytes(g))


def manifest_hash(h_p: bytes, manifest: bytes) -> bytes:
    """H_M = H(H_P; 0x01, b(len, 4) ‖ manifest), over the manifest file's bytes as published
    (spec §3.1.3)."""
    return eg_hash(h_p, 0x01, int4(len(manifest)), manifest)


def election_base_hash(h_p: bytes, h_m: bytes, n: int, k: int) -> bytes:
    """H_B = H(H_P; 0x02, H_M, b(n, 4), b(k, 4)) (spec §3.1.4)."""
    return eg_hash(h_p, 0x02, h_m, int4(n), int4(k))


def guardian_challenge(h_p: bytes, i: int, j: int, commitment: Any, h: Any) -> int:
    """c_{i,j} = H(H_P; 0x10, b(i, 4), b(j, 4), K_{i,j}, h_{i,j}) mod q: the Schnorr proof of
    guardian i's coefficient j (spec §3.2.2, Verification 2.C)."""
    return to_q(eg_hash(h_p, 0x10, int4(i), int4(j), element_bytes(commitment), element_bytes(h)))


def extended_base_hash(h_b: bytes, key: Any) -> bytes:
    """H_E = H(H_B; 0x12, K) (spec §3.2.3, Verification 4)."""
    return eg_hash(h_b, 0x12, element_bytes(key))


def range_challenge(
    h_e: bytes, key: Any, alpha: Any, beta: Any, commitments: Iterable[tuple[Any, Any]]
) -> int:
    """c = H(H_E; 0x21, K, α, β, a_0, b_0, …, a_R, b_R) mod q: the range proof of a selection
    or of a contest's sum (spec §3.3.5, Verifications 5.B and 6.B)."""
    parts = [element_bytes(key), element_bytes(alpha), element_bytes(beta)]
    for a, b in commitments:
        parts += [element_bytes(a), element_bytes(b)]
    return to_q(eg_hash(h_e, 0x21, *parts))


def contest_data_key(h_e: bytes, key: Any, c0: Any, beta: Any) -> bytes:
    """k = H(H_E; 0x22, K, C0, β): the hashed-ElGamal secret of a contest's data, with β = C0^s
    (spec §3.3, contest data encryption; §3.6.4 for its decryption)."""
    return eg_hash(h_e, 0x22, element_bytes(key), element_bytes(c0), element_bytes(beta))


def contest_hash(h_e: bytes, index: int, key: Any, ciphertexts: Sequence[tuple[Any, Any]]) -> bytes:
    """χ = H(H_E; 0x23, b(ind_c, 4), K, α_1, β_1, …, α_m, β_m): a contest's hash, over its
    selections' ciphertexts in manifest order (spec §3.4.1, Verification 7.A)."""
    parts = [int4(index), element_bytes(key)]
    for alpha, beta in ciphertexts:
        parts += [element_bytes(alpha), element_bytes(beta)]
    return eg_hash(h_e, 0x23, *parts)


def confirmation_codes(h_e: bytes, contest_hashes: Sequence[bytes], b_aux: bytes) -> list[bytes]:
    """The accepted values of H(B) = H(H_E; 0x24, χ_1, …, χ_m, B_aux) (spec §3.4.2,
    Verification 7.B): with B_aux as b(len, 4) ‖ B_aux, as §5 encodes a byte string, and with
    B_aux's bytes alone, as egk writes it."""
    return [
        eg_hash(h_e, 0x24, *contest_hashes, int4(len(b_aux)), b_aux),
        eg_hash(h_e, 0x24, *contest_hashes, b_aux),
    ]


def chain_starts(h_e: bytes, b_aux0: bytes) -> list[bytes]:
    """The accepted values of H_0 = H(H_E; 0x24, B_aux,0), the first link of a device's chain
    of confirmation codes (spec §3.4.3), in the two encodings of `confirmation_codes`."""
    return [eg_hash(h_e, 0x24, int4(len(b_aux0)), b_aux0), eg_hash(h_e, 0x24, b_aux0)]


def decryption_challenge(h_e: bytes, key: Any, a_: Any, b_: Any, a: Any, b: Any, m: Any) -> int:
    """c = H(H_E; 0x30, K, A, B, a, b, M) mod q: the proof that M = A^s decrypts (A, B)
    (spec §3.6.3, Verifications 9.B and 12.B)."""
    return to_q(eg_hash(h_e, 0x30, *(element_bytes(x) for x in (key, a_, b_, a, b, m))))


def contest_data_challenges(
    h_e: bytes, key: Any, c0: Any, c1: bytes, c2: bytes, a: Any, b: Any, beta: Any
) -> list[int]:
    """The accepted values of c = H(H_E; 0x31, K, C0, C1, C2, a, b, β) mod q, the proof that
    β = C0^s (spec §3.6.4, Verification 14.B): C1 as its bytes, and as egk hashes it, the
    upper-case hex string of those bytes."""
    head, tail = element_bytes(key) + element_bytes(c0), element_bytes(a) + element_bytes(b)
    return [
        to_q(eg_hash(h_e, 0x31, head, encoded, c2, tail, element_bytes(beta)))
        for encoded in (c1, c1.hex().upper().encode())
    ]
