"""The cast API's proof-checking processes, each on a socket pair with the server's event loop.

`concurrent.futures.ProcessPoolExecutor` hands a task over through two threads of the server
(a feeder that writes it, a manager that reads the answer and wakes the loop), each of which
takes the GIL from the loop and from the thread that writes to the database: measured on
ballots of 22.8 KB with 16 devices, about 0.7 ms of the server's CPU a ballot against 0.37 ms
for a length-prefixed frame written and read by the event loop itself (`verivote bench
cast-api`, and a loop that only hands over such bodies). On 2 cores every such millisecond is
one the proofs do not get. No library offers an asyncio process pool of this shape (asyncio's
subprocess pipes carry bytes, not tasks), hence this small one.

Each worker is spawned (never forked: the server has threads) with the election's public
pieces, and answers the frames of its socket in order: a request is the body of a cast and
the token's station, an answer `("ok", PreparedBallot)` or `("refused", kind, text)` for a
ballot refused by `verivote.web.ballots.prepare_body`. At most DEPTH requests are in flight
to a worker, so that it never waits for the server between two ballots. A worker that dies
(killed, out of memory) fails the requests it held with WorkerDied (the device is told to
send again) and is started again at the next request.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import pickle
import signal
import socket
import struct
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from verivote.crypto.ballot import BallotError
from verivote.election.service import ElectionError, PreparedBallot

log = logging.getLogger(__name__)

DEPTH = 2
"""Requests in flight to one worker: the next ballot waits in its socket while it checks one."""
_HEADER = struct.Struct(">I")


class WorkerDied(Exception):
    """The worker checking a ballot died before it answered: the ballot was not checked."""


def _refusal_kinds() -> dict[str, type[Exception]]:
    from verivote.web.ballots import BadRequest, WrongStation

    return {
        "bad_request": BadRequest,
        "wrong_station": WrongStation,
        "ballot": BallotError,
        "election": ElectionError,
    }


def _kind_of(exc: Exception) -> str | None:
    # The four classes are unrelated (none derives from another): one pass decides.
    return next((k for k, cls in _refusal_kinds().items() if isinstance(exc, cls)), None)


def _read_frame(stream: Any) -> bytes | None:
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(head)
    data = stream.read(size)
    return data if len(data) == size else None


def _frame(document: Any) -> bytes:
    data = pickle.dumps(document, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


def worker_main(sock: socket.socket, pieces: Any) -> None:
    """A worker: answer each request of `sock` in order until the server closes it."""
    from verivote.web.ballots import prepare_body, rebuild_context

    # The server's Ctrl-C reaches its whole process group: the worker ends when the server
    # closes its socket, not with a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ctx = rebuild_context(pieces)
    stream = sock.makefile("rwb")
    try:
        while (request := _read_frame(stream)) is not None:
            body, station_id = pickle.loads(request)
            answer: tuple[Any, ...]
            try:
                answer = ("ok", prepare_body(ctx, body, station_id))
            except Exception as exc:  # a refusal is an answer; anything else is told too
                kind = _kind_of(exc)
                answer = ("refused", kind, str(exc)) if kind else ("failed", repr(exc))
            stream.write(_frame(answer))
            stream.flush()
    except OSError:  # the server went away (killed): nobody is left to answer
        return


@dataclass
class _Worker:
    process: Any
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    waiting: deque[asyncio.Future[tuple[Any, ...]]] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None
    alive: bool = True


class ProofPool:
    """`size` worker processes checking cast bodies (see the module docstring)."""

    def __init__(self, size: int, pieces: Any) -> None:
        self.size = size
        self.pieces = pieces
        self._workers: list[_Worker | None] = [None] * size
        self._slots: asyncio.Semaphore | None = None
        self._spawn = multiprocessing.get_context("spawn")

    async def _start(self, slot: int) -> _Worker:
        ours, theirs = socket.socketpair()
        process = self._spawn.Process(
            target=worker_main, args=(theirs, self.pieces), name=f"verivote-proofs-{slot}",
            daemon=True,
        )  # fmt: skip
        process.start()
        theirs.close()
        reader, writer = await asyncio.open_connection(sock=ours, limit=2**20)
        worker = _Worker(process, reader, writer)
        worker.task = asyncio.get_running_loop().create_task(self._answers(worker))
        self._workers[slot] = worker
        return worker

    async def _answers(self, worker: _Worker) -> None:
        """Hand each answer of the worker to the request that waits for it, in order."""
        try:
            while True:
                head = await worker.reader.readexactly(_HEADER.size)
                (size,) = _HEADER.unpack(head)
                answer = pickle.loads(await worker.reader.readexactly(size))
                future = worker.waiting.popleft()
                if not future.done():
                    future.set_result(answer)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self._lost(worker)

    def _lost(self, worker: _Worker) -> None:
        if not worker.alive:
            return
        worker.alive = False
        if worker.waiting:
            log.error("a proof-checking worker died; it is started again at the next ballot")
        while worker.waiting:
            future = worker.waiting.popleft()
            if not future.done():
                future.set_exception(WorkerDied("the proof-checking worker died"))
        worker.writer.close()
        for slot, held in enumerate(self._workers):
            if held is worker:
                self._workers[slot] = None

    async def _least_busy(self) -> _Worker:
        best: tuple[int, int] | None = None
        for slot, worker in enumerate(self._workers):
            if worker is None or not worker.alive:
                return await self._start(slot)
            if best is None or len(worker.waiting) < best[0]:
                best = (len(worker.waiting), slot)
        assert best is not None
        found = self._workers[best[1]]
        assert found is not None
        return found

    async def check(self, body: bytes, station_id: str) -> PreparedBallot:
        """The body's ballot checked completely by a worker; raises what `prepare_body`
        raises for a refused ballot, WorkerDied if the worker died meanwhile."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.size * DEPTH)
        async with self._slots:
            worker = await self._least_busy()
            future: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
            worker.waiting.append(future)
            worker.writer.write(_frame((body, station_id)))
            answer = await future
        if answer[0] == "ok":
            prepared: PreparedBallot = answer[1]
            return prepared
        if answer[0] == "refused":
            raise _refusal_kinds()[answer[1]](answer[2])
        raise RuntimeError(f"the proof-checking worker failed: {answer[1]}")

    async def close(self) -> None:
        """Stop the workers: their sockets close, they end; one that does not is killed."""
        workers = [w for w in self._workers if w is not None]
        self._workers = [None] * self.size
        for worker in workers:
            worker.alive = False
            if worker.task is not None:
                worker.task.cancel()
            worker.writer.close()
            while worker.waiting:
                worker.waiting.popleft().cancel()
        await asyncio.to_thread(_join, [w.process for w in workers])


def _join(processes: list[Any]) -> None:
    for process in processes:
        process.join(5)
        if process.is_alive():
            process.kill()
            process.join()
