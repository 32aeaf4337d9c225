"""Checkpoints of the bulletin board, C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint),
and the faction witnesses that cosign them (DESIGN.md, "Bulletin board").

A checkpoint is the text of a signed note (`verivote.board.note`):

    <origin>\\n
    <tree size, decimal, no leading zeros>\\n
    <base64 of the RFC 6962 root hash>\\n
    [<extension line>\\n ...]

The origin names the log (here: the election board), and the election authority's key name
equals it, as the spec recommends. The authority signs every checkpoint; each faction runs a
`Witness` that adds its own signature only to a checkpoint that extends the last one it signed,
so a board that shows different histories to different people (a fork) or rewrites its past
cannot gather the witnesses' signatures for both.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from verivote.board.merkle import HASH_SIZE, verify_consistency
from verivote.board.note import (
    open_note,
    parse_note,
    parse_verifier,
    sign,
    signature_line,
    verifier_from_signer,
)

__all__ = [
    "BAD_REQUEST",
    "CONFLICT",
    "FORBIDDEN",
    "NOT_FOUND",
    "UNPROCESSABLE",
    "Checkpoint",
    "Witness",
    "WitnessRefusal",
    "format_checkpoint",
    "open_checkpoint",
    "parse_checkpoint",
    "sign_checkpoint",
]

MAX_TREE_SIZE = 2**64 - 1
"""Tree sizes are uint64 in RFC 6962 / RFC 9162."""

_DECIMAL = re.compile(r"0|[1-9][0-9]*", re.ASCII)


def _check_line(line: str, what: str) -> None:
    if not line:
        raise ValueError(f"checkpoint {what} must not be empty")
    for char in line:
        if ord(char) < 0x20:
            raise ValueError(f"checkpoint {what} contains the control character {char!r}")


@dataclass(frozen=True)
class Checkpoint:
    """A log's signed tree head: origin, tree size and root hash (and opaque extension lines,
    which the spec allows but does not recommend)."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str):
            raise ValueError("checkpoint origin must be a string")
        _check_line(self.origin, "origin")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise ValueError("checkpoint size must be an integer")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise ValueError(f"checkpoint size {self.size} outside 0..2^64-1")
        if not isinstance(self.root, bytes) or len(self.root) != HASH_SIZE:
            raise ValueError(f"checkpoint root must be {HASH_SIZE} bytes")
        if not isinstance(self.extensions, tuple):
            raise ValueError("checkpoint extensions must be a tuple of lines")
        for line in self.extensions:
            if not isinstance(line, str):
                raise ValueError("checkpoint extension lines must be strings")
            _check_line(line, "extension line")


