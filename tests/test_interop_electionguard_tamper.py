"""The ElectionGuard tamper suite: named changes to a copy of the real egk record, and
`verivote verify --format electionguard` must exit 1, without a crash, with each change
caught by the check it belongs to and named there. Then seeded random changes to any value a
verifier can hold the record to (the seed is printed; VERIVOTE_TAMPER_SEED replays one).

A full verification costs a few seconds (every range proof is recomputed), so changes that
touch different items share one record: the report names each of them, so each is shown to be
caught on its own, and the checks none of them touch are shown to pass."""

from __future__ import annotations

import base64
import json
import os
import random
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SHARED
from verivote.cli.app import run
from verivote.crypto.groups.eg4096 import G, P, Q

RECORD = SHARED / "testdata" / "electionguard" / "someAvailable"

Doc = dict[str, Any]


def _copy(tmp_path: Path) -> Path:
    if not (RECORD / "election_config.json").is_file():
        pytest.fail(f"the ElectionGuard test record is missing at {RECORD}")
    target = tmp_path / "record"
    # the guardians' secrets and the plaintext ballots are not part of a published record
    shutil.copytree(RECORD, target, ignore=shutil.ignore_patterns("private_data"))
    for path in target.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)  # the shared copy is read-only
    return target


def _element(text: str) -> int:
    return int.from_bytes(base64.b64decode(text), "big")


def _b64(x: int, width: int = 512) -> str:
    return base64.b64encode(int(x).to_bytes(width, "big")).decode()


def _times_g(text: str) -> str:
    """Another valid element: x·g stays in the order-q subgroup."""
    return _b64(_element(text) * G % P)


def _ballot(record: Path, state: str, n: int) -> Path:
    """The n-th ballot file (by name) in `state`, among those an earlier change left
    readable and in that state (so each change picks a ballot of its own)."""
    found = []
    for path in sorted((record / "encrypted_ballots").rglob("*.json")):
        try:
            doc = json.loads(path.read_text())
        except ValueError:
            continue
        if doc["state"] == state:
            found.append(path)
    return found[n]


def _name(record: Path, path: Path) -> str:
    """A file's name as the verifier reports it."""
    return str(path.relative_to(record / "encrypted_ballots"))


