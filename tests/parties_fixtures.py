"""Guardians as their own processes against the authority's real server (issue 14, items 1, 2).

- `authority`: a fresh election (SQLite or PostgreSQL) with its signing keys, its key ceremony
  opened for 3 guardians (quorum 2) and the tokens written 0600 to a folder of their own.
- `guardian`: `python -m verivote guardian …` as a subprocess (PYTHONPATH inherited).
- `held_ceremony`, `guardians_hold_ceremony`: the whole ceremony, guardian processes over HTTP;
  `served`: the authority's server of an election in a database, for the CLI's tests.
- `polling_day`: a few ballots cast in-process, one challenged, the polls closed.
- `guardian_secrets`, `witness_secrets`, `assert_nothing_held`: every secret of the guardians'
  and witnesses' folders (as raw bytes, hex, 0x-hex and text), and the scan of the authority's
  files and database rows for any of them.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, select

from tests.manifests import small_manifest_data
from tests.site_fixtures import serving
from verivote.crypto.ballot import encrypt_ballot
from verivote.crypto.group import Group
from verivote.crypto.keyfile import read_key_share, read_private, write_private
from verivote.election.guardians import open_ceremony
from verivote.election.polls import close_polls, open_polls
from verivote.election.publishing import create_signers, local_witnesses
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
def authority(url: str, directory: Path, data: dict[str, Any] | None = None) -> Iterator[Authority]:
    """The election (`data`, by default `small_manifest_data`) with its ceremony opened,
    served by `live_app` on a loopback port."""
    engine = make_engine(url)
    migrate(engine)
    store = Store(engine)
    manifest = parse_manifest(data or small_manifest_data())
    keys = directory / "authority-keys"
    create_signers(keys, manifest)
    local_witnesses(keys, directory / "witnesses", manifest)  # each faction's, its own folder
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


def run_guardian(
    server: str, token: Path, folder: Path, command: str, *extra: str
) -> subprocess.Popen[str]:
    """`verivote guardian COMMAND` with this token and folder, as its own process."""
    args = [sys.executable, "-m", "verivote", "guardian", command, "--server", server,
            "--token-file", str(token), "--dir", str(folder), *extra]  # fmt: skip
    return subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env()
    )


def start_guardian(a: Authority, guardian: int, command: str, *extra: str) -> subprocess.Popen[str]:
    """`verivote guardian COMMAND` for guardian `guardian`, as its own process."""
    if command == "ceremony":
        extra = ("--index", str(guardian), "--poll", "0.1", "--timeout", "120", *extra)
    return run_guardian(a.server, a.token(guardian), a.folder(guardian), command, *extra)


@contextmanager
def served(url: str, election_id: str, keys: Path) -> Iterator[str]:
    """The authority's server (`live_app`) of an election in the database at `url`."""
    engine = make_engine(url)
    store = Store(engine)
    try:
        ctx = load_context(store, election_id)
        with serving(live_app(store, ctx, read_verifiers(keys, election_id))) as server:
            yield server
    finally:
        engine.dispose()


def guardians_hold_ceremony(server: str, tokens: Path, base: Path, guardians: int) -> None:
    """Guardians 1..n, each its own process with the folder base/guardian-<i>, hold the
    ceremony that the authority opened with its tokens in `tokens`."""
    options = ("--poll", "0.1", "--timeout", "120")
    processes = [
        run_guardian(server, tokens / f"guardian-{g}.token", base / f"guardian-{g}", "ceremony",
                     "--index", str(g), *options)
        for g in range(1, guardians + 1)
    ]  # fmt: skip
    for g, process in enumerate(processes, start=1):
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, f"guardian {g}: {err}"


def guardian(a: Authority, g: int, command: str, *extra: str) -> tuple[int, str, str]:
    """Run one guardian command to its end: (exit status, stdout, stderr)."""
    process = start_guardian(a, g, command, *extra)
    out, err = process.communicate(timeout=300)
    return process.returncode, out, err


def held_ceremony(a: Authority) -> None:
    """Every guardian's side of the ceremony, each in its own process, at once."""
    guardians_hold_ceremony(a.server, a.tokens, a.base, GUARDIANS)


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


def guardian_secrets(group: Group[Any], folders: list[Path]) -> list[bytes]:
    """Every secret of the guardians whose folders these are: the key share, the polynomial's
    coefficients and the transport key of each of their keys, each as raw bytes, hex, and
    0x-hex of the number."""
    found: list[bytes] = []
    for folder in folders:
        # the election key's, and the pseudonym key's where it has one (issue 19)
        for key, secrets in (("guardian.key", "secrets.json"),
                             ("pseudonym.key", "pseudonym-secrets.json")):  # fmt: skip
            if not (folder / key).is_file():
                continue
            share = read_key_share(folder / key)
            doc = json.loads(read_private(folder / secrets))
            coefficients = [bytes.fromhex(c) for c in doc["coefficients"]]
            transport = bytes.fromhex(doc["transport_private"])
            for value in [group.encode_scalar(share.secret), transport, *coefficients]:
                found += [value, value.hex().encode(),
                          hex(int.from_bytes(value, "little")).encode()]  # fmt: skip
            found.append(hex(share.secret).encode())
    return found


def witness_secrets(folders: list[Path]) -> list[bytes]:
    """Every witness's signer key (the text of witness.key) and its Ed25519 seed, as raw
    bytes, hex and base64."""
    found: list[bytes] = []
    for folder in folders:
        signer = read_private(folder / "witness.key").strip()
        encoded = signer.split("+", 4)[4]  # PRIVATE+KEY+<name>+<key ID>+<base64>
        seed = base64.b64decode(encoded)[1:]
        assert len(seed) == 32
        found += [signer.encode(), encoded.encode(), seed, seed.hex().encode(),
                  base64.b64encode(seed).rstrip(b"=")]  # fmt: skip
    return found


def official_secrets(folders: list[Path]) -> list[bytes]:
    """Every station head's and observer's signer keys (official-keys.json) and their Ed25519
    seeds, as raw bytes, hex and base64."""
    found: list[bytes] = []
    for folder in folders:
        for signer in json.loads(read_private(folder / "official-keys.json")).values():
            encoded = signer.split("+", 4)[4]
            seed = base64.b64decode(encoded)[1:]
            assert len(seed) == 32
            found += [signer.encode(), encoded.encode(), seed, seed.hex().encode(),
                      base64.b64encode(seed).rstrip(b"=")]  # fmt: skip
    return found


def assert_nothing_held(secrets: list[bytes], paths: list[Path], engine: Engine) -> None:
    """No file under `paths` and no value of any row of any table in `engine` holds any of
    `secrets`."""
    assert secrets
    for top in paths:
        for path in [top, *top.rglob("*")] if top.is_dir() else [top]:
            if path.is_file():
                data = path.read_bytes()
                assert not any(s in data for s in secrets), path
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(select(table)):
                for value in row:
                    data = value if isinstance(value, bytes) else str(value).encode()
                    assert not any(s in data for s in secrets), table.name
