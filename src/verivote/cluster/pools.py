"""The executor for a unit of parallel work: Ray tasks on a cluster, or processes here.

Every caller that ran a `ProcessPoolExecutor(max_workers, initializer, initargs)` asks
`make_pool` instead, so that `--ray` and `--jobs` run the same tasks with the same
initializer and only the place they run differs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

from verivote.cluster.connect import Cluster


def width(cluster: Cluster | None, jobs: int | None) -> int:
    """How many tasks run at once: the cluster's CPU slots, else `jobs` (default every core
    of this machine). Callers size their chunks by it."""
    if cluster is not None:
        return cluster.cpus
    return jobs or os.cpu_count() or 1


def make_pool(
    cluster: Cluster | None,
    workers: int,
    initializer: Callable[..., object] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Executor:
    """Ray tasks on `cluster`, or else a pool of `workers` processes here; `initializer`
    runs once per worker process before its tasks in both."""
    if cluster is not None:
        from verivote.cluster.executor import RayExecutor

        return RayExecutor(initializer, initargs)
    return ProcessPoolExecutor(max_workers=workers, initializer=initializer, initargs=initargs)
