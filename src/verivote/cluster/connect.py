"""Turning a `--ray` address into a connected Ray cluster, and leaving it cleanly.

`auto` starts a cluster of this machine only: every Ray server bound to 127.0.0.1, no
dashboard, a small object store (the tasks' arguments are chunks of a few hundred KB), one
CPU slot per core; it is shut down when the `with` block ends. Any other address (`host:port`
of a head started with `ray start --head`, or a Ray Client `ray://host:port`) connects to a
cluster that outlives the command.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

AUTO = "auto"
"""The address that starts a local cluster on 127.0.0.1."""

CONNECT_SECONDS = 5.0
"""How long the head's port may take to answer before the address is reported unreachable
(Ray itself would retry for minutes)."""

LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")

OBJECT_STORE_BYTES = 128 * 1024 * 1024
"""The local cluster's object store: room for many chunks in flight, little of the memory."""

_ADDRESS = re.compile(r"^(ray://)?[A-Za-z0-9.\-\[\]:]+:[0-9]{1,5}$")


class ClusterError(Exception):
    """The cluster cannot be started or reached (a one-line reason)."""


@dataclass(frozen=True)
class Cluster:
    """A connected Ray cluster: its address as given, the head's address that other drivers
    connect to (HOST:PORT), and the CPU slots it has in all."""

    address: str
    head: str
    cpus: int


def check_address(address: str) -> str:
    """`auto`, `host:port` or `ray://host:port`; raises ClusterError for anything else."""
    if address == AUTO or _ADDRESS.match(address):
        return address
    raise ClusterError(f"--ray {address!r}: expected 'auto', HOST:PORT or ray://HOST:PORT")


def host_port(address: str) -> tuple[str, int]:
    """The head's host and port in a checked HOST:PORT or ray://HOST:PORT address."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    return host.strip("[]"), int(port)


def _reach(address: str) -> None:
    """Raises ClusterError unless something answers at the address's host and port."""
    host, port = host_port(address)
    try:
        with socket.create_connection((host, port), timeout=CONNECT_SECONDS):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        if isinstance(exc, TimeoutError):
            reason = f"no answer in {CONNECT_SECONDS:g} s"
        raise ClusterError(f"cannot connect to the Ray cluster at {address}: {reason}") from None


def _import_ray(local: bool) -> Any:
    if local:
        # Ray takes a machine whose "cluster mode" is off to be alone, and then binds its
        # servers to the loopback address instead of the machine's network address; this is
        # read when Ray is first imported, so it is set before.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise ClusterError(
            "--ray needs Ray, an optional part of verivote: pip install -e '.[ray]'"
        ) from None
    return ray


def _start_local(ray: Any) -> None:
    ray.init(
        address="local",
        num_cpus=os.cpu_count() or 1,
        include_dashboard=False,
        object_store_memory=OBJECT_STORE_BYTES,
        logging_level=logging.ERROR,
        log_to_driver=True,
    )
    node_ip = ray.util.get_node_ip_address()
    if node_ip not in ("127.0.0.1", "::1"):
        ray.shutdown()
        raise ClusterError(
            f"the local Ray cluster would listen on {node_ip}, not 127.0.0.1 "
            "(Ray was imported before verivote could keep it on the loopback address)"
        )


@contextmanager
def open_cluster(address: str) -> Iterator[Cluster]:
    """The cluster at `address` (module docstring), connected for the `with` block."""
    check_address(address)
    local = address == AUTO
    if not local:
        _reach(address)
    # A head on this machine's loopback address is reached the way `auto` binds.
    ray = _import_ray(local or host_port(address)[0] in LOOPBACK)
    if ray.is_initialized():
        raise ClusterError("this process is already connected to a Ray cluster")
    try:
        if local:
            _start_local(ray)
        else:
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=True)
    except ClusterError:
        raise
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError, …
        reason = " ".join(str(exc).split()) or type(exc).__name__
        where = "start a local Ray cluster" if local else f"connect to the Ray cluster {address}"
        raise ClusterError(f"cannot {where}: {reason[:300]}") from None
    try:
        cpus = int(ray.cluster_resources().get("CPU", 0))
        if cpus < 1:
            raise ClusterError(f"the Ray cluster at {address} has no CPU to run tasks on")
        yield Cluster(address, str(ray.get_runtime_context().gcs_address), cpus)
    finally:
        ray.shutdown()
