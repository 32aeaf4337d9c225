"""Group commit for check-ins: the requests that arrive together are checked in as one batch.

One check-in is a few microseconds of work for PostgreSQL but a whole transaction to commit
(and a WAL flush to wait for). At national peak (about 1,500 check-ins/s) the requests in
flight at any instant are many, so the server queues them and a writer task takes everything
queued, runs it through `check_in_many` (one transaction), and answers every request of the
batch. Under light load a batch is a single check-in and nothing waits; under heavy load the
batches grow and the commits per second stay few. Correctness does not depend on the
batching: the database's constraints decide, batch or not.

The batch runs in a worker thread on SQLAlchemy's ordinary engine. Running it in the event loop
through SQLAlchemy's asyncio engine was measured too (`verivote bench checkin`): it cost the
server 15 % more CPU per check-in, for no gain in rate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sqlalchemy import Engine

from verivote.store.roll import Checkin, CheckinResult, RequestIdReused, check_in_many

MAX_BATCH = 256
Answers = list[CheckinResult | RequestIdReused]


class CheckinBatcher:
    """Queue check-ins and write them in batches from `writers` concurrent transactions."""

    def __init__(self, engine: Engine, election_id: str, writers: int = 2) -> None:
        self._engine = engine
        self._election_id = election_id
        # SQLite runs one writer at a time anyway (BEGIN IMMEDIATE): more would only queue.
        self._writers = writers if engine.dialect.name == "postgresql" else 1
        self._queue: asyncio.Queue[tuple[Checkin, asyncio.Future[CheckinResult]]] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    async def check_in(self, item: Checkin) -> CheckinResult:
        """The answer to one check-in (raises RequestIdReused like `check_in`)."""
        queue = self._running_queue()
        answer: asyncio.Future[CheckinResult] = asyncio.get_running_loop().create_future()
        await queue.put((item, answer))
        return await answer

    async def check_in_many(self, items: Sequence[Checkin], *, offline: bool) -> Answers:
        """A whole upload at once (offline records), in its own transaction."""
        return await self._run(items, offline)

    async def close(self) -> None:
        """Stop the writers (requests still waiting are cancelled)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._queue = None

    async def _run(self, items: Sequence[Checkin], offline: bool) -> Answers:
        return await asyncio.to_thread(
            check_in_many, self._engine, self._election_id, items, offline=offline
        )

    def _running_queue(self) -> asyncio.Queue[tuple[Checkin, asyncio.Future[CheckinResult]]]:
        loop = asyncio.get_running_loop()
        if self._queue is None or self._loop is not loop:
            # Started lazily in the loop that serves the requests (a test client may run
            # several loops one after another).
            self._loop = loop
            self._queue = asyncio.Queue()
            self._tasks = [loop.create_task(self._write(self._queue)) for _ in range(self._writers)]
        return self._queue

    async def _write(
        self, queue: asyncio.Queue[tuple[Checkin, asyncio.Future[CheckinResult]]]
    ) -> None:
        while True:
            batch = [await queue.get()]
            while len(batch) < MAX_BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                results = await self._run([item for item, _ in batch], False)
            except asyncio.CancelledError:
                for _, answer in batch:
                    answer.cancel()
                raise
            except Exception as exc:  # the database failed: every request of the batch hears it
                for _, answer in batch:
                    if not answer.done():
                        answer.set_exception(exc)
                continue
            for (_, answer), result in zip(batch, results, strict=True):
                if answer.done():
                    continue
                if isinstance(result, RequestIdReused):
                    answer.set_exception(result)
                else:
                    answer.set_result(result)
