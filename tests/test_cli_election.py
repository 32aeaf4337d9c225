"""The election commands as an operator runs them, on a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.manifests import small_manifest_data
from tests.parties_fixtures import guardians_hold_ceremony, run_guardian, served
from verivote.board.record import check_record
from verivote.cli.app import run
from verivote.crypto.tracking import code_of
from verivote.election.publishing import check_inclusion, verifier_keys
from verivote.store import Store, make_engine


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


FACTIONS = ("principlists", "reformists", "independents")


def add_witnesses(
    capsys: pytest.CaptureFixture[str], init_out: str, directory: Path, keys: list[str]
) -> None:
    """Each faction's witness in its own folder (`witness init`), pinned to the authority key
    that `election init` printed, registered with `board add-witness` as a file:// URL."""
    [authority] = [line.split()[-1] for line in init_out.splitlines() if "authority key" in line]
    for faction in FACTIONS:
        folder = directory / faction
        code, out, err = cli(
            capsys, "witness", "init", "--dir", str(folder), "--name", f"witness/{faction}",
            "--log-key", authority,
        )  # fmt: skip
        assert code == 0, err
        key = out.strip()
        code, out, err = cli(
            capsys, "board", "add-witness", "--url", folder.as_uri(), "--key", key, *keys
        )
        assert code == 0, err
        assert f"witness/{faction} registered" in out


