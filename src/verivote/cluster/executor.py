"""`RayExecutor`: a `concurrent.futures.Executor` whose calls run as Ray tasks.

It offers what verivote's process pools are used for: `submit` and `map`, futures that
`concurrent.futures.wait` and `as_completed` accept, `shutdown` (with `cancel_futures`), and
an `initializer(*initargs)` that runs once in each worker process before the first of this
executor's calls there, as `ProcessPoolExecutor` runs it once per process it starts. The
initargs go to the object store once; a task fetches them only in a process that has not yet
run this executor's initializer.
"""

from __future__ import annotations

import functools
import itertools
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from concurrent.futures import wait as wait_all
from typing import Any

_DONE: dict[str, str] = {}
"""In a worker process: the initializer (module.name) → the executor it last ran for. An
initializer sets its module's globals, so another executor with the same initializer (other
initargs) must run it again before a call of this one."""


def _name(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def run_call(
    token: str,
    initializer: Callable[..., object] | None,
    boxed_initargs: list[Any],
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """One call, in a Ray worker: the executor's initializer first if this process needs it.
    `boxed_initargs` is [ObjectRef] (boxed so that Ray does not fetch it for every task)."""
    if initializer is not None and _DONE.get(_name(initializer)) != token:
        import ray

        initializer(*ray.get(boxed_initargs[0]))
        _DONE[_name(initializer)] = token
    return fn(*args, **kwargs)


def run_calls(fn: Callable[..., Any], calls: list[tuple[Any, ...]]) -> list[Any]:
    """Several calls of `fn` in one task (`RayExecutor.map` with a chunksize)."""
    return [fn(*args) for args in calls]


class RayExecutor(Executor):
    """An executor on the connected Ray cluster (module docstring); one CPU slot per call."""

    def __init__(
        self,
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
    ) -> None:
        import ray

        self._ray = ray
        # Ray's default retries stay: every task verivote hands it is a pure function of its
        # arguments, so a task lost with a machine is run again elsewhere with the same result.
        self._remote = ray.remote(num_cpus=1)(run_call)
        self._token = uuid.uuid4().hex
        self._initializer = initializer
        self._initargs = [ray.put(initargs)] if initializer is not None else []
        # Futures not yet done → their ObjectRef, for cancel; Ray completes futures on its
        # own thread, hence the lock.
        self._pending: dict[Future[Any], Any] = {}
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if self._closed:
            raise RuntimeError("cannot submit to a RayExecutor after shutdown")
        ref = self._remote.remote(self._token, self._initializer, self._initargs, fn, args, kwargs)
        future: Future[Any] = ref.future()
        with self._lock:
            self._pending[future] = ref
        future.add_done_callback(self._forget)
        return future

    def map(
        self,
        fn: Callable[..., Any],
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int = 1,
    ) -> Iterator[Any]:
        """`Executor.map`, `chunksize` calls a Ray task (as `ProcessPoolExecutor.map` sends
        them a call): the driver's cost is a task's whatever it carries (issue 17: the
        mix's steps have hundreds of thousands of small tasks at the 2024 shape)."""
        if chunksize < 1:
            raise ValueError("chunksize must be at least 1")
        if chunksize == 1:
            return super().map(fn, *iterables, timeout=timeout)
        calls = list(zip(*iterables, strict=False))
        groups = [calls[i : i + chunksize] for i in range(0, len(calls), chunksize)]
        done = super().map(functools.partial(run_calls, fn), groups, timeout=timeout)
        return itertools.chain.from_iterable(done)

    def _forget(self, future: Future[Any]) -> None:
        with self._lock:
            self._pending.pop(future, None)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._closed = True
        with self._lock:
            pending = dict(self._pending)
        if cancel_futures:
            for future, ref in pending.items():
                if not future.done():
                    future.cancel()
                    self._ray.cancel(ref)
        if wait:
            wait_all([f for f in pending if not f.cancelled()])
