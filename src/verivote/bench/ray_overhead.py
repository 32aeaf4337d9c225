"""What a task costs on Ray against the process pool, for `verivote bench ray` and the national
projection (issue 17: the verification time on 32 machines counts the Ray overhead measured
on the local cluster).

Both executors run the same task (`echo`: it receives `payload` bytes, about a chunk of 100
ballot entries by default as `sim national`'s probe, and returns their count), after a
warm-up that starts their worker processes, two ways: one at a time (submit, wait for the
result: the round trip a task adds to the critical path) and all at once (submit every task,
then wait: the cost a task adds to the throughput when the executor is kept busy, as the
verifier's chunks keep it).
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from concurrent.futures import Executor, wait
from typing import Any

from verivote.cluster import Cluster, make_pool

PAYLOAD = 64 * 1024
"""Bytes sent with each task by default: about a chunk of 100 ballot entries."""


def echo(payload: bytes) -> int:
    """The task: nothing but receiving its argument, so that its time is the executor's."""
    return len(payload)


def _round_trip_ms(pool: Executor, tasks: int, payload: bytes) -> float:
    started = time.perf_counter()
    for _ in range(tasks):
        pool.submit(echo, payload).result()
    return (time.perf_counter() - started) * 1000 / tasks


def _batch_ms(pool: Executor, tasks: int, payload: bytes) -> float:
    started = time.perf_counter()
    wait([pool.submit(echo, payload) for _ in range(tasks)])
    return (time.perf_counter() - started) * 1000 / tasks


def _measure(
    pool: Executor, workers: int, sequential: int, batch: int, payload: bytes
) -> dict[str, float]:
    wait([pool.submit(echo, payload) for _ in range(4 * workers)])  # every worker started
    return {
        "ms_per_task_round_trip": round(_round_trip_ms(pool, sequential, payload), 3),
        "ms_per_task_batch": round(_batch_ms(pool, batch, payload), 3),
    }


def ray_task_core_s(cluster: Cluster, tasks: int, payload_bytes: int = PAYLOAD) -> float:
    """Core seconds a task costs on `cluster` beyond its own work: the wall time per task of
    `tasks` no-op tasks submitted at once, times the cluster's CPUs (every CPU is taken while
    they run, so this bounds the CPU the scheduling, transfer and worker loop cost)."""
    with make_pool(cluster, cluster.cpus) as pool:
        ms = _measure(pool, cluster.cpus, 1, tasks, bytes(payload_bytes))["ms_per_task_batch"]
    return ms * cluster.cpus / 1000


def measure_overhead(
    cluster: Cluster,
    tasks: int,
    jobs: int | None = None,
    step: Callable[[str], None] | None = None,
    payload_bytes: int = PAYLOAD,
) -> dict[str, Any]:
    """The figures (module docstring) for `tasks` tasks in a batch and a fifth as many one
    at a time, each carrying `payload_bytes`, on `cluster` and on a pool of `jobs` processes
    (default every core)."""
    payload = bytes(payload_bytes)
    report = step or (lambda _what: None)
    workers = jobs or os.cpu_count() or 1
    sequential = max(1, tasks // 5)
    report("the process pool")
    with make_pool(None, workers) as pool:
        local = _measure(pool, workers, sequential, tasks, payload)
    report("Ray tasks")
    with make_pool(cluster, cluster.cpus) as pool:
        ray = _measure(pool, cluster.cpus, sequential, tasks, payload)
    return {
        "tasks": tasks,
        "tasks_one_at_a_time": sequential,
        "payload_bytes": payload_bytes,
        "jobs": workers,
        "ray_cpus": cluster.cpus,
        "ray_address": cluster.address,
        "pool_ms_per_task_round_trip": local["ms_per_task_round_trip"],
        "pool_ms_per_task_batch": local["ms_per_task_batch"],
        "ray_ms_per_task_round_trip": ray["ms_per_task_round_trip"],
        "ray_ms_per_task_batch": ray["ms_per_task_batch"],
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
    }
