"""The cast API (issue 15, item 1): a station's ballot-marking device casts over the network.

    POST /api/ballots             {"ballot": {...}}  the encrypted ballot (station token)
    POST /api/ballots/challenged  {"ballot": {...}, "choices": [...], "nonces": [...]}
                                  a ballot the voter challenged, with its opening (station token)

The ballot is the wire form `verivote.crypto.written.encrypt_for_station` makes for the
station's district (marks per candidate, or the codes as written in a mixnet district; as
`verivote ballot encrypt` writes it); it must be of the token's station (403 otherwise). Every
proof is checked in a process pool (`verivote.election.service.prepare_cast`, pure CPU) BEFORE
anything is stored: a ballot that fails leaves no trace. Only then is it recorded, with the
ballots checked at about the same time in one transaction (`verivote.web.cast_batcher`: group
commit, each ballot answered as `record_cast` would answer it alone), and the device gets the
voter's receipt:

    200 {"status": "accepted" | "already_accepted", "tracking_code": code,
         "election_id": id, "district": id, "board_index": int | null}

`board_index` is null while the ballot waits in its station's batch (ballots reach the board in
batches, in a random order, so that the board's order does not follow the queue). Sending the
same ballot again (a retry, or the upload of a device's journal) answers `already_accepted`
with the same code and records nothing. The refusals, as `{"error": name, "detail": text}`:

    400 not JSON, or not {"ballot": {...}}         403 a ballot of another station
    401 no or unknown station token                409 polls_closed: the station is not open
    413 a body larger than any ballot of the election   409 no_checkin: the station's ballots
    422 the ballot fails a check (the detail says which)   would outnumber its check-ins
    503 the ballot could not be recorded (the database failed): send it again

The pool's workers (`verivote.web.proof_pool`) are started once (spawned, not forked: the
server has threads) with the election's public pieces, so that a ballot costs one round trip
of its bytes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request

from verivote.crypto.ballot import BallotError, OpenedBallot
from verivote.crypto.ceremony import CeremonyTranscript
from verivote.crypto.elgamal import ElectionKey
from verivote.crypto.groups import get_group
from verivote.crypto.written import written_width
from verivote.election.service import (
    AlreadyCast,
    ElectionContext,
    ElectionError,
    PreparedBallot,
    Receipt,
    challenge,
    load_context,
    prepare_cast,
    prepare_unchecked,
)
from verivote.model.manifest import Manifest, parse_manifest
from verivote.store import NoCheckin, PollsClosed, Store
from verivote.web.asgi import HttpError, read_body
from verivote.web.cast_batcher import CastBatcher
from verivote.web.fastpath import FastRoute, client_of
from verivote.web.outage import DATABASE_ERRORS
from verivote.web.proof_pool import ProofPool, WorkerDied

log = logging.getLogger(__name__)
CAST_PATH = "/api/ballots"
CHALLENGED_PATH = "/api/ballots/challenged"
CAST_WORKERS_VAR = "VERIVOTE_CAST_WORKERS"


# --- how large a ballot can be ------------------------------------------------------------


def _proof_bytes(element_hex: int, scalar_hex: int, limit: int) -> int:
    """Bytes of a range proof's JSON (`wire.range_proof_to_json`) with its commitments."""
    n = limit + 1
    proof = {
        "challenges": ["0" * scalar_hex] * n,
        "responses": ["0" * scalar_hex] * n,
        "commitments": [["0" * element_hex, "0" * element_hex]] * n,
    }
    return len(json.dumps(proof))


