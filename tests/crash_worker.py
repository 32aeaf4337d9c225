"""Child processes for the crash tests: they write to the store until they are killed."""

from __future__ import annotations

import secrets
import time
from multiprocessing.synchronize import Event
from typing import Any

from verivote.store import Store, make_engine


def _cast(store: Store, election_id: str, i: int) -> None:
    station = f"s{i % 3}"
    token = secrets.token_hex(4)

    def build(previous: str) -> tuple[str, bytes]:
        code = f"{station}-{token}-{i}"
        return code, f'{{"previous":"{previous}","tracking_code":"{code}","type":"b"}}'.encode()

    store.cast_chained(election_id, station, "d1", "start", build, "ballot-cast", "cast")


def stall_mid_append(url: str, election_id: str, ready: Event) -> None:
    """Cast one ballot, but stop forever right after its entry row is written, before commit."""
    original: Any = Store.__dict__["_append"].__func__

    def append_then_stall(cls: type[Store], conn: Any, eid: str, entry: bytes, et: str) -> int:
        idx: int = original(cls, conn, eid, entry, et)
        ready.set()
        time.sleep(120)
        return idx

    Store._append = classmethod(append_then_stall)  # type: ignore[method-assign, assignment]
    _cast(Store(make_engine(url)), election_id, 999)


def cast_forever(url: str, election_id: str, started: Event) -> None:
    """Cast ballot after ballot until killed."""
    store = Store(make_engine(url))
    i = 0
    while True:
        _cast(store, election_id, i)
        i += 1
        if i == 5:
            started.set()
