"""The `--ray ADDRESS` option that `verify`, `tally`, `guardian decrypt` and `mixer mix` share,
and the cluster it opens for the command (`verivote.cluster`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import click
import typer

from verivote.cli.errors import UserError
from verivote.cluster import Cluster, ClusterError, open_cluster
from verivote.cluster.connect import check_address

RayOption = Annotated[
    str | None,
    typer.Option(
        "--ray",
        metavar="ADDRESS",
        help="Run the work as Ray tasks: 'auto' starts a cluster of this machine on 127.0.0.1 "
        "for the command; HOST:PORT (a head started with 'ray start --head') or "
        "ray://HOST:PORT uses a running cluster of many machines.",
    ),
]


def check_ray_option(address: str | None, jobs: int | None, flag: str = "--jobs") -> None:
    """A usage error (exit 2) for a malformed address, or --ray with `flag` (the command's
    count of local processes, `jobs`)."""
    if address is None:
        return
    if jobs is not None:
        raise click.UsageError(f"--ray and {flag} exclude each other (Ray uses the cluster's CPUs)")
    try:
        check_address(address)
    except ClusterError as exc:
        raise click.UsageError(str(exc)) from None


@contextmanager
def cluster_for(address: str | None) -> Iterator[Cluster | None]:
    """The cluster at `address` for the `with` block (None without --ray); a cluster that
    cannot be started or reached is the command's one-line error."""
    if address is None:
        yield None
        return
    try:
        with open_cluster(address) as cluster:
            yield cluster
    except ClusterError as exc:
        raise UserError(str(exc)) from None
    except Exception as exc:
        text = str(exc)
        # A task whose code a worker cannot import (Ray raises it again here, as the cause's
        # type or as a RuntimeError naming it): a machine without verivote, or another version.
        if not isinstance(exc, ImportError) and "failed to import on the worker" not in text:
            raise
        missing = [line for line in text.splitlines() if "No module named" in line]
        reason = missing[-1].strip() if missing else "the task's code cannot be imported"
        raise UserError(
            f"a Ray worker cannot run verivote's tasks ({reason}); install the same verivote "
            "on every machine of the cluster"
        ) from None
