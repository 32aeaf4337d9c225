"""The election commands as an operator runs them, on a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.manifests import small_manifest_data
from verivote.board.record import check_record
from verivote.cli.app import run


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


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
    code, out, err = cli(capsys, "cast", "--station", "tabriz-001", "--choose", "1101", *db)
    assert code == 1
    assert "key ceremony has not been held" in err
    assert cli(capsys, "election", "ceremony", "--quorum", "2", *db, *keys)[0] == 0
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
    assert "not yet in a signed checkpoint" in err
    code, out, err = cli(capsys, "board", "checkpoint", *db, *keys)
    assert code == 0, err
    assert out.startswith("verivote/test-2024\n4\n")
    assert "cosigned by 3 witness(es)" in err
    code, out, err = cli(capsys, "board", "prove-inclusion", receipt["code"], *db, *keys)
    assert code == 0, err
    assert json.loads(out)["index"] == 2
    record = tmp_path / "record"
    assert cli(capsys, "board", "export", str(record), *db, *keys)[0] == 0
    assert check_record(record) == []
    assert sorted(p.name for p in (record / "log").iterdir()) == [
        "checkpoint",
        "entries.jsonl",
        "keys",
    ]


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
