"""Functions that the Ray tests run as tasks: importable by name in every worker process, as
verivote's own task functions are. `init` counts its calls per process, so that a test can
see that an executor's initializer ran once in each process before its tasks."""

from __future__ import annotations

import os

_TAG: str | None = None
_INITS = 0


def init(tag: str) -> None:
    global _TAG, _INITS
    _TAG = tag
    _INITS += 1


def tagged(x: int) -> tuple[str | None, int, int, int]:
    """(the executor's tag, x², this process's id, its initializer calls so far)."""
    return _TAG, x * x, os.getpid(), _INITS


def fail(x: int) -> int:
    raise ValueError(f"refused {x}")
