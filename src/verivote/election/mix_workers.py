"""Where a mix party's shuffles, shuffle proofs and shuffle checks run: in this process as
before (the default), or in chunks of rows as Ray tasks on a cluster (`--ray`,
`verivote.cluster`), through the `jobs`/`executor` arguments of `verivote.crypto.shuffle`.

A cluster given to a mixer or a guardian runs that party's secrets (the mixer's permutation
and re-encryption nonces, the guardian's key share): it must be the party's own machines.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from verivote.cluster import Cluster, make_pool
from verivote.crypto.elgamal import ElectionKey
from verivote.crypto.shuffle import warm_key


@dataclass(frozen=True)
class MixWorkers:
    """`jobs` chunks at once on `executor` (None: `jobs` local processes, 1 = none), and the
    cluster it runs on (for work that needs executors of its own)."""

    jobs: int | None = 1
    executor: Executor | None = None
    cluster: Cluster | None = None


HERE = MixWorkers()
"""One process, no pool: the mix parties' default."""


@contextmanager
def mix_workers(cluster: Cluster | None, key: ElectionKey[Any] | None) -> Iterator[MixWorkers]:
    """Ray tasks on `cluster` (each worker process warmed with `key`'s tables once), or HERE
    without one (or without a key: nothing is shuffled then); the executor is shut down when
    the block ends."""
    if cluster is None or key is None:
        yield HERE
        return
    with make_pool(cluster, cluster.cpus, warm_key, (key,)) as pool:
        yield MixWorkers(cluster.cpus, pool, cluster)
