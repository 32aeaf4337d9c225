"""The witness program (issue 14, item 3): its folder, C2SP tlog-witness add-checkpoint in
process and over HTTP from a real `verivote witness serve` process, and the authority's side
(`board add-witness`, `make_checkpoint`), which never holds a witness's secret."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.manifests import small_manifest_data
from verivote.board.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from verivote.board.merkle import MerkleLog
from verivote.board.note import generate_signer
from verivote.board.record import check_record
from verivote.cli.app import run
from verivote.election.polls import open_polls
from verivote.election.publishing import (
    add_witness,
    create_signers,
    export_record,
    local_witnesses,
    make_checkpoint,
    registered_witnesses,
    verifier_keys,
)
from verivote.election.service import ElectionError, init_election, load_context
from verivote.model.manifest import parse_manifest
from verivote.parties import witness as party
from verivote.store import Store, make_engine, migrate

ORIGIN = "verivote/test-2024"
AUTHORITY, AUTHORITY_KEY = generate_signer(ORIGIN)
IMPOSTOR, _ = generate_signer(ORIGIN)  # the same name, another key
OTHER, OTHER_KEY = generate_signer("verivote/other-log")
HISTORY = [b"entry %d" % i for i in range(12)]


def _log(entries: list[bytes]) -> MerkleLog:
    log = MerkleLog()
    for entry in entries:
        log.append_entry(entry)
    return log


def _note(log: MerkleLog, size: int, signer: str = AUTHORITY, origin: str = ORIGIN) -> str:
    return sign_checkpoint(Checkpoint(origin, size, log.root(size)), [signer])


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "witness"
    party.init_witness(folder, "witness/reformists", [AUTHORITY_KEY])
    return folder


# --- the folder -------------------------------------------------------------------------------


def test_a_witness_folder_holds_its_key_state_and_log(folder: Path) -> None:
    key_file = folder / party.KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text(encoding="utf-8").startswith("PRIVATE+KEY+witness/reformists+")
    assert party.verifier_key(folder).startswith("witness/reformists+")
    assert party.log_keys(folder) == [AUTHORITY_KEY]
    assert json.loads((folder / party.STATE_FILE).read_text(encoding="utf-8")) == {
        "type": "witness-state",
        "checkpoints": {},
    }
    assert party.last_cosigned(folder) == {}
    log = (folder / party.LOG_FILE).read_text(encoding="utf-8")
    assert "created" in log
    assert "PRIVATE" not in log
    os.chmod(key_file, 0o644)
    with pytest.raises(party.WitnessError, match="mode 0644"):
        party.verifier_key(folder)


def test_witness_folders_are_refused_when_they_cannot_be_right(
    folder: Path, tmp_path: Path
) -> None:
    with pytest.raises(party.WitnessError, match="already holds a witness key"):
        party.init_witness(folder, "witness/x", [AUTHORITY_KEY])
    keys = tmp_path / "keys"
    create_signers(keys, parse_manifest(small_manifest_data()))
    with pytest.raises(party.WitnessError, match="authority's keys folder"):
        party.init_witness(keys, "witness/x", [AUTHORITY_KEY])
    with pytest.raises(party.WitnessError, match="not a verifier key"):
        party.init_witness(tmp_path / "a", "witness/x", ["nonsense"])
    with pytest.raises(party.WitnessError, match="bad witness name"):
        party.init_witness(tmp_path / "b", "witness x", [AUTHORITY_KEY])
    with pytest.raises(party.WitnessError, match="not a witness folder"):
        party.verifier_key(tmp_path / "nowhere")
    assert party.add_log_key(folder, OTHER_KEY)
    assert not party.add_log_key(folder, OTHER_KEY)
    assert party.log_keys(folder) == [AUTHORITY_KEY, OTHER_KEY]


# --- add-checkpoint, in process ---------------------------------------------------------------


def _ask(folder: Path, old: int, proof: list[bytes], note: str) -> party.Answer:
    return party.handle_request(folder, party.format_request(old, proof, note))


def test_add_checkpoint_answers_as_tlog_witness(folder: Path) -> None:
    log = _log(HISTORY)
    first = _ask(folder, 0, [], _note(log, 4))
    assert first.status == 200
    assert first.text.startswith("\u2014 witness/reformists ")
    key = party.verifier_key(folder)
    assert open_checkpoint(_note(log, 4) + first.text, [key])[1] == ["witness/reformists"]
    # the witness's state is on disk: size 4
    assert party.last_cosigned(folder)[ORIGIN] == Checkpoint(ORIGIN, 4, log.root(4))
    conflict = _ask(folder, 0, [], _note(log, 9))
    assert (conflict.status, conflict.text, conflict.content_type) == (
        409, "4\n", party.SIZE_CONTENT_TYPE,
    )  # fmt: skip
    assert _ask(folder, 4, log.consistency_proof(4, 9), _note(log, 9)).status == 200
    assert _ask(folder, 9, [], _note(log, 9)).status == 200  # the same tree again
    rewritten = _log([*HISTORY[:3], b"changed", *HISTORY[4:]])
    inconsistent = _ask(folder, 9, rewritten.consistency_proof(9, 12), _note(rewritten, 12))
    assert inconsistent.status == 422
    assert "inconsistent" in inconsistent.reason
    fork = _ask(folder, 9, [], _note(rewritten, 9))
    assert (fork.status, "fork" in fork.reason) == (422, True)
    assert _ask(folder, 9, [], _note(log, 5)).status == 400  # smaller than old
    assert _ask(folder, 9, [], _note(log, 9, signer=IMPOSTOR)).status == 403
    unknown = _note(log, 9, signer=OTHER, origin="verivote/other-log")
    assert _ask(folder, 0, [], unknown).status == 404
    assert party.last_cosigned(folder)[ORIGIN].size == 9
    lines = (folder / party.LOG_FILE).read_text(encoding="utf-8").splitlines()
    assert [line.split()[1] for line in lines].count("cosigned") == 3
    assert [line.split()[1] for line in lines].count("refused") == 6
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"old 0\n", "no empty line"),
        (b"old 00\n\n", "'old <size>'"),
        (b"new 1\n\n", "'old <size>'"),
        (b"old 3\nAAAA\n\n", "proof line 1"),
        (b"old 0\n" + b"A" * 43 + b"=\n\n", "from old size 0 must be empty"),
        (b"old 0\n\nhello", "not a signed note"),
        (b"\xff\n\n", "not UTF-8"),
        (b"old 0\n\n" + b"x" * (party.MAX_BODY + 1), "larger than"),
    ],
)
def test_malformed_requests_get_400(folder: Path, body: bytes, message: str) -> None:
    answer = party.handle_request(folder, body)
    assert answer.status == 400
    assert message in answer.reason


# --- the authority's side ---------------------------------------------------------------------


@dataclass
class Election:
    store: Store
    keys: Path
    authority_key: str


@pytest.fixture
def election(tmp_path: Path) -> Iterator[Election]:
    engine = make_engine(f"sqlite:///{tmp_path / 'e.db'}")
    migrate(engine)
    store = Store(engine)
    manifest = parse_manifest(small_manifest_data())
    keys = tmp_path / "keys"
    [authority] = create_signers(keys, manifest)
    init_election(store, manifest)
    yield Election(store, keys, authority)
    engine.dispose()


def _grow(election: Election, stations: list[str]) -> None:
    open_polls(election.store, load_context(election.store, "test-2024"), stations)


def test_add_witness_refuses_what_it_cannot_use(election: Election, tmp_path: Path) -> None:
    folder = tmp_path / "w1"
    key = party.init_witness(folder, "witness/a", [election.authority_key])
    other = party.init_witness(tmp_path / "w2", "witness/b", [election.authority_key])
    with pytest.raises(ElectionError, match="not a valid verifier key"):
        add_witness(election.keys, "http://127.0.0.1:1", "PRIVATE+KEY+x")
    with pytest.raises(ElectionError, match="http://, https:// or file://"):
        add_witness(election.keys, "ftp://example.org", key)
    with pytest.raises(ElectionError, match="authority's own key"):
        add_witness(election.keys, "http://127.0.0.1:1", election.authority_key)
    with pytest.raises(ElectionError, match="never the authority's keys folder"):
        add_witness(election.keys, election.keys.as_uri(), key)
    with pytest.raises(ElectionError, match="holds the key"):
        add_witness(election.keys, folder.as_uri(), other)
    add_witness(election.keys, folder.as_uri(), key)
    with pytest.raises(ElectionError, match="already registered"):
        add_witness(election.keys, "http://127.0.0.1:1", key)
    assert [w.name for w in registered_witnesses(election.keys)] == ["witness/a"]
    assert verifier_keys(election.keys) == [election.authority_key, key]


def test_an_unreachable_witness_is_reported(election: Election) -> None:
    _, key = generate_signer("witness/away")
    add_witness(election.keys, f"http://127.0.0.1:{_free_port()}", key)
    result = make_checkpoint(election.store, load_context(election.store, "test-2024"),
                             election.keys)  # fmt: skip
    assert result.witnesses == []
    [refusal] = result.refusals
    assert refusal.startswith("witness/away: unreachable: cannot reach http://127.0.0.1:")


def test_a_witness_that_is_down_loses_no_earlier_cosignature(
    election: Election, tmp_path: Path
) -> None:
    local_witnesses(election.keys, tmp_path / "w", parse_manifest(small_manifest_data()))
    ctx = load_context(election.store, "test-2024")
    _grow(election, ["tabriz-001"])
    first = make_checkpoint(election.store, ctx, election.keys)
    assert len(first.witnesses) == 3
    (tmp_path / "w" / "reformists").rename(tmp_path / "away")
    again = make_checkpoint(election.store, ctx, election.keys)
    assert (again.witnesses, again.kept) == (
        ["witness/principlists", "witness/independents"],
        ["witness/reformists"],
    )
    [refusal] = again.refusals
    assert refusal.startswith("witness/reformists: unreachable: no witness folder")
    assert election.store.latest_checkpoint("test-2024") == (first.size, again.note)
    assert open_checkpoint(again.note, verifier_keys(election.keys))[1] == [
        "verivote/test-2024", "witness/principlists", "witness/reformists",
        "witness/independents",
    ]  # fmt: skip
    _grow(election, ["tabriz-002"])  # a new tree: nothing earlier to keep
    later = make_checkpoint(election.store, ctx, election.keys)
    assert (len(later.witnesses), later.kept, len(later.refusals)) == (2, [], 1)


# --- over HTTP, from a real process -----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Served:
    folder: Path
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _serve(folder: Path, port: int) -> Served:
    process = subprocess.Popen(
        [sys.executable, "-m", "verivote", "witness", "serve", "--dir", str(folder),
         "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the witness stopped: {process.stderr.read()!r}")  # type: ignore[union-attr]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return Served(folder, port, process)
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("the witness did not start listening")


def _stop(served: Served) -> None:
    served.process.send_signal(signal.SIGTERM)
    try:
        served.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        served.process.kill()
        served.process.wait()


@pytest.fixture
def served(folder: Path) -> Iterator[Served]:
    server = _serve(folder, _free_port())
    yield server
    _stop(server)


def _post(url: str, body: bytes) -> tuple[int, str, bytes]:
    request = urllib.request.Request(url + "/add-checkpoint", data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers["Content-Type"], error.read()


def test_the_served_witness_answers_every_case(served: Served) -> None:
    log = _log(HISTORY)
    status, _, body = _post(served.url, party.format_request(0, [], _note(log, 5)))
    assert status == 200
    assert body.decode().startswith("\u2014 witness/reformists ")
    status, content_type, body = _post(served.url, party.format_request(0, [], _note(log, 8)))
    assert (status, content_type, body) == (409, "text/x.tlog.size", b"5\n")
    status, _, body = _post(served.url, party.format_request(5, [], _note(log, 5, IMPOSTOR)))
    assert status == 403
    assert b"not signed by the log" in body
    rewritten = _log([b"x", *HISTORY[1:]])
    request = party.format_request(5, rewritten.consistency_proof(5, 8), _note(rewritten, 8))
    status, _, body = _post(served.url, request)
    assert status == 422
    assert b"inconsistent" in body
    assert _post(served.url, b"old five\n\n")[0] == 400
    # the client follows the 409 once, with the proof from the size the witness names
    client = party.HttpWitnessClient(served.url)
    line = party.ask_witness(client, party.verifier_key(served.folder), _note(log, 8), 0,
                             lambda old: log.consistency_proof(old, 8))  # fmt: skip
    assert line.startswith("\u2014 witness/reformists ")
    # a restart keeps the state: the witness still knows it cosigned 8, and still refuses
    _stop(served)
    served.process = _serve(served.folder, served.port).process
    status, content_type, body = _post(served.url, party.format_request(0, [], _note(log, 9)))
    assert (status, content_type, body) == (409, "text/x.tlog.size", b"8\n")
    status, _, _ = _post(served.url, party.format_request(8, [], _note(rewritten, 8)))
    assert status == 422
    assert party.last_cosigned(served.folder)[ORIGIN].size == 8


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_an_election_with_served_witnesses_keeps_no_witness_secret(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(small_manifest_data()), encoding="utf-8")
    db = ["--db", f"sqlite:///{tmp_path / 'e.db'}"]
    keys = tmp_path / "keys"
    code, out, err = _cli(capsys, "election", "init", str(manifest), *db, "--keys-dir", str(keys))
    assert code == 0, err
    [authority] = [line.split()[-1] for line in out.splitlines() if "authority key" in line]
    servers: list[Served] = []
    try:
        for faction in ("principlists", "reformists", "independents"):
            folder = tmp_path / "witnesses" / faction
            code, out, err = _cli(capsys, "witness", "init", "--dir", str(folder), "--name",
                                  f"witness/{faction}", "--log-key", authority)  # fmt: skip
            assert code == 0, err
            server = _serve(folder, _free_port())
            servers.append(server)
            code, out, err = _cli(capsys, "board", "add-witness", "--url", server.url,
                                  "--key", out.strip(), "--keys-dir", str(keys))  # fmt: skip
            assert code == 0, err
        store = Store(make_engine(db[1]))
        ctx = load_context(store, "test-2024")
        for stations in (["tabriz-001"], ["tabriz-002", "tabriz-003"]):
            open_polls(store, ctx, stations)
            code, out, err = _cli(capsys, "board", "checkpoint", *db, "--keys-dir", str(keys))
            assert code == 0, err
            assert "cosigned by 3 witness(es)" in err
        # A witness that is down is reported, and the checkpoint fails. Once it is back, the
        # stored checkpoint lacks its cosignature, so the authority asks it with old size 0;
        # it answers 409 with the size it last cosigned, and the authority follows that once.
        _stop(servers[0])
        open_polls(store, ctx, ["isfahan-arm-1"])
        code, out, err = _cli(capsys, "board", "checkpoint", *db, "--keys-dir", str(keys))
        assert code == 1
        assert "witness/principlists: unreachable" in err
        servers[0].process = _serve(servers[0].folder, servers[0].port).process
        code, out, err = _cli(capsys, "board", "checkpoint", *db, "--keys-dir", str(keys))
        assert code == 0, err
        assert "cosigned by 3 witness(es)" in err
        last_lines = (servers[0].folder / party.LOG_FILE).read_text(encoding="utf-8")
        assert [line.split()[1:3] for line in last_lines.splitlines()[-2:]] == [
            ["refused", "409"],
            ["cosigned", "verivote/test-2024"],
        ]
        # the national log: the manifest and a seal at each checkpoint of a grown district
        assert export_record(store, ctx, keys, tmp_path / "record") == 4
        assert check_record(tmp_path / "record") == []
        store.engine.dispose()
    finally:
        for server in servers:
            _stop(server)
    # the authority's folder: its own key and public files, nothing of any witness's
    assert sorted(p.name for p in keys.iterdir()) == ["authority.key", "verifiers",
                                                       "witnesses.json"]  # fmt: skip
    secrets = [(s.folder / party.KEY_FILE).read_text(encoding="utf-8").strip() for s in servers]
    for path in keys.iterdir():
        text = path.read_text(encoding="utf-8")
        assert not any(secret in text for secret in secrets)
        assert text.count("PRIVATE+KEY") == (1 if path.name == "authority.key" else 0)
    witnesses = json.loads((keys / "witnesses.json").read_text(encoding="utf-8"))["witnesses"]
    assert [w["url"] for w in witnesses] == [s.url for s in servers]


def test_witness_commands_answer_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, folder: Path
) -> None:
    code, out, err = _cli(capsys, "witness", "show", "--dir", str(folder))
    assert code == 0, err
    assert out.splitlines() == [
        f"key {party.verifier_key(folder)}",
        f"log {AUTHORITY_KEY}: nothing cosigned yet",
    ]
    _ask(folder, 0, [], _note(_log(HISTORY), 3))
    code, out, err = _cli(capsys, "witness", "show", "--dir", str(folder))
    assert "last cosigned size 3 root " in out
    code, out, err = _cli(capsys, "witness", "add-log", "--dir", str(folder), "--log-key",
                          OTHER_KEY)  # fmt: skip
    assert (code, err.strip()) == (0, "log key pinned")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    for args, message in [
        (["witness", "show", "--dir", str(tmp_path / "none")], "not a witness folder"),
        (["witness", "add-log", "--dir", str(tmp_path / "none"), "--log-key", OTHER_KEY],
         "not a witness folder"),
        (["witness", "serve", "--dir", str(tmp_path / "none")], "not a witness folder"),
        (["witness", "serve", "--dir", str(folder), "--port", str(port)], "cannot listen"),
        (["witness", "init", "--dir", str(folder), "--name", "w", "--log-key", AUTHORITY_KEY],
         "already holds a witness key"),
        (["witness", "init", "--dir", str(tmp_path / "n"), "--name", "w", "--log-key", "bad"],
         "not a verifier key"),
        (["board", "add-witness", "--url", "http://x", "--key", "bad", "--keys-dir",
          str(tmp_path / "k")], "not a valid verifier key"),
        (["board", "add-witness", "--url", "http://x", "--key", AUTHORITY_KEY, "--keys-dir",
          str(tmp_path / "k")], "no verifier keys"),
    ]:  # fmt: skip
        code, _, err = _cli(capsys, *args)
        assert code == 1, err
        assert message in err
        assert len(err.strip().splitlines()) == 1
    busy.close()
    for command in ("init", "add-log", "serve", "show"):
        code, out, _ = _cli(capsys, "witness", command, "--help")
        assert code == 0
        assert "--dir" in out
