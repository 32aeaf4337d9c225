"""A faction's mix server as its own program (issue 16, item 2): `verivote mixer init` against
the authority's real server; its folder (token 0600, pinned keys, log) and its one-line
refusals. `verivote mixer mix` after a real polling day of written ballots: every mixer in
turn, the mix decrypted to what the law counts; a refusal of a mix-input that is not the cast
ballots and of a tampered shuffle on the signed board."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.manifests import small_manifest_data
from tests.parties_fixtures import Authority, E, authority, held_ceremony
from tests.sealing_helpers import authority_key
from tests.store_fixtures import sqlite_database
from verivote.cli.app import run
from verivote.crypto.keyfile import read_key_share, write_private
from verivote.crypto.written import canonical_written, encrypt_for_station, encrypt_written
from verivote.election.district_logs import seal_districts
from verivote.election.mixers import issue_mixer_tokens
from verivote.election.mixing import (
    close_mix,
    combine_mix,
    decrypt_mix_as_guardian,
    entry_rows,
    make_shuffle_entry,
    mix_state,
)
from verivote.election.polls import close_polls, open_polls
from verivote.election.publishing import make_checkpoint
from verivote.election.service import cast
from verivote.election.tally import run_tally
from verivote.model.ballots import Ballot
from verivote.model.canonical import canonical_json
from verivote.rules.majlis import tally_majlis


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


# --- `verivote mixer mix` after a real polling day ---------------------------------------------

WRITTEN = [
    ("tabriz-001", ["1101", "1102"]),
    ("tabriz-002", ["1103", "1103", "0042"]),  # encrypted in its canonical form: ["1103"]
    ("tabriz-003", []),
    ("tabriz-001", ["1105", "1104", "1101"]),
    ("isfahan-arm-1", ["2201"]),
]
STATIONS = ["tabriz-001", "tabriz-002", "tabriz-003", "isfahan-arm-1"]
AS_WRITTEN = ("tabriz-002", ["1102", "1102", "9"])
"""Cast by a device that encrypts the codes as written (`encrypt_written`): still a ballot."""


@pytest.fixture
def voted(tmp_path: Path) -> Iterator[Authority]:
    """Tabriz counted by mixnet (mixed by every faction, in manifest order): the guardians'
    ceremony as processes, a polling day of written ballots cast through the service, the
    polls closed."""
    data = small_manifest_data()
    data["districts"][0]["mode"] = "mixnet"
    with sqlite_database(tmp_path) as url, authority(url, tmp_path, data) as a:
        held_ceremony(a)
        ctx = a.ctx
        assert ctx.key is not None
        open_polls(a.store, ctx, STATIONS)
        for station, codes in WRITTEN:
            cast(a.store, ctx, encrypt_for_station(ctx.manifest, ctx.key, ctx.base_hash,
                                                   station, codes)[0])  # fmt: skip
        station, codes = AS_WRITTEN
        cast(a.store, ctx, encrypt_written(ctx.manifest, ctx.key, ctx.base_hash, station, codes)[0])
        close_polls(a.store, ctx, STATIONS)
        yield a


def _mixers_ready(a: Authority, capsys: pytest.CaptureFixture[str]) -> dict[str, Path]:
    folders = {}
    for mixer, token in mixer_tokens(a).items():
        folder = a.base / f"mixer-{mixer}"
        code, _, err = cli(capsys, "mixer", "init", "--server", a.server, "--token-file",
                           str(token), "--dir", str(folder), "--mixer", mixer)  # fmt: skip
        assert code == 0, err
        folders[mixer] = folder
    return folders


def _mix(a: Authority, capsys: pytest.CaptureFixture[str], folder: Path) -> tuple[int, str, str]:
    """The mixer's turn: on the board as signed and cosigned now."""
    make_checkpoint(a.store, a.ctx, a.keys)
    return cli(capsys, "mixer", "mix", "--dir", str(folder), "--json")


def _refused_in_one_line(err: str, folder: Path, reason: str) -> None:
    assert err.startswith("verivote: error: "), err
    assert reason in err
    assert len(err.strip().splitlines()) == 1
    assert reason in (folder / "mixer.log").read_text(encoding="utf-8")


def _tabriz_rows(a: Authority) -> list[list[list[str]]]:
    rows = []
    for _, raw in a.store.entries_of_type(E, "ballot-cast", log="tabriz"):  # its district's log
        ballot = json.loads(raw)["ballot"]
        if ballot["district"] == "tabriz":
            rows.append([[c["alpha"], c["beta"]] for c in ballot["written"]["ciphertexts"]])
    return rows


