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

from verivote.crypto.batch import EncodedSelection, verify_many
from verivote.crypto.elgamal import ElectionKey

_KEY: ElectionKey[Any] | None = None


def _init(key: ElectionKey[Any]) -> None:
    global _KEY
    _KEY = key


def _check_chunk(chunk: list[EncodedSelection]) -> list[bool]:
    assert _KEY is not None
    return verify_many(_KEY, chunk)


def verify_selections(
    key: ElectionKey[Any], items: Sequence[EncodedSelection], processes: int | None = None
) -> list[bool]:
    """Check every (ciphertext, proof, context) in its wire form, in order, on `processes`
    cores (default: all of them), in batches where the group allows. One process means no
    pool at all."""
    workers = processes or os.cpu_count() or 1
    if workers <= 1 or len(items) < 2:
        return verify_many(key, items)
    # One chunk per process: batches get cheaper per item as they grow (eg4096's multi-
    # exponentiations), and the items cost the same, so equal shares balance the load.
    size = max(1, -(-len(items) // workers))
    chunks = [list(items[i : i + size]) for i in range(0, len(items), size)]
    with ProcessPoolExecutor(max_workers=workers, initializer=_init, initargs=(key,)) as pool:
        results: list[bool] = []
        for part in pool.map(_check_chunk, chunks):
            results.extend(part)
    return results
