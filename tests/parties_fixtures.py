"""Guardians as their own processes against the authority's real server (issue 14, items 1, 2).

- `authority`: a fresh election (SQLite or PostgreSQL) with its signing keys, its key ceremony
  opened for 3 guardians (quorum 2) and the tokens written 0600 to a folder of their own.
- `guardian`: `python -m verivote guardian …` as a subprocess (PYTHONPATH inherited).
- `held_ceremony`: the whole ceremony, 3 guardian processes over HTTP.
- `polling_day`: a few ballots cast in-process, one challenged, the polls closed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.manifests import small_manifest_data
from tests.site_fixtures import serving
from verivote.crypto.ballot import encrypt_ballot
from verivote.crypto.keyfile import write_private
from verivote.election.guardians import open_ceremony
from verivote.election.polls import close_polls, open_polls
from verivote.election.publishing import create_signers
from verivote.election.service import (
    ElectionContext,
    cast,
    challenge,
    init_election,
    load_context,
)
from verivote.model.manifest import parse_manifest
from verivote.store import Store, make_engine, migrate
from verivote.web.app import live_app, read_verifiers

E = "test-2024"
GUARDIANS = 3
QUORUM = 2
STATIONS = ["tabriz-001", "isfahan-arm-1"]
CAST = [
    ("tabriz-001", ["1101", "1102"]),
    ("tabriz-001", ["1103"]),
    ("tabriz-001", []),
    ("tabriz-001", ["1101"]),
    ("isfahan-arm-1", ["2201"]),
    ("isfahan-arm-1", ["2202"]),
    ("isfahan-arm-1", ["2201"]),
]
EXPECTED = {
    "tabriz": {"ballots": 4, "blank": 1,
               "votes": {"1101": 2, "1102": 1, "1103": 1, "1104": 0, "1105": 0}},
    "armenians-south": {"ballots": 3, "blank": 0, "votes": {"2201": 2, "2202": 1}},
}  # fmt: skip


@dataclass
class Authority:
    url: str
    store: Store
    keys: Path
    tokens: Path
    base: Path
    server: str = ""

    @property
    def ctx(self) -> ElectionContext:
        return load_context(self.store, E)

    def folder(self, guardian: int) -> Path:
        return self.base / f"guardian-{guardian}"

    def token(self, guardian: int) -> Path:
        return self.tokens / f"guardian-{guardian}.token"


@contextmanager
def authority(url: str, directory: Path) -> Iterator[Authority]:
    """The election with its ceremony opened, served by `live_app` on a loopback port."""
    engine = make_engine(url)
    migrate(engine)
    store = Store(engine)
    manifest = parse_manifest(small_manifest_data())
    keys = directory / "authority-keys"
    create_signers(keys, manifest)
    init_election(store, manifest)
    ctx = load_context(store, E)
    tokens = directory / "tokens"
    tokens.mkdir(mode=0o700)
    for i, token in enumerate(open_ceremony(store, ctx, GUARDIANS, QUORUM), start=1):
        write_private(tokens / f"guardian-{i}.token", token + "\n")
    a = Authority(url, store, keys, tokens, directory)
    try:
        with serving(live_app(store, ctx, read_verifiers(keys, E))) as server:
            a.server = server
            yield a
    finally:
        engine.dispose()


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}


def start_guardian(a: Authority, guardian: int, command: str, *extra: str) -> subprocess.Popen[str]:
    """`verivote guardian COMMAND` for guardian `guardian`, as its own process."""
    args = [sys.executable, "-m", "verivote", "guardian", command, "--server", a.server,
            "--token-file", str(a.token(guardian)), "--dir", str(a.folder(guardian)), *extra]  # fmt: skip
    if command == "ceremony":
        args += ["--index", str(guardian), "--poll", "0.1", "--timeout", "120"]
    return subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env()
    )


def guardian(a: Authority, g: int, command: str, *extra: str) -> tuple[int, str, str]:
    """Run one guardian command to its end: (exit status, stdout, stderr)."""
    process = start_guardian(a, g, command, *extra)
    out, err = process.communicate(timeout=300)
    return process.returncode, out, err


def held_ceremony(a: Authority) -> None:
    """Every guardian's side of the ceremony, each in its own process, at once."""
    processes = [start_guardian(a, g, "ceremony") for g in range(1, GUARDIANS + 1)]
    for g, process in enumerate(processes, start=1):
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, f"guardian {g}: {err}"
        assert "key ceremony done" in out


def polling_day(a: Authority) -> list[dict[str, object]]:
    """CAST cast and one ballot challenged; the polls closed. Returns the cast ballots."""
    ctx = a.ctx
    assert ctx.key is not None
    open_polls(a.store, ctx, STATIONS)
    ballots = []
    for station, choices in CAST:
        ballot, _ = encrypt_ballot(ctx.manifest, ctx.key, ctx.base_hash, station, choices)
        cast(a.store, ctx, ballot)
        ballots.append(ballot)
    ballot, opened = encrypt_ballot(ctx.manifest, ctx.key, ctx.base_hash, "tabriz-001", ["1105"])
    challenge(a.store, ctx, ballot, opened)
    close_polls(a.store, ctx, STATIONS)
    return ballots
