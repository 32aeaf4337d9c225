"""Child processes of the check-in race tests."""

from __future__ import annotations

from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

from verivote.store import make_engine
from verivote.store.roll import check_in


def race(
    url: str,
    election_id: str,
    codes: list[str],
    station: str,
    barrier: Barrier,
    results: Queue[tuple[str, str]],
) -> None:
    engine = make_engine(url)
    engine.connect().close()  # connect before the start line, not after it
    barrier.wait(timeout=60)
    for code in codes:
        result = check_in(engine, election_id, code, station, "tabriz", 10, f"{station}-{code}")
        results.put((code, result.status))
    engine.dispose()
