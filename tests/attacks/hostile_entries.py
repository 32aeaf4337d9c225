"""A hostile authority server for the attack tests: it serves the honest application, except
that the board entries it sends parties (`GET /api/board/entries`) pass through `rewrite`,
line by line; `log` limits that to one log's requests (None: every log's)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RewrittenEntries:
    def __init__(
        self, app: ASGIApp, rewrite: Callable[[bytes], bytes], log: str | None = None
    ) -> None:
        self.app = app
        self.rewrite = rewrite
        self.log = log

    def _rewrites(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope["path"] != "/api/board/entries":
            return False
        asked = parse_qs(scope.get("query_string", b"").decode()).get("log", [""])
        return self.log is None or asked == [self.log]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._rewrites(scope):
            await self.app(scope, receive, send)
            return
        start: Message = {}
        body = b""

        async def keep(message: Message) -> None:
            nonlocal start, body
            if message["type"] == "http.response.start":
                start = message
            else:
                body += message.get("body", b"")

        await self.app(scope, receive, keep)
        body = b"\n".join(self.rewrite(line) if line else line for line in body.split(b"\n"))
        start["headers"] = [(k, v) for k, v in start["headers"] if k != b"content-length"] + [
            (b"content-length", str(len(body)).encode())
        ]
        await send(start)
        await send({"type": "http.response.body", "body": body})
