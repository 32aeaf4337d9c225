"""The election record on disk, checked both by verivote and independently of it."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verivote.board.checkpoint import Checkpoint, Witness, sign_checkpoint
from verivote.board.merkle import EMPTY_ROOT, MerkleLog
from verivote.board.note import signer_from_seed
from verivote.board.record import CHECKPOINT, ENTRIES, KEYS, check_record, read_record, write_record
from verivote.model.canonical import canonical_json

ORIGIN = "verivote.example/majlis-2024"
AUTHORITY, AUTHORITY_KEY = signer_from_seed(ORIGIN, bytes([7]) * 32)
WITNESSES = [signer_from_seed(f"faction-{n}.example", bytes([n]) * 32) for n in (1, 2)]

ENTRIES_DATA = [
    canonical_json({"type": "manifest", "election": "Majlis 1402", "seats": 290}),
    canonical_json({"type": "ballot", "station": "تهران-0001", "codes": [12, 3545]}),
    # U+2028 is a line separator to Unicode but not to the record: lines end at "\n" only.
    canonical_json({"type": "note", "text": "line\u2028separator and\nnewline"}),
]


def _build(entries: list[bytes]) -> tuple[str, list[str]]:
    log = MerkleLog()
    for entry in entries:
        log.append_entry(entry)
    note = sign_checkpoint(Checkpoint(ORIGIN, log.size, log.root()), [AUTHORITY])
    for signer, _ in WITNESSES:
        note += Witness(signer).cosign(note, [], AUTHORITY_KEY)
    return note, [AUTHORITY_KEY, *(key for _, key in WITNESSES)]


@pytest.fixture
def record(tmp_path: Path) -> Path:
    note, keys = _build(ENTRIES_DATA)
    write_record(tmp_path, ENTRIES_DATA, note, keys)
    return tmp_path


def test_a_written_record_checks_and_reads_back(record: Path) -> None:
    assert check_record(record) == []
    read = read_record(record)
    assert list(read.entries) == ENTRIES_DATA
    assert read.verifier_keys[0] == AUTHORITY_KEY
    assert read.checkpoint() == Checkpoint(ORIGIN, 3, read.root())
    assert (record / ENTRIES).read_bytes() == b"".join(e + b"\n" for e in ENTRIES_DATA)
    assert sorted(p.name for p in (record / "log").iterdir()) == [
        "checkpoint",
        "entries.jsonl",
        "keys",
        "tile",
    ]


# --- the same checks, written here from the specifications with hashlib and cryptography ------


def test_independent_root_of_the_entries_equals_the_checkpoint_root(record: Path) -> None:
    lines = (record / "log" / "entries.jsonl").read_bytes().split(b"\n")
    assert lines[-1] == b""
    hashes = [hashlib.sha256(b"\x00" + line).digest() for line in lines[:-1]]

    def mth(nodes: list[bytes]) -> bytes:  # RFC 6962 §2.1
        if len(nodes) == 1:
            return nodes[0]
        k = 1
        while k * 2 < len(nodes):
            k *= 2
        return hashlib.sha256(b"\x01" + mth(nodes[:k]) + mth(nodes[k:])).digest()

    body = (record / "log" / "checkpoint").read_text("utf-8").split("\n\n")[0]
    origin, size, root64 = body.split("\n")
    assert origin == ORIGIN
    assert int(size) == len(hashes) == 3
    assert base64.b64decode(root64) == mth(hashes)


def test_independent_verification_of_every_signature_line(record: Path) -> None:
    keys = {}
    for line in (record / "log" / "keys").read_text("utf-8").splitlines():
        name, key_hash, material = line.split("+", 2)
        raw = base64.b64decode(material)
        assert raw[0] == 0x01  # Ed25519
        assert len(raw) == 33
        # c2sp.org/signed-note: key ID = SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]
        assert hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex() == key_hash
        keys[(name, bytes.fromhex(key_hash))] = Ed25519PublicKey.from_public_bytes(raw[1:])
    note = (record / "log" / "checkpoint").read_text("utf-8")
    split = note.rindex("\n\n")
    text, signature_lines = note[: split + 1], note[split + 2 :].splitlines()
    assert len(signature_lines) == 3
    signers = []
    for line in signature_lines:
        dash, name, blob64 = line.split(" ")
        assert dash == "\u2014"
        blob = base64.b64decode(blob64)
        keys[(name, blob[:4])].verify(blob[4:], text.encode("utf-8"))  # raises if bad
        with pytest.raises(InvalidSignature):
            keys[(name, blob[:4])].verify(blob[4:], text.encode("utf-8") + b" ")
        signers.append(name)
    assert signers == [ORIGIN, "faction-1.example", "faction-2.example"]


# --- tampering ---------------------------------------------------------------------------------

FILES = [ENTRIES, CHECKPOINT, KEYS]


def test_every_changed_byte_in_every_file_is_found(record: Path) -> None:
    for name in FILES:
        path = record / name
        original = path.read_bytes()
        for position in range(len(original)):
            for mask in (0x01, 0x20):
                changed = bytearray(original)
                changed[position] ^= mask
                path.write_bytes(bytes(changed))
                assert check_record(record), (name, position, mask)
        path.write_bytes(original)
    assert check_record(record) == []


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sampled_from(FILES),
    st.integers(min_value=0, max_value=10_000),
    st.binary(min_size=1, max_size=3),
    st.sampled_from(["replace", "insert", "delete"]),
)
def test_random_edits_are_found(record: Path, name: str, at: int, data: bytes, how: str) -> None:
    path = record / name
    original = path.read_bytes()
    at %= len(original) + 1
    if how == "replace":
        changed = original[:at] + data + original[at + len(data) :]
    elif how == "insert":
        changed = original[:at] + data + original[at:]
    else:
        changed = original[:at] + original[at + len(data) :]
    if changed == original:
        return
    path.write_bytes(changed)
    try:
        assert check_record(record), (name, changed)
    finally:
        path.write_bytes(original)


def test_swapped_entries_and_a_dropped_entry_are_found(record: Path) -> None:
    path = record / ENTRIES
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join([lines[1], lines[0], *lines[2:]]))
    assert any("root hash" in p for p in check_record(record))
    path.write_bytes(b"\n".join(lines[1:]))
    assert any("tree size 3" in p for p in check_record(record))


def test_specific_problems_are_named(record: Path) -> None:
    keys = (record / KEYS).read_text()
    (record / KEYS).write_text(keys + signer_from_seed("faction-3.example", bytes(32))[1] + "\n")
    assert check_record(record) == [
        f"{CHECKPOINT}: faction-3.example, listed in {KEYS}, did not cosign"
    ]
    (record / KEYS).write_text("".join(line + "\n" for line in keys.splitlines()[:2]))
    faction_2_id = WITNESSES[1][1].split("+")[1]
    assert check_record(record) == [
        f"{CHECKPOINT}: signature line 3 is by faction-2.example+{faction_2_id},"
        f" which {KEYS} does not list"
    ]
    (record / KEYS).write_text("".join(line + "\n" for line in keys.splitlines()[1:]))
    problems = check_record(record)
    assert any("is not the checkpoint origin" in p for p in problems)
    assert any(f"signature line 1 is by {ORIGIN}+" in p for p in problems)
    (record / KEYS).write_text(keys)
    note = (record / CHECKPOINT).read_text()
    lines = note.split("\n")
    (record / CHECKPOINT).write_text("\n".join(lines[:4] + lines[5:]))  # drop the authority's
    assert check_record(record) == [f"{CHECKPOINT}: no valid signature by the authority {ORIGIN}"]
    (record / KEYS).unlink()
    assert check_record(record) == [f"{KEYS}: cannot read (No such file or directory)"]


def test_an_empty_record_checks(tmp_path: Path) -> None:
    note, keys = _build([])
    assert f"\n0\n{base64.b64encode(EMPTY_ROOT).decode()}\n" in note
    write_record(tmp_path, [], note, keys)
    assert (tmp_path / ENTRIES).read_bytes() == b""
    assert check_record(tmp_path) == []
    assert read_record(tmp_path).entries == ()


def test_write_refuses_bad_entries_and_inconsistent_records(tmp_path: Path) -> None:
    note, keys = _build(ENTRIES_DATA)
    with pytest.raises(ValueError, match="newline"):
        write_record(tmp_path, [b'{"type":"a"}\n'], note, keys)
    with pytest.raises(ValueError, match="canonical"):
        write_record(tmp_path, [b'{"type": "a"}'], note, keys)
    with pytest.raises(ValueError, match="tree size 3"):
        write_record(tmp_path, ENTRIES_DATA[:2], note, keys)
    with pytest.raises(ValueError, match="does not list"):
        write_record(tmp_path, ENTRIES_DATA, note, keys[:1])
    with pytest.raises(ValueError, match="list of keys"):
        write_record(tmp_path, ENTRIES_DATA, note, keys[0])
    assert not (tmp_path / "log").exists()


def test_rewriting_replaces_the_files_and_leaves_no_temporaries(record: Path) -> None:
    more = [*ENTRIES_DATA, canonical_json({"type": "result", "seats": {"A": 1}})]
    note, keys = _build(more)
    write_record(record, more, note, keys)
    assert check_record(record) == []
    assert read_record(record).entries == tuple(more)
    assert sorted(p.name for p in (record / "log").iterdir()) == [
        "checkpoint",
        "entries.jsonl",
        "keys",
        "tile",
    ]
    assert sorted(p.name for p in (record / "log/tile/0").iterdir()) == ["000.p"]
    assert [p.name for p in (record / "log/tile/0/000.p").iterdir()] == ["4"]
    assert (record / ENTRIES).stat().st_mode & 0o777 == 0o644


def test_entries_are_streamed_and_a_refused_record_changes_nothing(record: Path) -> None:
    """The entries may come one at a time (a national record is never held): a generator is
    written as a list is. A record refused half-way (its last entry is bad) leaves the
    record that was there as it was, and no staging folder behind."""
    before = {p: p.read_bytes() for p in record.rglob("*") if p.is_file()}
    more = [*ENTRIES_DATA, canonical_json({"type": "result", "seats": {"A": 1}})]
    note, keys = _build(more)
    with pytest.raises(ValueError, match="entry 3 contains a newline"):
        write_record(record, (e if i < 3 else e + b"\n" for i, e in enumerate(more)), note, keys)
    assert {p: p.read_bytes() for p in record.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in record.iterdir()) == ["log"]
    write_record(record, iter(more), note, keys)
    assert check_record(record) == []
    assert read_record(record).entries == tuple(more)
    fresh = record.parent / "not-there-yet"
    with pytest.raises(ValueError, match="tree size"):
        write_record(fresh, iter(more[:2]), note, keys)
    assert not fresh.exists()


def test_read_refuses_files_that_are_not_lines(record: Path) -> None:
    (record / ENTRIES).write_bytes((record / ENTRIES).read_bytes()[:-1])
    with pytest.raises(ValueError, match="newline"):
        read_record(record)
    (record / ENTRIES).unlink()
    with pytest.raises(ValueError, match="cannot read"):
        read_record(record)
