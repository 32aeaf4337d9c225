"""Child processes for the crash tests: they write to the store until they are killed."""

from __future__ import annotations

import secrets
import time
from multiprocessing.synchronize import Event
from typing import Any

from verivote.store import Batching, Pending, Store, casting, make_engine

STATIONS = ("s0", "s1", "s2")
DISTRICT = "d1"
"""Every station's district: its ballots and polls statements go to this log (issue 17)."""


def open_stations(store: Store, election_id: str) -> None:
    for station in STATIONS:
        store.set_polls(
            election_id, station, "open", b'{"type":"polls-open"}', "polls-open", log=DISTRICT
        )


def _cast(store: Store, election_id: str, i: int, size: int) -> None:
    station = STATIONS[i % len(STATIONS)]
    code = f"{station}-{secrets.token_hex(4)}-{i}"
    entry = f'{{"tracking_code":"{code}","type":"b"}}'.encode()
    pending = Pending(station, DISTRICT, code, f"n-{code}", entry, "ballot-cast", "cast")
    store.accept_ballot(election_id, pending, Batching(size, 900))


def stall_mid_append(url: str, election_id: str, ready: Event) -> None:
    """Cast one ballot that fills its batch, but stop forever right after the batch's entries
    are written to the board, before commit."""
    original: Any = casting.place

    def place_then_stall(conn: Any, slots: Any) -> None:
        original(conn, slots)
        ready.set()
        time.sleep(120)

    casting.place = place_then_stall
    _cast(Store(make_engine(url)), election_id, 0, 1)


def cast_forever(url: str, election_id: str, started: Event) -> None:
    """Cast ballot after ballot, in batches of three, until killed."""
    store = Store(make_engine(url))
    i = 0
    while True:
        _cast(store, election_id, i, 3)
        i += 1
        if i == 5:
            started.set()
