"""Tokens trusted without a database round trip per request, yet cut off within a second.

A check-in must not cost a token look-up in the database, so each server process caches the
tokens it has seen (`TokenCache`). A revocation (`verivote stations revoke`) deletes the
tokens and bumps the election's revocation counter; `Revocations` reads that counter at most
every REVOCATION_CHECK_SECONDS — one tiny query per process, shared by all the requests that
arrive meanwhile — and empties every cache when it moved. A token's expiry (the end of
polling day) is kept with it in the cache and checked on each request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

REVOCATION_CHECK_SECONDS = 0.5
"""How often a process reads the revocation counter: a revoked token fails everywhere within a
second (this, plus the query's time), for two small queries a second per process."""
TOKEN_CACHE_SECONDS = 60.0
"""How long a known token is trusted without asking the database again (revocation and expiry
do not wait for this: see the module docstring)."""

Owner = tuple[str, str]
"""(election, station or supervisor's name)."""
Found = tuple[Owner, int | None]
"""A token's owner and when it expires (seconds since the epoch; None: never)."""


class Revocations:
    """The election's revocation counter as this process last read it; caches subscribe to
    be emptied when it moves."""

    def __init__(self, read: Callable[[], int]) -> None:
        self._read = read
        self._epoch: int | None = None
        self._due = 0.0
        self._task: asyncio.Future[None] | None = None
        self._listeners: list[Callable[[], None]] = []

    def subscribe(self, forget: Callable[[], None]) -> None:
        self._listeners.append(forget)

    async def check(self) -> None:
        """Read the counter again if it was read more than REVOCATION_CHECK_SECONDS ago; the
        requests arriving meanwhile wait for the same read."""
        if time.monotonic() < self._due:
            return
        task = self._task
        if task is None or task.done():
            task = self._task = asyncio.ensure_future(self._refresh())
        await asyncio.shield(task)

    async def _refresh(self) -> None:
        started = time.monotonic()
        epoch = await asyncio.to_thread(self._read)
        if epoch != self._epoch:
            self._epoch = epoch
            for forget in self._listeners:
                forget()
        self._due = started + REVOCATION_CHECK_SECONDS


class TokenCache:
    """Tokens already seen, so that a request costs no database round trip for its token.
    Only known tokens are kept, for TOKEN_CACHE_SECONDS; all are forgotten when the
    revocation counter moves, and an expired one is refused at once."""

    def __init__(
        self, lookup: Callable[[str], Found | None], revocations: Revocations | None = None
    ) -> None:
        self._lookup = lookup
        self._known: dict[str, tuple[Found, float]] = {}
        self._generation = 0
        self._revocations = revocations
        if revocations is not None:
            revocations.subscribe(self.forget)

    def forget(self) -> None:
        """Drop every token; a look-up already under way is not kept either."""
        self._known = {}
        self._generation += 1

    async def owner(self, token: str) -> Owner | None:
        """The owner of a token valid now, or None."""
        if self._revocations is not None:
            await self._revocations.check()
        hit = self._known.get(token)
        now = time.monotonic()
        if hit is not None and hit[1] > now:
            found: Found | None = hit[0]
        else:
            generation = self._generation
            found = await asyncio.to_thread(self._lookup, token)
            if found is None:
                self._known.pop(token, None)
            elif generation == self._generation:  # no revocation read meanwhile
                self._known[token] = (found, now + TOKEN_CACHE_SECONDS)
        if found is None:
            return None
        owner, expires_at = found
        if expires_at is not None and time.time() >= expires_at:
            return None
        return owner
