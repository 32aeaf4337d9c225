"""C2SP tlog checkpoints and the witnesses that cosign them."""

from __future__ import annotations

import base64
import json

import pytest

from verivote.board.checkpoint import (
    Checkpoint,
    Witness,
    WitnessRefusal,
    format_checkpoint,
    open_checkpoint,
    parse_checkpoint,
    sign_checkpoint,
)
from verivote.board.merkle import EMPTY_ROOT, MerkleLog
from verivote.board.note import open_note, sign, signer_from_seed
from verivote.model.canonical import canonical_json

ORIGIN = "verivote.example/board"
AUTHORITY, AUTHORITY_KEY = signer_from_seed(ORIGIN, bytes(range(32)))
WITNESS, WITNESS_KEY = signer_from_seed("faction-a.example/witness", bytes(range(1, 33)))
STRANGER, STRANGER_KEY = signer_from_seed(ORIGIN, bytes(range(2, 34)))  # same name, other key

# The example checkpoint of the C2SP tlog-checkpoint specification (its note text).
SPEC_EXAMPLE = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)


def test_the_spec_example_parses_and_formats_back() -> None:
    checkpoint = parse_checkpoint(SPEC_EXAMPLE)
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.size == 20852163
    assert checkpoint.root == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert checkpoint.extensions == ()
    assert format_checkpoint(checkpoint) == SPEC_EXAMPLE


def test_extension_lines_round_trip() -> None:
    checkpoint = Checkpoint(ORIGIN, 0, EMPTY_ROOT, ("ext one", "ext two"))
    text = format_checkpoint(checkpoint)
    assert text == f"{ORIGIN}\n0\n{base64.b64encode(EMPTY_ROOT).decode()}\next one\next two\n"
    assert parse_checkpoint(text) == checkpoint


ROOT64 = base64.b64encode(EMPTY_ROOT).decode()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"{ORIGIN}\n5\n{ROOT64}", "newline"),
        (f"{ORIGIN}\n5\n", "origin, size and root"),
        (f"\n5\n{ROOT64}\n", "origin must not be empty"),
        (f"{ORIGIN}\n05\n{ROOT64}\n", "leading zeros"),
        (f"{ORIGIN}\n+5\n{ROOT64}\n", "decimal"),
        (f"{ORIGIN}\n 5\n{ROOT64}\n", "decimal"),
        (f"{ORIGIN}\n-1\n{ROOT64}\n", "decimal"),
        (f"{ORIGIN}\n\u0665\n{ROOT64}\n", "decimal"),  # ARABIC-INDIC DIGIT FIVE
        (f"{ORIGIN}\n1_000\n{ROOT64}\n", "decimal"),
        (f"{ORIGIN}\n{2**64}\n{ROOT64}\n", "2\\^64"),
        (f"{ORIGIN}\n5\n{ROOT64[:-2]}\n", "base64"),
        (f"{ORIGIN}\n5\n{ROOT64[:-2]}V=\n", "canonical base64"),
        (f"{ORIGIN}\n5\nAAAA\n", "3 bytes"),
        (f"{ORIGIN}\n5\n{ROOT64}\n\n", "extension line must not be empty"),
        (f"{ORIGIN}\t\n5\n{ROOT64}\n", "control character"),
    ],
)
def test_malformed_checkpoints_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_checkpoint(text)


def test_checkpoint_fields_are_checked() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Checkpoint(ORIGIN, 1, b"short")
    with pytest.raises(ValueError, match="integer"):
        Checkpoint(ORIGIN, True, EMPTY_ROOT)
    with pytest.raises(ValueError, match="outside"):
        Checkpoint(ORIGIN, -1, EMPTY_ROOT)
    with pytest.raises(ValueError, match="control"):
        Checkpoint("a\nb", 0, EMPTY_ROOT)


def test_signed_checkpoints_open() -> None:
    checkpoint = Checkpoint(ORIGIN, 0, EMPTY_ROOT)
    note = sign_checkpoint(checkpoint, [AUTHORITY])
    assert open_checkpoint(note, [AUTHORITY_KEY]) == (checkpoint, [ORIGIN])
    with pytest.raises(ValueError, match="not signed by any known key"):
        open_checkpoint(note, [WITNESS_KEY])


# --- witnesses ---------------------------------------------------------------------------------


def _log(entries: list[bytes]) -> MerkleLog:
    log = MerkleLog()
    for entry in entries:
        log.append_entry(entry)
    return log


def _signed(log: MerkleLog, size: int, signer: str = AUTHORITY, origin: str = ORIGIN) -> str:
    return sign_checkpoint(Checkpoint(origin, size, log.root(size)), [signer])


HISTORY = [b"entry %d" % i for i in range(20)]


def test_a_witness_cosigns_proper_extensions() -> None:
    log = _log(HISTORY)
    witness = Witness(WITNESS)
    assert witness.verifier_key == WITNESS_KEY
    assert witness.name == "faction-a.example/witness"
    note = _signed(log, 3)
    line = witness.cosign(note, [], AUTHORITY_KEY)
    assert open_note(note + line, [AUTHORITY_KEY, WITNESS_KEY])[1] == [ORIGIN, witness.name]
    assert open_note(note + line, [WITNESS_KEY])[1] == [witness.name]
    for old, new in [(3, 7), (7, 8), (8, 8), (8, 20)]:
        proof = log.consistency_proof(old, new)
        line = witness.cosign(_signed(log, new), proof, AUTHORITY_KEY)
        assert line.startswith(f"— {witness.name} ")
        assert line.endswith("\n")
        assert witness.last(ORIGIN) == Checkpoint(ORIGIN, new, log.root(new))