def test_an_election_from_init_to_exported_record(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(small_manifest_data()), encoding="utf-8")
    db = ["--db", f"sqlite:///{tmp_path / 'e.db'}"]
    keys = ["--keys-dir", str(tmp_path / "keys")]
    code, out, err = cli(capsys, "election", "init", str(manifest), *db, *keys)
    assert code == 0, err
    assert "test-2024" in out
    add_witnesses(capsys, out, tmp_path / "witnesses", keys)
    code, out, err = cli(capsys, "cast", "--station", "tabriz-001", "--choose", "1101", *db)
    assert code == 1
    assert "key ceremony has not been held" in err
    tokens = tmp_path / "tokens"
    code, out, err = cli(capsys, "election", "ceremony", "--quorum", "2", "--tokens-dir",
                         str(tokens), *db)  # fmt: skip
    assert code == 0, err
    assert "key ceremony opened: 3 guardians, quorum 2" in out
    assert sorted(p.name for p in tokens.iterdir()) == [f"guardian-{i}.token" for i in (1, 2, 3)]
    code, out, err = cli(capsys, "election", "ceremony", *db)
    assert code == 1
    assert "already opened" in err
    with served(db[1], "test-2024", tmp_path / "keys") as server:
        guardians_hold_ceremony(server, tokens, tmp_path, 3)
    code, out, err = cli(capsys, "cast", "--station", "tabriz-001", "--choose", "1101", *db)
    assert code == 1
    assert "are not open" in err  # a ballot only at a station whose polls are open
    assert cli(capsys, "polls", "open", "--all", *db)[0] == 0
    code, out, err = cli(
        capsys, "cast", "--station", "tabriz-001", "--choose", "1101", "--choose", "1104",
        "--json", *db,
    )  # fmt: skip
    assert code == 0, err
    receipt = json.loads(out)
    assert receipt["state"] == "cast"
    code, out, err = cli(
        capsys, "cast", "--station", "tabriz-002", "--choose", "1102", "--challenge", *db
    )
    assert code == 0, err
    assert "challenged" in out
    code, out, err = cli(capsys, "board", "prove-inclusion", receipt["code"], *db, *keys)
    assert code == 1
    assert "waits in its station's batch" in err  # batches go onto the board shuffled
    assert cli(capsys, "polls", "close", "--all", *db)[0] == 0  # which puts them on
    code, out, err = cli(capsys, "board", "prove-inclusion", receipt["code"], *db, *keys)
    assert code == 1
    assert "not yet in a signed checkpoint" in err
    code, out, err = cli(capsys, "board", "checkpoint", *db, *keys)
    assert code == 0, err
    # the national log: manifest, ceremony, 3 lot contributions, and a seal of each district's
    # log (its polls statements and its stations' batches)
    assert out.startswith("verivote/test-2024\n7\n")
    assert "cosigned by 3 witness(es)" in err
    code, out, err = cli(capsys, "board", "prove-inclusion", receipt["code"], *db, *keys)
    assert code == 0, err
    proof = json.loads(out)
    # tabriz's log: its 3 stations opened, then tabriz-001's batch (this ballot) and closing
    assert (proof["district"], proof["index"], proof["size"]) == ("tabriz", 3, 8)
    assert proof["seal"]["index"] in (5, 6)
    assert check_inclusion(proof, verifier_keys(tmp_path / "keys"))
    record = tmp_path / "record"
    assert cli(capsys, "board", "export", str(record), *db, *keys)[0] == 0
    assert check_record(record) == []
    assert sorted(p.name for p in (record / "log").iterdir()) == [
        "checkpoint",
        "entries.jsonl",
        "keys",
        "tile",
    ]
    assert sorted(p.name for p in (record / "districts").iterdir()) == ["armenians-south", "tabriz"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["election", "init", "{missing}"], "no such manifest file"),
        (["election", "init", "{bad}"], "districts[0].seats"),
        (["cast", "--station", "x"], "no election yet"),
        (["board", "checkpoint"], "no election yet"),
    ],
)
def test_election_commands_fail_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], message: str
) -> None:
    bad = small_manifest_data()
    bad["districts"][0]["seats"] = 0
    (tmp_path / "bad.json").write_text(json.dumps(bad), encoding="utf-8")
    argv = [a.format(missing=tmp_path / "none.json", bad=tmp_path / "bad.json") for a in args]
    options = ["--db", f"sqlite:///{tmp_path / 'e.db'}"]
    if args[0] != "cast":
        options += ["--keys-dir", str(tmp_path / "k")]
    code, _, err = cli(capsys, *argv, *options)
    assert code == 1
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_every_step_of_an_election_as_commands(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(small_manifest_data()), encoding="utf-8")
    db = ["--db", f"sqlite:///{tmp_path / 'e.db'}"]
    keys = ["--keys-dir", str(tmp_path / "keys")]

    def ok(*args: str) -> str:
        code, out, err = cli(capsys, *args)
        assert code == 0, err
        return out

    add_witnesses(capsys, ok("election", "init", str(manifest), *db, *keys), tmp_path / "w", keys)
    tokens = tmp_path / "tokens"
    ok("election", "ceremony", "--guardians", "5", "--quorum", "3", "--tokens-dir", str(tokens),
       *db)  # fmt: skip
    with served(db[1], "test-2024", tmp_path / "keys") as server:
        guardians_hold_ceremony(server, tokens, tmp_path, 5)  # each then contributes to the lot
        again = run_guardian(server, tokens / "guardian-2.token", tmp_path / "guardian-2",
                             "contribute")  # fmt: skip
        _, err = again.communicate(timeout=300)
        assert again.returncode == 1
        assert "guardian 2 has already contributed" in err
        assert len(err.strip().splitlines()) == 1
    ok("polls", "open", "--all", *db)
    # Tabriz (3 seats, 6 valid ballots, threshold 1.2): 1101 and 1102 are elected, 1103 with
    # one vote goes to a runoff for the third seat; one blank ballot is void.
    tabriz = [["1101", "1102"]] * 4 + [["1101"], ["1103"], []]
    for choices in tabriz:
        ok("cast", "--station", "tabriz-001", *[x for c in choices for x in ("--choose", c)], *db)
    ok("cast", "--station", "isfahan-arm-1", "--choose", "2201", *db)
    code, _, err = cli(capsys, "tally", *db)
    assert code == 1
    assert "open" in err
    ok("polls", "close", "--all", *db)
    code, _, err = cli(capsys, "cast", "--station", "tabriz-002", "--choose", "1101", *db)
    assert code == 1
    assert "ballot refused" in err
    code, _, err = cli(capsys, "tally", "--cores", "1", *db, "--keys-dir", str(tmp_path / "no"))
    assert code == 1
    assert "not sealed into the national log" in err  # the authority's key seals them
    assert "--keys-dir" in err
    ok("tally", "--cores", "1", *db, *keys)
    ok("board", "checkpoint", *db, *keys)

    def decrypt(g: int) -> None:
        process = run_guardian(server, tokens / f"guardian-{g}.token",
                               tmp_path / f"guardian-{g}", "decrypt")  # fmt: skip
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err

    with served(db[1], "test-2024", tmp_path / "keys") as server:
        decrypt(2)
        code, _, err = cli(capsys, "decrypt", "--combine", *db)
        assert code == 1
        assert "missing" in err
        for g in (4, 5):
            decrypt(g)
    code, _, err = cli(capsys, "decrypt", "--key", str(tmp_path / "guardian-1" / "guardian.key"))
    assert code == 2  # the guardians decrypt with their own program
    ok("decrypt", "--combine", *db)
    count = json.loads(ok("count", "--json", *db))
    result = count["districts"]["tabriz"]
    assert result["valid"] == 6
    assert result["void"] == 1
    assert result["rounds"][0]["tally"] == {"1101": 5, "1102": 4, "1103": 1, "1104": 0, "1105": 0}
    assert result["elected"] == ["1101", "1102"]
    assert result["runoff"] == ["1103"]
    assert count["districts"]["armenians-south"]["elected"] == ["2201"]
    round2_keys = ["--keys-dir", str(tmp_path / "keys2")]
    out = ok("runoff", *round2_keys, "--election", "test-2024", *db)
    assert "test-2024-r2" in out
    ok("publish", str(tmp_path / "record"), "--election", "test-2024", *db, *keys)
    assert check_record(tmp_path / "record") == []
    assert "Tabriz" in (tmp_path / "record" / "results.md").read_text(encoding="utf-8")


