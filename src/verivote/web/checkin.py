"""The check-in API (issue 7): station devices check voters in, supervisors read conflicts.

    POST /api/checkin          one voter, now (station token)
    POST /api/checkin/offline  records a station made while cut off, uploaded later (station token)
    GET  /api/conflicts        uploaded records that were refused, kept (supervisor token),
                               by pages: ?limit= (at most MAX_CONFLICTS_PAGE), ?after=<next>
    GET  /api/turnout          check-ins per station, district and province (public; counted
                               at most every TURNOUT_CACHE_SECONDS)

A station device authenticates with its own token (`verivote stations issue-token`), sent as
`Authorization: Bearer <token>`; the server keeps only the token's hash. A token expires at the
end of polling day and fails on every server process within a second of `verivote stations
revoke` (`verivote.web.tokens`); bad tokens are rate-limited per client address
(`verivote.web.throttle`: 429 with `Retry-After`). A check-in names the
voter's national code and a request id chosen by the device, so that a network retry of the
same request gets the same answer and no second record. The answers:

    accepted | already_voted | not_eligible | wrong_district

The answer is the status alone. `already_voted` never says where or when the voter was checked
in: any station's staff could otherwise type a neighbour's code and learn whether, where and at
what hour they voted. The supervisors' conflict list keeps where and when, for the double
check-ins they must settle.

A station whose polls are not open (closed, or never opened) checks no one in (409), decided
inside the check-in's own transaction (issue 15). Offline records are still accepted from a
station that has closed: they were made while it was open.

Bad input (a malformed national code, a missing or over-long request id, a body that is not
JSON or too large, a token of a station the manifest does not have) gets a 4xx with a JSON
error and changes nothing. Every response carries strict security headers. The hour recorded is
the hour of polling day in Iran (Asia/Tehran); offline records carry the station's own hour.

`POST /api/checkin` is the hot path of polling day and is served by `verivote.web.fastpath`, a
plain ASGI handler in front of FastAPI (`fast_routes`). It is documented in the OpenAPI
description all the same.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import HTTPException, RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Engine
from starlette.types import ASGIApp

from verivote.model.manifest import Manifest
from verivote.polling.roll import national_code_valid
from verivote.store.access import access_epoch, grant_of_token, supervisor_of_token
from verivote.store.roll import (
    Checkin,
    RequestIdReused,
    TooManyConflicts,
    conflict_count,
    conflict_key,
    conflicts,
    turnout,
)
from verivote.web.asgi import (
    MAX_BODY,
    SECURITY_HEADERS,
    GuardMiddleware,
    HstsMiddleware,
    HttpError,
    json_error,
)
from verivote.web.batcher import CheckinBatcher
from verivote.web.fastpath import FastPaths, FastRoute, client_of
from verivote.web.outage import install_json_outage, monitor
from verivote.web.throttle import Throttle
from verivote.web.tokens import TOKEN_CACHE_SECONDS, Found, Revocations, TokenCache
from verivote.web.ttl import Ttl

__all__ = [
    "SECURITY_HEADERS", "TOKEN_CACHE_SECONDS", "CheckinService", "TokenCache", "checkin_router",
    "create_app",
]  # fmt: skip

log = logging.getLogger(__name__)
TEHRAN = ZoneInfo("Asia/Tehran")
CHECKIN_PATH = "/api/checkin"
MAX_UPLOAD_RECORDS = 2000
MAX_UPLOAD_BODY = 128 * MAX_UPLOAD_RECORDS
"""Bytes of an offline upload: about 90 per record, with room to spare."""
TURNOUT_CACHE_SECONDS = 5.0
"""How long the public turnout is served before it is counted again: counting reads every
check-in of the election (25 million by evening), too much to do for each visitor."""
MAX_CONFLICTS_PAGE = 500
"""Conflicts per page of /api/conflicts."""
RequestId = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class CheckinRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    national_code: str = Field(min_length=10, max_length=10)
    request_id: str = RequestId


class CheckinResponse(BaseModel):
    status: str


class OfflineRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    national_code: str = Field(min_length=10, max_length=10)
    request_id: str = RequestId
    hour: int = Field(ge=0, le=23)


class OfflineUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    records: list[OfflineRecord] = Field(min_length=1, max_length=MAX_UPLOAD_RECORDS)


class OfflineAnswer(BaseModel):
    """One record's answer, to the station: its status alone (see the module docstring)."""

    request_id: str
    status: str
    conflict: bool = False
    detail: str | None = None


