"""A faction's mix server as its own program (issue 16, item 2): `verivote mixer init` against
the authority's real server; its folder (token 0600, pinned keys, log) and its one-line
refusals."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.parties_fixtures import Authority, authority
from tests.store_fixtures import sqlite_database
from verivote.cli.app import run
from verivote.crypto.keyfile import write_private
from verivote.election.mixers import issue_mixer_tokens


@pytest.fixture
def auth(tmp_path: Path) -> Iterator[Authority]:
    with sqlite_database(tmp_path) as url, authority(url, tmp_path) as a:
        yield a


def mixer_tokens(a: Authority) -> dict[str, Path]:
    """Every mixer's token, written 0600 where the authority hands it over."""
    paths = {}
    for mixer, token in issue_mixer_tokens(a.store, a.ctx).items():
        path = a.tokens / f"mixer-{mixer}.token"
        write_private(path, token + "\n")
        paths[mixer] = path
    return paths


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_mixer_init_keeps_its_token_and_pins_the_keys(
    auth: Authority, capsys: pytest.CaptureFixture[str]
) -> None:
    tokens = mixer_tokens(auth)
    folder = auth.base / "mixer-reformists"
    args = ["mixer", "init", "--server", auth.server, "--token-file", str(tokens["reformists"]),
            "--dir", str(folder), "--mixer", "reformists"]  # fmt: skip
    code, out, err = cli(capsys, *args)
    assert code == 0, err
    assert "mixer reformists of election test-2024 ready" in out
    token = folder / "token"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert token.read_text(encoding="utf-8") == tokens["reformists"].read_text(encoding="utf-8")
    pinned = (folder / "trust").read_text(encoding="utf-8").split()
    published = (auth.keys / "verifiers").read_text(encoding="utf-8").split()
    assert pinned == published
    assert pinned[0].startswith("verivote/test-2024+")
    state = json.loads((folder / "mixer.json").read_text(encoding="utf-8"))
    assert state["mixer"] == "reformists"
    assert state["base_hash"] == auth.ctx.base_hash.hex()
    assert "ready" in (folder / "mixer.log").read_text(encoding="utf-8")
    # run again, it changes nothing
    code, _, err = cli(capsys, *args)
    assert code == 0, err
    assert (folder / "trust").read_text(encoding="utf-8").split() == pinned


def test_mixer_init_refuses_in_one_line(
    auth: Authority, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    tokens = mixer_tokens(auth)
    forged = tmp_path / "forged.token"
    write_private(forged, "not a token\n")
    loose = tmp_path / "loose.token"
    loose.write_text("x\n", encoding="utf-8")
    loose.chmod(0o644)
    other = auth.base / "mixer-other"
    ok = ["--server", auth.server, "--token-file", str(tokens["principlists"]), "--dir",
          str(other), "--mixer", "principlists"]  # fmt: skip
    assert cli(capsys, "mixer", "init", *ok)[0] == 0
    cases = [
        (["--token-file", str(tokens["principlists"]), "--mixer", "reformists"],
         "this token is mixer 'principlists''s, not 'reformists''s"),
        (["--token-file", str(forged), "--mixer", "reformists"], "unknown mixer token"),
        (["--token-file", str(loose), "--mixer", "reformists"], "must be mode 0600"),
        (["--token-file", str(tokens["reformists"]), "--mixer", "reformists", "--dir",
          str(other)], f"{other} is the folder of mixer principlists"),
        (["--token-file", str(tokens["reformists"]), "--mixer", "reformists", "--server",
          "http://127.0.0.1:9"], "cannot reach the server"),
    ]  # fmt: skip
    for extra, message in cases:
        base = {"--server": auth.server, "--dir": str(auth.base / "mixer-r")}
        for i in range(0, len(extra), 2):
            base[extra[i]] = extra[i + 1]
        argv = [x for pair in base.items() for x in pair]
        code, _, err = cli(capsys, "mixer", "init", *argv)
        assert code == 1, (extra, err)
        assert message in err, (extra, err)
        assert len(err.strip().splitlines()) == 1
    for help_args in (["mixer", "--help"], ["mixer", "init", "--help"]):
        code, out, _ = cli(capsys, *help_args)
        assert code == 0
        assert "--help" in out
