"""The mix servers' tokens (issue 16, item 2; migration 0011), on SQLite and PostgreSQL: the
authority issues one per mixer, keeps only its hash, replaces a lost one, and a token says
which mixer of which election it is; `verivote election mixers` as an operator runs it."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.manifests import small_manifest_data
from tests.store_fixtures import BACKENDS, backend_database
from verivote.cli.app import run
from verivote.election.guardians import Refused
from verivote.election.mixers import issue_mixer_tokens, mixer_of
from verivote.election.service import ElectionError, init_election, load_context
from verivote.model.manifest import parse_manifest
from verivote.store import Store, StoreError, make_engine, migrate
from verivote.store import mixers as db
from verivote.store.schema import mixer_tokens

E = "test-2024"
MIXERS = ["principlists", "reformists", "independents"]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with backend_database(request.param, tmp_path) as url:
        engine = make_engine(url)
        migrate(engine)
        s = Store(engine)
        init_election(s, parse_manifest(small_manifest_data()))
        try:
            yield s
        finally:
            engine.dispose()


def test_tokens_are_issued_once_and_kept_as_hashes(store: Store) -> None:
    tokens = db.issue_mixer_tokens(store.engine, E, MIXERS)
    assert list(tokens) == MIXERS
    assert len(set(tokens.values())) == 3
    for mixer, token in tokens.items():
        assert db.mixer_of_token(store.engine, token) == (E, mixer)
    assert db.mixer_of_token(store.engine, "no such token") is None
    assert db.mixers_with_tokens(store.engine, E) == sorted(MIXERS)
    with store.engine.connect() as conn:
        stored = [str(v) for row in conn.execute(select(mixer_tokens)) for v in row]
    assert not any(token in value for token in tokens.values() for value in stored)
    with pytest.raises(StoreError, match="reformists of test-2024 already hold a token"):
        db.issue_mixer_tokens(store.engine, E, ["reformists"])
    assert db.mixer_of_token(store.engine, tokens["reformists"]) == (E, "reformists")


def test_a_replaced_token_stops_working(store: Store) -> None:
    old = db.issue_mixer_tokens(store.engine, E, MIXERS)
    new = db.issue_mixer_tokens(store.engine, E, ["reformists"], replace=True)
    assert db.mixer_of_token(store.engine, old["reformists"]) is None
    assert db.mixer_of_token(store.engine, new["reformists"]) == (E, "reformists")
    assert db.mixer_of_token(store.engine, old["principlists"]) == (E, "principlists")
    assert db.revoke_mixer(store.engine, E, "reformists")
    assert not db.revoke_mixer(store.engine, E, "reformists")
    assert db.mixer_of_token(store.engine, new["reformists"]) is None
    with pytest.raises(ValueError, match="named twice"):
        db.issue_mixer_tokens(store.engine, E, ["a", "a"])


def test_the_authority_issues_only_to_the_manifests_mixers(store: Store) -> None:
    ctx = load_context(store, E)
    with pytest.raises(ElectionError, match="nobody is not a mixer of election test-2024"):
        issue_mixer_tokens(store, ctx, ["nobody"])
    tokens = issue_mixer_tokens(store, ctx)
    assert list(tokens) == MIXERS
    assert mixer_of(store, ctx, tokens["independents"]) == "independents"
    for token, status, reason in [
        (None, 401, "a mixer's token is required"),
        ("forged", 401, "unknown mixer token"),
    ]:
        with pytest.raises(Refused, match=reason) as caught:
            mixer_of(store, ctx, token)
        assert caught.value.status == status


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_election_mixers_writes_one_private_token_per_mixer(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(small_manifest_data()), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'e.db'}"
    dbs = ["--db", url]
    code, _, err = _cli(capsys, "election", "init", str(manifest), *dbs,
                        "--keys-dir", str(tmp_path / "keys"))  # fmt: skip
    assert code == 0, err
    tokens = tmp_path / "tokens"
    code, out, err = _cli(capsys, "election", "mixers", "--tokens-dir", str(tokens), *dbs)
    assert code == 0, err
    assert "3 mixer token(s) issued: principlists, reformists, independents" in out
    engine = make_engine(url)
    try:
        for mixer in MIXERS:
            path = tokens / f"mixer-{mixer}.token"
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            token = path.read_text(encoding="utf-8").strip()
            assert db.mixer_of_token(engine, token) == (E, mixer)
            assert token not in out
        for args, message in [
            (["--mixer", "reformists"], "reformists of test-2024 already hold a token"),
            (["--mixer", "nobody"], "nobody is not a mixer of election test-2024"),
        ]:
            code, _, err = _cli(capsys, "election", "mixers", *args, *dbs)
            assert code == 1
            assert message in err
            assert len(err.strip().splitlines()) == 1
        old = (tokens / "mixer-reformists.token").read_text(encoding="utf-8").strip()
        code, out, err = _cli(capsys, "election", "mixers", "--mixer", "reformists",
                              "--replace", "--tokens-dir", str(tokens), *dbs)  # fmt: skip
        assert code == 0, err
        new = (tokens / "mixer-reformists.token").read_text(encoding="utf-8").strip()
        assert new != old
        assert db.mixer_of_token(engine, old) is None
        assert db.mixer_of_token(engine, new) == (E, "reformists")
        code, out, err = _cli(capsys, "election", "mixers", "--help")
        assert code == 0
        assert "--tokens-dir" in out
    finally:
        engine.dispose()
