"""Values kept for a few seconds: what many visitors ask for at once (turnout, the stations
whose polls are closed) is read from the database once per interval, not once per request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class Ttl:
    """Values kept for `seconds`. Two requests that miss together both compute: harmless, and
    cheaper than making every request wait on a lock."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._values: dict[str, tuple[float, Any]] = {}

    def peek(self, key: str) -> Any | None:
        """The value kept for `key` if it is still fresh, else None (nothing is computed)."""
        hit = self._values.get(key)
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    def get(self, key: str, compute: Callable[[], T]) -> T:
        now = time.monotonic()
        hit = self._values.get(key)
        if hit is not None and hit[0] > now:
            value: T = hit[1]
            return value
        value = compute()
        self._values[key] = (now + self._seconds, value)
        return value

    async def get_in_thread(self, key: str, compute: Callable[[], T]) -> T:
        """`get` from the event loop: a fresh value at once, else computed in a worker thread
        (database reads must not block the loop; a hop to a thread for every hit would cost
        the hot path more than the read it saves)."""
        hit: T | None = self.peek(key)
        if hit is not None:
            return hit
        return await asyncio.to_thread(self.get, key, compute)
