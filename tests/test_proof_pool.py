"""The cast API's proof-checking processes (`verivote.web.proof_pool`): a ballot checked by a
worker is what `prepare_cast` makes of it in this process; a refused ballot raises what
`prepare_body` raises; a worker killed while it holds ballots fails exactly those (the device
sends them again) and the next ballot is checked by a worker started again. Real processes,
real ballots, no mock."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from tests.attacks.casting_fixtures import Polling, polling_election
from verivote.crypto.ballot import BallotError
from verivote.crypto.written import encrypt_for_station
from verivote.election.service import prepare_cast
from verivote.web.ballots import BadRequest, WrongStation, context_pieces
from verivote.web.proof_pool import ProofPool, WorkerDied


@pytest.fixture(scope="module")
def polling(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Polling]:
    with polling_election("sqlite", tmp_path_factory.mktemp("pool")) as polling:
        yield polling


def _ballot(polling: Polling, station: str = "tabriz-001") -> dict[str, Any]:
    ctx = polling.ctx
    assert ctx.key is not None
    ballot, _ = encrypt_for_station(ctx.manifest, ctx.key, ctx.base_hash, station, [])
    return ballot


def _body(ballot: object) -> bytes:
    return json.dumps({"ballot": ballot}).encode()


def test_checked_ballots_are_those_prepare_cast_makes_and_refusals_are_raised(
    polling: Polling,
) -> None:
    ballots = [_ballot(polling) for _ in range(5)]
    assert isinstance(ballots[3]["selections"], list)

    async def main() -> tuple[list[Any], list[str]]:
        pool = ProofPool(2, context_pieces(polling.ctx))
        try:
            checked = await asyncio.gather(*(pool.check(_body(b), "tabriz-001") for b in ballots))
            refused = []
            for body, station in [
                (b"not json", "tabriz-001"),
                (_body(ballots[1]), "tabriz-002"),
                # another ballot's first selection in place of this one's: a proof fails
                (_body({**ballots[2], "selections": ballots[3]["selections"][:1]}), "tabriz-001"),
            ]:
                try:
                    await pool.check(body, station)
                except (BadRequest, WrongStation, BallotError) as exc:
                    refused.append(type(exc).__name__)
            return list(checked), refused
        finally:
            await pool.close()

    checked, refused = asyncio.run(main())
    assert checked == [prepare_cast(polling.ctx, b) for b in ballots]
    assert refused == ["BadRequest", "WrongStation", "BallotError"]


def test_a_killed_worker_fails_only_its_ballots_and_is_started_again(polling: Polling) -> None:
    ballots = [_ballot(polling) for _ in range(6)]

    async def main() -> tuple[list[str], Any]:
        pool = ProofPool(1, context_pieces(polling.ctx))
        try:
            await pool.check(_body(ballots[0]), "tabriz-001")  # the worker is up
            worker = pool._workers[0]
            assert worker is not None
            held = [asyncio.ensure_future(pool.check(_body(b), "tabriz-001")) for b in ballots[1:3]]
            await asyncio.sleep(0)  # both written to the worker
            os.kill(worker.process.pid, signal.SIGKILL)
            outcomes = []
            for task in held:
                try:
                    await task
                    outcomes.append("checked")
                except WorkerDied:
                    outcomes.append("died")
            again = await pool.check(_body(ballots[3]), "tabriz-001")
            assert pool._workers[0] is not worker
            return outcomes, again
        finally:
            await pool.close()

    outcomes, again = asyncio.run(main())
    assert "died" in outcomes  # the one being checked at least; none is answered twice
    assert again == prepare_cast(polling.ctx, ballots[3])


def test_closing_ends_the_workers(polling: Polling) -> None:
    async def main() -> list[Any]:
        pool = ProofPool(2, context_pieces(polling.ctx))
        await asyncio.gather(*(pool.check(_body(_ballot(polling)), "tabriz-001") for _ in range(3)))
        processes = [w.process for w in pool._workers if w is not None]
        await pool.close()
        return processes

    processes = asyncio.run(main())
    assert processes
    assert all(not p.is_alive() for p in processes)
