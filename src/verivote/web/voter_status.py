"""A voter's own check of their participation (issue 19, item 4), on the authority's server:

    POST /api/voter/status      {"national_code", "status_code"}: the voter's pseudonym with
                                what their device needs to check it (blinding factor, batch,
                                the guardians' answers and batch proofs), its leaf of the
                                committed roll with the leaf's path to the commitment's root
                                and the commitment's entry with its inclusion proof in the
                                signed checkpoint, and, if a check-in was recorded in their
                                name, where and when, with the `checkins` entry that lists the
                                pseudonym and its inclusion proofs (district log and seal)
    POST /api/voter/complaint   {"national_code", "status_code", "text"}: a voter who finds a
                                check-in they did not make files a complaint, kept for the
                                supervisors (`verivote.store.turnout.complaints`)

A wrong status code and a code not on the roll get the same 404 with the same words: nothing is
learnt from a wrong guess. Requests are rate-limited per client address (all requests) and
failures per address and per national code (`verivote.web.throttle`), so guessing a 128-bit
status code, or probing whether someone is on the roll, is hopeless.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from verivote.board.merkle import inclusion_proof, leaf_hash, verify_inclusion
from verivote.crypto.ceremony import CeremonyTranscript, public_share
from verivote.crypto.groups import get_group
from verivote.election.district_logs import prove_ballot
from verivote.election.guardians import PSEUDONYM_CEREMONY_TYPE
from verivote.election.publishing import check_inclusion
from verivote.election.service import ElectionContext, ElectionError, load_context
from verivote.election.turnout import file_complaint, roll_leaves, status_of
from verivote.polling.turnout import CHECKINS_TYPE, COMMITMENT_TYPE, StatusError, check_pseudonym
from verivote.store import Store
from verivote.web.asgi import HttpError
from verivote.web.throttle import Throttle, TooManyFailures

REQUESTS = "30/minute"
"""Status requests per client address, right or wrong: a family checks a few codes."""
FAILURES_PER_ADDRESS = "10/minute"
FAILURES_PER_VOTER = "5/minute"
NOT_FOUND = "no voter with this national code and status code"
BODY_LIMITS = {"/api/voter/status": 1 << 10, "/api/voter/complaint": 4 << 10}


def _text(doc: Any, key: str, limit: int) -> str:
    value = doc.get(key) if isinstance(doc, dict) else None
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise HttpError(400, f"{key}: a text of at most {limit} characters")
    return value.strip()


class _Roll:
    """The committed roll's leaf hashes, read once (the roll does not change after its
    commitment) for the voters' paths."""

    def __init__(self) -> None:
        self.leaves: list[bytes] | None = None
        self.hashes: list[bytes] = []
        self.index: dict[bytes, int] = {}

    def path(
        self, store: Store, ctx: ElectionContext, district: str, pseudonym: str
    ) -> dict[str, Any]:
        if self.leaves is None:
            self.leaves = roll_leaves(store, ctx.election_id)
            self.hashes = [leaf_hash(x) for x in self.leaves]
            self.index = {x: n for n, x in enumerate(self.leaves)}
        leaf = f"{district},{pseudonym}".encode("ascii")
        n = self.index[leaf]
        return {
            "leaf": leaf.decode("ascii"),
            "index": n,
            "size": len(self.hashes),
            "path": [base64.b64encode(h).decode("ascii") for h in inclusion_proof(self.hashes, n)],
        }


def _national_entry(store: Store, ctx: ElectionContext, kind: str) -> dict[str, Any] | None:
    """An entry of the national log with its inclusion proof in the latest checkpoint."""
    found = store.entries_of_type(ctx.election_id, kind)
    latest = store.latest_checkpoint(ctx.election_id)
    if not found or latest is None or found[0][0] >= latest[0]:
        return None
    index = found[0][0]
    entry, proof = store.proved_entry(ctx.election_id, index, latest[0])
    return {
        "index": index,
        "size": latest[0],
        "entry": entry.decode("utf-8"),
        "proof": [base64.b64encode(h).decode("ascii") for h in proof],
        "checkpoint": latest[1],
    }


def _checkin_entry(
    store: Store, ctx: ElectionContext, station: str, pseudonym: str
) -> dict[str, Any] | None:
    district = ctx.manifest.station(station).district
    latest = store.latest_checkpoint(ctx.election_id)
    for index, raw in store.entries_of_type(ctx.election_id, CHECKINS_TYPE, log=district):
        doc = json.loads(raw)
        if doc.get("station") == station and pseudonym in doc.get("pseudonyms", ()):
            if latest is None:
                return {"district": district, "index": index, "entry": raw.decode("utf-8")}
            try:
                return prove_ballot(store, ctx.election_id, district, index, latest).to_json()
            except ElectionError:  # not yet sealed into a signed checkpoint
                return {"district": district, "index": index, "entry": raw.decode("utf-8")}
    return None


def _proved(doc: dict[str, Any] | None, keys: list[str], what: str) -> dict[str, Any]:
    """The entry of an inclusion document, once its proof checks against a signed
    checkpoint; StatusError if it does not."""
    if not doc or "proof" not in doc or not check_inclusion(doc, keys):
        raise StatusError(f"the {what} entry is not proved in a checkpoint signed by the authority")
    entry: dict[str, Any] = json.loads(doc["entry"])
    return entry