class OfflineReport(BaseModel):
    accepted: int
    conflicts: int
    errors: int
    results: list[OfflineAnswer]


def tehran_hour() -> int:
    return datetime.datetime.now(TEHRAN).hour


class PollsClosed(HttpError):
    """A check-in at a station whose polls are not open (409)."""


class CheckinService:
    """What the check-in endpoints share: who a token is, and checking voters in."""

    def __init__(self, engine: Engine, manifest: Manifest, clock: Callable[[], int]) -> None:
        self.engine = engine
        self.election_id = manifest.election_id
        self.district_of = {s.id: s.district for s in manifest.stations}
        self.province_of = {d.id: d.province or d.id for d in manifest.districts}
        self.clock = clock
        self.batcher = CheckinBatcher(engine, manifest.election_id)
        self.revocations = Revocations(lambda: access_epoch(engine, manifest.election_id))
        self._stations = TokenCache(lambda token: _station_grant(engine, token), self.revocations)
        self._supervisors = TokenCache(
            lambda token: _supervisor_grant(engine, token), self.revocations
        )
        self.throttle = Throttle()
        self.outage = monitor(engine)
        self._turnout = Ttl(TURNOUT_CACHE_SECONDS)

    async def turnout(self) -> dict[str, int]:
        """Check-ins per station, counted at most every TURNOUT_CACHE_SECONDS."""
        return await self._turnout.get_in_thread(
            "turnout", lambda: turnout(self.engine, self.election_id)
        )

    async def station(self, authorization: str | None, client: str | None = None) -> str:
        """The station of a station token that belongs to this election and its manifest;
        `client` is the address bad tokens count against (see `verivote.web.throttle`)."""
        station_id = await self._bearer(authorization, self._stations, "station", client)
        if station_id not in self.district_of:
            raise HttpError(403, f"station {station_id!r} is not in the manifest")
        return station_id

    async def supervisor(self, authorization: str | None, client: str | None = None) -> str:
        """The name of a supervisor of this election."""
        return await self._bearer(authorization, self._supervisors, "supervisor", client)

    async def _bearer(
        self, authorization: str | None, cache: TokenCache, who: str, client: str | None
    ) -> str:
        if authorization is None or not authorization.startswith("Bearer "):
            raise HttpError(401, f"a {who} token is required (Authorization: Bearer …)")
        self.throttle.check(client)
        found = await cache.owner(authorization.removeprefix("Bearer ").strip())
        if found is None or found[0] != self.election_id:
            self.throttle.failed(client)
            raise HttpError(401, f"unknown, revoked or expired {who} token")
        return found[1]

    async def check_in(self, station_id: str, body: bytes) -> dict[str, Any]:
        """The answer to `POST /api/checkin` with this body from this station."""
        try:
            request = CheckinRequest.model_validate_json(body)
        except ValidationError as exc:
            raise HttpError(400, _first_error(exc.errors())) from None
        if not national_code_valid(request.national_code):
            raise HttpError(400, "malformed national code (wrong length or check digit)")
        item = Checkin(
            request.national_code, station_id, self.district_of[station_id], self.clock(),
            request.request_id,
        )  # fmt: skip
        try:
            result = await self.batcher.check_in(item)
        except RequestIdReused as exc:
            raise HttpError(409, str(exc)) from None
        if result.status == "polls_closed":
            raise PollsClosed(409, f"the polls are not open at {station_id}")
        return {"status": result.status}  # only the status: see the module docstring


MAX_CURSOR = 400
"""Characters of a conflicts cursor: a station id, an hour and a request id, encoded."""


