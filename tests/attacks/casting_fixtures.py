"""An election ready for polling day, on a real store (SQLite or PostgreSQL), for the attack
tests of the casting path (issue 14, items 5 and 6): ceremony held, every station open."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.manifests import small_manifest_data
from tests.sealing_helpers import authority_key
from tests.store_fixtures import backend_database
from verivote.crypto.keyfile import read_key_share
from verivote.election.count import run_count
from verivote.election.decryption import combine, decrypt_as_guardian
from verivote.election.lot import contribute_lot
from verivote.election.polls import close_polls, open_polls
from verivote.election.publishing import create_signers, export_record, make_checkpoint
from verivote.election.service import (
    ElectionContext,
    hold_ceremony,
    init_election,
    load_context,
)
from verivote.election.tally import run_tally
from verivote.model.manifest import parse_manifest
from verivote.store import Store, make_engine, migrate
from verivote.verify import verify_record
from verivote.verify.report import Report

ELECTION = "test-2024"


@dataclass(frozen=True)
class Polling:
    store: Store
    ctx: ElectionContext
    keys: Path


@contextmanager
def polling_election(
    backend: str, directory: Path, open_all: bool = True, data: dict[str, Any] | None = None
) -> Iterator[Polling]:
    """The small test election on `backend` (or the manifest `data`), its key ceremony held
    (3 guardians, quorum 2) and, with `open_all`, the polls open at every station."""
    with backend_database(backend, directory) as url:
        engine = make_engine(url)
        try:
            migrate(engine)
            store = Store(engine)
            manifest = parse_manifest(small_manifest_data() if data is None else data)
            keys = directory / "keys"
            create_signers(keys, manifest)
            init_election(store, manifest)
            hold_ceremony(store, load_context(store, ELECTION), 3, 2, keys)
            ctx = load_context(store, ELECTION)
            for guardian in (1, 2, 3):  # the lot's contributions, before any tally
                contribute_lot(store, ctx, read_key_share(keys / f"guardian-{guardian}.key"))
            if open_all:
                open_polls(store, ctx, [s.id for s in manifest.stations])
            yield Polling(store, ctx, keys)
        finally:
            engine.dispose()


def close_and_verify(polling: Polling, record: Path) -> Report:
    """Finish the election as the authority would (close every station, tally, decrypt with a
    quorum, combine, count), sign a checkpoint, export the record and run the verifier."""
    store, ctx = polling.store, polling.ctx
    states = store.polls(ctx.election_id)
    still = [s.id for s in ctx.manifest.stations if states.get(s.id) != "closed"]
    if still:
        close_polls(store, ctx, still)
    run_tally(store, ctx, processes=1, signer=authority_key(polling.keys, ctx))
    for guardian in (1, 2):
        decrypt_as_guardian(store, ctx, read_key_share(polling.keys / f"guardian-{guardian}.key"))
    combine(store, ctx)
    run_count(store, ctx)
    make_checkpoint(store, ctx, polling.keys)
    export_record(store, ctx, polling.keys, record)
    return verify_record(record, jobs=1)
