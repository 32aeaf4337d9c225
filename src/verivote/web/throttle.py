"""Rate limits on failed logins and bad tokens (issue 15, item 4), with the `limits` library.

Only failures count: a bad bearer token on any API that takes a station's or a supervisor's
token, and a failed console login. They count against the client's address and, when the
console's login form names a station, against that station too. Past a limit, every request
that would check a token or a login from that address (or for that station) is refused with
429 and `Retry-After` *before* anything is checked, whether its token is right or not:
answering a right guess differently would leave guessing unlimited.

The counts live in each server process's memory (`limits`' moving window): with
`--workers N` an address gets up to N times the limit, which still turns guessing into a
crawl. The address is the connection's peer: behind a reverse proxy, the proxy's.

Successful requests cost one dictionary look-up: an address or station is only asked about
once it has failed within the window.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from verivote.web.asgi import HttpError

ADDRESS_FAILURES = "20/minute"
"""Failures per client address. A station device with a mistyped token retries a few times a
minute; a dozen stations behind one NAT (a school's uplink) all misconfigured at once is rare.
An attacker gets 20 guesses a minute per address, against 256-bit tokens."""
STATION_FAILURES = "10/minute"
"""Failed console logins naming one station, from any address: the staff mistype a pasted
token a few times at worst; more is someone trying the station from many addresses."""
WINDOW_SECONDS = 60.0
"""The longest window above: an address with no failure for that long is not looked up."""


class TooManyFailures(HttpError):
    """Refused before any check: too many failures lately (429, with `Retry-After`)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(429, f"too many failed attempts; try again in {retry_after} s")
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


class Throttle:
    """The failure counts of one server process (see the module docstring)."""

    def __init__(self, per_address: str = ADDRESS_FAILURES, per_station: str = STATION_FAILURES):
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._address: RateLimitItem = parse(per_address)
        self._station: RateLimitItem = parse(per_station)
        self._failed_at: dict[str, float] = {}
        """When each key last failed: keys not here (or long ago) are never asked about."""

    def check(self, address: str | None, station: str | None = None) -> None:
        """Raise TooManyFailures if the address or the named station is over its limit."""
        for item, key in ((self._address, _key("a", address)), (self._station, _key("s", station))):
            if key is None:
                continue
            last = self._failed_at.get(key)
            if last is None or time.monotonic() - last > WINDOW_SECONDS:
                continue
            if not self._limiter.test(item, key):
                reset = self._limiter.get_window_stats(item, key).reset_time
                raise TooManyFailures(max(1, math.ceil(reset - time.time())))

    def failed(self, address: str | None, station: str | None = None) -> None:
        """Count one failure against the address and the named station."""
        for item, key in ((self._address, _key("a", address)), (self._station, _key("s", station))):
            if key is not None:
                self._failed_at[key] = time.monotonic()
                self._limiter.hit(item, key)
        if len(self._failed_at) > 100_000:  # forget addresses quiet for a window
            cutoff = time.monotonic() - WINDOW_SECONDS
            self._failed_at = {k: t for k, t in self._failed_at.items() if t > cutoff}


def _key(kind: str, value: str | None) -> str | None:
    return None if not value else f"{kind}:{value[:200]}"
