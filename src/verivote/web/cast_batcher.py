"""Group commit for casts (issue 15, the cast API's speed): the ballots whose proofs were
checked at about the same time are admitted in one transaction.

Admitting one ballot is a handful of statements and a commit; under load many are in flight
at once, so a writer task takes every ballot queued, admits them together
(`verivote.election.service.record_casts`: one transaction, a few statements whatever their
number) and answers each request. Under light load a batch is one ballot and nothing waits.
Correctness does not depend on the grouping: each ballot gets the answer it would get alone,
decided under its station's locks.
"""

from __future__ import annotations

import asyncio

from verivote.election.service import ElectionContext, PreparedBallot, Receipt, record_casts
from verivote.store import Store

MAX_BATCH = 128
Waiting = tuple[PreparedBallot, "asyncio.Future[Receipt]"]


class CastBatcher:
    """Queue checked ballots and admit them in batches from `writers` transactions."""

    def __init__(self, store: Store, ctx: ElectionContext, writers: int = 2) -> None:
        self.store = store
        self.ctx = ctx
        # SQLite runs one writer at a time anyway (BEGIN IMMEDIATE): more would only queue.
        self._writers = writers if store.engine.dialect.name == "postgresql" else 1
        self._queue: asyncio.Queue[Waiting] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def record(self, prepared: PreparedBallot) -> Receipt:
        """The receipt of one ballot; raises what `record_cast` raises."""
        loop = asyncio.get_running_loop()
        if self._queue is None or self._loop is not loop:
            # Started in the loop that serves the requests (a test client may run several).
            self._loop, self._queue = loop, asyncio.Queue()
            self._tasks = [loop.create_task(self._write(self._queue)) for _ in range(self._writers)]
        answer: asyncio.Future[Receipt] = loop.create_future()
        await self._queue.put((prepared, answer))
        return await answer

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks, self._queue = [], None

    async def _write(self, queue: asyncio.Queue[Waiting]) -> None:
        while True:
            batch = [await queue.get()]
            while len(batch) < MAX_BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                results = await asyncio.to_thread(
                    record_casts, self.store, self.ctx, [p for p, _ in batch]
                )
            except asyncio.CancelledError:
                for _, answer in batch:
                    answer.cancel()
                raise
            except Exception as exc:  # the database failed: every ballot of the batch hears it
                for _, answer in batch:
                    if not answer.done():
                        answer.set_exception(exc)
                continue
            for (_, answer), result in zip(batch, results, strict=True):
                if answer.done():
                    continue
                if isinstance(result, Exception):
                    answer.set_exception(result)
                else:
                    answer.set_result(result)