def ballot_limit(manifest: Manifest) -> int:
    """The most bytes a cast request of this election may take: the JSON of a ballot of its
    largest district (every hex string at its full length, with the spaces `json.dumps` puts
    after separators), a quarter more for other spacing, and 4 KiB for the envelope. A
    ristretto255 ballot costs about 800 bytes per candidate: Tehran's 3,545 make ~2.8 MB. A
    written ballot (a mixnet district, issue 16) costs about 200 bytes per element: Tehran's
    2 make a limit of ~5 KiB."""
    group = get_group(manifest.group)
    element, scalar = 2 * group.element_bytes, 2 * group.scalar_bytes
    ciphertext = len(json.dumps({"alpha": "0" * element, "beta": "0" * element}))
    zero_one = _proof_bytes(element, scalar, 1)
    part = len(json.dumps({"candidate": "", "ciphertext": None, "proof": None})) + ciphertext
    largest = 0
    for district in manifest.districts:
        ids = max((len(s.id) for s in manifest.stations), default=0) + len(district.id)
        if district.counted_by == "mixnet":  # a written ballot: w ciphertexts and w responses
            width = written_width(group, district)
            size = width * (ciphertext + scalar + 8) + scalar + 2 * ids + 64 + 64 + 300
            largest = max(largest, size)
            continue
        size = (
            sum(part + zero_one + len(c.code) + 2 for c in district.candidates)
            + part + zero_one  # the blank flag
            + _proof_bytes(element, scalar, district.seats)
            + _proof_bytes(element, scalar, district.seats - 1)
            + 2 * ids + 64 + 64 + 200  # station, district, election hash, nonce, keys
        )  # fmt: skip
        largest = max(largest, size)
    return largest + largest // 4 + 4096


# --- the process pool -----------------------------------------------------------------------

ContextPieces = tuple[str, dict[str, Any], bytes, dict[str, Any] | None]


def context_pieces(ctx: ElectionContext) -> ContextPieces:
    """An election context as plain data a spawned worker can rebuild it from."""
    transcript = None if ctx.transcript is None else ctx.transcript.model_dump(mode="json")
    manifest = ctx.manifest.model_dump(mode="json")
    return ctx.election_id, manifest, ctx.base_hash, transcript


def rebuild_context(pieces: ContextPieces) -> ElectionContext:
    election_id, manifest_doc, base_hash, transcript_doc = pieces
    manifest = parse_manifest(manifest_doc, f"election {election_id}")
    transcript = key = None
    if transcript_doc is not None:
        transcript = CeremonyTranscript.model_validate(transcript_doc)
        group = get_group(transcript.group)
        key = ElectionKey(group, group.decode(bytes.fromhex(transcript.joint_key)))
    return ElectionContext(election_id, manifest, base_hash, key, transcript)


class WrongStation(Exception):
    """A ballot of another station than the token's (403)."""


class BadRequest(Exception):
    """A body that is not `{"ballot": {...}}` (400)."""


