"""Checking many selection proofs on all cores: a process pool over chunks of work.

Proof checking is pure CPU work on independent items, so it splits into chunks, one process
per core. Each worker process receives the group and key once (groups pickle by name and
rebuild their fixed-base tables on the other side) and then only chunks of encoded items.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from verivote.crypto.elgamal import Ciphertext, ElectionKey
from verivote.crypto.hashing import Item
from verivote.crypto.proofs import RangeProof, verify_range

SelectionCheck = tuple[Ciphertext[Any], RangeProof, Sequence[Item]]

_KEY: ElectionKey[Any] | None = None


def _init(key: ElectionKey[Any]) -> None:
    global _KEY
    _KEY = key


def _check_chunk(chunk: list[SelectionCheck]) -> list[bool]:
    assert _KEY is not None
    return [verify_range(_KEY, ct, proof, ctx) for ct, proof, ctx in chunk]


def verify_selections(
    key: ElectionKey[Any], items: Sequence[SelectionCheck], processes: int | None = None
) -> list[bool]:
    """verify_range for every (ciphertext, proof, context), in order, on `processes` cores
    (default: all of them). One process means no pool at all."""
    workers = processes or os.cpu_count() or 1
    if workers <= 1 or len(items) < 2:
        return [verify_range(key, ct, proof, ctx) for ct, proof, ctx in items]
    size = max(1, -(-len(items) // (workers * 4)))
    chunks = [list(items[i : i + size]) for i in range(0, len(items), size)]
    with ProcessPoolExecutor(max_workers=workers, initializer=_init, initargs=(key,)) as pool:
        results: list[bool] = []
        for part in pool.map(_check_chunk, chunks):
            results.extend(part)
    return results