def check_status(national_code: str, found: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """What the device concludes from the server's answer; StatusError if it is false."""
    ceremony = _proved(found.get("pseudonym_ceremony"), keys, "pseudonym key's ceremony")
    transcript = CeremonyTranscript.model_validate(ceremony["transcript"])
    group = get_group(transcript.group)
    shares = {i: public_share(group, transcript, i) for i in range(1, transcript.guardians + 1)}
    pseudonym = check_pseudonym(
        group, bytes.fromhex(transcript.base_hash), national_code, transcript.quorum, shares, found
    ).hex()
    commitment = _proved(found.get("commitment"), keys, "roll commitment")
    roll = found.get("roll") or {}
    leaf = f"{found.get('district')},{pseudonym}"
    try:
        path = [base64.b64decode(h, validate=True) for h in roll["path"]]
        on_roll = (
            roll["leaf"] == leaf
            and roll["size"] == commitment["size"]
            and verify_inclusion(
                leaf_hash(leaf.encode("ascii")),
                roll["index"],
                roll["size"],
                path,
                bytes.fromhex(commitment["root"]),
            )
        )
    except (KeyError, TypeError, ValueError):
        on_roll = False
    if not on_roll:
        raise StatusError("the voter's leaf is not proved in the committed roll")
    checked = found.get("checked_in")
    result: dict[str, Any] = {
        "on_roll": True,
        "district": found["district"],
        "pseudonym": pseudonym,
        "checked_in": None,
    }
    if checked is not None:
        entry = _proved(checked.get("entry"), keys, "check-ins")
        if entry.get("type") != "checkins" or pseudonym not in entry.get("pseudonyms", ()):
            raise StatusError("the check-ins entry shown does not list the voter's pseudonym")
        if entry.get("station") != checked.get("station"):
            raise StatusError("the check-ins entry is another station's")
        result["checked_in"] = {"station": entry["station"], "hour": entry["hour"]}
    return result


class StatusGuard:
    """The rate limits of the status service (module docstring), one per server process,
    shared by the API and the page."""

    def __init__(self) -> None:
        self.throttle = Throttle(FAILURES_PER_ADDRESS, FAILURES_PER_VOTER)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.every = parse(REQUESTS)

    def check(self, address: str | None, code: str) -> tuple[str | None, str]:
        """TooManyFailures past a limit; else (address, the voter's throttle key)."""
        voter = hashlib.sha256(code.encode()).hexdigest()[:32]  # never the code itself
        if not self.limiter.hit(self.every, f"s:{address}"):
            reset = self.limiter.get_window_stats(self.every, f"s:{address}").reset_time
            raise TooManyFailures(max(1, math.ceil(reset - time.time())))
        self.throttle.check(address, voter)
        return address, voter

    def failed(self, address: str | None, voter: str) -> None:
        self.throttle.failed(address, voter)


GUARDS: dict[str, StatusGuard] = {}
ROLLS: dict[str, _Roll] = {}


def full_status(
    store: Store, ctx: ElectionContext, code: str, status_code: str, verifiers: tuple[str, ...]
) -> dict[str, Any] | None:
    """`status_of` with everything the voter's device needs to check it (module docstring)."""
    found = status_of(store, ctx, code, status_code)
    if found is None or found.get("pseudonym") is None:
        return found
    roll = ROLLS.setdefault(ctx.election_id, _Roll())
    found["roll"] = roll.path(store, ctx, found["district"], found["pseudonym"])
    found["commitment"] = _national_entry(store, ctx, COMMITMENT_TYPE)
    found["pseudonym_ceremony"] = _national_entry(store, ctx, PSEUDONYM_CEREMONY_TYPE)
    checkin = found.get("checked_in")
    if checkin is not None:
        checkin["entry"] = _checkin_entry(store, ctx, checkin["station"], found["pseudonym"])
    found["verifiers"] = list(verifiers)
    return found


def voter_status_api(store: Store, election_id: str, verifiers: tuple[str, ...]) -> APIRouter:
    """The routes of the module docstring for election `election_id` of `store`."""
    router = APIRouter()
    limits = GUARDS.setdefault(election_id, StatusGuard())

    def guard(request: Request, code: str) -> tuple[str | None, str]:
        return limits.check(request.client.host if request.client else None, code)

    @router.post("/api/voter/status")
    def status(request: Request, doc: Annotated[Any, Body()]) -> dict[str, Any]:
        """A voter's own status (module docstring)."""
        code = _text(doc, "national_code", 10)
        address, voter = guard(request, code)
        ctx = load_context(store, election_id)
        if not ctx.manifest.polling.turnout:
            raise HttpError(404, "this election's turnout is not provable (no pseudonyms)")
        found = full_status(store, ctx, code, _text(doc, "status_code", 64), verifiers)
        if found is None:
            limits.failed(address, voter)
            raise HttpError(404, NOT_FOUND)
        return found

    @router.post("/api/voter/complaint")
    def complaint(request: Request, doc: Annotated[Any, Body()]) -> dict[str, Any]:
        """A voter's complaint about a check-in made in their name."""
        code = _text(doc, "national_code", 10)
        address, voter = guard(request, code)
        ctx = load_context(store, election_id)
        number = file_complaint(
            store, ctx, code, _text(doc, "status_code", 64), _text(doc, "text", 2000)
        )
        if number is None:
            limits.failed(address, voter)
            raise HttpError(404, NOT_FOUND)
        return {"complaint": number, "recorded": True}

    return router
