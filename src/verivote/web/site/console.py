"""The station console: the pages that a polling station's staff use on polling day, and the
same operations as JSON for a station's device.

    GET  /station            the login form, or the console of the logged-in station
    POST /station/login      the station's token → a session cookie
    POST /station/checkin    check a voter in (through the check-in API's own service)
    POST /station/polls      open or close the station's polls (a public board entry)
    POST /station/logout
    GET  /api/station        the station's polls and turnout (station token)
    POST /api/station/polls  {"action": "open" | "close"} (station token)

A check-in from the console goes through `CheckinService.check_in`, the very path of
`POST /api/checkin`: the same validation, the same batching, the same one-vote-per-voter
guarantee. Each console form carries a request id made when the form was drawn, so that a
form sent twice (a reload, a double click) is a retry with the first answer, not a second
check-in. Only a database-backed server has a console; a server of a published record shows a
page that says so.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from typing import Any, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict

from verivote.election.polls import close_polls, open_polls
from verivote.election.service import ElectionContext, ElectionError
from verivote.store import Store
from verivote.store.db import READ_ONLY
from verivote.store.roll import turnout
from verivote.web.asgi import HttpError
from verivote.web.checkin import CheckinService, PollsClosed
from verivote.web.outage import is_outage
from verivote.web.site.i18n import to_ascii_digits
from verivote.web.site.respond import Pages, set_cookie, visitor_of
from verivote.web.site.sessions import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_SECONDS,
    csrf_ok,
    csrf_token,
    issue_session,
    new_nonce,
    read_session,
    valid_nonce,
)
from verivote.web.site.views import View

log = logging.getLogger(__name__)
MAX_FIELD = 200
ANSWER_KEYS = {
    "accepted": "checkin_accepted",
    "already_voted": "checkin_already_voted",
    "not_eligible": "checkin_not_eligible",
    "wrong_district": "checkin_wrong_district",
}
ERROR_KEYS = {400: "checkin_malformed", 409: "checkin_form_reused"}
POLL_ACTIONS: dict[str, Literal["open", "close"]] = {"open": "open", "close": "close"}


class StationStatus(View):
    station: str
    name: str
    district: str
    district_name: str
    polls: Literal["not_opened", "open", "closed"]
    checkins: int
    """Voters checked in at this station so far."""
    district_checkins: int


class PollsAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["open", "close"]


class Station:
    """What the console does, for any station of the election: the operations behind both
    the pages and the JSON endpoints."""

    def __init__(
        self, service: CheckinService, store: Store, ctx: ElectionContext, secret: bytes
    ) -> None:
        self.service = service
        self.store = store
        self.ctx = ctx
        self.secret = secret
        self._reader = store.engine.execution_options(**{READ_ONLY: True})

    async def station_of_token(self, token: str) -> str:
        """The station a token belongs to (HttpError 401/403 as the check-in API says)."""
        return await self.service.station(f"Bearer {token.strip()}")

    async def check_in(self, station: str, national_code: str, request_id: str) -> dict[str, Any]:
        body = json.dumps({"national_code": national_code, "request_id": request_id})
        return await self.service.check_in(station, body.encode())

    async def set_polls(self, station: str, action: Literal["open", "close"]) -> str:
        """Open or close the station's polls; raises ElectionError if it cannot be done."""
        step = open_polls if action == "open" else close_polls
        await asyncio.to_thread(step, self.store, self.ctx, [station])
        return "open" if action == "open" else "closed"

    async def status(self, station: str) -> StationStatus:
        return await asyncio.to_thread(self._status, station)

    def _status(self, station: str) -> StationStatus:
        manifest = self.ctx.manifest
        here = manifest.station(station)
        district = manifest.district(here.district)
        counts = turnout(self._reader, self.ctx.election_id)
        in_district = sum(n for s, n in counts.items() if self.service.district_of.get(s) ==
                          district.id)  # fmt: skip
        polls = self.store.polls(self.ctx.election_id).get(station, "not_opened")
        return StationStatus(
            station=station, name=here.name, district=district.id, district_name=district.name,
            polls=polls,
            checkins=counts.get(station, 0), district_checkins=in_district,
        )  # fmt: skip


def _form(body: bytes) -> dict[str, str]:
    """A URL-encoded form's fields (the first value of each); HttpError 400 if it is not."""
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=8,
                          strict_parsing=False)  # fmt: skip
    except (UnicodeDecodeError, ValueError):
        raise HttpError(400, "not a form") from None
    form = {k: v[0] for k, v in fields.items() if v}
    if any(len(v) > MAX_FIELD for v in form.values()):
        raise HttpError(400, "a field is too long")
    return form