def cursor(key: tuple[str, int, str]) -> str:
    """A page's `next`: where the page ended, opaque to the client (base64url JSON; it holds
    a station, an hour and a device's request id, never a national code)."""
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def read_cursor(text: str) -> tuple[str, int, str]:
    """The key a `cursor` holds; HttpError 400 for anything else."""
    try:
        key = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except ValueError:  # not base64, not UTF-8, not JSON
        key = None
    if not (
        isinstance(key, list) and len(key) == 3 and isinstance(key[0], str)
        and type(key[1]) is int and isinstance(key[2], str)
    ):  # fmt: skip
        raise HttpError(400, "after: not a cursor this server gave")
    return key[0], key[1], key[2]


def _station_grant(engine: Engine, token: str) -> Found | None:
    grant = grant_of_token(engine, token)
    return None if grant is None else ((grant.election, grant.station), grant.expires_at)


def _supervisor_grant(engine: Engine, token: str) -> Found | None:
    owner = supervisor_of_token(engine, token)
    return None if owner is None else (owner, None)


def _first_error(errors: Any) -> str:
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"] if p != "body") or "body"
    return f"{where}: {first['msg']}"


Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def checkin_route(service: CheckinService) -> dict[str, FastRoute]:
    """The check-in hot path, served by `verivote.web.fastpath`."""
    return {CHECKIN_PATH: FastRoute(MAX_BODY, service.check_in, "check-in")}


def fast_paths(
    app: ASGIApp, service: CheckinService, more: dict[str, FastRoute] | None = None
) -> FastPaths:
    """`app` behind the hot paths: the check-in's and `more` (the cast's)."""
    return FastPaths(app, {**checkin_route(service), **(more or {})}, service.station,
                     service.outage)  # fmt: skip


def checkin_router(service: CheckinService) -> APIRouter:
    """The check-in API's endpoints other than the hot path (see the module docstring)."""
    router = APIRouter()

    async def station(request: Request, authorization: str | None = Header(default=None)) -> str:
        return await service.station(authorization, client_of(request.scope))

    async def supervisor(request: Request, authorization: str | None = Header(default=None)) -> str:
        return await service.supervisor(authorization, client_of(request.scope))

    @router.post("/api/checkin/offline", response_model=OfflineReport)
    async def upload(body: OfflineUpload, station_id: str = Depends(station)) -> OfflineReport:
        """Upload the check-ins this station recorded while it was offline. Each record is
        checked as if it were made now; one refused (the voter was checked in elsewhere
        meanwhile, or is not on this district's roll) is kept for the supervisors."""
        bad = [i for i, r in enumerate(body.records) if not national_code_valid(r.national_code)]
        if bad:
            raise HttpError(
                400, f"records {bad[:10]}: malformed national code (wrong length or check digit)"
            )
        district = service.district_of[station_id]
        items = [
            Checkin(r.national_code, station_id, district, r.hour, r.request_id)
            for r in body.records
        ]
        try:
            results = await service.batcher.check_in_many(items, offline=True)
        except TooManyConflicts as exc:
            raise HttpError(422, str(exc)) from None
        answers: list[OfflineAnswer] = []
        for item, result in zip(items, results, strict=True):
            if isinstance(result, RequestIdReused):
                answers.append(OfflineAnswer(request_id=item.request_id, status="error",
                                             detail=str(result)))  # fmt: skip
            else:
                answer = OfflineAnswer(
                    request_id=item.request_id, status=result.status, conflict=result.conflict
                )
                answers.append(answer)
        return OfflineReport(
            accepted=sum(a.status == "accepted" for a in answers),
            conflicts=sum(a.conflict for a in answers),
            errors=sum(a.status == "error" for a in answers),
            results=answers,
        )

    @router.get("/api/conflicts")
    async def conflicts_now(
        _: str = Depends(supervisor),
        limit: int = Query(default=MAX_CONFLICTS_PAGE, ge=1, le=MAX_CONFLICTS_PAGE),
        after: str | None = Query(default=None, max_length=MAX_CURSOR),
    ) -> dict[str, Any]:
        """Uploaded offline check-ins that were refused and kept, for the supervisors, by
        station and hour, a page at a time: `count` is all of them, `next` (null on the last
        page) is the `after` of the next page."""
        start = None if after is None else read_cursor(after)

        def read() -> tuple[int, list[dict[str, Any]]]:
            engine, election = service.engine, service.election_id
            page = conflicts(engine, election, start, limit + 1)
            return conflict_count(engine, election), page

        count, page = await asyncio.to_thread(read)
        more = len(page) > limit
        page = page[:limit]
        return {"election_id": service.election_id, "count": count, "conflicts": page,
                "next": cursor(conflict_key(page[-1])) if more else None}  # fmt: skip

    @router.get("/api/turnout")
    async def turnout_now() -> dict[str, dict[str, int]]:
        """Check-ins so far per station, district and province."""
        by_station = await service.turnout()
        districts: dict[str, int] = {}
        provinces: dict[str, int] = {}
        for s, n in by_station.items():
            d = service.district_of.get(s, "?")
            p = service.province_of.get(d, d)
            districts[d] = districts.get(d, 0) + n
            provinces[p] = provinces.get(p, 0) + n
        return {"stations": by_station, "districts": districts, "provinces": provinces}

    return router