def test_a_witness_refuses_a_fork_of_the_same_size() -> None:
    log = _log(HISTORY[:5])
    fork = _log([*HISTORY[:4], b"another fifth entry"])
    witness = Witness(WITNESS)
    witness.cosign(_signed(log, 5), [], AUTHORITY_KEY)
    with pytest.raises(WitnessRefusal, match="fork") as refusal:
        witness.cosign(_signed(fork, 5), [], AUTHORITY_KEY)
    assert "fork" in refusal.value.reason
    assert witness.last(ORIGIN) == Checkpoint(ORIGIN, 5, log.root())


def test_a_witness_refuses_a_later_tree_that_rewrites_history() -> None:
    log = _log(HISTORY[:6])
    rewritten = _log([*HISTORY[:2], b"changed", *HISTORY[3:10]])
    witness = Witness(WITNESS)
    witness.cosign(_signed(log, 6), [], AUTHORITY_KEY)
    # The rewritten log's own proof from 6 to 10 is about its own size-6 tree, not ours.
    with pytest.raises(WitnessRefusal, match="not proven to extend"):
        witness.cosign(_signed(rewritten, 10), rewritten.consistency_proof(6, 10), AUTHORITY_KEY)
    honest = _log(HISTORY[:10])
    with pytest.raises(WitnessRefusal, match="not proven to extend"):
        witness.cosign(_signed(honest, 10), [], AUTHORITY_KEY)  # no proof
    proof = honest.consistency_proof(6, 10)
    damaged = [proof[0][:-1] + bytes([proof[0][-1] ^ 1]), *proof[1:]]
    with pytest.raises(WitnessRefusal, match="not proven to extend"):
        witness.cosign(_signed(honest, 10), damaged, AUTHORITY_KEY)
    with pytest.raises(WitnessRefusal, match="hashes"):
        witness.cosign(_signed(honest, 10), [b"short"], AUTHORITY_KEY)
    witness.cosign(_signed(honest, 10), proof, AUTHORITY_KEY)


def test_a_witness_refuses_a_smaller_tree() -> None:
    log = _log(HISTORY)
    witness = Witness(WITNESS)
    witness.cosign(_signed(log, 9), [], AUTHORITY_KEY)
    with pytest.raises(WitnessRefusal, match="smaller"):
        witness.cosign(_signed(log, 8), [], AUTHORITY_KEY)


def test_a_witness_refuses_notes_the_authority_did_not_sign() -> None:
    log = _log(HISTORY)
    witness = Witness(WITNESS)
    with pytest.raises(WitnessRefusal, match="not signed by the authority"):
        witness.cosign(_signed(log, 4, signer=STRANGER), [], AUTHORITY_KEY)
    with pytest.raises(WitnessRefusal, match="not signed by the authority"):
        witness.cosign(_signed(log, 4, signer=WITNESS), [], AUTHORITY_KEY)
    tampered = _signed(log, 4).replace("\n4\n", "\n5\n", 1)
    with pytest.raises(WitnessRefusal, match="does not verify"):
        witness.cosign(tampered, [], AUTHORITY_KEY)
    with pytest.raises(WitnessRefusal, match="not signed by the authority"):
        witness.cosign("not a note", [], AUTHORITY_KEY)
    assert witness.last(ORIGIN) is None


def test_a_witness_refuses_other_origins_and_non_checkpoints() -> None:
    witness = Witness(WITNESS)
    with pytest.raises(WitnessRefusal, match="origin"):
        witness.cosign(_signed(_log(HISTORY), 4, origin="other.example/log"), [], AUTHORITY_KEY)
    with pytest.raises(WitnessRefusal, match="not a checkpoint"):
        witness.cosign(sign("hello\n", [AUTHORITY]), [], AUTHORITY_KEY)


def test_witness_state_persists() -> None:
    log = _log(HISTORY)
    witness = Witness(WITNESS)
    witness.cosign(_signed(log, 6), [], AUTHORITY_KEY)
    state = witness.to_dict()
    assert WITNESS not in json.dumps(state)  # no secret in the state
    saved = canonical_json(state)
    restored = Witness.from_dict(WITNESS, json.loads(saved))
    assert restored.to_dict() == state
    with pytest.raises(WitnessRefusal, match="fork"):
        restored.cosign(_signed(_log([b"x"] * 6), 6), [], AUTHORITY_KEY)
    restored.cosign(_signed(log, 11), log.consistency_proof(6, 11), AUTHORITY_KEY)
    assert restored.to_dict()["checkpoints"][ORIGIN]["size"] == 11


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({}, "not a witness state"),
        ({"type": "witness-state", "checkpoints": []}, "not a witness state"),
        ({"type": "witness-state", "checkpoints": {ORIGIN: {"size": 1}}}, "size and root"),
        (
            {"type": "witness-state", "checkpoints": {ORIGIN: {"size": 1, "root": "!!"}}},
            "not base64",
        ),
        (
            {"type": "witness-state", "checkpoints": {ORIGIN: {"size": 1, "root": "AAAA"}}},
            "32 bytes",
        ),
        (
            {"type": "witness-state", "checkpoints": {ORIGIN: {"size": "1", "root": ROOT64}}},
            "integer",
        ),
    ],
)
def test_bad_witness_state_is_refused(state: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Witness.from_dict(WITNESS, state)


def test_a_witness_needs_a_signer_key() -> None:
    with pytest.raises(ValueError, match=r"PRIVATE\+KEY"):
        Witness(WITNESS_KEY)