def parse_cast_body(body: bytes) -> Any:
    """The ballot of a cast request's body; BadRequest if the body is not {"ballot": {...}}."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        raise BadRequest("the body is not JSON") from None
    if not isinstance(doc, dict) or set(doc) != {"ballot"} or not isinstance(doc["ballot"], dict):
        raise BadRequest('the body must be {"ballot": {...}}, the encrypted ballot')
    return doc["ballot"]


def prepare_body(
    ctx: ElectionContext, body: bytes, station_id: str, check: bool = True
) -> PreparedBallot:
    """Read a cast request's body and check its ballot completely (`prepare_cast`), refusing
    first, before any proof is checked, a ballot of another station than `station_id`.
    `check=False` (the cast benchmark's append path only) checks no proof."""
    ballot = parse_cast_body(body)
    if ballot.get("station") != station_id:
        raise WrongStation(
            f"this ballot is of station {ballot.get('station')!r}, not of {station_id}, whose "
            "token this is"
        )
    return (prepare_cast if check else prepare_unchecked)(ctx, ballot)


def pool_size() -> int:
    """Workers of the pool: VERIVOTE_CAST_WORKERS if set, else the machine's CPU count."""
    configured = os.environ.get(CAST_WORKERS_VAR, "").strip()
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return os.cpu_count() or 1


class BallotService:
    """Casting for one election: proofs checked in a process pool (made at the first ballot,
    so a server that is never cast to starts none), ballots recorded in a thread.

    `check_proofs=False` is for `verivote bench cast-api --no-proofs` only, never a server's
    option: ballots are taken as already checked (no pool; the tracking code and board entry
    made as `prepare_cast` makes them), to measure the append path alone."""

    def __init__(
        self, store: Store, ctx: ElectionContext, workers: int | None = None,
        check_proofs: bool = True,
    ) -> None:  # fmt: skip
        self.store = store
        self.ctx = ctx
        self.workers = workers if workers is not None else pool_size()
        self.check_proofs = check_proofs
        self._pool: ProofPool | None = None
        self.checking = 0
        """Ballots whose proofs are being checked now: the batcher waits a little for them."""
        self.batcher = CastBatcher(store, ctx, lambda: self.checking)

    async def keyed(self) -> ElectionContext:
        """The election's context once its key ceremony is held: a server started before the
        ceremony (the guardians hold it through this very server) reads it again until then."""
        if self.ctx.key is None:
            ctx = await asyncio.to_thread(load_context, self.store, self.ctx.election_id)
            if ctx.key is None:
                raise HttpError(409, "the key ceremony has not been held: no ballot can be cast")
            self.ctx = ctx
        return self.ctx

    async def close(self) -> None:
        """Stop the pool's workers (at the application's shutdown)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def prepare(self, body: bytes, station_id: str) -> PreparedBallot:
        """The body's ballot checked completely, by the pool's workers."""
        if not self.check_proofs:  # the cast benchmark's append path: nothing to check
            return prepare_body(self.ctx, body, station_id, check=False)
        if self._pool is None:
            self._pool = ProofPool(self.workers, context_pieces(self.ctx))
        self.checking += 1
        try:
            return await self._pool.check(body, station_id)
        except WorkerDied:  # killed, out of memory: started again at the next ballot
            raise HttpError(503, "the ballot could not be checked; send it again") from None
        finally:
            self.checking -= 1

    async def cast(self, station_id: str, body: bytes) -> dict[str, Any]:
        """The answer to a cast request with this body from this station (HttpError else)."""
        await self.keyed()
        try:
            prepared = await self.prepare(body, station_id)
        except BadRequest as exc:
            raise HttpError(400, str(exc)) from None
        except WrongStation as exc:
            raise HttpError(403, str(exc)) from None
        except (BallotError, ElectionError) as exc:
            raise HttpError(422, str(exc)) from None
        return await self.record(prepared)

    async def record(self, prepared: PreparedBallot) -> dict[str, Any]:
        """Record a checked ballot: the receipt's answer, or HttpError."""
        status = "accepted"
        try:
            receipt = await self.batcher.record(prepared)
        except AlreadyCast as exc:
            receipt, status = exc.receipt, "already_accepted"
        except PollsClosed as exc:
            raise HttpError(409, str(exc), "polls_closed") from None
        except NoCheckin as exc:
            raise HttpError(409, str(exc), "no_checkin") from None
        except BallotError as exc:
            raise HttpError(422, str(exc)) from None
        except DATABASE_ERRORS:
            raise  # the API's outage handler answers 503 + Retry-After, one log line per outage
        return self.answer(status, receipt, prepared.district)

    def answer(self, status: str, receipt: Receipt, district: str) -> dict[str, Any]:
        return {
            "status": status, "tracking_code": receipt.code,
            "election_id": self.ctx.election_id, "district": district,
            "board_index": receipt.board_index,
        }  # fmt: skip

    async def challenge(self, station_id: str, body: bytes) -> dict[str, Any]:
        """The answer to a challenged ballot's upload (its opening published, never counted)."""
        ctx = await self.keyed()
        ballot, opened = parse_challenge_body(ctx, body)
        if ballot.get("station") != station_id:
            raise HttpError(403, f"this ballot is of station {ballot.get('station')!r}, not of "
                                 f"{station_id}, whose token this is")  # fmt: skip
        try:
            receipt = await asyncio.to_thread(challenge, self.store, ctx, ballot, opened)
        except PollsClosed as exc:
            raise HttpError(409, str(exc), "polls_closed") from None
        except (BallotError, ElectionError) as exc:
            raise HttpError(422, str(exc)) from None
        except DATABASE_ERRORS:
            raise  # the API's outage handler answers 503 + Retry-After, one log line per outage
        return {
            "status": "challenged", "ballot_id": receipt.code, "election_id": ctx.election_id,
            "district": str(ballot.get("district")), "board_index": receipt.board_index,
        }  # fmt: skip


def parse_challenge_body(ctx: ElectionContext, body: bytes) -> tuple[dict[str, Any], OpenedBallot]:
    """The ballot and opening of `{"ballot", "choices", "nonces"}` (HttpError 400 if not)."""
    assert ctx.key is not None
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        raise HttpError(400, "the body is not JSON") from None
    if not isinstance(doc, dict) or set(doc) != {"ballot", "choices", "nonces"}:
        raise HttpError(400, 'the body must be {"ballot": {...}, "choices": [...], '
                             '"nonces": [...]}')  # fmt: skip
    ballot, choices, nonces = doc["ballot"], doc["choices"], doc["nonces"]
    if (
        not isinstance(ballot, dict)
        or not isinstance(choices, list)
        or not all(isinstance(c, str) for c in choices)
    ):
        raise HttpError(400, "the ballot must be an object and the choices a list of codes")
    group = ctx.key.group
    try:
        if not isinstance(nonces, list):
            raise TypeError("not a list")
        values = tuple(group.decode_scalar(bytes.fromhex(n)) for n in nonces)
    except (TypeError, ValueError):
        raise HttpError(400, "the nonces must be a list of hex scalars") from None
    return ballot, OpenedBallot(tuple(choices), values)


async def _read(request: Request, limit: int) -> bytes:
    # The guard refused a longer Content-Length; a body may still lie, and is refused as
    # soon as it grows past the limit.
    return await read_body(request.receive, limit)


def body_limits(manifest: Manifest) -> dict[str, int]:
    """The cast API's limits on a body, for `GuardMiddleware`: a challenged ballot carries its
    opening too (a scalar per candidate, under a tenth of the ballot)."""
    limit = ballot_limit(manifest)
    return {CAST_PATH: limit, CHALLENGED_PATH: limit + limit // 8}


def cast_route(service: BallotService) -> dict[str, FastRoute]:
    """The cast's hot path, served by `verivote.web.fastpath` (its route below documents it
    and answers alike)."""
    limit = body_limits(service.ctx.manifest)[CAST_PATH]
    return {CAST_PATH: FastRoute(limit, service.cast, "cast")}


def ballots_router(
    service: BallotService, station_of: Callable[[str | None, str | None], Awaitable[str]]
) -> APIRouter:
    """The cast API's routes; `station_of(authorization, client address)` is the station of a
    token (`CheckinService.station`: bad tokens count against the client's address)."""
    router = APIRouter()
    limits = body_limits(service.ctx.manifest)
    body_doc = {
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["ballot"],
            "properties": {"ballot": {"type": "object"}}}}}},
    }  # fmt: skip

    @router.post(CAST_PATH, openapi_extra=body_doc)
    async def cast(request: Request, authorization: Annotated[str | None, Header()] = None) -> Any:
        """Cast an encrypted ballot at this station: every proof is checked before anything is
        stored; the answer holds the voter's tracking code. Sending the same ballot again
        answers `already_accepted` with the same code."""
        station_id = await station_of(authorization, client_of(request.scope))
        return await service.cast(station_id, await _read(request, limits[CAST_PATH]))

    @router.post(CHALLENGED_PATH)
    async def challenged(
        request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> Any:
        """Publish a ballot the voter challenged, with its opening (the choices and every
        encryption nonce): it is checked to open the ballot, then published, never counted."""
        station_id = await station_of(authorization, client_of(request.scope))
        return await service.challenge(station_id, await _read(request, limits[CHALLENGED_PATH]))

    return router
