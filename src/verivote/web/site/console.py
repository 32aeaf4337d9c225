"""The station console: the pages that a polling station's staff use on polling day, and the
same operations as JSON for a station's device.

    GET  /station            the login form, or the console of the logged-in station
    POST /station/login      the station's token (and, optionally, the station's id) → a
                             session cookie
    POST /station/checkin    check a voter in (through the check-in API's own service)
    POST /station/polls      open or close the station's polls (a public board entry)
    POST /station/vote       cast a checked-in voter's ballot, encrypted on the server for the
                             demo's sake (a real device encrypts on the device), through the
                             cast API's own path (`BallotService.cast`); shows the receipt link
    POST /station/logout
    GET  /api/station        the station's polls and turnout (station token)
    POST /api/station/polls  {"action": "open" | "close"} (station token)

A check-in from the console goes through `CheckinService.check_in`, the very path of
`POST /api/checkin`: the same validation, the same batching, the same one-vote-per-voter
guarantee. Each console form carries a request id made when the form was drawn, so that a
form sent twice (a reload, a double click) is a retry with the first answer, not a second
check-in. Only a database-backed server has a console; a server of a published record shows a
page that says so.

Sessions are kept in the database (`verivote.store.access`) and checked on every console
request: logout ends one on every worker process, revoking a station (`verivote stations
revoke`) ends all of its, and a session never outlives its token (the end of polling day). A
login reads the token from the database, never from the check-in API's cache, so a revoked
token cannot buy a fresh session. Failed logins are rate-limited per address and per the
station the form names (`verivote.web.throttle`): past the limit the login page answers 429.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections import OrderedDict
from typing import Any, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict

from verivote.crypto.ballot import BallotError
from verivote.crypto.tracking import short
from verivote.crypto.written import encrypt_for_station
from verivote.election.polls import close_polls, open_polls
from verivote.election.service import ElectionContext, ElectionError
from verivote.store import Store
from verivote.store.access import end_session, open_session, session_station
from verivote.store.db import READ_ONLY
from verivote.store.roll import turnout
from verivote.web.asgi import HttpError
from verivote.web.ballots import BallotService
from verivote.web.checkin import CheckinService, PollsClosed
from verivote.web.fastpath import client_of
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
    session_of,
    valid_nonce,
)
from verivote.web.site.views import View
from verivote.web.throttle import TooManyFailures

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
REMEMBERED_VOTES = 1000
"""Answers of the console's voting form kept, by request id, for a form sent twice."""
VOTE_ERRORS = {"no_checkin": "vote_no_checkin", "polls_closed": "vote_polls_closed"}
LISTED_CANDIDATES = 60
"""A district with more candidates than this is not listed on the voting form (codes only)."""


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
        self,
        service: CheckinService,
        store: Store,
        ctx: ElectionContext,
        secret: bytes,
        ballots: BallotService | None = None,
    ) -> None:
        self.service = service
        self.ballots = ballots if ballots is not None else BallotService(store, ctx)
        self.store = store
        self.ctx = ctx
        self.secret = secret
        self._reader = store.engine.execution_options(**{READ_ONLY: True})
        self._votes: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()

    async def station_of_token(self, token: str) -> str:
        """The station a token belongs to (HttpError 401/403 as the check-in API says)."""
        return await self.service.station(f"Bearer {token.strip()}")

    async def log_in(self, token: str, named: str | None, now: float) -> tuple[str, str] | None:
        """A new console session, (session id, station), for a token read from the database
        now (no cache), of a station of the manifest and, if the form named one, of that
        station; else None."""
        engine, election = self.store.engine, self.ctx.election_id
        found = await asyncio.to_thread(
            open_session, engine, election, token.strip(), int(now) + SESSION_SECONDS, now, named
        )
        if found is not None and found[1] not in self.service.district_of:
            await asyncio.to_thread(end_session, engine, found[0])
            return None
        return found

    async def session_station(self, session_id: str) -> str | None:
        """The station of a console session still on (see the module docstring)."""
        engine, election = self.store.engine, self.ctx.election_id
        return await asyncio.to_thread(session_station, engine, election, session_id)

    async def log_out(self, session_id: str) -> None:
        await asyncio.to_thread(end_session, self.store.engine, session_id)

    async def check_in(self, station: str, national_code: str, request_id: str) -> dict[str, Any]:
        body = json.dumps({"national_code": national_code, "request_id": request_id})
        return await self.service.check_in(station, body.encode())

    async def vote(self, station: str, choices: list[str], request_id: str) -> dict[str, Any]:
        """Encrypt `choices` here (the demo's shortcut: a real device encrypts on the device)
        and cast the ballot as `POST /api/ballots` does. A form sent twice (same request id)
        gets its first answer, not a second ballot. BallotError for choices that are not a
        ballot, HttpError as the cast API refuses."""
        key = (station, request_id)
        if key in self._votes:
            return self._votes[key]
        ctx = await self.ballots.keyed()
        assert ctx.key is not None
        ballot, _ = await asyncio.to_thread(
            encrypt_for_station, ctx.manifest, ctx.key, ctx.base_hash, station, choices
        )
        answer = await self.ballots.cast(station, json.dumps({"ballot": ballot}).encode())
        self._votes[key] = answer
        while len(self._votes) > REMEMBERED_VOTES:
            self._votes.popitem(last=False)
        return answer

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

    def cookie_session(request: Request) -> tuple[str, str] | None:
        """(station, session id) of the visitor's signed session cookie, not yet checked."""
        if station is None:
            return None
        return session_of(station.secret, request.cookies.get(SESSION_COOKIE), time.time())

    async def session(request: Request) -> str | None:
        """The logged-in station, if the visitor's session is on in the database."""
        found = cookie_session(request)
        if station is None or found is None or found[0] not in station.service.district_of:
            return None
        return found[0] if await station.session_station(found[1]) == found[0] else None

    async def console_page(request: Request, status: int = 200, **context: Any) -> Response:
        """The login form or the console, with a CSRF token for the visitor's cookie."""
        assert station is not None
        nonce, fresh = nonce_of(request)
        token = csrf_token(station.secret, nonce)
        who = await session(request)
        if who is None:
            page = pages.page(request, "station_login.html", status, csrf=token, **context)
            return with_nonce(request, page, nonce, fresh)
        district = station.ctx.manifest.district(station.service.district_of[who])
        listed = district.candidates if len(district.candidates) <= LISTED_CANDIDATES else []
        page = pages.page(
            request, "station.html", status, csrf=token, status_view=await station.status(who),
            request_id=secrets.token_urlsafe(12), vote_request_id=secrets.token_urlsafe(12),
            candidates=listed, seats=district.seats, **context,
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
        who = await session(request)
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
        named = form.get("station", "").strip() or None
        # Failures count against the station the form names only if it is one: a made-up
        # name would fill the counts for nothing.
        counted = named if named in station.service.district_of else None
        client = client_of(request.scope)
        throttle = station.service.throttle
        try:
            throttle.check(client, counted)
        except TooManyFailures as exc:
            page = await console_page(request, 429, error_key="login_throttled")
            page.headers.update(exc.headers)
            return page
        now = time.time()
        found = await station.log_in(token, named, now) if token.strip() else None
        if found is None:
            throttle.failed(client, counted)
            return await console_page(request, 401, error_key="login_refused")
        session_id, who = found
        response = RedirectResponse("/station", status_code=303)
        cookie = issue_session(station.secret, who, now, session_id)
        set_cookie(response, visitor_of(request), SESSION_COOKIE, cookie, SESSION_SECONDS)
        return response

    @app.post("/station/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        form = await checked_form(request)
        if isinstance(form, Response):
            return form
        assert station is not None  # checked_form refused the request otherwise
        found = cookie_session(request)
        if found is not None:  # ended in the database: a copy of the cookie is worth nothing
            await station.log_out(found[1])
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

    @app.post("/station/vote", include_in_schema=False)
    async def vote(request: Request) -> Response:
        staff = await staff_form(request)
        if isinstance(staff, Response):
            return staff
        form, who = staff
        assert station is not None  # staff_form refused the request otherwise
        typed = form.get("choices", "")
        choices = to_ascii_digits(typed).replace(",", " ").replace("،", " ").split()
        try:
            answer = await station.vote(who, choices, form.get("request_id", ""))
        except BallotError as exc:
            return await console_page(request, 400, error_key="vote_refused",
                                      error_detail=str(exc), choices=typed)  # fmt: skip
        except HttpError as exc:
            key = VOTE_ERRORS.get(exc.name or "", "vote_failed")
            return await console_page(request, exc.status, error_key=key, choices=typed)
        except Exception:  # the staff see it, the log has the detail
            log.exception("console vote failed")
            return await console_page(request, 503, error_key="vote_failed", choices=typed)
        return await console_page(request, vote_answer=answer, vote_short=short(
            answer["tracking_code"]))  # fmt: skip

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

    async def who(request: Request, authorization: str | None = Header(default=None)) -> str:
        return await station.service.station(authorization, client_of(request.scope))

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
