"""The voter's tracker from a published record's static files (issue 17, item 2): every ballot
found by its code through `track/` and its two inclusion proofs checked from tiles and byte
ranges, from a folder or a static HTTP server; anything changed on the way is refused."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.verify_fixtures import VerifyElection, board_lines
from verivote.board.code_index import code_field, shard_path
from verivote.board.note import generate_signer
from verivote.board.static_track import TrackError, dir_fetch, http_fetch, track
from verivote.cli.app import app, run


def _codes(record: Path) -> list[str]:
    return [c for c in (code_field(json.loads(line)) for line in board_lines(record)) if c]


def _authority(record: Path) -> str:
    return (record / "log" / "keys").read_text(encoding="utf-8").split("\n")[0]


def test_every_ballot_of_the_record_is_found_and_proved(verify_election: VerifyElection) -> None:
    record = verify_election.round1
    codes = _codes(record)
    assert len(codes) > 10
    fetch = dir_fetch(record)
    for code in codes:
        found = track(fetch, code, _authority(record))
        assert found.proof is not None  # a ballot of a district log: two proofs
        assert found.log in ("tabriz", "armenians-south")
        assert code_field(json.loads(found.proof.entry)) == code


@pytest.fixture
def served(verify_election: VerifyElection) -> Iterator[str]:
    """The round 1 record on a static HTTP server on 127.0.0.1 (one that ignores Range)."""
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(verify_election.round1)
    )
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_tracker_works_over_a_static_web_server(
    served: str, verify_election: VerifyElection
) -> None:
    record = verify_election.round1
    code = _codes(record)[-1]
    found = track(http_fetch(served), code, _authority(record))
    assert found.state in ("cast", "challenged")
    result = CliRunner().invoke(app, ["track", code, "--record", served])
    assert result.exit_code == 0, result.output
    assert "the proofs check" in result.output


def _copy(verify_election: VerifyElection, tmp_path: Path) -> Path:
    return Path(shutil.copytree(verify_election.round1, tmp_path / "record"))


def test_a_changed_tile_is_refused(verify_election: VerifyElection, tmp_path: Path) -> None:
    record = _copy(verify_election, tmp_path)
    code = _codes(record)[0]
    line = json.loads(
        next(r for r in (record / shard_path(code)).read_bytes().split(b"\n") if code.encode() in r)
    )
    tile_dir = record / "districts" / line["log"] / "tile" / "0"
    for tile in [p for p in tile_dir.rglob("*") if p.is_file()]:
        data = bytearray(tile.read_bytes())
        data[0] ^= 1
        tile.write_bytes(bytes(data))
    with pytest.raises(TrackError, match="do not check"):
        track(dir_fetch(record), code, _authority(record))


def test_an_index_pointing_at_another_ballot_is_refused(
    verify_election: VerifyElection, tmp_path: Path
) -> None:
    record = _copy(verify_election, tmp_path)
    first, second = _codes(record)[:2]
    shard = record / shard_path(first)
    other = json.loads(
        next(
            r
            for r in (record / shard_path(second)).read_bytes().split(b"\n")
            if second.encode() in r
        )
    )
    lines = []
    for raw in shard.read_bytes().split(b"\n")[:-1]:
        doc = json.loads(raw)
        if doc["code"] == first:
            doc = {**other, "code": first}
        lines.append(json.dumps(doc).encode())
    shard.write_bytes(b"".join(r + b"\n" for r in lines))
    with pytest.raises(TrackError, match="not the ballot of this code"):
        track(dir_fetch(record), first, _authority(record))


def test_an_index_line_naming_a_path_outside_the_record_is_refused(
    verify_election: VerifyElection, tmp_path: Path
) -> None:
    """The index comes from a mirror: its log names a folder of the record, never a path."""
    record = _copy(verify_election, tmp_path)
    code = _codes(record)[0]
    shard = record / shard_path(code)
    lines = []
    for raw in shard.read_bytes().split(b"\n")[:-1]:
        doc = json.loads(raw)
        if doc["code"] == code:
            doc["log"] = "../log"
        lines.append(json.dumps(doc).encode())
    shard.write_bytes(b"".join(r + b"\n" for r in lines))
    with pytest.raises(TrackError, match="names no log of the record"):
        track(dir_fetch(record), code, _authority(record))
    with pytest.raises(TrackError, match="64 hexadecimal digits"):
        track(dir_fetch(record), "../" + code[3:], _authority(record))


def test_a_checkpoint_not_signed_by_the_pinned_authority_is_refused(
    verify_election: VerifyElection,
) -> None:
    record = verify_election.round1
    _, stranger = generate_signer("verivote/test-2024")
    with pytest.raises(TrackError, match="not the authority's"):
        track(dir_fetch(record), _codes(record)[0], stranger)


def test_unknown_and_malformed_codes_fail_in_one_line(
    verify_election: VerifyElection, capsys: pytest.CaptureFixture[str]
) -> None:
    record = str(verify_election.round1)
    unknown = "0" * 64
    for code, says in ((unknown, "no ballot with code"), ("xyz", "64 hexadecimal digits")):
        assert run(["track", code, "--record", record]) == 1
        err = capsys.readouterr().err
        assert says in err
        assert len(err.strip().splitlines()) == 1
