"""Opening a challenged ballot's contest data with the published β = C0^s.

Spec 2.0.0 §3.3 (contest data) encrypts a contest's extra data (overvotes, write-ins, status)
with hashed ElGamal: k = H(H_E; 0x22, K, C0, β), then an HMAC-based KDF in counter mode
    k_i = HMAC(k, b(i, 4) ‖ Label ‖ 0x00 ‖ Context ‖ b(length, 4)),  0 ≤ i ≤ b_D,
gives the MAC key k_0 and the pad k_1 … k_(b_D); C1 = D_1 ⊕ k_1 ‖ …, C2 = HMAC(k_0, C0 ‖ C1).
§3.6.4 decrypts it from β, proved by Verification 14.

The spec's Label is "data_enc_keys", its Context "contest_data" ‖ b(ind_c, 4) and its length
(b_D + 1)·256. egk, which wrote the test record, uses Label "share_enc_keys", Context
"contest_data" followed by the contest's id, and length 8·numBytes. Both are tried: the MAC
decides, so only a β and a ciphertext that belong together open.

The plaintext layout is not fixed by the spec (§3.3 leaves the data's format to the
implementation); egk's, the one read here, is a varint count of overvoted options and each
option's sequence order as a varint, a varint count of write-ins and each as a varint length
and UTF-8, the status as a varint length and UTF-8, then zero bytes to the fixed size.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from verivote.interop.electionguard import hashing
from verivote.interop.electionguard.encoding import element_bytes, int4
from verivote.interop.electionguard.record import ContestDataValues, HashedCiphertext

BLOCK = 32


def _kdf_inputs(
    data: HashedCiphertext, contest_id: str, index: int
) -> list[tuple[bytes, bytes, int]]:
    """(Label, Context, length) as the spec has them, then as egk has them."""
    blocks = len(data.c1) // BLOCK
    return [
        (b"data_enc_keys", b"contest_data" + int4(index), (blocks + 1) * 256),
        (b"share_enc_keys", b"contest_data" + contest_id.encode(), 8 * data.num_bytes),
    ]


def open_contest_data(
    h_e: bytes, key: Any, data: HashedCiphertext, beta: Any, contest_id: str, index: int
) -> bytes | None:
    """D, the first numBytes bytes of the plaintext, if C2 authenticates C0 ‖ C1 under the
    keys that β gives; None if it does not (under either set of KDF inputs)."""
    if len(data.c1) % BLOCK:
        return None
    secret = hashing.contest_data_key(h_e, key, data.c0, beta)
    blocks = len(data.c1) // BLOCK
    for label, context, length in _kdf_inputs(data, contest_id, index):
        keys = [
            hmac.new(
                secret, int4(i) + label + b"\x00" + context + int4(length), hashlib.sha256
            ).digest()
            for i in range(blocks + 1)
        ]
        mac = hmac.new(keys[0], element_bytes(data.c0) + data.c1, hashlib.sha256).digest()
        if hmac.compare_digest(mac, data.c2):
            pad = b"".join(keys[1:])
            return bytes(x ^ y for x, y in zip(data.c1, pad, strict=True))[: data.num_bytes]
    return None


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def varint(self) -> int:
        value = shift = 0
        while True:
            if self.at >= len(self.data) or shift > 28:
                raise ValueError("truncated")
            byte = self.data[self.at]
            self.at += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7

    def string(self) -> str:
        n = self.varint()
        if self.at + n > len(self.data):
            raise ValueError("truncated")
        raw = self.data[self.at : self.at + n]
        self.at += n
        return raw.decode("utf-8")


def decode_contest_data(plaintext: bytes) -> ContestDataValues | None:
    """egk's contest data, or None if `plaintext` is not in its layout (see the module)."""
    reader = _Reader(plaintext)
    try:
        over_votes = tuple(reader.varint() for _ in range(reader.varint()))
        write_ins = tuple(reader.string() for _ in range(reader.varint()))
        status = reader.string()
    except (ValueError, UnicodeDecodeError):
        return None
    if any(plaintext[reader.at :]):
        return None  # the rest is the padding: zeros only
    return ContestDataValues(over_votes, write_ins, status)
