"""Attack (issue 14, item 6): the Benaloh challenge decided before encryption. A device that
knows which ballots will be audited can cheat on the others. The device must encrypt and show
the tracking code first, and the voter decide only then; the code shown is the one on the board
whether the ballot is then cast or challenged, and nothing reaches the board before the
decision."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.attacks.casting_fixtures import close_and_verify, polling_election
from tests.manifests import small_manifest_data
from tests.store_fixtures import BACKENDS, backend_database
from verivote.cli.app import run
from verivote.crypto.ballot import encrypt_ballot
from verivote.crypto.hashing import hash_items
from verivote.election.service import cast, challenge, hold_ceremony, load_context
from verivote.model.canonical import canonical_json
from verivote.store import Store, make_engine


def shown_code(base_hash: bytes, ballot: dict[str, Any]) -> str:
    """The tracking code as DESIGN.md defines it: H("tracking-code", base hash, ballot)."""
    return hash_items("tracking-code", base_hash, canonical_json(ballot)).hex()


def board_doc(store: Store, election_id: str, index: int, log: str = "") -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(store.entries(election_id, index, index + 1, log=log)[0])
    return doc


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_code_shown_after_encryption_is_the_code_on_the_board_cast_or_challenged(
    backend: str, tmp_path: Path
) -> None:
    with polling_election(backend, tmp_path) as polling:
        store, ctx = polling.store, polling.ctx
        assert ctx.key is not None
        voters = [
            ("tabriz-001", ["1101"], "cast"),
            ("tabriz-001", ["1102", "1105"], "challenge"),
            ("isfahan-arm-1", [], "challenge"),
            ("isfahan-arm-1", ["2202"], "cast"),
        ]
        for station, choices, decide in voters:
            ballot, opened = encrypt_ballot(ctx.manifest, ctx.key, ctx.base_hash, station, choices)
            code = shown_code(ctx.base_hash, ballot)  # shown before any decision
            district = ctx.manifest.station(station).district
            size = store.entry_count(ctx.election_id, log=district)
            if decide == "cast":
                receipt = cast(store, ctx, ballot)
                key = "tracking_code"
            else:
                receipt = challenge(store, ctx, ballot, opened)
                key = "ballot_id"
            assert receipt.code == code
            store.flush_due(ctx.election_id, 0)  # its batch onto the board, as the timer does
            record = store.ballot(ctx.election_id, code)
            assert record is not None
            assert (record.board_log, record.board_idx) == (district, size)
            assert board_doc(store, ctx.election_id, record.board_idx, district)[key] == code
        report = close_and_verify(polling, tmp_path / "record")
        assert report.valid, report.to_json()


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_command_shows_the_code_before_the_voter_casts_or_challenges(
    backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(small_manifest_data()), encoding="utf-8")
    with backend_database(backend, tmp_path) as url:
        db = ["--db", url]
        keys = ["--keys-dir", str(tmp_path / "keys")]
        code, _, err = cli(capsys, "election", "init", str(manifest), *db, *keys)
        assert code == 0, err
        # The key ceremony, in process: the guardians' own programs are not the subject here.
        ceremony_engine = make_engine(url)
        hold_ceremony(Store(ceremony_engine), load_context(Store(ceremony_engine), "test-2024"),
                      3, 2, tmp_path / "guardians")  # fmt: skip
        ceremony_engine.dispose()
        assert cli(capsys, "polls", "open", "--all", *db)[0] == 0
        engine = make_engine(url)
        store = Store(engine)
        try:
            receipts = {}
            for decision in ("cast", "challenge"):
                sealed = tmp_path / f"{decision}.ballot"
                size = store.entry_count("test-2024")
                code, out, err = cli(
                    capsys, "ballot", "encrypt", "--station", "tabriz-002", "--choose", "1103",
                    "--output", str(sealed), "--json", *db,
                )  # fmt: skip
                assert code == 0, err
                shown = json.loads(out)["code"]
                # encrypted, shown, and nothing on the board yet
                assert store.entry_count("test-2024") == size
                assert stat.S_IMODE(sealed.stat().st_mode) == 0o600
                assert shown == shown_code(
                    bytes.fromhex(store.election("test-2024").base_hash),  # type: ignore[union-attr]
                    json.loads(sealed.read_text(encoding="utf-8"))["ballot"],
                )
                kept = tmp_path / f"{decision}-kept.ballot"  # a copy, to try it again below
                kept.write_bytes(sealed.read_bytes())
                kept.chmod(0o600)
                code, out, err = cli(capsys, "ballot", decision, str(sealed), "--json", *db)
                assert code == 0, err
                receipt = json.loads(out)
                assert receipt["code"] == shown
                assert receipt["index"] is None  # in the station's open batch
                assert store.ballot_state("test-2024", shown) == "pending"
                receipts[decision] = receipt
                assert not sealed.exists()  # used up: the opening does not outlive the decision
                # the same sealed ballot a second time is refused in one line
                code, _, err = cli(capsys, "ballot", "cast", str(kept), *db)
                assert code == 1
                assert len(err.strip().splitlines()) == 1
                assert "already" in err
            assert receipts["cast"]["state"] == "cast"
            assert receipts["challenge"]["state"] == "challenged"
            # the one-step command encrypts first too: its code is printed before the decision
            code, out, err = cli(
                capsys, "cast", "--station", "tabriz-001", "--choose", "1101", "--challenge", *db
            )
            assert code == 0, err
            assert out.startswith("ballot encrypted at tabriz-001: tracking code")
            assert out.index("tracking code") < out.index("ballot challenged")
        finally:
            engine.dispose()
