"""Signed notes, as specified by C2SP signed-note (https://c2sp.org/signed-note), with Ed25519
keys (signature type 0x01) — the envelope of the board's checkpoints (DESIGN.md,
"Bulletin board").

A signed note is its text (ending in a newline), a blank line, then one or more signature lines

    — <key name> <base64(key ID ‖ Ed25519 signature of the text)>

with the em dash U+2014. The key ID is the first four bytes of
SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key), the spec's recommended derivation.
A note must be UTF-8 without ASCII control characters other than the newline; key names are
non-empty and hold no Unicode space and no plus sign.

Keys are passed around as text in the encodings that Go's golang.org/x/mod/sumdb/note defined
and the ecosystem uses (the spec leaves key encoding open):

    verifier key  <name>+<key ID, 8 lowercase hex digits>+<base64(0x01 ‖ public key)>
    signer key    PRIVATE+KEY+<name>+<key ID>+<base64(0x01 ‖ 32-byte Ed25519 seed)>

Opening a note follows the spec's rules: signatures by unknown keys (unknown name *and* key ID)
are ignored; a signature by a known key that fails rejects the whole note; a note that no known
key signed is rejected. Base64 is decoded strictly (canonical padding bits), so that a changed
character in a signature line always changes the bytes it stands for.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "MAX_SIGNATURES",
    "NoteSignature",
    "Verifier",
    "generate_signer",
    "key_id",
    "open_note",
    "parse_note",
    "parse_verifier",
    "sign",
    "signature_line",
    "signer_from_seed",
    "verifier_from_signer",
]

ED25519 = 0x01
"""The signature type byte of Ed25519 note signatures."""

MAX_SIGNATURES = 100
"""The most signature lines a note may carry (the spec asks verifiers to accept at least 16)."""

_DASH = "\u2014 "
_PRIVATE = "PRIVATE+KEY+"
_HEX8 = re.compile(r"[0-9a-f]{8}", re.ASCII)


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError("a key name must be a non-empty string")
    for char in name:
        if char.isspace() or char == "+" or ord(char) < 0x20:
            raise ValueError(f"key name {name!r} contains {char!r} (no spaces, '+' or controls)")
    return name


def _b64decode(text: str, what: str) -> bytes:
    """Standard base64 (RFC 4648 §4), refusing every spelling but the canonical one."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise ValueError(f"{what} is not valid base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError(f"{what} is not canonical base64")
    return raw


