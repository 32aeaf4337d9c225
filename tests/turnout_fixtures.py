"""A small election with provable turnout (issue 19), made once per test session: the
synthetic province run in this process (`run_election`), round 1's record and the keys an
attacker holding every signing key of the election would re-sign a tampered copy with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

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
