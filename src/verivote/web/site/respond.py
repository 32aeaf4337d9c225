"""Answering a visitor with a page: their language, the page frame every template shares, the
cookies the site sets, and the friendly error page.

The language is the `lang` query parameter (which is then remembered in a cookie), else that
cookie, else Persian. The switch on every page links to the same page with `lang` set to the
other language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from verivote.web.site.i18n import Language, pick_language
from verivote.web.site.render import render
from verivote.web.site.sessions import LANG_COOKIE
from verivote.web.site.source import Source

YEAR = 365 * 24 * 3600
NAV = (
    ("home", "/"),
    ("nav_track", "/track"),
    ("nav_board", "/board"),
    ("nav_station", "/station"),
    ("nav_api", "/api-docs"),
)


@dataclass(frozen=True)
class Visitor:
    lang: Language
    remember: bool
    """The language came from the query: set the cookie."""
    secure: bool
    """The request came over https: cookies get the Secure flag."""
    switch_url: str
    path: str


def visitor_of(request: Request) -> Visitor:
    lang, remember = pick_language(
        request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)
    )
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    # The path as sent, percent-encoded again: whatever a visitor typed stays inert in a link.
    # One leading slash only: `//host/…` in a link is another site (an open redirect).
    path = "/" + quote(request.url.path, safe="/-._~").lstrip("/")
    switch = path + "?" + urlencode([*query, ("lang", lang.other)])
    return Visitor(lang, remember, request.url.scheme == "https", switch, request.url.path)


def set_cookie(
    response: Response,
    visitor: Visitor,
    name: str,
    value: str,
    max_age: int | None,
    samesite: Literal["lax", "strict"] = "strict",
) -> None:
    """Every cookie of the site is HttpOnly and SameSite (Strict unless said), Secure over
    https."""
    response.set_cookie(
        name, value, max_age=max_age, path="/", httponly=True, secure=visitor.secure,
        samesite=samesite,
    )  # fmt: skip


class Pages:
    """Renders the site's pages for one source."""

    def __init__(self, source: Source, console: bool = True) -> None:
        self.source = source
        # No link to a console the site does not have (a published record's): it would 404.
        self.nav = NAV if console else tuple(item for item in NAV if item[1] != "/station")

    def page(
        self, request: Request, template: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        visitor = visitor_of(request)
        html = render(
            template, L=visitor.lang, switch_url=visitor.switch_url, nav=self.nav,
            path=visitor.path, site_name=self.source.manifest.name, mode=self.source.mode,
            **context,
        )  # fmt: skip
        response = HTMLResponse(html, status_code=status)
        if visitor.remember:
            # Lax, not Strict: a visitor who follows a link from elsewhere keeps their language.
            set_cookie(response, visitor, LANG_COOKIE, visitor.lang.code, YEAR, "lax")
        return response

    def error(self, request: Request, status: int, key: str) -> HTMLResponse:
        """The friendly error page: what went wrong in the visitor's language, and where to go
        from there. Never a stack trace."""
        return self.page(request, "error.html", status, status_code=status, message_key=key)