def key_id(name: str, public_key: bytes) -> int:
    """SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4] as a big-endian integer."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ED25519]) + public_key)
    return int.from_bytes(digest.digest()[:4], "big")


def _public_bytes(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes_raw()


def _encode_keys(name: str, private: Ed25519PrivateKey) -> tuple[str, str]:
    public = _public_bytes(private)
    ident = f"{key_id(name, public):08x}"
    secret = base64.b64encode(bytes([ED25519]) + private.private_bytes_raw()).decode("ascii")
    shown = base64.b64encode(bytes([ED25519]) + public).decode("ascii")
    return f"{_PRIVATE}{name}+{ident}+{secret}", f"{name}+{ident}+{shown}"


def generate_signer(name: str) -> tuple[str, str]:
    """A fresh Ed25519 key for `name`: (signer key, verifier key). Keep the signer key secret."""
    return _encode_keys(_check_name(name), Ed25519PrivateKey.generate())


def signer_from_seed(name: str, seed: bytes) -> tuple[str, str]:
    """(signer key, verifier key) of the Ed25519 key with this 32-byte seed (RFC 8032 §5.1.5).

    For known-answer tests and keys derived elsewhere; a seed must be secret and uniformly
    random to make a real key.
    """
    if not isinstance(seed, bytes) or len(seed) != 32:
        raise ValueError("an Ed25519 seed is 32 bytes")
    return _encode_keys(_check_name(name), Ed25519PrivateKey.from_private_bytes(seed))


@dataclass(frozen=True)
class Verifier:
    """A parsed verifier key: name, key ID and raw Ed25519 public key."""

    name: str
    key_id: int
    public_key: bytes

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Whether `signature` is this key's Ed25519 signature of `text`."""
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, text)
        except (InvalidSignature, ValueError):
            return False
        return True

    def __str__(self) -> str:
        key = base64.b64encode(bytes([ED25519]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id:08x}+{key}"


def _split_key(text: str, what: str) -> tuple[str, int, bytes]:
    # name + ID + base64; the base64 may itself contain '+', the name may not.
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise ValueError(f"{what} is not of the form <name>+<key ID>+<key>")
    name, ident, encoded = parts
    _check_name(name)
    if not _HEX8.fullmatch(ident):
        raise ValueError(f"{what}: the key ID must be 8 lowercase hex digits, not {ident!r}")
    raw = _b64decode(encoded, f"{what}: the key")
    if len(raw) != 33 or raw[0] != ED25519:
        raise ValueError(f"{what}: not an Ed25519 key (type 0x01 and 32 bytes)")
    return name, int(ident, 16), raw[1:]


def parse_verifier(verifier_key: str) -> Verifier:
    """Parse `<name>+<key ID>+<base64(0x01 ‖ public key)>`, checking the key ID."""
    if not isinstance(verifier_key, str):
        raise ValueError("a verifier key is a string")
    name, ident, public = _split_key(verifier_key, "verifier key")
    if key_id(name, public) != ident:
        raise ValueError(f"verifier key {name}: key ID does not match the key")
    try:
        Ed25519PublicKey.from_public_bytes(public)
    except ValueError:
        raise ValueError(f"verifier key {name}: not a valid Ed25519 public key") from None
    return Verifier(name, ident, public)


def _parse_signer(signer_key: str) -> tuple[str, int, Ed25519PrivateKey]:
    if not isinstance(signer_key, str) or not signer_key.startswith(_PRIVATE):
        raise ValueError("a signer key starts with PRIVATE+KEY+")
    name, ident, seed = _split_key(signer_key[len(_PRIVATE) :], "signer key")
    private = Ed25519PrivateKey.from_private_bytes(seed)
    if key_id(name, _public_bytes(private)) != ident:
        raise ValueError(f"signer key {name}: key ID does not match the key")
    return name, ident, private


def verifier_from_signer(signer_key: str) -> str:
    """The verifier key that goes with a signer key."""
    name, ident, private = _parse_signer(signer_key)
    shown = base64.b64encode(bytes([ED25519]) + _public_bytes(private)).decode("ascii")
    return f"{name}+{ident:08x}+{shown}"


def _check_text(text: str) -> bytes:
    if not isinstance(text, str) or not text.endswith("\n"):
        raise ValueError("note text must be a string ending in a newline")
    _check_chars(text, "note text")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("note text is not valid Unicode") from None


def _check_chars(text: str, what: str) -> None:
    for char in text:
        if ord(char) < 0x20 and char != "\n":
            raise ValueError(f"{what} contains the control character {char!r}")


def signature_line(text: str, signer_key: str) -> str:
    """One signature line, "— <name> <base64>\\n", by `signer_key` over `text`.

    Appending it to a signed note of the same text adds a signature (a cosignature).
    """
    raw_text = _check_text(text)
    name, ident, private = _parse_signer(signer_key)
    blob = ident.to_bytes(4, "big") + private.sign(raw_text)
    return f"{_DASH}{name} {base64.b64encode(blob).decode('ascii')}\n"


def sign(text: str, signers: Sequence[str]) -> str:
    """The signed note: `text`, a blank line, one signature line per signer key in order."""
    if isinstance(signers, str) or not signers:
        raise ValueError("sign needs a list of at least one signer key")
    if len(signers) > MAX_SIGNATURES:
        raise ValueError(f"at most {MAX_SIGNATURES} signatures")
    return text + "\n" + "".join(signature_line(text, key) for key in signers)


@dataclass(frozen=True)
class NoteSignature:
    """One signature line of a note, parsed but not verified."""

    name: str
    key_id: int
    signature: bytes
    line: str


def parse_note(note: str) -> tuple[str, list[NoteSignature]]:
    """Split a signed note into its text and signature lines, checking syntax only.

    The text ends at the last blank line (the text itself may hold blank lines). Raises
    ValueError on a malformed note; nothing is verified.
    """
    if not isinstance(note, str):
        raise ValueError("a note is a string")
    _check_chars(note, "note")
    try:
        note.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("note is not valid Unicode") from None
    split = note.rfind("\n\n")
    if split < 0:
        raise ValueError("malformed note: no blank line before the signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith("\n"):
        raise ValueError("malformed note: it must end in a newline after the signatures")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise ValueError(f"note has {len(lines)} signatures, more than {MAX_SIGNATURES}")
    signatures: list[NoteSignature] = []
    seen: set[tuple[str, int]] = set()
    for number, line in enumerate(lines, start=1):
        where = f"signature line {number}"
        if not line.startswith(_DASH):
            raise ValueError(f"malformed note: {where} does not start with an em dash and space")
        parts = line[len(_DASH) :].split(" ")
        if len(parts) != 2:
            raise ValueError(f"malformed note: {where} is not '— <name> <signature>'")
        name, encoded = parts
        try:
            _check_name(name)
        except ValueError as exc:
            raise ValueError(f"malformed note: {where}: {exc}") from None
        blob = _b64decode(encoded, f"{where}: the signature")
        if len(blob) < 5:
            raise ValueError(f"malformed note: {where}: signature too short")
        ident = int.from_bytes(blob[:4], "big")
        if (name, ident) in seen:
            raise ValueError(f"malformed note: {where} repeats the key {name}+{ident:08x}")
        seen.add((name, ident))
        signatures.append(NoteSignature(name, ident, blob[4:], line))
    return text, signatures


def open_note(note: str, known_verifiers: Sequence[str]) -> tuple[str, list[str]]:
    """Verify a signed note against the known verifier keys.

    Returns (text, names of the known keys whose signatures verified, in note order).
    Signatures by unknown keys are ignored. Raises ValueError if the note is malformed, if a
    known key's signature fails, or if no known key signed it.
    """
    if isinstance(known_verifiers, str):
        raise ValueError("open_note needs a list of verifier keys, not one string")
    known: dict[tuple[str, int], Verifier] = {}
    for key in known_verifiers:
        verifier = parse_verifier(key)
        handle = (verifier.name, verifier.key_id)
        if handle in known and known[handle] != verifier:
            raise ValueError(f"two different known keys share the name and ID {key!r}")
        known[handle] = verifier
    text, signatures = parse_note(note)
    raw_text = text.encode("utf-8")
    names: list[str] = []
    for signature in signatures:
        signer = known.get((signature.name, signature.key_id))
        if signer is None:
            continue  # unknown key: the spec says to ignore it
        if not signer.verify(raw_text, signature.signature):
            raise ValueError(f"the signature by {signature.name} does not verify")
        names.append(signature.name)
    if not names:
        raise ValueError("the note is not signed by any known key")
    return text, names
