"""Work on many machines: a Ray cluster as a `concurrent.futures.Executor` (issue 17, item 4).

`open_cluster(address)` starts a local cluster on 127.0.0.1 (`auto`) or connects to a running
one; `make_pool(cluster, ...)` then gives the executor that the `--jobs` process pools'
callers use, and without a cluster the same process pool as before, so that every caller
keeps one code path. Ray is imported only when a cluster is asked for.
"""

from verivote.cluster.connect import Cluster, ClusterError, open_cluster
from verivote.cluster.pools import make_pool, width

__all__ = ["Cluster", "ClusterError", "make_pool", "open_cluster", "width"]
