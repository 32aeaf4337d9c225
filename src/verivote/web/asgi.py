"""Plain-ASGI pieces shared by the web applications: security headers on every response, bodies
refused before they are read, and errors as one JSON shape, `{"error": name, "detail": text}`.

Plain ASGI rather than Starlette's BaseHTTPMiddleware: that one costs a task and a stream per
request, a large share of a check-in's time on polling day.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 1024
"""Bytes of a request body unless a path says otherwise: a check-in is about 80."""
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_HEADER_NAMES = {k.lower().encode() for k in SECURITY_HEADERS}
_HEADER_BYTES = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
_ERROR_NAMES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 411: "length_required", 413: "too_large",
    415: "unsupported_media_type", 422: "unprocessable", 429: "too_many_requests",
    500: "internal_error", 503: "unavailable",
}  # fmt: skip


class HttpError(Exception):
    """An answer other than 200, raised anywhere below an ASGI handler of this package."""

    def __init__(self, status: int, detail: str, name: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.name = name
        """The error's name in the answer, if not the status's (`polls_closed`)."""
        self.headers: dict[str, str] = {}
        """Headers the answer carries besides ours (`Retry-After` on a 429)."""


def error_body(status: int, detail: str) -> dict[str, str]:
    return {"error": _ERROR_NAMES.get(status, "error"), "detail": detail}


def json_error(
    status: int, detail: str, headers: dict[str, str] | None = None, name: str | None = None
) -> JSONResponse:
    """An error answer for FastAPI's handlers, with the security headers (and `headers`);
    `name` the error's name if not the status's."""
    body = error_body(status, detail)
    if name is not None:
        body["error"] = name
    return JSONResponse(
        body,
        status_code=status,
        headers={**SECURITY_HEADERS, **(headers or {})},
    )


def with_security_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The response headers with ours in place of any the application set."""
    return [(k, v) for k, v in headers if k.lower() not in _HEADER_NAMES] + _HEADER_BYTES


async def send_json(
    send: Send, status: int, document: Any, extra: dict[str, str] | None = None
) -> None:
    """A whole JSON response, with the security headers (and the `extra` ones)."""
    body = json.dumps(document, separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode("latin-1")) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": status,
                "headers": with_security_headers(headers)})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


def refusal(
    scope: Scope,
    limit: int,
    media_type: str = "application/json",
    wrong_type: str = "the body must be JSON (Content-Type: application/json)",
) -> HttpError | None:
    """Why a POST is refused before its body is read: not of `media_type`, no Content-Length,
    or longer than `limit` bytes."""
    content_type = length = None
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value.decode("latin-1")
        elif name == b"content-length":
            length = value.decode("latin-1")
    if content_type is None or content_type.split(";")[0].strip().lower() != media_type:
        return HttpError(415, wrong_type)
    if length is None or not length.isdigit():
        return HttpError(411, "a Content-Length header is required")
    if int(length) > limit:
        return HttpError(413, f"the body is larger than {limit} bytes")
    return None


async def read_body(receive: Receive, limit: int) -> bytes:
    """The request body, refused if it grows past `limit` whatever Content-Length said."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise HttpError(400, "the client went away before sending the body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise HttpError(413, f"the body is larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
"""Browsers that reached the site over https keep to https for a year: no later visit can be
downgraded to plain http by someone on the network (a station's or a voter's)."""


class HstsMiddleware:
    """`Strict-Transport-Security` on every response to a request that came over https.

    Outermost, so that every answer gets it: pages, the JSON API, and the check-in fast path,
    which answers before any other layer. Over plain http the header would mean nothing
    (browsers ignore it there) and is left out. Behind a TLS-terminating proxy, uvicorn sets
    the scheme from the proxy's X-Forwarded-Proto for the addresses it trusts
    (`--forwarded-allow-ips`, FORWARDED_ALLOW_IPS), so such requests count as https too;
    `tls=True` says every request came over TLS whatever the scope says."""

    def __init__(self, app: ASGIApp, tls: bool = False) -> None:
        self.app = app
        self.tls = tls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not (self.tls or scope.get("scheme") == "https"):
            await self.app(scope, receive, send)
            return

        async def send_with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() != HSTS[0]]
                message["headers"] = [*kept, HSTS]
            await send(message)

        await self.app(scope, receive, send_with_hsts)


class GuardMiddleware:
    """Refuse a POST before reading it unless it is JSON with a Content-Length within the
    path's limit, and put the security headers on every response."""

    def __init__(self, app: ASGIApp, limits: dict[str, int] | None = None) -> None:
        self.app = app
        self.limits = limits or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "POST":
            refused = refusal(scope, self.limits.get(scope["path"], MAX_BODY))
            if refused is not None:
                await send_json(send, refused.status, error_body(refused.status, refused.detail))
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = with_security_headers(list(message.get("headers", [])))
            await send(message)

        await self.app(scope, receive, send_with_headers)
