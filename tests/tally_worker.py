"""Child processes for the tally's crash tests: they tally or decrypt until a hook stops them,
right after something was stored, and wait there to be killed (SIGKILL)."""

from __future__ import annotations

import time
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from verivote.crypto.keyfile import read_key_share
from verivote.election.decryption import decrypt_as_guardian
from verivote.election.service import load_context
from verivote.election.tally import run_tally
from verivote.store import Store, make_engine


def tally_until_killed(url: str, election_id: str, parts: int, stored: Event) -> None:
    """Tally in chunks of 3 entries on one core; stall once `parts` chunks are stored."""
    original: Any = Store.put_tally_part
    count = 0

    def put_then_stall(self: Store, *args: Any) -> None:
        nonlocal count
        original(self, *args)
        count += 1
        if count == parts:
            stored.set()
            time.sleep(120)

    Store.put_tally_part = put_then_stall  # type: ignore[method-assign, assignment]
    store = Store(make_engine(url))
    run_tally(store, load_context(store, election_id), processes=1, chunk=3)


def decrypt_until_killed(url: str, election_id: str, key: Path, published: Event) -> None:
    """Decrypt as the guardian of `key`; stall after publishing its first district's entry."""
    original: Any = Store.append_entry

    def append_then_stall(self: Store, eid: str, entry: bytes, entry_type: str) -> int:
        idx: int = original(self, eid, entry, entry_type)
        if entry_type == "partial-decryption":
            published.set()
            time.sleep(120)
        return idx

    Store.append_entry = append_then_stall  # type: ignore[method-assign, assignment]
    store = Store(make_engine(url))
    decrypt_as_guardian(store, load_context(store, election_id), read_key_share(key))
