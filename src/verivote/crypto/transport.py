"""Sending a key-ceremony share from one guardian to another, encrypted and authenticated.

X25519 between the sender's and the recipient's published transport keys, HKDF-SHA256 to a
ChaCha20-Poly1305 key bound to the election base hash and both guardian indices, and the same
binding as associated data (the `cryptography` package throughout). A static–static key
exchange authenticates the sender: only the two guardians can form the key, so a share that
decrypts came from the sender named in it (or from the recipient itself).
"""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from verivote.crypto.hashing import encode_items


def new_transport_key() -> tuple[bytes, bytes]:
    """A fresh X25519 key pair as (private, public) raw 32-byte strings."""
    private = X25519PrivateKey.generate()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return private.private_bytes_raw(), public


def _key(
    private: bytes, peer_public: bytes, base_hash: bytes, sender: int, recipient: int
) -> bytes:
    shared = X25519PrivateKey.from_private_bytes(private).exchange(
        X25519PublicKey.from_public_bytes(peer_public)
    )
    info = encode_items("share-key", [sender, recipient])
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=base_hash, info=info).derive(shared)


def _aad(base_hash: bytes, sender: int, recipient: int) -> bytes:
    return encode_items("share", [base_hash, sender, recipient])


def seal(
    plaintext: bytes,
    sender_private: bytes,
    recipient_public: bytes,
    base_hash: bytes,
    sender: int,
    recipient: int,
) -> tuple[bytes, bytes]:
    """Encrypt `plaintext` from `sender` to `recipient`; returns (nonce, ciphertext)."""
    key = _key(sender_private, recipient_public, base_hash, sender, recipient)
    nonce = secrets.token_bytes(12)
    return nonce, ChaCha20Poly1305(key).encrypt(
        nonce, plaintext, _aad(base_hash, sender, recipient)
    )


def open_sealed(
    nonce: bytes,
    ciphertext: bytes,
    recipient_private: bytes,
    sender_public: bytes,
    base_hash: bytes,
    sender: int,
    recipient: int,
) -> bytes | None:
    """The plaintext, or None if the message was not sealed by `sender` for `recipient`."""
    try:
        key = _key(recipient_private, sender_public, base_hash, sender, recipient)
        return ChaCha20Poly1305(key).decrypt(nonce, ciphertext, _aad(base_hash, sender, recipient))
    except (InvalidTag, ValueError):
        return None
