"""The HTTP API the guardians' program talks to (issue 14, items 1 and 2), on the authority's
server (`verivote serve`, mounted by `verivote.web.app.live_app`):

    GET  /api/ceremony                   parameters, the open round, every public message,
                                         the board index of the `ceremony` entry once finished,
                                         and the election's published verifier keys
    POST /api/ceremony/{round}           a guardian's message of a round (Bearer token):
                                         commitment, reveal, shares, complaints, answers
    POST /api/decryption/partials        a guardian's partial-decryption entry (Bearer token),
                                         appended only once every proof in it checks
    POST /api/decryption/lot             a guardian's share of the lot ciphertext, checked
    POST /api/lot/contributions          a guardian's contribution to the lot, before the tally
    GET  /api/board/entries?start=&end=  board entries start ≤ i < end (at most MAX_RANGE) as
                                         JSON lines, byte for byte as on the board, so that a
                                         guardian recomputes the Merkle root itself

The pseudonym key (issue 19; `verivote.election.turnout`):

    GET  /api/pseudonym-ceremony         the pseudonym key's ceremony, as /api/ceremony
    POST /api/pseudonym-ceremony/{round} a guardian's message of one of its rounds
    GET  /api/pseudonyms/batches?start=&limit=   the roll's size and blinded batches
    POST /api/pseudonyms/answers         a guardian's answer to a batch (Bearer token), kept
                                         only once its batch proof checks

The factions' mix servers (issue 16, item 2; `verivote.parties.mixer`) and the guardians'
decryption of the mix:

    GET  /api/mix                        the election, its base hash, its mixers in mixing
                                         order and its published verifier keys
    GET  /api/mix/me                     which mixer a token is (Bearer token)
    POST /api/mix/shuffles               a mixer's shuffle entry (Bearer token), appended only
                                         once its proof checks (`mixing.accept_shuffle`)
    POST /api/decryption/mix-partials    a guardian's mix-partial-decryption entry (Bearer
                                         token), appended only once every proof in it checks
                                         against the board's final mix (`accept_mix_partial`)

The latest cosigned checkpoint is `GET /api/checkpoints` (the site API, newest first).
The election is read again from the database on every request: the ceremony's entry, the
tally and the guardians' posts arrive while the server runs. Errors are `{"error", "detail"}`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query
from fastapi.responses import Response

from verivote.election import guardians as service
from verivote.election import turnout
from verivote.election.mixers import manifest_mixers, mixer_of
from verivote.election.mixing import accept_mix_partial, accept_shuffle
from verivote.election.service import ElectionContext, ElectionError, load_context
from verivote.store import Store
from verivote.store.schema import CEREMONY_ROUNDS
from verivote.web.asgi import HttpError

Accept = Callable[[Store, ElectionContext, int, Any], int]
"""The server's check-and-append of an entry a guardian posts (`verivote.election.guardians`)."""

MAX_RANGE = 10_000
"""Board entries per request of /api/board/entries."""
BODY_LIMITS = {
    **{f"/api/ceremony/{r}": 1 << 20 for r in CEREMONY_ROUNDS},
    **{f"/api/pseudonym-ceremony/{r}": 1 << 20 for r in CEREMONY_ROUNDS},
    "/api/pseudonyms/answers": 1 << 20,
    "/api/decryption/partials": 8 << 20,
    # an eg4096 contribution (a ciphertext and two proofs) or lot share is a few KiB
    "/api/lot/contributions": 64 << 10,
    "/api/decryption/lot": 64 << 10,
    # A shuffle holds every row of a district and its proof (ristretto255, width 1: about
    # 0.5 KiB a row): 256 MiB is some 400,000 ballots of width 1; a national district's mix
    # needs its rows streamed, which this API does not do yet.
    "/api/mix/shuffles": 256 << 20,
    # a batch of at most 500 rows, a share and a proof per ciphertext (eg4096: 17 a row)
    "/api/decryption/mix-partials": 32 << 20,
}
"""Bytes of a POST body on these paths (the guard's default is 1 KiB): a partial decryption of
a district with thousands of candidates holds a share and a proof for each."""


def _bearer(authorization: str | None) -> str | None:
    if authorization is None or not authorization.startswith("Bearer "):
        return None
    return authorization.removeprefix("Bearer ").strip()