def _verify(record: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, Doc]:
    code = run(["verify", "--format", "electionguard", str(record), "--json", "--jobs", "2"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert code in (0, 1), err
    return code, json.loads(out)


def _failed(doc: Doc) -> dict[str, list[str]]:
    return {c["id"]: [f["reason"] for f in c["failures"]] for c in doc["checks"] if c["failures"]}


# --- named changes -----------------------------------------------------------------------------
# Each change edits a copy of the record and returns what the report must then say: pairs of
# (check id, text one of that check's failures contains), naming the changed item.
Expect = list[tuple[str, str]]


def _cast_pad(record: Path) -> Expect:
    path = _ballot(record, "CAST", 0)
    doc = json.loads(path.read_text())
    contest = doc["contests"][0]
    selection = contest["selections"][0]
    selection["encrypted_vote"]["pad"] = _times_g(selection["encrypted_vote"]["pad"])
    path.write_text(json.dumps(doc))
    name, c, s = _name(record, path), contest["contest_id"], selection["selection_id"]
    return [
        ("eg-ballots", f"{name}: contest {c} selection {s}: the range proof"),
        ("eg-ballots", f"{name}: contest {c}: the limit proof"),
        ("eg-confirmation-codes", f"{name}: contest {c}: the contest hash"),
        ("eg-tally", f"{c}/{s}: (A, B) is not the product"),
    ]


def _challenged_data(record: Path) -> Expect:
    path = _ballot(record, "CHALLENGED", 0)
    doc = json.loads(path.read_text())
    contest = doc["contests"][-1]
    selection = contest["selections"][-1]
    selection["encrypted_vote"]["data"] = _times_g(selection["encrypted_vote"]["data"])
    path.write_text(json.dumps(doc))
    name, c, s = _name(record, path), contest["contest_id"], selection["selection_id"]
    decrypted = f"challenged_ballots/dballot-{doc['ballot_id']}.json"
    return [
        ("eg-ballots", f"{name}: contest {c} selection {s}: the range proof"),
        ("eg-confirmation-codes", f"{name}: contest {c}: the contest hash"),
        ("eg-challenged", f"{decrypted}: contest {c} selection {s}: the decrypted ciphertext"),
    ]


def _proof_response(record: Path) -> Expect:
    path = _ballot(record, "CAST", 1)
    doc = json.loads(path.read_text())
    contest = doc["contests"][1]
    part = contest["proof"]["proofs"][1]
    part["response"] = _b64((_element(part["response"]) + 1) % Q, 32)
    path.write_text(json.dumps(doc))
    return [("eg-ballots", f"{_name(record, path)}: contest {contest['contest_id']}: the limit")]


def _confirmation_code(record: Path) -> Expect:
    path = _ballot(record, "CAST", 2)
    doc = json.loads(path.read_text())
    code = bytearray(base64.b64decode(doc["confirmation_code"]))
    code[5] ^= 0x01
    doc["confirmation_code"] = base64.b64encode(bytes(code)).decode()
    path.write_text(json.dumps(doc))
    return [("eg-confirmation-codes", f"{_name(record, path)}: the confirmation code is not")]


def _ballot_outside_subgroup(record: Path) -> Expect:
    path = _ballot(record, "CAST", 3)
    doc = json.loads(path.read_text())
    # p − 1 has order 2: inside [1, p), outside the order-q subgroup
    doc["contests"][0]["selections"][0]["encrypted_vote"]["pad"] = _b64(P - 1)
    path.write_text(json.dumps(doc))
    name = _name(record, path)
    return [
        ("eg-ballots", f"{name}: contests[0].selections[0].encrypted_vote.pad: not in the order-q"),
        ("eg-confirmation-codes", f"{name}: contest {doc['contests'][0]['contest_id']}"),
    ]


def _ballot_not_json(record: Path) -> Expect:
    path = _ballot(record, "CAST", 4)
    path.write_text(path.read_text()[:1000])
    name = _name(record, path)
    return [
        ("eg-ballots", f"{name}: cannot be read: {path.name}: not JSON"),
        ("eg-confirmation-codes", f"{name}: cannot be read"),
        ("eg-tally", f"{name}: cannot be read, so whether the tally counts it is unknown"),
    ]


def _cast_made_challenged(record: Path) -> Expect:
    """A cast ballot relabelled challenged: its proofs and code still hold (the state is not
    hashed), but the tally no longer counts it and no decryption opens it."""
    path = _ballot(record, "CAST", 5)
    doc = json.loads(path.read_text())
    doc["state"] = "CHALLENGED"
    path.write_text(json.dumps(doc))
    return [
        ("eg-tally", "cast_ballot_ids are not the CAST ballots"),
        ("eg-challenged", f"challenged ballot {doc['ballot_id']} has no decryption"),
    ]


def _ballot_twice(record: Path) -> Expect:
    path = _ballot(record, "CAST", 6)
    doc = json.loads(path.read_text())
    shutil.copy(path, path.with_name("eballot-again.json"))
    return [
        ("eg-ballots", f"ballot id {doc['ballot_id']!r} appears 2 times"),
        ("eg-confirmation-codes", f"ballot {doc['ballot_id']}: confirmation code not unique"),
    ]


def _tally_not_json(record: Path) -> Expect:
    path = record / "tally.json"
    path.write_text(path.read_text().replace('"tally":', '"tally" ', 1))
    return [("eg-decryption", "tally.json: not JSON")]


def _guardian_commitment(record: Path) -> Expect:
    path = record / "election_initialized.json"
    doc = json.loads(path.read_text())
    proof = doc["guardians"][1]["coefficient_proofs"][2]
    proof["public_key"] = _times_g(proof["public_key"])
    path.write_text(json.dumps(doc))
    return [("eg-guardians", "guardian guardian2 coefficient 2: the Schnorr proof")]


def _joint_key(record: Path) -> Expect:
    path = record / "election_initialized.json"
    doc = json.loads(path.read_text())
    doc["joint_public_key"] = _times_g(doc["joint_public_key"])
    path.write_text(json.dumps(doc))
    return [
        ("eg-joint-key", "K is not the product of the guardians' keys"),
        ("eg-joint-key", "extended_base_hash is not H(H_B; 0x12, K)"),
        ("eg-ballots", "the range proof's challenge does not match"),
        ("eg-confirmation-codes", "the contest hash χ is wrong"),
        ("eg-decryption", "the decryption proof's challenge does not match"),
        ("eg-challenged", "the decryption proof's challenge does not match"),
    ]


def _tally_value(record: Path) -> Expect:
    path = record / "tally.json"
    doc = json.loads(path.read_text())
    contest = doc["contests"][2]
    selection = contest["selections"][1]
    selection["tally"] += 1
    path.write_text(json.dumps(doc))
    where = f"contest {contest['contest_id']} selection {selection['selection_id']}"
    return [("eg-decryption", f"tally.json: {where}: b_over_m is not K^t")]


def _tally_plus_q(record: Path) -> Expect:
    """t + q: K^(t+q) = K^t and the proof still holds, but no tally of 34 ballots is that
    large."""
    path = record / "tally.json"
    doc = json.loads(path.read_text())
    contest = doc["contests"][6]
    selection = contest["selections"][0]
    selection["tally"] += Q
    path.write_text(json.dumps(doc))
    where = f"contest {contest['contest_id']} selection {selection['selection_id']}"
    return [("eg-decryption", f"tally.json: {where}: {selection['tally']} votes, more than 34")]


def _decryption_proof(record: Path) -> Expect:
    path = record / "tally.json"
    doc = json.loads(path.read_text())
    contest = doc["contests"][4]
    selection = contest["selections"][0]
    selection["proof"]["challenge"] = _b64(_element(selection["proof"]["challenge"]) ^ 1, 32)
    path.write_text(json.dumps(doc))
    where = f"contest {contest['contest_id']} selection {selection['selection_id']}"
    return [("eg-decryption", f"tally.json: {where}: the decryption proof's challenge")]


def _challenged_plaintext(record: Path) -> Expect:
    path = sorted((record / "challenged_ballots").glob("*.json"))[0]
    doc = json.loads(path.read_text())
    contest = doc["contests"][0]
    selection = contest["selections"][0]
    selection["tally"] = 1 - selection["tally"]
    path.write_text(json.dumps(doc))
    where = f"contest {contest['contest_id']} selection {selection['selection_id']}"
    return [("eg-challenged", f"challenged_ballots/{path.name}: {where}: b_over_m is not K^t")]


def _challenged_contest_data(record: Path) -> Expect:
    path = sorted((record / "challenged_ballots").glob("*.json"))[1]
    doc = json.loads(path.read_text())
    contest = doc["contests"][0]
    data = contest["decrypted_contest_data"]["contest_data"]
    data["status"] = "normal" if data["status"] != "normal" else "under_vote"
    path.write_text(json.dumps(doc))
    return [
        (
            "eg-challenged",
            f"challenged_ballots/{path.name}: contest {contest['contest_id']} contest data: "
            "the published values are not the decrypted ones",
        )
    ]


def _cast_ballot_decrypted(record: Path) -> Expect:
    """A challenged ballot's decryption relabelled as a cast ballot's: a cast vote must never
    be opened, and the challenged ballot is left without its decryption."""
    path = sorted((record / "challenged_ballots").glob("*.json"))[2]
    doc = json.loads(path.read_text())
    challenged_id = doc["id"]
    cast_id = json.loads(_ballot(record, "CAST", 7).read_text())["ballot_id"]
    doc["id"] = cast_id
    path.write_text(json.dumps(doc))
    return [
        ("eg-challenged", f"challenged_ballots/{path.name}: ballot {cast_id} was CAST"),
        ("eg-challenged", f"challenged ballot {challenged_id} has no decryption"),
    ]


def _tally_outside_subgroup(record: Path) -> Expect:
    path = record / "encrypted_tally.json"
    doc = json.loads(path.read_text())
    contest = doc["contests"][3]
    vote = contest["selections"][0]["encrypted_vote"]
    vote["data"] = _b64(_element(vote["data"]) * (P - 1) % P)  # order 2q
    path.write_text(json.dumps(doc))
    where = f"contest {contest['contest_id']} selection {contest['selections'][0]['selection_id']}"
    return [
        ("eg-tally", "contests[3].selections[0].encrypted_vote.data: not in the order-q subgroup"),
        ("eg-decryption", f"tally.json: {where}: the decrypted ciphertext is not the encrypted"),
    ]


def _manifest_byte(record: Path) -> Expect:
    path = record / "manifest.json"
    raw = path.read_bytes()
    path.write_bytes(raw.replace(b'"ballot_title": "title"', b'"ballot_title": "Title"', 1))
    return [("eg-parameters", "manifest_hash is not H_M of manifest.json")]


# Changes that touch different items go into one record, so that one verification shows each
# of them caught, by the check it belongs to, naming the item, and nothing else failing; a
# change that every later check depends on (the joint key) gets a record of its own.
GROUPS: dict[str, list[Callable[[Path], Expect]]] = {
    "ballots": [
        _cast_pad,
        _challenged_data,
        _proof_response,
        _confirmation_code,
        _ballot_outside_subgroup,
        _ballot_not_json,
        _cast_made_challenged,
        _ballot_twice,
        _tally_not_json,
    ],
    "keys-and-decryptions": [
        _guardian_commitment,
        _tally_value,
        _tally_plus_q,
        _decryption_proof,
        _challenged_plaintext,
        _challenged_contest_data,
        _cast_ballot_decrypted,
        _tally_outside_subgroup,
        _manifest_byte,
    ],
    "joint-key": [_joint_key],
}
PASSING = {
    "ballots": {"eg-parameters", "eg-guardians", "eg-joint-key"},
    "keys-and-decryptions": {"eg-joint-key", "eg-ballots", "eg-confirmation-codes"},
    "joint-key": {"eg-parameters", "eg-guardians", "eg-tally"},
}
"""The checks each group's changes leave passing."""


@pytest.mark.slow
@pytest.mark.parametrize("group", list(GROUPS))
def test_each_change_fails_the_check_it_belongs_to_naming_the_changed_item(
    group: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = _copy(tmp_path)
    expected = [(change.__name__, e) for change in GROUPS[group] for e in change(record)]
    code, doc = _verify(record, capsys)
    assert code == 1
    assert doc["valid"] is False
    failed = _failed(doc)
    for change, (check_id, text) in expected:
        assert any(text in r for r in failed.get(check_id, [])), (change, check_id, failed)
    assert set(failed) == {check_id for _, (check_id, _) in expected}, failed
    assert {c["id"] for c in doc["checks"] if c["passed"]} == PASSING[group]


# --- files no verifier should crash on ---------------------------------------------------------
def _write(name: str, text: str) -> Callable[[Path], None]:
    return lambda record: (record / name).write_text(text)


def _replace(name: str, old: str, new: str) -> Callable[[Path], None]:
    def change(record: Path) -> None:
        path = record / name
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new, 1))

    return change


HOSTILE: list[tuple[str, Callable[[Path], None], str, str]] = [
    (
        "an index too large for 4 bytes",
        _replace("manifest.json", '"sequence_order": 1,', '"sequence_order": 1099511627776,'),
        "eg-parameters",
        "outside [0, 2^32)",
    ),
    (
        "a quorum below 1",
        _replace("election_config.json", '"quorum": 3', '"quorum": -1'),
        "eg-parameters",
        "outside [1, 2^32)",
    ),
    (
        "an integer of 5,000 digits",
        _replace("tally.json", '"tally": 5,', '"tally": ' + "9" * 5000 + ","),
        "eg-decryption",
        "tally.json: not JSON",
    ),
    (
        "JSON nested 100,000 deep",
        _write("encrypted_tally.json", "[" * 100_000 + "]" * 100_000),
        "eg-tally",
        "encrypted_tally.json: not JSON",
    ),
    ("a list for an object", _write("constants.json", "[]"), "eg-parameters", "not a JSON object"),
    (
        "bytes that are not UTF-8",
        lambda record: (record / "tally.json").write_bytes(b'{"id": "\xff"}'),
        "eg-decryption",
        "not JSON",
    ),
    (
        "a missing key file",
        lambda record: (record / "election_initialized.json").unlink(),
        "eg-ballots",
        "not checked: election_initialized.json cannot be read",
    ),
]


@pytest.mark.parametrize(
    ("change", "check_id", "text"), [pytest.param(c, i, t, id=n) for n, c, i, t in HOSTILE]
)
def test_hostile_files_fail_their_check_without_a_crash(
    change: Callable[[Path], None],
    check_id: str,
    text: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without the ballots (the verification takes a moment then): the change is reported
    in the check that reads the file, and the command exits 1."""
    record = _copy(tmp_path)
    shutil.rmtree(record / "encrypted_ballots")
    change(record)
    code, doc = _verify(record, capsys)
    assert code == 1
    reasons = _failed(doc).get(check_id, [])
    assert any(text in r for r in reasons), reasons


# --- random changes ----------------------------------------------------------------------------
UNBOUND = {
    # values no ElectionGuard 2.0 verification covers, so changing them changes nothing the
    # record claims: metadata, the time of casting, egk's tally labels and counters, and
    # the encrypting device's name when codes are not chained
    "metadata",
    "timestamp",
    "tally_id",
    "ballot_count",
    "encrypting_device",
    "name",
    "type",
    "config_version",
    "guardian_id",
    # B_aux,0 matters only when confirmation codes are chained (this record's are not)
    "baux0",
}
UNBOUND_IN_BALLOTS = {
    # a ballot's encrypted contest data: 2.0.0's contest hash does not cover C1 and C2, and
    # only the ballot's guardians could open them (challenged ballots' are checked, through
    # their decryptions)
    "c1",
    "c2",
    "numBytes",
}


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _leaves(v, (*path, k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _leaves(v, (*path, i))]
    return [path]


def _changed(value: Any, rng: random.Random) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + rng.choice([-1, 1, 2])
    assert isinstance(value, str)
    try:
        raw = bytearray(base64.b64decode(value, validate=True))
    except ValueError:
        raw = bytearray()
    if len(raw) >= 16 and base64.b64encode(bytes(raw)).decode() == value:
        raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
        return base64.b64encode(bytes(raw)).decode()
    return value + rng.choice(["x", "0", " "])


def _random_change(record: Path, rng: random.Random) -> str:
    files = sorted(
        p for p in record.rglob("*.json") if p.name not in ("manifest.json", "constants.json")
    )
    while True:
        path = rng.choice(files)
        doc = json.loads(path.read_text())
        skip = UNBOUND | (UNBOUND_IN_BALLOTS if "encrypted_ballots" in path.parts else set())
        leaves = [p for p in _leaves(doc) if not skip.intersection(str(k) for k in p)]
        if leaves:
            break
    leaf = rng.choice(leaves)
    node = doc
    for key in leaf[:-1]:
        node = node[key]
    node[leaf[-1]] = _changed(node[leaf[-1]], rng)
    path.write_text(json.dumps(doc))
    return f"{path.relative_to(record)} {'/'.join(map(str, leaf))}"


@pytest.mark.slow
def test_random_changes_to_any_bound_value_are_caught(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = int(os.environ.get("VERIVOTE_TAMPER_SEED") or secrets.randbits(32))
    with capsys.disabled():
        print(f" VERIVOTE_TAMPER_SEED={seed}", end=" ")
    rng = random.Random(seed)
    for n in range(3):
        record = _copy(tmp_path / str(n))
        where = _random_change(record, rng)
        code, doc = _verify(record, capsys)
        assert code == 1, f"seed {seed}: changing {where} was not caught"
        assert not doc["valid"]