def test_every_mixer_mixes_in_turn_and_the_mix_decrypts_to_the_law(
    voted: Authority, capsys: pytest.CaptureFixture[str]
) -> None:
    a = voted
    run_tally(a.store, a.ctx, processes=1, signer=authority_key(a.keys, a.ctx))
    folders = _mixers_ready(a, capsys)
    assert list(folders) == a.ctx.manifest.mixers() == ["principlists", "reformists",
                                                         "independents"]  # fmt: skip
    for n, folder in enumerate(folders.values(), start=1):
        code, out, err = _mix(a, capsys, folder)
        assert code == 0, err
        assert f"shuffle {n} of tabriz (5 ballots" in (folder / "mixer.log").read_text("utf-8")
        posted = json.loads(out.strip().splitlines()[-1])["posted"]
        assert list(posted) == ["tabriz"]
        # a second run in the same turn posts nothing: it finds its shuffle on the board
        code, out, err = _mix(a, capsys, folder)
        assert code == 0, err
        assert json.loads(out.strip().splitlines()[-1])["posted"] == {}
    close_mix(a.store, a.ctx)
    # after the close a mixer refuses, in one line
    code, _, err = _mix(a, capsys, folders["principlists"])
    assert code == 1
    _refused_in_one_line(err, folders["principlists"], "the mix is closed on the signed board")
    ctx = a.ctx
    for g in (1, 3):  # a quorum of the 3 guardians, each with its own key share
        decrypt_mix_as_guardian(a.store, ctx, read_key_share(a.folder(g) / "guardian.key"))
    decoded = combine_mix(a.store, ctx)["tabriz"]
    (_, raw), = a.store.entries_of_type(E, "mix-decryption")  # fmt: skip
    ballots = json.loads(raw)["ballots"]
    tabriz = ctx.manifest.district("tabriz")
    honest = [canonical_written(tabriz, c) for s, c in WRITTEN if s.startswith("tabriz")]
    assert sorted(ballots) == sorted([*honest, AS_WRITTEN[1]])
    codes = [c.code for c in tabriz.candidates]
    voters = [Ballot(tuple(c)) for s, c in [*WRITTEN, AS_WRITTEN] if s.startswith("tabriz")]
    law = tally_majlis(voters, codes, tabriz.seats)
    assert decoded["votes"] == law.votes
    assert (decoded["ballots"], decoded["blank"]) == (5, law.void) == (5, 1)


def test_a_mixer_refuses_a_mix_input_that_is_not_the_cast_ballots(
    voted: Authority, capsys: pytest.CaptureFixture[str]
) -> None:
    """The authority publishes a mix-input with one cast ballot left out (and signs it): the
    first mixer recomputes it from the cast ballots and refuses to mix."""
    a = voted
    ctx = a.ctx
    rows = _tabriz_rows(a)
    assert len(rows) == 5
    seal_districts(a.store, ctx, authority_key(a.keys, ctx))  # the board's positions, then
    doc = {"type": "mix-input", "election": ctx.base_hash.hex(), "district": "tabriz",
           "cutoff": a.store.merged_size(E), "width": 1, "rows": rows[:-1]}  # fmt: skip
    index = a.store.position(E, a.store.append_entry(E, canonical_json(doc), "mix-input"))
    folders = _mixers_ready(a, capsys)
    code, out, err = _mix(a, capsys, folders["principlists"])
    assert (code, out) == (1, "")
    _refused_in_one_line(
        err, folders["principlists"],
        f"the mix-input of district tabriz (board entry {index}) is not the written "
        "ciphertexts of its 5 valid cast ballots",
    )  # fmt: skip
    assert a.store.entries_of_type(E, "shuffle") == []


@pytest.mark.parametrize("tamper", ["replace", "drop", "swap"])
def test_a_mixer_refuses_a_tampered_shuffle_before_it(
    voted: Authority, capsys: pytest.CaptureFixture[str], tamper: str
) -> None:
    """The second shuffle reaches the board tampered after its proof was made (as only a
    dishonest server could put it there): the third mixer checks the chain and refuses."""
    a = voted
    run_tally(a.store, a.ctx, processes=1, signer=authority_key(a.keys, a.ctx))
    folders = _mixers_ready(a, capsys)
    code, _, err = _mix(a, capsys, folders["principlists"])
    assert code == 0, err
    ctx = a.ctx
    assert ctx.key is not None
    chain = mix_state(a.store, ctx).districts["tabriz"]
    rows = entry_rows(ctx.key.group, chain.last_entry)
    entry = make_shuffle_entry(ctx.key, ctx.base_hash, "tabriz", "reformists", 2,
                               chain.last_entry, rows)  # fmt: skip
    out_rows = entry["rows"]
    if tamper == "replace":
        out_rows[0] = out_rows[1]  # one ballot replaced by a copy of another
    elif tamper == "drop":
        del out_rows[0]
    else:
        out_rows[0], out_rows[1] = out_rows[1], out_rows[0]
    index = a.store.position(E, a.store.append_entry(E, canonical_json(entry), "shuffle"))
    code, out, err = _mix(a, capsys, folders["independents"])
    assert (code, out) == (1, "")
    _refused_in_one_line(err, folders["independents"], f"board entry {index}, shuffle of tabriz: ")
    assert len(a.store.entries_of_type(E, "shuffle")) == 2