def test_roll_import_reports_added_and_rejected_rows(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(small_manifest_data()), encoding="utf-8")
    db = ["--db", f"sqlite:///{tmp_path / 'e.db'}"]
    assert (
        cli(capsys, "election", "init", str(manifest), *db, "--keys-dir", str(tmp_path / "k"))[0]
        == 0
    )
    roll = tmp_path / "roll.csv"
    roll.write_text(
        "national_code,birth_date,district\n"
        "0012345679,1980-01-01,tabriz\n"
        "0012345676,1980-01-01,tabriz\n"
        "0012345679,1980-01-01,tabriz\n",
        encoding="utf-8",
    )
    code, _, err = cli(capsys, "roll", "import", str(roll), *db)
    assert code == 0, err
    assert "1 voters added" in err
    assert "line 3: invalid national code" in err
    assert "line 4: duplicate national code" in err
    code, _, err = cli(capsys, "roll", "import", str(tmp_path / "none.csv"), *db)
    assert code == 1
    assert "no such roll file" in err


def test_the_ballot_commands_refuse_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`ballot encrypt | cast | challenge` (issue 14, item 6): every refusal is one line."""
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(small_manifest_data()), encoding="utf-8")
    db = ["--db", f"sqlite:///{tmp_path / 'e.db'}"]
    keys = ["--keys-dir", str(tmp_path / "keys")]
    tokens = tmp_path / "tokens"
    code, out, err = cli(capsys, "election", "init", str(manifest), *keys, *db)
    assert code == 0, err
    add_witnesses(capsys, out, tmp_path / "witnesses", keys)
    code, _, err = cli(capsys, "election", "ceremony", "--tokens-dir", str(tokens), *db)
    assert code == 0, err
    with served(db[1], "test-2024", tmp_path / "keys") as server:
        guardians_hold_ceremony(server, tokens, tmp_path, 3)
    code, _, err = cli(capsys, "polls", "open", "--all", *db)
    assert code == 0, err
    sealed = tmp_path / "b.json"
    encrypt = ["ballot", "encrypt", "--station", "tabriz-001", "--output", str(sealed), *db]

    def refused(*args: str) -> str:
        code, _, err = cli(capsys, *args)
        assert code == 1, err
        assert len(err.strip().splitlines()) == 1
        return err

    assert "not in the manifest" in refused("ballot", "encrypt", "--station", "nowhere",
                                            "--output", str(tmp_path / "x"), *db)  # fmt: skip
    assert "4 names for 3 seats" in refused(
        *encrypt, *[x for c in ("1101", "1102", "1103", "1104") for x in ("--choose", c)]
    )
    code, out, err = cli(capsys, *encrypt, "--choose", "1101")
    assert code == 0, err
    assert "tracking code" in out
    assert "never overwritten" in refused(*encrypt, "--choose", "1102")
    doc = json.loads(sealed.read_text(encoding="utf-8"))
    tampered = tmp_path / "tampered.json"
    doc["ballot"]["station"] = "tabriz-002"
    tampered.write_text(json.dumps(doc), encoding="utf-8")
    tampered.chmod(0o600)
    assert "not the one whose tracking code was shown" in refused(
        "ballot", "cast", str(tampered), *db
    )
    # with the code recomputed for the moved ballot, its proofs still give it away
    engine = make_engine(db[1])
    base_hash = bytes.fromhex(Store(engine).election("test-2024").base_hash)  # type: ignore[union-attr]
    engine.dispose()
    doc["tracking_code"] = code_of(base_hash, doc["ballot"])
    tampered.write_text(json.dumps(doc), encoding="utf-8")
    assert "does not verify" in refused("ballot", "cast", str(tampered), *db)
    sealed.chmod(0o644)
    assert "may be read by others" in refused("ballot", "challenge", str(sealed), *db)
    sealed.chmod(0o600)
    assert "No such file" in refused("ballot", "cast", str(tmp_path / "missing.json"), *db)
    code, out, err = cli(capsys, "ballot", "challenge", str(sealed), "--json", *db)
    assert code == 0, err
    assert json.loads(out)["state"] == "challenged"