def format_checkpoint(checkpoint: Checkpoint) -> str:
    """The note text of a checkpoint (ending in a newline)."""
    lines = [
        checkpoint.origin,
        str(checkpoint.size),
        base64.b64encode(checkpoint.root).decode("ascii"),
        *checkpoint.extensions,
    ]
    return "".join(line + "\n" for line in lines)


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse checkpoint note text strictly: exactly what `format_checkpoint` writes.

    Raises ValueError naming the first thing wrong.
    """
    if not isinstance(text, str) or not text.endswith("\n"):
        raise ValueError("checkpoint text must end in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise ValueError("checkpoint needs origin, size and root hash lines")
    origin, size_text, root_text, *extensions = lines
    _check_line(origin, "origin")
    if not _DECIMAL.fullmatch(size_text):
        raise ValueError(f"checkpoint size {size_text!r} is not a decimal without leading zeros")
    size = int(size_text)
    try:
        root = base64.b64decode(root_text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, ValueError):
        raise ValueError("checkpoint root hash is not base64") from None
    if base64.b64encode(root).decode("ascii") != root_text:
        raise ValueError("checkpoint root hash is not canonical base64")
    if len(root) != HASH_SIZE:
        raise ValueError(f"checkpoint root hash is {len(root)} bytes, not {HASH_SIZE}")
    for line in extensions:
        _check_line(line, "extension line")
    return Checkpoint(origin, size, root, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signers: Sequence[str]) -> str:
    """The checkpoint as a note signed by these signer keys (the authority's first)."""
    return sign(format_checkpoint(checkpoint), signers)


def open_checkpoint(note: str, known_verifiers: Sequence[str]) -> tuple[Checkpoint, list[str]]:
    """Verify a signed checkpoint: (checkpoint, names of the known keys that signed it).

    Raises ValueError as `open_note` does, or if the text is not a checkpoint.
    """
    text, names = open_note(note, known_verifiers)
    return parse_checkpoint(text), names


BAD_REQUEST = 400
FORBIDDEN = 403
NOT_FOUND = 404
CONFLICT = 409
UNPROCESSABLE = 422
"""The answers of C2SP tlog-witness add-checkpoint (https://c2sp.org/tlog-witness) to a request
it refuses: malformed (400), not signed by the log's known key (403), a log it does not witness
(404), an `old` size that is not the one it last cosigned (409, with that size), and a
checkpoint inconsistent with the one it cosigned (422)."""


class WitnessRefusal(Exception):
    """A witness declined to cosign; `reason` says why, `status` is the tlog-witness answer
    (HTTP status), and for a 409 `known_size` is the tree size the witness last cosigned."""

    def __init__(
        self, reason: str, status: int = UNPROCESSABLE, known_size: int | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.known_size = known_size


class Witness:
    """A faction's witness: cosigns a checkpoint only if it extends the last one it cosigned.

    Per origin the witness remembers the last checkpoint (size, root) it cosigned. It refuses a
    note that the authority did not sign, a checkpoint whose origin is not the authority's key
    name, a smaller tree, the same size with another root (a fork), and a larger tree unless
    the given RFC 9162 consistency proof shows the remembered tree to be its prefix. The first
    checkpoint it sees for an origin is taken on trust, as there is nothing to compare it with.

    The cosignature is an ordinary Ed25519 note signature (type 0x01) by the witness key over
    the same checkpoint text, so any signed-note verifier checks it with the witness's
    verifier key. C2SP tlog-cosignature defines a timestamped cosignature (type 0x04, signing
    "cosignature/v1", a time line and the checkpoint body) that proves *when* the witness saw
    the checkpoint; it is a later option, not used here.

    `add_checkpoint` is the add-checkpoint call of C2SP tlog-witness, which the witness
    program (`verivote.parties.witness`, issue 14 item 3) serves over HTTP with the key and
    state in a folder of its own; `cosign` is the same check against one authority key.

    The state (`to_dict` / `from_dict`) is public data and small; the signer key is kept apart
    from it and never written there.
    """

    def __init__(self, signer_key: str, state: Mapping[str, Any] | None = None) -> None:
        self._verifier_key = verifier_from_signer(signer_key)  # checks the signer key
        self._signer_key = signer_key
        self._last: dict[str, Checkpoint] = {}
        if state is not None:
            self._last = _load_state(state)

    @property
    def verifier_key(self) -> str:
        """The witness's verifier key, to publish in the election record."""
        return self._verifier_key

    @property
    def name(self) -> str:
        """The witness's key name."""
        return parse_verifier(self._verifier_key).name

    def last(self, origin: str) -> Checkpoint | None:
        """The last checkpoint of `origin` this witness cosigned, if any."""
        return self._last.get(origin)

    def cosign(
        self, signed_note: str, consistency_proof: Sequence[bytes], authority_verifier: str
    ) -> str:
        """Check the authority's signed checkpoint and return the witness's signature line.

        The line ends in a newline: `signed_note + line` is the note with the cosignature
        added. `consistency_proof` runs from the last cosigned size of this origin to the new
        size (empty for the first checkpoint or an unchanged tree). Raises WitnessRefusal.
        The checkpoint's origin must be the authority's key name.
        """
        authority = parse_verifier(authority_verifier)  # a bad key is the caller's error
        try:
            text, _ = open_note(signed_note, [authority_verifier])
        except ValueError as exc:
            raise WitnessRefusal(
                f"not signed by the authority {authority.name}: {exc}", FORBIDDEN
            ) from None
        checkpoint = _checkpoint_of(text)
        if checkpoint.origin != authority.name:
            raise WitnessRefusal(
                f"checkpoint origin {checkpoint.origin!r} is not the authority {authority.name!r}",
                FORBIDDEN,
            )
        last = self._last.get(checkpoint.origin)
        return self._add(text, checkpoint, last.size if last else 0, consistency_proof)

    def add_checkpoint(
        self,
        old_size: int,
        consistency_proof: Sequence[bytes],
        signed_note: str,
        log_verifiers: Sequence[str],
    ) -> str:
        """The add-checkpoint call of C2SP tlog-witness: cosign `signed_note` if it is signed
        by the known key of its log (the `log_verifiers` key named as its origin), `old_size`
        is the size this witness last cosigned for that log (0 if none), and the RFC 9162
        `consistency_proof` shows the old tree to be a prefix of the new one.

        Returns the cosignature line (ending in a newline); the witness's state then holds
        the new checkpoint, which its keeper must save before handing the line out. Raises
        WitnessRefusal with the tlog-witness status: 400, 403, 404, 409 (with `known_size`)
        or 422.
        """
        try:
            text, _ = parse_note(signed_note)
        except ValueError as exc:
            raise WitnessRefusal(f"not a signed note: {exc}", BAD_REQUEST) from None
        checkpoint = _checkpoint_of(text)
        keys = [k for k in log_verifiers if parse_verifier(k).name == checkpoint.origin]
        if not keys:
            raise WitnessRefusal(
                f"unknown log {checkpoint.origin!r}: not witnessed here", NOT_FOUND
            )
        try:
            open_note(signed_note, keys)
        except ValueError as exc:
            raise WitnessRefusal(
                f"not signed by the log {checkpoint.origin}: {exc}", FORBIDDEN
            ) from None
        return self._add(text, checkpoint, old_size, consistency_proof)

    def _add(
        self, text: str, checkpoint: Checkpoint, old_size: int, consistency_proof: Sequence[bytes]
    ) -> str:
        proof = list(consistency_proof)
        if not all(isinstance(node, bytes) and len(node) == HASH_SIZE for node in proof):
            raise WitnessRefusal(
                f"the consistency proof must be a list of {HASH_SIZE}-byte hashes", BAD_REQUEST
            )
        last = self._last.get(checkpoint.origin)
        known = last.size if last else 0
        if old_size > checkpoint.size:
            raise WitnessRefusal(
                f"tree size {checkpoint.size} is smaller than {old_size}"
                + (", already cosigned" if old_size == known else ""),
                BAD_REQUEST,
            )
        if old_size != known:
            raise WitnessRefusal(
                f"old size {old_size} is not {known}, the size last cosigned", CONFLICT, known
            )
        if last is not None:
            self._check_extends(last, checkpoint, proof)
        elif proof:
            raise WitnessRefusal("a consistency proof from the empty tree must be empty")
        line = signature_line(text, self._signer_key)
        self._last[checkpoint.origin] = Checkpoint(
            checkpoint.origin, checkpoint.size, checkpoint.root
        )
        return line

    @staticmethod
    def _check_extends(last: Checkpoint, new: Checkpoint, proof: list[bytes]) -> None:
        if new.size == last.size:
            if new.root != last.root:
                raise WitnessRefusal(
                    f"inconsistent: fork: tree size {new.size} was already cosigned with"
                    " another root hash"
                )
            if proof:
                raise WitnessRefusal("a consistency proof between equal trees must be empty")
            return
        if not verify_consistency(last.size, new.size, last.root, new.root, proof):
            raise WitnessRefusal(
                f"inconsistent: tree {new.size} is not proven to extend tree {last.size},"
                " already cosigned (the RFC 9162 consistency proof fails: its history was"
                " rewritten)"
            )

    def to_dict(self) -> dict[str, Any]:
        """The witness state as a JSON-ready dict (no secrets)."""
        return {
            "type": "witness-state",
            "checkpoints": {
                origin: {"size": cp.size, "root": base64.b64encode(cp.root).decode("ascii")}
                for origin, cp in sorted(self._last.items())
            },
        }

    @classmethod
    def from_dict(cls, signer_key: str, state: Mapping[str, Any]) -> Witness:
        """A witness with this key and a state written by `to_dict`."""
        return cls(signer_key, state)


def _checkpoint_of(text: str) -> Checkpoint:
    try:
        return parse_checkpoint(text)
    except ValueError as exc:
        raise WitnessRefusal(f"not a checkpoint: {exc}", BAD_REQUEST) from None


def _load_state(state: Mapping[str, Any]) -> dict[str, Checkpoint]:
    if state.get("type") != "witness-state" or not isinstance(state.get("checkpoints"), dict):
        raise ValueError("not a witness state: expected type witness-state and checkpoints")
    loaded: dict[str, Checkpoint] = {}
    for origin, item in state["checkpoints"].items():
        if not isinstance(item, dict) or set(item) != {"size", "root"}:
            raise ValueError(f"witness state for {origin!r}: expected size and root")
        root_text = item["root"]
        if not isinstance(root_text, str):
            raise ValueError(f"witness state for {origin!r}: root must be base64 text")
        try:
            root = base64.b64decode(root_text.encode("ascii"), validate=True)
        except (UnicodeEncodeError, ValueError):
            raise ValueError(f"witness state for {origin!r}: root is not base64") from None
        loaded[origin] = Checkpoint(origin, item["size"], root)
    return loaded