def install_console(app: FastAPI, pages: Pages, station: Station | None) -> None:
    """Add the console's pages to the site's application (see the module docstring)."""

    def nonce_of(request: Request) -> tuple[str, bool]:
        """The visitor's CSRF nonce, and whether it is new (to be set as a cookie)."""
        nonce = request.cookies.get(CSRF_COOKIE)
        if nonce is not None and valid_nonce(nonce):
            return nonce, False
        return new_nonce(), True

    def with_nonce(request: Request, response: Response, nonce: str, fresh: bool) -> Response:
        if fresh:
            set_cookie(response, visitor_of(request), CSRF_COOKIE, nonce, None)
        return response

    def session(request: Request) -> str | None:
        if station is None:
            return None
        found = read_session(station.secret, request.cookies.get(SESSION_COOKIE), time.time())
        return found if found in station.service.district_of else None

    async def console_page(request: Request, status: int = 200, **context: Any) -> Response:
        """The login form or the console, with a CSRF token for the visitor's cookie."""
        assert station is not None
        nonce, fresh = nonce_of(request)
        token = csrf_token(station.secret, nonce)
        who = session(request)
        if who is None:
            page = pages.page(request, "station_login.html", status, csrf=token, **context)
            return with_nonce(request, page, nonce, fresh)
        page = pages.page(
            request, "station.html", status, csrf=token, status_view=await station.status(who),
            request_id=secrets.token_urlsafe(12), **context,
        )  # fmt: skip
        return with_nonce(request, page, nonce, fresh)

    async def checked_form(request: Request) -> dict[str, str] | Response:
        """The form's fields if the console is here and the form's CSRF token matches the
        visitor's cookie, else the page that refuses it."""
        if station is None:
            return pages.page(request, "station_absent.html", 404)
        try:
            form = _form(await request.body())
        except HttpError:
            return pages.error(request, 400, "error_bad_form")
        if not csrf_ok(station.secret, request.cookies.get(CSRF_COOKIE), form.get("csrf")):
            return pages.error(request, 403, "error_csrf")
        return form

    async def staff_form(request: Request) -> tuple[dict[str, str], str] | Response:
        """A logged-in station's form with its CSRF token checked, and the station; else the
        page that refuses it."""
        form = await checked_form(request)
        if isinstance(form, Response):
            return form
        who = session(request)
        if who is None:
            return await console_page(request, 401, error_key="login_needed")
        return form, who

    @app.get("/station", response_class=HTMLResponse, include_in_schema=False)
    async def console(request: Request) -> Response:
        if station is None:
            return pages.page(request, "station_absent.html", 404)
        return await console_page(request)

    @app.post("/station/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await checked_form(request)
        if isinstance(form, Response):
            return form
        assert station is not None  # checked_form refused the request otherwise
        token = form.get("token", "")
        try:
            who = await station.station_of_token(token) if token.strip() else None
        except HttpError:
            who = None
        if who is None:
            return await console_page(request, 401, error_key="login_refused")
        response = RedirectResponse("/station", status_code=303)
        set_cookie(response, visitor_of(request), SESSION_COOKIE,
                   issue_session(station.secret, who, time.time()), SESSION_SECONDS)  # fmt: skip
        return response

    @app.post("/station/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        form = await checked_form(request)
        if isinstance(form, Response):
            return form
        response = RedirectResponse("/station", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                               secure=visitor_of(request).secure)  # fmt: skip
        return response

    @app.post("/station/checkin", include_in_schema=False)
    async def check_in(request: Request) -> Response:
        staff = await staff_form(request)
        if isinstance(staff, Response):
            return staff
        form, who = staff
        assert station is not None  # staff_form refused the request otherwise
        code = "".join(to_ascii_digits(form.get("national_code", "")).split()).replace("-", "")
        try:
            answer = await station.check_in(who, code, form.get("request_id", ""))
        except PollsClosed:  # said in words the staff understand
            return await console_page(request, 409, error_key="checkin_polls_closed")
        except HttpError as exc:
            key = ERROR_KEYS.get(exc.status, "checkin_failed")
            return await console_page(request, exc.status, error_key=key, national_code=code)
        except Exception as exc:  # the database failed: the staff see it, the log has the detail
            if is_outage(exc):
                raise  # the 503 page of an outage (`create_pages`), logged once per outage
            log.exception("console check-in failed")
            return await console_page(request, 503, error_key="checkin_failed")
        key = ANSWER_KEYS[answer["status"]]
        return await console_page(request, answer=answer, answer_key=key, national_code=code)

    @app.post("/station/polls", include_in_schema=False)
    async def polls(request: Request) -> Response:
        staff = await staff_form(request)
        if isinstance(staff, Response):
            return staff
        form, who = staff
        assert station is not None  # staff_form refused the request otherwise
        action = POLL_ACTIONS.get(form.get("action", ""))
        if action is None:
            return pages.error(request, 400, "error_bad_form")
        try:
            await station.set_polls(who, action)
        except ElectionError:
            return await console_page(request, 409, error_key=f"polls_{action}_refused")
        return await console_page(request, notice_key=f"polls_{action}_done")


def station_api(station: Station) -> APIRouter:
    """The console's operations as JSON, for a station's device (its token as Bearer)."""
    router = APIRouter()

    async def who(authorization: str | None = Header(default=None)) -> str:
        return await station.service.station(authorization)

    @router.get("/api/station", response_model=StationStatus)
    async def status(station_id: str = Depends(who)) -> StationStatus:
        """This station's polls and the voters checked in so far (here and in its district)."""
        return await station.status(station_id)

    @router.post("/api/station/polls", response_model=StationStatus)
    async def polls(body: PollsAction, station_id: str = Depends(who)) -> StationStatus:
        """Open or close this station's polls; each is a public entry on the board. A closed
        station never opens again (409)."""
        try:
            await station.set_polls(station_id, body.action)
        except ElectionError as exc:
            raise HttpError(409, str(exc)) from None
        return await station.status(station_id)

    return router
