"""Guardians as their own program (issue 14, items 1 and 2): the key ceremony with 3 guardian
processes over HTTP, a small election, decryption by 2 guardian processes that check the
signed board themselves, the count and a record that verifies, on SQLite and PostgreSQL; the
authority's database and keys folder hold no guardian secret."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.manifests import small_manifest_data
from tests.parties_fixtures import (
    EXPECTED,
    GUARDIANS,
    Authority,
    assert_nothing_held,
    authority,
    guardian,
    guardian_secrets,
    held_ceremony,
    polling_day,
    run_guardian,
    served,
)
from tests.sealing_helpers import authority_key
from tests.store_fixtures import BACKENDS, backend_database
from verivote.crypto.ballot import encrypt_ballot
from verivote.crypto.groups import get_group
from verivote.crypto.keyfile import read_key_share, read_private
from verivote.election.count import run_count
from verivote.election.decryption import PARTIAL_TYPE, combine
from verivote.election.polls import close_polls, open_polls
from verivote.election.publishing import (
    create_signers,
    export_record,
    local_witnesses,
    make_checkpoint,
)
from verivote.election.runoff import reuse_ceremony
from verivote.election.service import cast, init_election, load_context
from verivote.election.tally import run_tally
from verivote.model.manifest import parse_manifest
from verivote.verify import verify_record


@pytest.fixture(params=BACKENDS)
def auth(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Authority]:
    with backend_database(request.param, tmp_path) as url, authority(url, tmp_path) as a:
        yield a


def _nothing_secret_held(a: Authority) -> None:
    group = get_group(a.ctx.manifest.group)
    folders = [a.folder(g) for g in range(1, GUARDIANS + 1)]
    assert_nothing_held(guardian_secrets(group, folders), [a.keys], a.store.engine)


def test_ceremony_and_decryption_by_guardian_processes(auth: Authority, tmp_path: Path) -> None:
    held_ceremony(auth)
    ctx = auth.ctx
    assert ctx.transcript is not None
    assert ctx.transcript.qualified == [1, 2, 3]
    for g in range(1, GUARDIANS + 1):
        key = auth.folder(g) / "guardian.key"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert stat.S_IMODE((auth.folder(g) / "secrets.json").stat().st_mode) == 0o600
        assert read_key_share(key).joint_key == ctx.transcript.joint_key
        pinned = (auth.folder(g) / "trust").read_text(encoding="utf-8").split()
        assert pinned[0].startswith("verivote/test-2024+")
    # a guardian run again after the ceremony finds its key share and changes nothing
    code, out, err = guardian(auth, 2, "ceremony")
    assert code == 0, err

    polling_day(auth)
    run_tally(auth.store, ctx, processes=1, signer=authority_key(auth.keys, ctx))
    make_checkpoint(auth.store, ctx, auth.keys)
    for g in (1, 3):
        code, out, err = guardian(auth, g, "decrypt", "--json")
        assert code == 0, err
        assert len(json.loads(out)["published"]) == 3  # 2 districts and the lot
    result = combine(auth.store, ctx)
    assert result["guardians"] == [1, 3]
    assert result["districts"] == EXPECTED
    run_count(auth.store, ctx)
    make_checkpoint(auth.store, ctx, auth.keys)
    export_record(auth.store, ctx, auth.keys, tmp_path / "record")
    report = verify_record(tmp_path / "record", jobs=1)
    assert report.valid, report.failed()

    # a second request for the same tally is refused, in one line and in the guardian's log
    before = auth.store.entry_count(ctx.election_id)
    code, out, err = guardian(auth, 1, "decrypt")
    assert code == 1
    assert err.count("\n") == 1
    assert "already decrypted the tally" in err
    log = (auth.folder(1) / "guardian.log").read_text(encoding="utf-8").splitlines()
    assert "refused: already decrypted the tally" in log[-1]
    assert auth.store.entry_count(ctx.election_id) == before
    _nothing_secret_held(auth)


def test_a_guardian_interrupted_before_the_acknowledgement_decrypts_again(
    auth: Authority,
) -> None:
    held_ceremony(auth)
    ctx = auth.ctx
    polling_day(auth)
    run_tally(auth.store, ctx, processes=1, signer=authority_key(auth.keys, ctx))
    make_checkpoint(auth.store, ctx, auth.keys)
    # The guardian recorded the tally it started on, and nothing was acknowledged yet.
    code, _, err = guardian(auth, 2, "decrypt")
    assert code == 0, err
    record_path = auth.folder(2) / "decrypted.json"
    records = json.loads(record_path.read_text(encoding="utf-8"))
    for record in records.values():
        record["done"] = False
        record["posted"] = {}
    record_path.write_text(json.dumps(records), encoding="utf-8")
    code, _, err = guardian(auth, 2, "decrypt")
    assert code == 0, err  # the server acknowledges the entries already on the board
    partials = auth.store.entries_of_type(ctx.election_id, PARTIAL_TYPE)
    assert len(partials) == 2


def test_the_checkpoint_needs_the_witnesses(auth: Authority) -> None:
    held_ceremony(auth)
    ctx = auth.ctx
    polling_day(auth)
    run_tally(auth.store, ctx, processes=1, signer=authority_key(auth.keys, ctx))
    # a checkpoint signed by the authority alone: its witnesses' keys are thrown away
    for path in auth.keys.glob("witness-*.key"):
        path.unlink()
    from verivote.board.checkpoint import Checkpoint, format_checkpoint
    from verivote.board.merkle import MerkleLog, leaf_hash
    from verivote.board.note import sign

    entries = auth.store.entries(ctx.election_id)
    root = MerkleLog(leaf_hash(e) for e in entries).root()
    signer = read_private(auth.keys / "authority.key").strip()
    note = sign(format_checkpoint(Checkpoint(f"verivote/{ctx.election_id}", len(entries), root)),
                [signer])  # fmt: skip
    auth.store.put_checkpoint(ctx.election_id, len(entries), note)
    code, _, err = guardian(auth, 1, "decrypt")
    assert code == 1
    assert "cosigned by 0 pinned witness(es), fewer than 2" in err
    assert auth.store.entries_of_type(ctx.election_id, PARTIAL_TYPE) == []


def test_no_decryption_without_a_key_share_or_a_token(auth: Authority) -> None:
    code, _, err = guardian(auth, 1, "decrypt")
    assert code == 1
    assert "no key share" in err
    assert err.count("\n") == 1
    auth.token(1).chmod(0o644)
    code, _, err = guardian(auth, 1, "ceremony")
    assert code == 1
    assert "mode 0600" in err


def test_a_runoff_that_reuses_the_key_is_decrypted_with_round_1s_guardians(
    tmp_path: Path,
) -> None:
    with backend_database("sqlite", tmp_path) as url, authority(url, tmp_path) as a:
        held_ceremony(a)
        assert a.ctx.transcript is not None
        data = small_manifest_data()
        data["election_id"] = "test-2024-r2"
        manifest = parse_manifest(data)
        keys2 = tmp_path / "keys2"
        create_signers(keys2, manifest)
        local_witnesses(keys2, tmp_path / "witnesses", manifest)  # round 1's witnesses
        init_election(a.store, manifest)
        reuse_ceremony(a.store, load_context(a.store, "test-2024-r2"), a.ctx.transcript)
        r2 = load_context(a.store, "test-2024-r2")
        assert r2.key is not None
        with served(url, "test-2024-r2", keys2) as server:
            for g in (1, 2):  # the runoff's lot: fresh contributions with the same key
                process = run_guardian(server, a.token(g), a.folder(g), "contribute")
                _, err = process.communicate(timeout=300)
                assert process.returncode == 0, err
        open_polls(a.store, r2, ["tabriz-001"])
        for choices in (["1101"], ["1101", "1102"], []):
            ballot, _ = encrypt_ballot(manifest, r2.key, r2.base_hash, "tabriz-001", choices)
            cast(a.store, r2, ballot)
        close_polls(a.store, r2, ["tabriz-001"])
        run_tally(a.store, r2, processes=1, signer=authority_key(keys2, r2))
        make_checkpoint(a.store, r2, keys2)
        with served(url, "test-2024-r2", keys2) as server:
            process = run_guardian(server, a.token(1), a.folder(1), "decrypt")
            _, err = process.communicate(timeout=300)
            assert process.returncode == 1
            assert "no keys pinned for verivote/test-2024-r2: give --trust FILE" in err
            for g in (1, 2):
                process = run_guardian(server, a.token(g), a.folder(g), "decrypt",
                                       "--trust", str(keys2 / "verifiers"))  # fmt: skip
                _, err = process.communicate(timeout=300)
                assert process.returncode == 0, err
        result = combine(a.store, r2)
        assert result["districts"]["tabriz"]["votes"]["1101"] == 2
        assert result["districts"]["tabriz"]["blank"] == 1


def test_a_board_entry_that_is_not_a_json_object_is_refused_in_one_line(tmp_path: Path) -> None:
    from verivote.parties.guardian import GuardianRefusal, _parsed

    with pytest.raises(GuardianRefusal, match="board entry 1 is not a JSON object"):
        _parsed(tmp_path, [b'{"type": "manifest"}', b"[1, 2]"])
    with pytest.raises(GuardianRefusal, match="board entry 0 is not a JSON object"):
        _parsed(tmp_path, [b"{not json"])
    assert "refused: board entry 0 is not a JSON object" in (
        (tmp_path / "guardian.log").read_text(encoding="utf-8")
    )
