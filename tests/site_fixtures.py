"""Elections and servers for the website's tests (issue 8).

- `make_live`: a small election in progress in a fresh database (SQLite or PostgreSQL): keys,
  a roll, station tokens, polls open at two stations, two ballots cast and signed into a
  checkpoint, and one more cast after it. Small enough to make per test on both backends.
- `counted_database`: a copy of the session's counted two-round election (`verify_fixtures`,
  SQLite), with a roll and station tokens added, for the pages of a counted election served
  live; the original is never touched.
- `serving`: an application under a real uvicorn server on a free loopback port, in a thread
  (`verivote.web.serving.in_thread`).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from tests.manifests import small_manifest_data
from tests.verify_fixtures import VerifyElection
from verivote.crypto.ballot import encrypt_ballot
from verivote.election.polls import open_polls
from verivote.election.publishing import create_signers, local_witnesses, make_checkpoint
from verivote.election.service import (
    ElectionContext,
    cast,
    hold_ceremony,
    init_election,
    load_context,
)
from verivote.model.manifest import parse_manifest
from verivote.polling.roll import check_digit
from verivote.store import Store, make_engine, migrate
from verivote.store.roll import import_voters, issue_token
from verivote.web.app import read_verifiers
from verivote.web.serving import in_thread

serving = in_thread
"""`app` under uvicorn in a thread on a free loopback port; yields its base URL."""

ELECTION = "test-2024"


def national_code(n: int) -> str:
    """The n-th valid national code (nine digits of n, then the check digit)."""
    nine = f"{n:09d}"
    return nine + check_digit(nine)


TABRIZ_VOTERS = [national_code(n) for n in range(1001, 1011)]
ARMENIAN_VOTER = national_code(2001)
NOT_ON_ROLL = national_code(3001)


@dataclass(frozen=True)
class LiveElection:
    store: Store
    ctx: ElectionContext
    keys: Path
    verifiers: tuple[str, ...]
    tokens: dict[str, str]
    signed: list[str]
    """Tracking codes of the ballots a signed checkpoint covers."""
    unsigned: str
    """The tracking code of a ballot cast after the last checkpoint."""


def _roll_and_tokens(store: Store, election_id: str) -> dict[str, str]:
    engine = store.engine
    import_voters(
        engine, election_id,
        [(c, "tabriz", None) for c in TABRIZ_VOTERS]
        + [(ARMENIAN_VOTER, "armenians-south", "armenian-south")],
    )  # fmt: skip
    stations = ("tabriz-001", "tabriz-002", "tabriz-003")
    return {s: issue_token(engine, election_id, s) for s in stations}


def make_live(url: str, directory: Path) -> LiveElection:
    engine = make_engine(url)
    migrate(engine)
    store = Store(engine)
    manifest = parse_manifest(small_manifest_data())
    keys = directory / "keys"
    create_signers(keys, manifest)
    local_witnesses(keys, directory / "witnesses", manifest)
    init_election(store, manifest)
    ctx = load_context(store, ELECTION)
    hold_ceremony(store, ctx, 3, 2, keys)
    ctx = load_context(store, ELECTION)
    assert ctx.key is not None
    # tabriz-003 stays unopened: its check-ins and ballots are refused
    open_polls(store, ctx, ["tabriz-001", "tabriz-002", "isfahan-arm-1"])

    def vote(station: str, choices: list[str]) -> str:
        assert ctx.key is not None
        ballot, _ = encrypt_ballot(manifest, ctx.key, ctx.base_hash, station, choices)
        return cast(store, ctx, ballot).code

    signed = [vote("tabriz-001", ["1101", "1103"]), vote("isfahan-arm-1", ["2202"])]
    store.flush_due(ELECTION, 0)  # their batches go onto the board (as the timer does)
    make_checkpoint(store, ctx, keys)
    unsigned = vote("tabriz-001", ["1102"])
    store.flush_due(ELECTION, 0)
    # The roll comes after these ballots, which were cast for no check-in: with a roll, the
    # board takes a ballot only for a voter checked in at its station (issue 14), and the
    # tests check the roll's voters in themselves.
    tokens = _roll_and_tokens(store, ELECTION)
    return LiveElection(store, ctx, keys, read_verifiers(keys, ELECTION), tokens, signed,
                        unsigned)  # fmt: skip


@dataclass(frozen=True)
class CountedDatabase:
    url: str
    keys: Path
    tokens: dict[str, str]


def counted_database(election: VerifyElection, directory: Path) -> CountedDatabase:
    """A copy of the session's counted election database, with a roll and tokens added."""
    source = election.round1.parent
    for path in source.glob("verify.db*"):
        shutil.copy(path, directory / path.name)
    url = f"sqlite:///{directory / 'verify.db'}"
    engine = make_engine(url)
    try:
        tokens = _roll_and_tokens(Store(engine), ELECTION)
    finally:
        engine.dispose()
    return CountedDatabase(url, election.keys1, tokens)


_CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
_REQUEST_ID = re.compile(r'name="request_id" value="([A-Za-z0-9_-]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "the page has no CSRF field"
    return found.group(1)


def request_id_of(html: str) -> str:
    found = _REQUEST_ID.search(html)
    assert found is not None, "the page has no check-in form"
    return found.group(1)
