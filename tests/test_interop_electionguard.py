"""Verifying ElectionGuard 2.0 records (`verivote verify --format electionguard`): the real
record written by egk verifies with every check passed, and the pieces the checks rest on
(hashes against the spec's published value, element validation, egk's contest data layout,
chained confirmation codes, the fixed-base powers) hold on their own. The tamper suite is in
test_interop_electionguard_tamper.py."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import pickle
import secrets
import subprocess
import sys
from pathlib import Path

import gmpy2
import pytest

from tests.conftest import SHARED
from verivote.cli.app import run
from verivote.crypto.groups.eg4096 import G, P, Q
from verivote.interop.electionguard import hashing
from verivote.interop.electionguard.ballots import BallotOutcome
from verivote.interop.electionguard.check_ballots import check_codes
from verivote.interop.electionguard.contest_data import decode_contest_data
from verivote.interop.electionguard.encoding import Elements, FormatError, scalar
from verivote.interop.electionguard.powers import FixedBase, pow_g
from verivote.interop.electionguard.proofs import KeyPowers
from verivote.interop.electionguard.record import Ballot, Config, ContestDataValues
from verivote.verify.report import ELECTIONGUARD_CHECKS

RECORD = SHARED / "testdata" / "electionguard" / "someAvailable"

SPEC_H_P = "2B3B025E50E09C119CBA7E9448ACD1CABC9447EF39BF06327D81C665CDD86296"
"""H_P for the standard parameters, as published in ElectionGuard 2.0.0 (§3.1.2)."""


@pytest.fixture(scope="module")
def record() -> Path:
    if not (RECORD / "election_config.json").is_file():
        pytest.fail(f"the ElectionGuard test record is missing at {RECORD}")
    return RECORD


# --- the real record ---------------------------------------------------------------------------
def test_the_real_record_verifies_through_the_command_with_every_check_passed(
    record: Path,
) -> None:
    """A separate process, as a user runs it: exit 0, every check in the table, passed."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "verivote",
            "verify",
            "--format=electionguard",
            "--jobs=1",
            str(record),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for check_id in ELECTIONGUARD_CHECKS:
        row = next(line for line in lines if f" {check_id} " in line)
        assert " pass " in row, row
    assert "707 selections verified" in done.stdout
    assert "ms per selection on 1 job," in done.stdout
    assert "the record verifies" in done.stdout
    assert "Traceback" not in done.stderr


