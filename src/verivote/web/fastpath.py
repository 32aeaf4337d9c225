"""The hot POST routes of polling day served in plain ASGI, in front of FastAPI: a check-in
(`POST /api/checkin`, issue 7) and a cast (`POST /api/ballots`, issues 15 and 17).

FastAPI's and Starlette's layers (routing, dependency injection, the middleware stack,
request objects) took over half of the server's time per check-in, measured with py-spy under
`verivote bench checkin`, and about a sixth of the server's time per cast under `verivote
bench cast-api`, where every core the server spends is one the proofs do not get. Both routes
stay in the application too (documented in its OpenAPI description); these are the ones that
answer.

A route is refused in the order the guarded application refuses it: not POST (405), not JSON
or no Content-Length or longer than the route's limit (415, 411, 413: the body is not read),
then the station token (401, or 429 for a client that sent too many bad ones), then the body
read, refused as soon as it grows past the limit. Answers carry the security headers; an
error is `{"error": name, "detail": text}`. A database outage is a 503 with Retry-After (the
device keeps its request in its journal and sends it again), any other database error a 500
with one line in the log and no driver text (it could name a voter's national code).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from verivote.web.asgi import HttpError, error_body, read_body, refusal, send_json
from verivote.web.outage import (
    DATABASE_ERRORS,
    DETAIL,
    RETRY_AFTER,
    OutageMonitor,
    is_outage,
    log_failure,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FastRoute:
    """A hot route: its body limit, `handle(station_id, body)` that makes the answer (or
    raises HttpError), and what it does, for the log and the 500's detail."""

    limit: int
    handle: Callable[[str, bytes], Awaitable[Any]]
    what: str


def client_of(scope: Scope) -> str | None:
    """The address of the client of a request (the peer: behind a proxy, the proxy)."""
    client = scope.get("client")
    return None if not client else str(client[0])


class FastPaths:
    """The `routes` served directly (see the module docstring); every other request goes on
    to `app`. `station_of(authorization, client address)` is the station of a token."""

    def __init__(
        self,
        app: ASGIApp,
        routes: dict[str, FastRoute],
        station_of: Callable[[str | None, str | None], Awaitable[str]],
        outage: OutageMonitor,
    ) -> None:
        self.app = app
        self.routes = routes
        self.station_of = station_of
        self.outage = outage

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        try:
            if scope["method"] != "POST":
                raise HttpError(405, "use POST")
            refused = refusal(scope, route.limit)
            if refused is not None:
                raise refused
            authorization = next(
                (v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None
            )
            station_id = await self.station_of(authorization, client_of(scope))
            answer = await route.handle(station_id, await read_body(receive, route.limit))
        except HttpError as exc:
            body = error_body(exc.status, exc.detail)
            if exc.name is not None:
                body["error"] = exc.name
            await send_json(send, exc.status, body, exc.headers)
            return
        except DATABASE_ERRORS as exc:
            if is_outage(exc):
                self.outage.failed(exc)
                await send_json(send, 503, error_body(503, DETAIL), RETRY_AFTER)
                return
            log_failure(route.what, exc)
            await send_json(send, 500, error_body(500, f"the {route.what} could not be recorded"))
            return
        except Exception:  # a bug: one traceback in the log, a JSON 500 to the device
            log.exception("%s failed", route.what)
            await send_json(send, 500, error_body(500, f"the {route.what} could not be recorded"))
            return
        await send_json(send, 200, answer)
