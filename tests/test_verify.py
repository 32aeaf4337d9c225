"""The independent verifier: honest records verify; rewritten histories and attacks by someone
holding every signing key of the election are caught by the deep checks; the verifier never
touches the code that ran the election."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.manifests import small_manifest_data
from tests.verify_fixtures import (
    ROUND1,
    VerifyElection,
    copy_record,
    public,
    read_entries,
    recode,
    resign,
    write_entries,
)
from verivote.board.note import generate_signer, sign
from verivote.cli.app import run
from verivote.crypto import wire
from verivote.crypto.ballot import encrypt_ballot
from verivote.crypto.elgamal import ElectionKey, add, encrypt
from verivote.crypto.groups import get_group
from verivote.crypto.hashing import election_base_hash
from verivote.crypto.threshold import partial_decrypt
from verivote.crypto.tracking import tracking_code
from verivote.election.decryption import decryption_context
from verivote.model.canonical import canonical_json
from verivote.model.manifest import parse_manifest
from verivote.verify import CHECKS, RecordError, Report, ballot_pool, verify_record
from verivote.verify.ballot_chunk import Setup, check_chunk

SRC = Path(__file__).resolve().parents[1] / "src" / "verivote"


def _statuses(report: Report) -> dict[str, bool | None]:
    return {c.id: c.passed for c in report.checks}


def _index(docs: list[dict[str, Any]], entry_type: str, **match: Any) -> int:
    """The index of the first entry of `entry_type` whose fields (or ballot fields) match."""
    for i, doc in enumerate(docs):
        fields = doc.get("ballot", doc) if "station" in match else doc
        if doc["type"] == entry_type and all(fields.get(k) == v for k, v in match.items()):
            return i
    raise AssertionError(f"no {entry_type} entry with {match}")


# --- honest records --------------------------------------------------------------------------


def test_an_honest_first_round_passes_every_check(verify_election: VerifyElection) -> None:
    report = verify_record(verify_election.round1)
    assert report.valid, report.to_json()
    assert [c.id for c in report.checks] == list(CHECKS)
    assert all(c.passed for c in report.checks)
    items = {c.id: c.items for c in report.checks}
    assert items["ballots"] == 12
    assert items["challenged"] == 1
    assert items["decryption"] == 8  # 4 guardians × 2 districts
    assert items["runoff"] == 0
    assert report.ballots_per_second > 0


def test_the_report_has_the_published_json_form(verify_election: VerifyElection) -> None:
    doc = verify_record(verify_election.round1).to_json()
    assert set(doc) == {"valid", "checks", "ballots_per_second"}
    assert doc["valid"] is True
    for check in doc["checks"]:
        assert set(check) == {"id", "name", "passed", "items", "failures"}
        assert check["passed"] is True
    assert json.loads(json.dumps(doc)) == doc


def test_a_second_round_passes_with_its_first(verify_election: VerifyElection) -> None:
    report = verify_record(verify_election.round2, previous=verify_election.round1)
    assert report.valid, report.to_json()
    assert all(c.passed for c in report.checks)
    assert report.check("runoff").items == 1


def test_without_the_first_round_the_runoff_check_is_skipped(
    verify_election: VerifyElection,
) -> None:
    report = verify_record(verify_election.round2)
    runoff = report.check("runoff")
    assert runoff.passed is None
    assert runoff.skipped is not None
    assert "give --previous" in runoff.skipped
    assert report.valid  # skipped is neither pass nor fail
    assert report.to_json()["checks"][list(CHECKS).index("runoff")]["passed"] is None


def test_a_second_round_is_not_its_own_first(verify_election: VerifyElection) -> None:
    report = verify_record(verify_election.round2, previous=verify_election.round2)
    assert report.failed() == ["runoff"]
    reasons = " ".join(f.reason for f in report.check("runoff").failures)
    assert "not a first round" in reasons


def test_the_ballots_checked_on_several_processes_give_the_same_report(
    verify_election: VerifyElection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ballot_pool, "MIN_POOL", 0)
    seen: list[tuple[int, int]] = []
    report = verify_record(
        verify_election.round1, jobs=2, progress=lambda done, total: seen.append((done, total))
    )
    assert report.valid, report.to_json()
    assert seen[0] == (0, 13)
    assert seen[-1] == (13, 13)


# --- the board and --since -----------------------------------------------------------------


def test_since_an_earlier_checkpoint_passes(verify_election: VerifyElection) -> None:
    report = verify_record(verify_election.round1, since=verify_election.early_checkpoint)
    assert report.valid, report.to_json()
    own = verify_election.round1 / "log" / "checkpoint"
    assert verify_record(verify_election.round1, since=own).valid


def test_since_catches_a_rewritten_history(verify_election: VerifyElection, tmp_path: Path) -> None:
    record = copy_record(verify_election.round1, tmp_path / "record")
    published = tmp_path / "published-checkpoint"
    published.write_bytes((record / "log" / "checkpoint").read_bytes())
    pub = public(record)
    docs = read_entries(record)
    # The challenged ballot swapped for another one, opened as properly: the same size, and
    # no chain, tally or seat depends on it.
    ballot, opened = encrypt_ballot(pub.manifest, pub.key, pub.base_hash, "tabriz-001", ["1101"])
    docs[_index(docs, "ballot-challenged")] = {
        "type": "ballot-challenged",
        "ballot": ballot,
        "ballot_id": tracking_code(pub.base_hash, canonical_json(ballot)),
        "choices": list(opened.choices),
        "nonces": [wire.scalar_hex(pub.key.group, r) for r in opened.nonces],
    }
    write_entries(record, docs)
    resign(record, verify_election.keys1)
    status = _statuses(verify_record(record))
    assert status["board"] is True
    assert status["challenged"] is True
    report = verify_record(record, since=published)
    assert report.check("board").passed is False
    assert "rewritten" in report.check("board").failures[0].reason
    # A shorter history is a rewritten one too.
    del docs[_index(docs, "ballot-challenged")]
    write_entries(record, docs)
    resign(record, verify_election.keys1)
    report = verify_record(record, since=published)
    assert report.check("board").passed is False
    assert "rewritten" in report.check("board").failures[0].reason


def test_since_refuses_a_checkpoint_the_authority_did_not_sign(
    verify_election: VerifyElection, tmp_path: Path
) -> None:
    text = verify_election.early_checkpoint.read_text(encoding="utf-8").split("\n\n")[0] + "\n"
    origin = text.split("\n")[0]
    impostor, _ = generate_signer(origin)
    forged = tmp_path / "forged"
    forged.write_text(sign(text, [impostor]), encoding="utf-8")
    report = verify_record(verify_election.round1, since=forged)
    assert report.failed() == ["board"]


def test_a_tampered_entry_without_a_new_signature_fails_the_board(
    verify_election: VerifyElection, tmp_path: Path
) -> None:
    record = copy_record(verify_election.round1, tmp_path / "record")
    docs = read_entries(record)
    docs[_index(docs, "count")]["seed"] = "00" * 32
    write_entries(record, docs)
    assert set(verify_record(record).failed()) == {"board", "count"}


def test_every_check_is_reported_when_an_entry_is_not_canonical(
    verify_election: VerifyElection, tmp_path: Path
) -> None:
    record = copy_record(verify_election.round1, tmp_path / "record")
    path = record / "log" / "entries.jsonl"
    lines = path.read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b'{"', b'{ "', 1)
    path.write_bytes(b"\n".join(lines))
    resign(record, verify_election.keys1)
    report = verify_record(record)
    assert [c.id for c in report.checks] == list(CHECKS)
    board = report.check("board")
    assert board.passed is False
    assert board.failures[0].entry == 3
    assert report.check("manifest").passed is True


def test_a_record_that_cannot_be_read_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="not a directory"):
        verify_record(tmp_path / "missing")
    (tmp_path / "log").mkdir()
    (tmp_path / "log" / "entries.jsonl").write_bytes(b"")
    with pytest.raises(RecordError, match="checkpoint"):
        verify_record(tmp_path)


# --- attacks by someone holding every signing key ------------------------------------------


def test_attack_a_cast_ballot_replaced_by_a_vote_for_another_candidate(
    verify_election: VerifyElection, tmp_path: Path
) -> None:
    record = copy_record(verify_election.round1, tmp_path / "record")
    pub = public(record)
    docs = read_entries(record)
    index = _index(docs, "ballot-cast", station="tabriz-001")
    ballot, _ = encrypt_ballot(pub.manifest, pub.key, pub.base_hash, "tabriz-001", ["1103"])
    docs[index]["ballot"] = ballot
    recode(docs, pub.base_hash)
    write_entries(record, docs)
    resign(record, verify_election.keys1)
    status = _statuses(verify_record(record))
    # A valid ballot with its right tracking code: only the sums give it away.
    assert status["board"] is True
    assert status["ballots"] is True
    assert status["tally"] is False


def test_attack_a_tally_off_by_one(verify_election: VerifyElection, tmp_path: Path) -> None:
    record = copy_record(verify_election.round1, tmp_path / "record")
    pub = public(record)
    group = pub.key.group
    docs = read_entries(record)
    tally = docs[_index(docs, "tally")]["districts"]["tabriz"]["candidates"]
    ct = wire.ciphertext_from_json(group, tally["1103"])
    one = encrypt(pub.key, 1, group.random_scalar())
    tally["1103"] = wire.ciphertext_to_json(group, add(group, [ct, one]))
    write_entries(record, docs)
    resign(record, verify_election.keys1)
    report = verify_record(record)
    assert report.check("board").passed is True
    assert report.check("tally").passed is False
    assert report.check("decryption").passed is False
    assert any("1103" in f.reason for f in report.check("tally").failures)


def test_attack_seats_that_do_not_follow_the_law(
    verify_election: VerifyElection, tmp_path: Path
) -> None:
    record = copy_record(verify_election.round1, tmp_path / "record")
    docs = read_entries(record)
    result = docs[_index(docs, "count")]["districts"]["tabriz"]
    result["elected"] = ["1101", "1102", "1103"]
    result["rounds"][0]["elected"] = ["1101", "1102", "1103"]
    write_entries(record, docs)
    resign(record, verify_election.keys1)
    report = verify_record(record)
    assert report.failed() == ["count"]
    assert "elected" in report.check("count").failures[0].reason


def test_attack_a_partial_decryption_made_with_a_wrong_secret(
    verify_election: VerifyElection, tmp_path: Path
) -> None:
    record = copy_record(verify_election.round1, tmp_path / "record")
    pub = public(record)
    group = pub.key.group
    docs = read_entries(record)
    tally = docs[_index(docs, "tally")]["districts"]["tabriz"]
    wrong = group.random_scalar()
    shares = {}
    for label in [*tally["candidates"], "blank"]:
        ct = wire.ciphertext_from_json(
            group, tally["blank"] if label == "blank" else tally["candidates"][label]
        )
        # A well-formed proof, for the public share of the wrong secret.
        p = partial_decrypt(
            group,
            2,
            wrong,
            group.pow_g(wrong),
            ct,
            decryption_context(pub.base_hash, "tabriz", label),
        )
        shares[label] = {
            "share": wire.element_hex(group, p.share),
            "proof": wire.schnorr_to_json(group, p.proof),
        }
    docs[_index(docs, "partial-decryption", guardian=2, district="tabriz")]["shares"] = shares
    write_entries(record, docs)
    resign(record, verify_election.keys1)
    report = verify_record(record)
    assert report.check("board").passed is True
    decryption = report.check("decryption")
    assert decryption.passed is False
    assert any("does not verify" in f.reason for f in decryption.failures)


def test_attack_a_ballot_added_after_its_station_closed(
    verify_election: VerifyElection, tmp_path: Path
) -> None:
    record = copy_record(verify_election.round1, tmp_path / "record")
    pub = public(record)
    docs = read_entries(record)
    station = "tabriz-002"
    last = [d for d in docs if d["type"] == "ballot-cast" and d["ballot"]["station"] == station]
    assert last
    ballot, _ = encrypt_ballot(pub.manifest, pub.key, pub.base_hash, station, ["1101"])
    code = tracking_code(pub.base_hash, canonical_json(ballot))
    docs.append({"type": "ballot-cast", "ballot": ballot, "tracking_code": code})
    write_entries(record, docs)
    resign(record, verify_election.keys1)
    report = verify_record(record)
    assert report.check("ballots").passed is True
    participation = report.check("participation")
    assert participation.passed is False
    assert any(
        f.entry == len(docs) - 1 and "after its polls closed" in f.reason
        for f in participation.failures
    )
    assert report.check("tally").passed is False  # and it is missing from the tally


def test_every_station_of_a_roll_election_publishes_its_check_ins_at_the_close(
    verify_election: VerifyElection,
) -> None:
    closes = [d for d in read_entries(verify_election.round1) if d["type"] == "polls-close"]
    # every voter of round 1 checked in at the station where they cast their ballot
    assert {d["station"]: d["checked_in"] for d in closes} == Counter(s for s, _ in ROUND1)
    assert all(d["ballots_cast"] <= d["checked_in"] for d in closes)
    # round 2 has no roll: its closes publish the ballot count alone
    closes2 = [d for d in read_entries(verify_election.round2) if d["type"] == "polls-close"]
    assert all("checked_in" not in d for d in closes2)


def test_attack_more_ballots_than_voters_checked_in(
    verify_election: VerifyElection, tmp_path: Path
) -> None:
    record = copy_record(verify_election.round1, tmp_path / "record")
    docs = read_entries(record)
    close = next(
        i for i, d in enumerate(docs) if d["type"] == "polls-close" and d["station"] == "tabriz-002"
    )
    docs[close]["checked_in"] = 1  # two ballots were cast there
    write_entries(record, docs)
    resign(record, verify_election.keys1)
    report = verify_record(record)
    assert report.check("board").passed is True
    participation = report.check("participation")
    assert participation.passed is False
    assert [f.entry for f in participation.failures] == [close]
    assert "more than the 1 voters checked in" in participation.failures[0].reason


# --- eg4096: ballots checked in batches --------------------------------------------------------


@pytest.mark.slow
def test_eg4096_ballots_are_checked_in_a_batch_and_a_bad_one_is_named() -> None:
    manifest = parse_manifest(small_manifest_data("eg4096"))
    base_hash = election_base_hash(manifest.canonical())
    group = get_group("eg4096")
    key = ElectionKey(group, group.pow_g(group.random_scalar()))
    entries = []
    for i, choices in enumerate([["1101"], ["1102", "1103"], [], ["1104"]]):
        ballot, _ = encrypt_ballot(manifest, key, base_hash, "tabriz-001", choices)
        if i == 2:  # the blank flag of a blank ballot swapped for the first ballot's
            ballot["blank"] = entries[0][1]["ballot"]["blank"]
        entries.append((10 + i, {"type": "ballot-cast", "ballot": ballot}))
    chunk = [(index, canonical_json(doc)) for index, doc in entries]
    result = check_chunk(Setup(manifest, base_hash, key, cutoff=100), chunk)
    assert [index for index, _ in result.refused] == [12]
    assert "does not verify" in result.refused[0][1]
    assert result.sums["tabriz"][0] == 4


# --- the command ---------------------------------------------------------------------------


def _verify_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(["verify", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_command_prints_every_check_and_exits_0(
    capsys: pytest.CaptureFixture[str], verify_election: VerifyElection
) -> None:
    code, out, _ = _verify_cli(
        capsys,
        str(verify_election.round2),
        "--previous",
        str(verify_election.round1),
        "--jobs",
        "1",
    )
    assert code == 0
    for check_id in CHECKS:
        assert check_id in out
    assert "ballots/s" in out
    assert "the record verifies" in out


def test_the_command_exits_1_on_a_failed_check_and_gives_json(
    capsys: pytest.CaptureFixture[str], verify_election: VerifyElection, tmp_path: Path
) -> None:
    record = copy_record(verify_election.round1, tmp_path / "record")
    docs = read_entries(record)
    docs[_index(docs, "count")]["districts"]["tabriz"]["seats"] = 4
    write_entries(record, docs)
    resign(record, verify_election.keys1)
    code, out, _ = _verify_cli(capsys, str(record))
    assert code == 1
    assert "FAIL" in out
    assert "does NOT verify" in out
    code, out, _ = _verify_cli(capsys, str(record), "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["valid"] is False
    failed = [c["id"] for c in doc["checks"] if c["passed"] is False]
    assert failed == ["count"]


def test_the_command_exits_2_in_one_line_when_the_record_cannot_be_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = _verify_cli(capsys, str(tmp_path / "nowhere"))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("verivote: error: cannot read the record")
    assert "Traceback" not in err


# --- the import boundary -------------------------------------------------------------------

FORBIDDEN = ("verivote.election", "verivote.store", "verivote.cli", "verivote.sim")
ALLOWED = (
    "verivote.crypto",
    "verivote.rules",
    "verivote.board",
    "verivote.model",
    "verivote.verify",
    # where the checks run (local processes or Ray tasks): no election code, and the test
    # above sees that nothing of the election is loaded through it
    "verivote.cluster",
)


def test_the_verifier_imports_nothing_that_ran_the_election(
    verify_election: VerifyElection,
) -> None:
    """Run in a fresh interpreter: importing the verifier and verifying a record (both rounds,
    every check) loads none of the election's own code, directly or indirectly."""
    script = (
        "import json, sys\n"
        "import verivote.verify\n"
        f"r = verivote.verify.verify_record({str(verify_election.round2)!r},"
        f" previous={str(verify_election.round1)!r}, jobs=1)\n"
        "print(json.dumps([r.valid, sorted(m for m in sys.modules if m.startswith('verivote'))]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    valid, modules = json.loads(out)
    assert valid
    assert "verivote.verify.verifier" in modules
    assert [m for m in modules if m.startswith(FORBIDDEN)] == []


def test_the_verifier_source_imports_only_allowed_packages() -> None:
    files = sorted((SRC / "verify").rglob("*.py"))
    assert files
    for path in files:
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                if name == "verivote" or name.startswith("verivote."):
                    assert name.startswith(ALLOWED), f"{path.name} imports {name}"
        for forbidden in FORBIDDEN:
            assert forbidden not in source, f"{path.name} names {forbidden}"