def parties_api(store: Store, election_id: str, verifiers: tuple[str, ...]) -> APIRouter:
    """The guardians' routes for election `election_id` of `store`."""
    router = APIRouter()

    def context() -> ElectionContext:
        return load_context(store, election_id)

    def refused(exc: service.Refused) -> HttpError:
        return HttpError(exc.status, str(exc))

    def by_guardian(authorization: str | None, accept: Accept, entry: Any) -> dict[str, int]:
        """`accept` an entry posted by the guardian whose token this is: its board index."""
        ctx = context()
        try:
            guardian = service.guardian_of(store, ctx, _bearer(authorization))
            return {"index": accept(store, ctx, guardian, entry)}
        except service.Refused as exc:
            raise refused(exc) from None

    def ceremony_routes(path: str, kind: service.KeyKind) -> None:
        """GET `path` and POST `path`/{round} for the ceremony of `kind`'s key (the election
        key's at /api/ceremony, the pseudonym key's at /api/pseudonym-ceremony)."""

        def state() -> dict[str, Any]:
            try:
                doc = service.ceremony_state(store, context(), kind)
            except service.Refused as exc:
                raise refused(exc) from None
            doc["verifiers"] = list(verifiers)
            return doc

        def post_round(
            round_name: str,
            message: Annotated[Any, Body()],
            authorization: Annotated[str | None, Header()] = None,
        ) -> dict[str, Any]:
            ctx = context()
            try:
                guardian = service.guardian_of(store, ctx, _bearer(authorization))
                doc = service.post_message(store, ctx, guardian, round_name, message, kind)
            except service.Refused as exc:
                raise refused(exc) from None
            doc["verifiers"] = list(verifiers)
            return doc

        what = "the key ceremony" if kind is service.ELECTION_KEY else "the pseudonym key's"
        router.add_api_route(path, state, methods=["GET"], name=f"{kind.name}_ceremony",
                             description=f"{what}: guardians, quorum, the open round, "
                             "every public message")  # fmt: skip
        router.add_api_route(f"{path}/{{round_name}}", post_round, methods=["POST"],
                             name=f"{kind.name}_round",
                             description=f"a guardian's message of a round of {what}")  # fmt: skip

    ceremony_routes("/api/ceremony", service.ELECTION_KEY)
    ceremony_routes("/api/pseudonym-ceremony", service.PSEUDONYM_KEY)

    @router.get("/api/pseudonyms/batches")
    def pseudonym_batches(
        start: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=100)] = 100,
    ) -> dict[str, Any]:
        """The roll's published size and its blinded batches from `start`."""
        try:
            return turnout.batches_doc(store, context(), start, limit)
        except service.Refused as exc:
            raise refused(exc) from None
        except ElectionError as exc:
            raise HttpError(409, str(exc)) from None

    @router.post("/api/pseudonyms/answers")
    def post_answer(
        answer: Annotated[Any, Body()],
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, int]:
        """A guardian's answer to one batch, kept once its proof checks."""
        ctx = context()
        try:
            guardian = service.guardian_of(store, ctx, _bearer(authorization))
            return {"batch": turnout.accept_answer(store, ctx, guardian, answer)}
        except service.Refused as exc:
            raise refused(exc) from None
        except ElectionError as exc:
            raise HttpError(409, str(exc)) from None

    @router.post("/api/decryption/partials")
    def post_partial(
        entry: Annotated[Any, Body()],
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, int]:
        """A guardian's partial decryption of one district of the published tally."""
        return by_guardian(authorization, service.accept_partial, entry)

    @router.post("/api/lot/contributions")
    def post_contribution(
        entry: Annotated[Any, Body()],
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, int]:
        """A guardian's contribution to the lot, before the tally (issue 14, item 4)."""
        return by_guardian(authorization, service.accept_contribution, entry)

    @router.post("/api/decryption/lot")
    def post_lot_decryption(
        entry: Annotated[Any, Body()],
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, int]:
        """A guardian's partial decryption of the lot ciphertext, with the tally's."""
        return by_guardian(authorization, service.accept_lot_decryption, entry)

    @router.get("/api/mix")
    def mix() -> dict[str, Any]:
        """The election's mixers, in mixing order, and its published verifier keys."""
        ctx = context()
        return {
            "election": ctx.election_id,
            "base_hash": ctx.base_hash.hex(),
            "mixers": manifest_mixers(ctx.manifest),
            "verifiers": list(verifiers),
        }

    @router.get("/api/mix/me")
    def mixer_me(authorization: Annotated[str | None, Header()] = None) -> dict[str, str]:
        """Which mixer of this election the token is."""
        ctx = context()
        try:
            return {
                "election": ctx.election_id,
                "mixer": mixer_of(store, ctx, _bearer(authorization)),
            }
        except service.Refused as exc:
            raise refused(exc) from None

    @router.post("/api/mix/shuffles")
    def post_shuffle(
        entry: Annotated[Any, Body()],
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, int]:
        """A mixer's shuffle of one district's chain, with its proof (issue 16, item 2)."""
        ctx = context()
        try:
            mixer = mixer_of(store, ctx, _bearer(authorization))
            return {"index": accept_shuffle(store, ctx, mixer, entry)}
        except service.Refused as exc:
            raise refused(exc) from None
        except ElectionError as exc:
            raise HttpError(409, str(exc)) from None

    @router.post("/api/decryption/mix-partials")
    def post_mix_partial(
        entry: Annotated[Any, Body()],
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, int]:
        """A guardian's partial decryption of a batch of the closed mix's last rows."""
        return by_guardian(authorization, accept_mix_partial, entry)

    @router.get("/api/board/entries")
    def entries(
        start: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
        end: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
        log: Annotated[str, Query(max_length=64, pattern=r"^[A-Za-z0-9._-]*$")] = "",
    ) -> Response:
        """Entries start ≤ i < end of a log (the national log by default, `log` a district's;
        to the log's end, at most MAX_RANGE of them), one per line, exactly as on the board."""
        stop = start + MAX_RANGE if end is None else min(end, start + MAX_RANGE)
        if stop < start:
            raise HttpError(400, "end is before start")
        raws = store.entries(election_id, start, stop, log=log)
        return Response(b"".join(raw + b"\n" for raw in raws), media_type="application/jsonl")

    return router
