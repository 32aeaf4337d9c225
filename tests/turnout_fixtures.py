"""A small election with provable turnout (issue 19), made once per test session: the
synthetic province run in this process (`run_election`), round 1's record and the keys an
attacker holding every signing key of the election would re-sign a tampered copy with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.manifests import small_manifest_data
from verivote.election.publishing import create_signers, local_witnesses
from verivote.election.service import ElectionContext, hold_ceremony, init_election, load_context
from verivote.election.turnout import hold_pseudonym_ceremony
from verivote.model.manifest import parse_manifest
from verivote.sim.election import RoundOutcome, run_election
from verivote.store import Store, make_engine, migrate


@dataclass(frozen=True)
class TurnoutElection:
    record: Path
    keys: Path
    outcome: RoundOutcome
    directory: Path


@pytest.fixture(scope="session")
def turnout_election(tmp_path_factory: pytest.TempPathFactory) -> TurnoutElection:
    """Round 1 of a 60-voter synthetic election. Never change its record: tamper with a
    `copy_record` of it."""
    directory = tmp_path_factory.mktemp("turnout-election")
    engine = make_engine(f"sqlite:///{directory / 'turnout.db'}")
    migrate(engine)
    try:
        first, _ = run_election(Store(engine), directory, voters=60, seed=19, processes=1)
    finally:
        engine.dispose()
    assert first.record is not None
    return TurnoutElection(first.record, directory / "keys" / "round1", first, directory)


def small_turnout_election(directory: Path) -> tuple[Store, ElectionContext, Path]:
    """The test manifest with a roll and provable turnout, in an SQLite file of `directory`:
    its signers and witnesses, both keys' ceremonies held in this process (5 guardians,
    quorum 3, the shares in `directory`/keys); no roll yet."""
    engine = make_engine(f"sqlite:///{directory / 'turnout.db'}")
    migrate(engine)
    store = Store(engine)
    data = small_manifest_data()
    data["polling"] = {"roll": True, "turnout": True}
    manifest = parse_manifest(data)
    keys = directory / "keys"
    create_signers(keys, manifest)
    local_witnesses(keys, directory / "witnesses", manifest)
    init_election(store, manifest)
    ctx = load_context(store, manifest.election_id)
    hold_ceremony(store, ctx, 5, 3, keys)
    hold_pseudonym_ceremony(store, ctx, 5, 3, keys)
    return store, load_context(store, manifest.election_id), keys