def test_the_json_report_lists_every_check_with_its_items_and_the_timing(
    record: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["verify", "--format", "electionguard", str(record), "--json", "--jobs", "2"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert doc["valid"] is True
    assert [c["id"] for c in doc["checks"]] == list(ELECTIONGUARD_CHECKS)
    items = {c["id"]: c["items"] for c in doc["checks"]}
    # 5 guardians × quorum 3 Schnorr proofs; 42 ballots; 41 options; 8 challenged ballots
    assert items["eg-guardians"] == 15
    assert items["eg-joint-key"] == 5
    assert items["eg-ballots"] == items["eg-confirmation-codes"] == 42
    assert items["eg-tally"] == items["eg-decryption"] == 41
    assert items["eg-challenged"] == 8
    assert all(c["passed"] is True and c["failures"] == [] for c in doc["checks"])
    timing = doc["timing"]
    assert timing["selections"] == 707
    # every selection's proof and every contest's, but once only where a one-option contest
    # repeats its selection's proof for the same statement
    contests = repeated = 0
    for path in (record / "encrypted_ballots").rglob("*.json"):
        for contest in json.loads(path.read_text())["contests"]:
            contests += 1
            repeated += contest["selections"][0]["proof"] == contest["proof"]
    assert contests == 350
    assert timing["range_proofs"] == 707 + contests - repeated
    assert timing["jobs"] == 2
    assert timing["ms_per_selection"] == pytest.approx(
        1000 * timing["ballot_seconds"] / 707, rel=0.01
    )


def test_a_folder_that_is_no_electionguard_record_exits_2_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for folder in (tmp_path / "nowhere", tmp_path):
        code = run(["verify", "--format", "electionguard", str(folder)])
        out, err = capsys.readouterr()
        assert code == 2
        assert out == ""
        assert err.count("\n") == 1
        assert err.startswith("verivote: error: cannot read the record")


def test_since_and_previous_are_refused_for_an_electionguard_record(
    record: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["verify", "--format", "electionguard", str(record), "--previous", str(record)])
    assert code == 2
    assert "verivote records only" in capsys.readouterr().err
    assert run(["verify", "--format", "helios", str(record)]) == 2


# --- hashes ------------------------------------------------------------------------------------
def test_the_parameter_base_hash_is_the_one_the_spec_publishes() -> None:
    assert hashing.parameter_base_hash(int(P), Q, int(G)).hex().upper() == SPEC_H_P


def test_the_hash_is_hmac_sha256_keyed_by_the_level_above() -> None:
    key = secrets.token_bytes(32)
    expected = hmac.new(key, b"\x21" + b"abc" + b"de", hashlib.sha256).digest()
    assert hashing.eg_hash(key, 0x21, b"abc", b"de") == expected
    assert hashing.to_q(b"\xff" * 32) == (2**256 - 1) % Q


def test_both_encodings_of_the_confirmation_codes_b_aux_are_accepted_and_differ() -> None:
    h_e, chi = secrets.token_bytes(32), [secrets.token_bytes(32) for _ in range(3)]
    spec, egk = hashing.confirmation_codes(h_e, chi, b"device information")
    assert spec != egk
    assert egk == hmac.new(h_e, b"\x24" + b"".join(chi) + b"device information", "sha256").digest()
    assert (
        spec
        == hmac.new(
            h_e, b"\x24" + b"".join(chi) + (18).to_bytes(4, "big") + b"device information", "sha256"
        ).digest()
    )


# --- decoding ----------------------------------------------------------------------------------
def test_elements_outside_the_order_q_subgroup_are_named() -> None:
    elements = Elements()
    good = pow_g(12345)
    doc = {
        "a": _b64(good),
        "b": _b64(P - 1),  # order 2: passes a range check
        "c": _b64(G * (P - 1) % P),  # order 2q
        "d": _b64(pow_g(7)),
    }
    for key in doc:
        elements.element(doc, key, "x")
    assert elements.invalid() == ["x.b", "x.c"]
    with pytest.raises(FormatError, match="outside"):
        elements.element({"e": _b64(P)}, "e", "x")
    with pytest.raises(FormatError, match="outside"):
        elements.element({"e": _b64(0)}, "e", "x")
    with pytest.raises(FormatError, match="base64"):
        elements.element({"e": "not base64!"}, "e", "x")


def test_scalars_must_lie_in_z_q_and_are_never_reduced() -> None:
    assert scalar({"c": _b64(Q - 1, 32)}, "c", "") == Q - 1
    with pytest.raises(FormatError, match="Z_q"):
        scalar({"c": _b64(Q, 32)}, "c", "")
    with pytest.raises(FormatError, match="at most 32"):
        scalar({"c": _b64(1, 33)}, "c", "")


def test_egk_contest_data_layout_is_decoded_and_anything_else_refused() -> None:
    name = "Ｍaryam".encode()
    plain = (
        bytes([2, 3, 0xC8, 0x01])  # two overvotes: 3 and 200 (a two-byte varint)
        + bytes([1, len(name)])
        + name
        + bytes([9])
        + b"over_vote"
        + bytes(20)
    )
    assert decode_contest_data(plain) == ContestDataValues((3, 200), ("Ｍaryam",), "over_vote")
    assert decode_contest_data(plain[:-20] + b"\x01" + bytes(19)) is None  # padding not zeros
    assert decode_contest_data(plain[:6]) is None  # truncated
    assert decode_contest_data(b"\x00\x00\x09null_") is None


# --- chained confirmation codes ----------------------------------------------------------------
B_AUX0 = b"device information"


def _ballot(ballot_id: str, device: str, code: bytes, b_aux: bytes) -> BallotOutcome:
    ballot = Ballot(ballot_id, "style", device, "CAST", code, b_aux, b"", (), False)
    return BallotOutcome(f"{ballot_id}.json", ballot)


def _chain(h_e: bytes, device: str, n: int) -> list[BallotOutcome]:
    """n ballots chained as spec 2.0.0 §3.4.3 says, computed here with hmac alone."""
    previous = hmac.new(h_e, b"\x24" + (len(B_AUX0)).to_bytes(4, "big") + B_AUX0, "sha256")
    link = previous.digest()
    ballots = []
    for i in range(n):
        code = secrets.token_bytes(32)  # the codes themselves are checked per ballot
        ballots.append(_ballot(f"{device}-{i}", device, code, link + B_AUX0))
        link = code
    return ballots


def _config(chained: bool) -> Config:
    return Config(5, 3, b"", b"", b"", chained, B_AUX0)


def test_chained_confirmation_codes_pass_as_one_chain_per_device() -> None:
    h_e = secrets.token_bytes(32)
    ballots = _chain(h_e, "a", 5) + _chain(h_e, "b", 3)
    check = check_codes(ballots[::-1], _config(True), h_e, None)
    assert check.passed, check.failures
    assert check.items == 8


def test_a_broken_or_forked_chain_fails_and_unchained_codes_are_not_chain_checked() -> None:
    h_e = secrets.token_bytes(32)
    ballots = _chain(h_e, "a", 5)
    cut = [*ballots[:2], *ballots[3:]]  # ballot 2 removed: ballot 3 follows a missing code
    reasons = [f.reason for f in check_codes(cut, _config(True), h_e, None).failures]
    assert any("reaches 2 of 4" in r for r in reasons), reasons
    second = ballots[1].ballot
    assert second is not None
    fork = [*ballots, _ballot("x", "a", secrets.token_bytes(32), second.code_baux)]
    reasons = [f.reason for f in check_codes(fork, _config(True), h_e, None).failures]
    assert any("follow the same code" in r for r in reasons), reasons
    two_starts = ballots + _chain(h_e, "a", 1)
    assert not check_codes(two_starts, _config(True), h_e, None).passed
    assert check_codes(cut, _config(False), h_e, None).passed


def test_confirmation_codes_must_be_unique() -> None:
    code = secrets.token_bytes(32)
    twins = [_ballot("x", "d", code, B_AUX0), _ballot("y", "d", code, B_AUX0)]
    reasons = [f.reason for f in check_codes(twins, _config(False), b"", None).failures]
    assert len(reasons) == 2
    assert all("not unique" in r for r in reasons)


# --- powers ------------------------------------------------------------------------------------
def test_fixed_base_powers_equal_powmod_for_any_exponent() -> None:
    base = pow_g(secrets.randbelow(Q))
    table = FixedBase(base)
    for k in [0, 1, 255, 256, Q - 1, Q, Q + 5, -1, *(secrets.randbelow(Q) for _ in range(20))]:
        assert table(k) == gmpy2.powmod(base, k % Q, P)
    assert pow_g(Q - 2) == gmpy2.powmod(G, Q - 2, P)


def test_the_key_powers_pickle_without_their_table() -> None:
    key = KeyPowers(pow_g(99))
    assert key.pow(5) == gmpy2.powmod(key.value, 5, P)
    data = pickle.dumps(key)
    assert len(data) < 2000  # 512 bytes of K, not a 4 MB table
    again = pickle.loads(data)
    assert again.pow(7) == gmpy2.powmod(key.value, 7, P)


def _b64(x: int, width: int = 512) -> str:
    return base64.b64encode(int(x).to_bytes(width, "big")).decode()
