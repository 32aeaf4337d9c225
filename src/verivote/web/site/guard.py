"""Security headers and request limits for the site's pages (plain ASGI, like
`verivote.web.asgi.GuardMiddleware`, which guards the JSON API the same way).

Pages get their own Content-Security-Policy: the API's `default-src 'none'` would block the
site's own stylesheet. Everything else stays shut: no script at all, no frames, no base URL,
forms posting only to the site itself, images only from the site (or data: URLs). A form POST
is refused before it is read unless it is URL-encoded with a Content-Length within MAX_FORM.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from verivote.web.asgi import refusal

PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
MAX_FORM = 4096
"""Bytes of a form's body: the console's forms hold a token, a code and a CSRF token."""
FORM_TYPE = "application/x-www-form-urlencoded"
STATIC_PREFIX = "/static/"

# An answer to a refused request: (scope, status, reason) → the response's HTML body.
Refusal = Callable[[Scope, int, str], Awaitable[bytes]]


def _headers(path: str) -> list[tuple[bytes, bytes]]:
    # The stylesheet may be cached; pages may not (live figures, session state).
    cache = "public, max-age=3600" if path.startswith(STATIC_PREFIX) else "no-store"
    pairs = [*PAGE_HEADERS.items(), ("Cache-Control", cache)]
    return [(k.lower().encode(), v.encode()) for k, v in pairs]


_NAMES = {k.lower().encode() for k in PAGE_HEADERS} | {b"cache-control"}


def form_refusal(scope: Scope) -> tuple[int, str] | None:
    """Why a POST to a page is refused unread: not a URL-encoded form, no length, too long."""
    refused = refusal(scope, MAX_FORM, FORM_TYPE, "a form must be sent URL-encoded")
    return None if refused is None else (refused.status, refused.detail)


class PageGuard:
    """The pages' security headers on every response, and form bodies refused unread (see the
    module docstring). `refusal` renders the friendly page of a refused request."""

    def __init__(self, app: ASGIApp, refusal: Refusal) -> None:
        self.app = app
        self.refusal = refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope["path"])
        if scope["method"] == "POST":
            refused = form_refusal(scope)
            if refused is not None:
                body = await self.refusal(scope, *refused)
                await send({"type": "http.response.start", "status": refused[0], "headers": [
                    (b"content-type", b"text/html; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()), *headers,
                ]})  # fmt: skip
                await send({"type": "http.response.body", "body": body})
                return

        head = scope["method"] == "HEAD"
        if head:
            # HEAD is GET without the body (RFC 9110, 9.3.2): link checkers and monitors ask
            # for it, and FastAPI's routes answer GET only.
            scope = {**scope, "method": "GET"}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _NAMES]
                message["headers"] = kept + headers
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app(scope, receive, send_with_headers)