def create_app(
    engine: Engine, manifest: Manifest, clock: Callable[[], int] = tehran_hour
) -> HstsMiddleware:
    """The check-in API of one election on its own (an ASGI application); `verivote serve`
    serves it inside the whole site (`verivote.web.app.live_app`), composed the same way."""
    service = CheckinService(engine, manifest, clock)
    app = FastAPI(title="verivote check-in", version="1", lifespan=stopping_batcher(service))
    install_json_errors(app)
    return HstsMiddleware(fast_paths(with_checkin_api(app, service), service))


def stopping_batcher(service: CheckinService) -> Lifespan:
    """The lifespan of an application holding the service: its batcher stops at shutdown."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await service.batcher.close()

    return lifespan


def with_checkin_api(app: FastAPI, service: CheckinService) -> GuardMiddleware:
    """`app` with the check-in API's routes and the OpenAPI entry of its hot path, behind the
    guard (security headers, bodies refused unread). Put `fast_paths` in front of it."""
    app.include_router(checkin_router(service))
    install_json_outage(app, service.outage)
    app.openapi = lambda: openapi_with_checkin(app)  # type: ignore[method-assign]
    return GuardMiddleware(app, limits={"/api/checkin/offline": MAX_UPLOAD_BODY})


def install_json_errors(app: FastAPI) -> None:
    """Every error as `{"error": name, "detail": text}` with the security headers."""

    @app.exception_handler(RequestValidationError)
    async def bad_input(request: Request, exc: RequestValidationError) -> JSONResponse:
        return json_error(400, _first_error(exc.errors()))

    @app.exception_handler(HttpError)
    async def refused(request: Request, exc: HttpError) -> JSONResponse:
        return json_error(exc.status, exc.detail, exc.headers, exc.name)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return json_error(exc.status_code, str(exc.detail))


def openapi_with_checkin(app: FastAPI) -> dict[str, Any]:
    """FastAPI's description, with the hot path (served outside FastAPI) added to it."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        schema.setdefault("components", {}).setdefault("schemas", {}).update(
            {"CheckinRequest": CheckinRequest.model_json_schema(),
             "CheckinResponse": CheckinResponse.model_json_schema()}
        )  # fmt: skip
        ref = "#/components/schemas/"
        errors = {
            str(code): {"description": text}
            for code, text in [
                (400, "malformed request"), (401, "missing, unknown, revoked or expired token"),
                (403, "station not in the manifest"), (409, "request id reused for another voter"),
                (411, "no Content-Length"), (413, "body too large"), (415, "body not JSON"),
                (429, "too many bad tokens from this address lately (Retry-After)"),
                (503, "the database is unreachable: keep the check-in, retry after Retry-After"),
            ]
        }  # fmt: skip
        schema["paths"][CHECKIN_PATH] = {"post": {
            "summary": "Check a voter in at this station, once in the whole election",
            "security": [{"station token": []}],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": ref + "CheckinRequest"}}}},
            "responses": {"200": {"description": "the answer", "content": {"application/json": {
                "schema": {"$ref": ref + "CheckinResponse"}}}}, **errors},
        }}  # fmt: skip
        schema["components"]["securitySchemes"] = {
            "station token": {"type": "http", "scheme": "bearer"}
        }
        app.openapi_schema = schema
    return app.openapi_schema
