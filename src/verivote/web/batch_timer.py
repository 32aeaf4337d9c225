"""The timer that closes old batches (issue 15, item 3): a station's batch that has waited
`polling.batch_minutes` goes onto the board even if it never fills, so that a quiet station's
ballots do not wait for its closing.

Every server process runs one; they may race, harmlessly: each flush runs in its own
transaction under the station's counters row and finds nothing left to do if another process
flushed first. A failure (the database restarting) is logged once and retried next tick.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from verivote.election.service import ElectionContext
from verivote.store import Store

log = logging.getLogger(__name__)


def tick_seconds(batch_seconds: int) -> float:
    """How often to look: a tenth of the batch's time, between 1 s and 30 s, so that a batch
    never waits more than about 10 % beyond its limit."""
    return min(30.0, max(1.0, batch_seconds / 10))


async def run_timer(store: Store, ctx: ElectionContext) -> None:
    seconds = ctx.manifest.polling.batch_minutes * 60
    failing = False
    while True:
        await asyncio.sleep(tick_seconds(seconds))
        try:
            flushed = await asyncio.to_thread(store.flush_due, ctx.election_id, seconds)
        except Exception as exc:
            if not failing:
                log.warning("old batches could not be flushed (%s); retrying", type(exc).__name__)
            failing = True
            continue
        if failing:
            log.warning("old batches are flushed again")
        failing = False
        if flushed:
            log.info("%d ballots of old batches went onto the board", flushed)


@asynccontextmanager
async def batch_timer(store: Store, ctx: ElectionContext) -> AsyncIterator[None]:
    """Run the timer while the application serves."""
    task = asyncio.get_running_loop().create_task(run_timer(store, ctx))
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
