"""Group commit: the requests that arrive together are written in one transaction.

One check-in (or one admitted ballot) is a little work for PostgreSQL but a whole transaction
to commit (and a WAL flush to wait for). At national peak (about 1,500 check-ins/s) the
requests in flight at any instant are many, so the server queues them and a writer task takes
everything queued, runs it as one batch (one transaction), and answers every request of the
batch. Under light load a batch is a single request and nothing waits; under heavy load the
batches grow and the commits per second stay few. Correctness does not depend on the
batching: the database's constraints and locks decide, batch or not, and each item gets the
answer it would get alone.

The batch runs in a worker thread on SQLAlchemy's ordinary engine. Running it in the event loop
through SQLAlchemy's asyncio engine was measured too (`verivote bench checkin`): it cost the
server 15 % more CPU per check-in, for no gain in rate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy import Engine

from verivote.store.roll import Checkin, CheckinResult, RequestIdReused, check_in_many

MAX_BATCH = 256
T = TypeVar("T")
R = TypeVar("R")
Answers = list[CheckinResult | RequestIdReused]


class GroupCommit(Generic[T, R]):
    """Queue items and write them in batches from `writers` concurrent transactions:
    `write(items)` returns one answer per item, a result or the exception to raise for it.

    `coming()`, if given, says how many items are on their way (a cast's proofs being
    checked): a writer that has taken what is queued waits for them, up to `linger` seconds,
    before it writes. Casts arrive one at a time, each after 15 ms or more of checking, so a
    writer that never waited would write nearly every ballot in a transaction of its own
    (measured with `verivote bench cast-api`: batches of about one ballot, 2.8 ms of
    PostgreSQL's CPU and 4.8 ms of the server's a ballot). A lone ballot, nothing else on its
    way, is written at once."""

    def __init__(
        self, write: Callable[[list[T]], Sequence[R | Exception]], writers: int,
        max_batch: int = MAX_BATCH, coming: Callable[[], int] | None = None,
        linger: float = 0.0,
    ) -> None:  # fmt: skip
        self._write_batch = write
        self._writers = writers
        self._max_batch = max_batch
        self._coming = coming
        self._linger = linger
        self._queue: asyncio.Queue[tuple[T, asyncio.Future[R]]] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    async def submit(self, item: T) -> R:
        """The answer to one item (its exception raised)."""
        loop = asyncio.get_running_loop()
        if self._queue is None or self._loop is not loop:
            # Started lazily in the loop that serves the requests (a test client may run
            # several loops one after another).
            self._loop, self._queue = loop, asyncio.Queue()
            self._tasks = [loop.create_task(self._write(self._queue)) for _ in range(self._writers)]
        answer: asyncio.Future[R] = loop.create_future()
        await self._queue.put((item, answer))
        return await answer

    async def close(self) -> None:
        """Stop the writers (requests still waiting are cancelled)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks, self._queue = [], None

    async def _write(self, queue: asyncio.Queue[tuple[T, asyncio.Future[R]]]) -> None:
        while True:
            batch = [await queue.get()]
            while len(batch) < self._max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            if self._coming is not None:
                await self._wait_for_coming(queue, batch)
            try:
                results = await asyncio.to_thread(self._write_batch, [item for item, _ in batch])
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
                if isinstance(result, Exception):
                    answer.set_exception(result)
                else:
                    answer.set_result(result)

    async def _wait_for_coming(
        self, queue: asyncio.Queue[tuple[T, asyncio.Future[R]]],
        batch: list[tuple[T, asyncio.Future[R]]],
    ) -> None:  # fmt: skip
        """Add to `batch` the items announced by `coming()` that arrive within the linger."""
        assert self._coming is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._linger
        while len(batch) < self._max_batch and self._coming() > 0:
            left = deadline - loop.time()
            if left <= 0:
                return
            try:
                batch.append(await asyncio.wait_for(queue.get(), left))
            except TimeoutError:
                return


def writers_for(engine: Engine, writers: int = 2) -> int:
    """SQLite runs one writer at a time anyway (BEGIN IMMEDIATE): more would only queue."""
    return writers if engine.dialect.name == "postgresql" else 1


class CheckinBatcher:
    """Check-ins in batches (`check_in_many`), and whole offline uploads in their own."""

    def __init__(self, engine: Engine, election_id: str, writers: int = 2) -> None:
        self._engine = engine
        self._election_id = election_id
        self._group: GroupCommit[Checkin, CheckinResult] = GroupCommit(
            lambda items: check_in_many(engine, election_id, items), writers_for(engine, writers)
        )

    async def check_in(self, item: Checkin) -> CheckinResult:
        """The answer to one check-in (raises RequestIdReused like `check_in`)."""
        return await self._group.submit(item)

    async def check_in_many(self, items: Sequence[Checkin], *, offline: bool) -> Answers:
        """A whole upload at once (offline records), in its own transaction."""
        return await asyncio.to_thread(
            check_in_many, self._engine, self._election_id, items, offline=offline
        )

    async def close(self) -> None:
        """Stop the writers (requests still waiting are cancelled)."""
        await self._group.close()
