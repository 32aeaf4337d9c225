"""`verivote device cast` and the ballots of a device's journal (issue 15, items 1 and 2),
against a real server process (`verivote serve`) on SQLite and PostgreSQL: a ballot cast
online, a check-in and a ballot journaled while the server is down and uploaded after (the
check-in first), and an upload repeated after its answer was lost, answered as already
accepted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.attacks.casting_fixtures import ELECTION, Polling, polling_election
from tests.serve_fixtures import free_port, serving
from tests.site_fixtures import national_code
from tests.store_fixtures import BACKENDS
from verivote.cli.app import app as cli
from verivote.cli.app import run
from verivote.store.roll import import_voters, issue_token

VOTERS = [national_code(n) for n in range(6001, 6006)]
SRC = Path(__file__).resolve().parent.parent / "src"


@dataclass(frozen=True)
class Live:
    base: str
    db: str
    polling: Polling
    token_file: Path
    journal: Path


@pytest.fixture(params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Live]:
    with polling_election(request.param, tmp_path) as polling:
        engine = polling.store.engine
        import_voters(engine, ELECTION, [(c, "tabriz", None) for c in VOTERS])
        token_file = tmp_path / "token"
        token_file.write_text(issue_token(engine, ELECTION, "tabriz-001"))
        token_file.chmod(0o600)
        db = engine.url.render_as_string(hide_password=False)
        with serving(db, ELECTION, tmp_path) as (base, _):
            yield Live(base, db, polling, token_file, tmp_path / "journal.jsonl")


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def _encrypt(live: Live, name: str, *choices: str) -> tuple[Path, str]:
    path = live.journal.parent / name
    options = [a for c in choices for a in ("--choose", c)]
    status, out = _run("ballot", "encrypt", "--station", "tabriz-001", "--output", str(path),
                       *options, "--db", live.db, "--election", ELECTION, "--json")  # fmt: skip
    assert status == 0, out
    return path, json.loads(out)["code"]


def test_a_device_casts_online_and_offline_and_uploads_idempotently(
    live: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there: the network is down
    device = ["--token-file", str(live.token_file), "--journal", str(live.journal)]

    # online: check the voter in, cast the sealed ballot; its opening goes with the file
    status, out = _run("device", "checkin", VOTERS[0], "--server", live.base, *device)
    assert status == 0, out
    sealed, code = _encrypt(live, "b1.json", "1101", "1102")
    status, out = _run("device", "cast", str(sealed), "--server", live.base, *device, "--json")
    assert status == 0, out
    answer = json.loads(out)
    assert (answer["status"], answer["tracking_code"]) == ("accepted", code)
    assert answer["board_index"] is None or isinstance(answer["board_index"], int)
    assert not sealed.exists()
    assert live.polling.store.ballot_state(ELECTION, code) == "pending"

    # offline: the check-in and the ballot are journaled, the ballot without its opening
    status, out = _run("device", "checkin", VOTERS[1], "--server", dead, *device, "--json")
    assert (status, json.loads(out)["status"]) == (0, "recorded_offline"), out
    sealed, offline_code = _encrypt(live, "b2.json", "1103")
    opening = json.loads(sealed.read_text())["opening"]
    status, out = _run("device", "cast", str(sealed), "--server", dead, *device, "--json")
    assert status == 0, out
    assert json.loads(out) | {"reason": ""} == {
        "status": "recorded_offline", "tracking_code": offline_code, "reason": ""}  # fmt: skip
    assert not sealed.exists()
    assert opening["nonces"][0] not in live.journal.read_text()
    status, out = _run("device", "pending", "--journal", str(live.journal), "--json")
    assert json.loads(out) == {"checkins": 1, "ballots": 1}
    assert live.polling.store.ballot_state(ELECTION, offline_code) is None

    # back online: the check-in goes first, so that the ballot has its check-in
    journal_before_upload = live.journal.read_text()
    status, out = _run("device", "upload", "--server", live.base, *device, "--json")
    assert status == 0, out
    report = json.loads(out)
    assert (report["uploaded"], report["accepted"]) == (1, 1)
    assert report["ballots"] == {"uploaded": 1, "accepted": 1, "already_accepted": 0,
                                 "refused": 0}  # fmt: skip
    assert live.polling.store.ballot_state(ELECTION, offline_code) == "pending"
    status, out = _run("device", "pending", "--journal", str(live.journal))
    assert (status, out) == (0, "0\n")

    # an upload whose answers were lost (the journal as it was before): sent again, recorded once
    live.journal.write_text(journal_before_upload)
    size = live.polling.store.entry_count(ELECTION)
    status, out = _run("device", "upload", "--server", live.base, *device, "--json")
    assert status == 0, out
    assert json.loads(out)["ballots"]["already_accepted"] == 1
    assert live.polling.store.entry_count(ELECTION) == size

    # a ballot beyond the station's check-ins is refused, and the sealed ballot kept
    sealed, _ = _encrypt(live, "b3.json", "1104")
    capsys.readouterr()
    status = run(["device", "cast", str(sealed), "--server", live.base, *device])
    assert status == 1
    assert "checked in" in capsys.readouterr().err
    assert sealed.exists()
