"""Attack (issue 19, items 4 and 5): a station checks in voters of its roll who never came
(ghosts), so that ballots can be stuffed in their names; the station's counts then add up. Each
such voter, checking their own status with the code only they hold, sees the check-in made in
their name, and where, proved against the signed board, and can file a complaint; the
ghost-voter audit, drawing published check-ins to confirm against the stations' paper sign-in
sheets, gives an upper bound that covers the ghosts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.serve_fixtures import serving
from tests.turnout_fixtures import small_turnout_election
from tests.verify_fixtures import roll_code
from verivote.cli.app import run
from verivote.crypto.ballot import encrypt_ballot
from verivote.election.polls import close_polls, open_polls
from verivote.election.publishing import (
    export_record,
    make_checkpoint,
)
from verivote.election.service import cast
from verivote.election.turnout import (
    issue_status_codes,
    prepare_roll,
)
from verivote.sim.election import contribute_all
from verivote.store import make_engine
from verivote.store.roll import check_in, import_voters
from verivote.store.turnout import complaints, voter_pseudonym

STATION = "tabriz-001"
CAME = [("tabriz-001", ["1101"]), ("tabriz-002", ["1102"]), ("tabriz-003", ["1103"]),
        ("tabriz-001", ["1101"]), ("tabriz-002", []), ("isfahan-arm-1", ["2201"])]  # fmt: skip
ABSENT = 6
GHOSTS = 3
SEED = "12345678901234567890123"


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> Done:
    """`verivote ARGS` in this process (the same program a voter or an audit board runs;
    the server is a process of its own)."""
    capsys.readouterr()
    code = run(list(args))
    out = capsys.readouterr()
    return Done(code, out.out, out.err)


@pytest.fixture(scope="module")
def ghost_election(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    directory = tmp_path_factory.mktemp("ghosts")
    store, ctx, keys = small_turnout_election(directory)
    engine = store.engine
    url = str(engine.url)
    manifest = ctx.manifest
    contribute_all(store, ctx, keys, 5)
    came = [roll_code(manifest.station(s).district, n) for n, (s, _) in enumerate(CAME)]
    absent = [roll_code("tabriz", 100 + n) for n in range(ABSENT)]
    roll = [(c, manifest.station(s).district, None) for c, (s, _) in zip(came, CAME, strict=True)]
    import_voters(engine, ctx.election_id, roll + [(c, "tabriz", None) for c in absent])
    codes = dict(issue_status_codes(store, ctx))
    prepare_roll(store, ctx, keys, [1, 2, 3])
    open_polls(store, ctx, [s.id for s in manifest.stations])
    assert ctx.key is not None
    for n, ((station, choices), voter) in enumerate(zip(CAME, came, strict=True)):
        district = manifest.station(station).district
        assert check_in(engine, ctx.election_id, voter, station, district, 9,
                        f"came-{n}").status == "accepted"  # fmt: skip
        cast(store, ctx, encrypt_ballot(manifest, ctx.key, ctx.base_hash, station, choices)[0])
    # The attack: the station checks in absent voters of its district and stuffs their ballots.
    ghosts = absent[:GHOSTS]
    for n, voter in enumerate(ghosts):
        assert check_in(engine, ctx.election_id, voter, STATION, "tabriz", 11,
                        f"ghost-{n}").status == "accepted"  # fmt: skip
        cast(store, ctx, encrypt_ballot(manifest, ctx.key, ctx.base_hash, STATION, ["1104"])[0])
    close_polls(store, ctx, [s.id for s in manifest.stations])
    make_checkpoint(store, ctx, keys)
    record = directory / "record"
    export_record(store, ctx, keys, record)
    pseudonyms = {c: voter_pseudonym(engine, ctx.election_id, c) for c in [*came, *absent]}
    engine.dispose()
    return {"url": url, "election": manifest.election_id, "dir": directory, "keys": keys,
            "codes": codes, "ghosts": ghosts, "honest_absent": absent[GHOSTS:], "came": came,
            "record": record, "pseudonyms": pseudonyms}  # fmt: skip


def test_each_ghost_sees_the_check_in_made_in_their_name_and_can_complain(
    ghost_election: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    e = ghost_election
    trust = str(e["keys"] / "verifiers")
    with serving(e["url"], e["election"], e["dir"]) as (base, _):
        for n, voter in enumerate(e["ghosts"]):
            args = ["voter", "status", voter, "--status-code", e["codes"][voter], "--server",
                    base, "--trust", trust, "--json"]  # fmt: skip
            if n == 0:
                args += ["--complain", "I did not vote: I was abroad on polling day"]
            done = _run(capsys, *args)
            assert done.returncode == 0, done.stderr
            status = json.loads(done.stdout.strip().splitlines()[-1])
            assert status["checked"] is True
            assert status["on_roll"] is True
            assert status["checked_in"] == {"station": STATION, "hour": 11}
            if n == 0:
                assert isinstance(status["complaint"], int)
        for voter in e["honest_absent"]:
            done = _run(capsys, "voter", "status", voter, "--status-code", e["codes"][voter],
                        "--server", base, "--trust", trust, "--json")  # fmt: skip
            assert done.returncode == 0, done.stderr
            assert json.loads(done.stdout.strip().splitlines()[-1])["checked_in"] is None
        # A wrong status code learns nothing: the same answer as a code not on the roll.
        wrong = _run(capsys, "voter", "status", e["ghosts"][0], "--status-code", "A" * 26,
                     "--server", base, "--json")  # fmt: skip
        nobody = roll_code("tabriz", 999)
        stranger = _run(capsys, "voter", "status", nobody, "--status-code", "A" * 26,
                        "--server", base, "--json")  # fmt: skip
        assert wrong.returncode != 0
        assert stranger.returncode != 0
        assert wrong.stderr.replace(e["ghosts"][0], "X") == stranger.stderr.replace(
            roll_code("tabriz", 999), "X"
        )
    engine = make_engine(e["url"])
    filed = complaints(engine, e["election"])
    engine.dispose()
    assert [(c["national_code"], c["station"], c["hour"]) for c in filed] == [
        (e["ghosts"][0], STATION, 11)
    ]


@pytest.mark.parametrize("per_district", [5, 100])
def test_the_ghost_voter_audit_bounds_the_ghosts(
    ghost_election: dict[str, Any],
    tmp_path: Path,
    per_district: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    e = ghost_election
    pull = tmp_path / "pull.csv"
    drawn = _run(capsys, "audit", "turnout", str(e["record"]), "--seed", SEED,
                 "--per-district", str(per_district), "--out", str(pull))  # fmt: skip
    assert drawn.returncode == 0, drawn.stderr
    ghost_pseudonyms = {e["pseudonyms"][g][4] for g in e["ghosts"]}
    # The audit board finds a ghost where the station's sign-in sheet has no signature.
    lines = pull.read_text(encoding="utf-8").splitlines()
    filled = [lines[0]] + [
        line + ("missing" if line.split(",")[2] in ghost_pseudonyms else "signed")
        for line in lines[1:]
    ]
    findings = tmp_path / "findings.csv"
    findings.write_text("\n".join(filled) + "\n", encoding="utf-8")
    done = _run(capsys, "audit", "turnout", str(e["record"]), "--seed", SEED, "--per-district",
                str(per_district), "--findings", str(findings), "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    tabriz = next(d for d in result["districts"] if d["district"] == "tabriz")
    assert tabriz["checkins"] == 5 + GHOSTS
    assert tabriz["ghosts_bound"] >= GHOSTS
    assert result["ghosts_bound"] >= GHOSTS
    if per_district >= tabriz["checkins"]:  # every check-in drawn: the bound is exact
        assert tabriz["ghosts_found"] == tabriz["ghosts_bound"] == GHOSTS
