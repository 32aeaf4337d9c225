"""Rows of ciphertexts on the board: the wire form of the mix path (issue 16, items 2 and 3).

A written ballot is a row of w ElGamal ciphertexts (`verivote.crypto.encoding` packs its codes
into w elements); a mix server shuffles rows (`verivote.crypto.shuffle`). On the board
(`mix-input` and `shuffle` entries) the rows of one district are

    [[[alpha hex, beta hex] × w] × N]

one list per row, one pair per ciphertext, every element in its group's canonical encoding
(`verivote.crypto.wire`). Reading them validates every element: a value that is not a member
of the group, a row of another width or anything that is not this shape is a ValueError with
the reason (InvalidElement is a ValueError), never a silent value.

The chain of a district's mix links each entry to the one before it by the SHA-256 of its
bytes (`entry_hash`), and binds each shuffle proof to its place in the chain
(`shuffle_context`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from verivote.crypto import wire
from verivote.crypto.elgamal import Ciphertext
from verivote.crypto.group import E, Group, InvalidElement
from verivote.crypto.hashing import hash_items

Row = tuple[Ciphertext[E], ...]

SHUFFLE_CONTEXT_TAG = "mix/shuffle"


def rows_to_json(group: Group[E], rows: Sequence[Sequence[Ciphertext[E]]]) -> list[list[list[str]]]:
    """The board form of `rows` (module docstring)."""
    return [
        [[wire.element_hex(group, c.alpha), wire.element_hex(group, c.beta)] for c in row]
        for row in rows
    ]


def rows_from_json(group: Group[E], doc: Any, width: int) -> list[Row[E]]:
    """The rows of a board entry, each of exactly `width` ciphertexts of group elements.

    Raises ValueError saying which row is wrong and how."""
    if not isinstance(doc, list):
        raise ValueError("the rows must be a list")
    out: list[Row[E]] = []
    for i, row in enumerate(doc):
        if not isinstance(row, list) or len(row) != width:
            raise ValueError(f"row {i} is not a list of {width} ciphertexts")
        cts: list[Ciphertext[E]] = []
        for pair in row:
            if (
                not isinstance(pair, list)
                or len(pair) != 2
                or not all(isinstance(x, str) for x in pair)
            ):
                raise ValueError(f"row {i} holds a ciphertext that is not [alpha hex, beta hex]")
            try:
                cts.append(
                    Ciphertext(
                        wire.element_from_hex(group, pair[0]), wire.element_from_hex(group, pair[1])
                    )
                )
            except InvalidElement:
                raise ValueError(f"row {i} holds an element that is not in the group") from None
            except ValueError as exc:
                raise ValueError(f"row {i} holds a malformed element ({exc})") from None
        out.append(tuple(cts))
    return out


def entry_hash(entry: bytes) -> str:
    """The hex SHA-256 of a board entry's bytes: how a shuffle names the entry before it."""
    return hashlib.sha256(entry).hexdigest()


def shuffle_context(
    base_hash: bytes, district: str, mixer: str, position: int, previous: bytes
) -> bytes:
    """What a shuffle proof is bound to: H("mix/shuffle", base hash, district, mixer, its
    position in the district's chain, the SHA-256 of the entry it shuffles). A proof copied to
    another election, district, mixer, position or input does not verify there."""
    return hash_items(SHUFFLE_CONTEXT_TAG, base_hash, district, mixer, position, previous)
