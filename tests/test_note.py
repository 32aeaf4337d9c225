"""C2SP signed notes: the published Go example keys and notes, key formats, tampering."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verivote.board.note import (
    MAX_SIGNATURES,
    generate_signer,
    key_id,
    open_note,
    parse_note,
    parse_verifier,
    sign,
    signature_line,
    signer_from_seed,
    verifier_from_signer,
)

# The example of golang.org/x/mod/sumdb/note (package documentation and example_test.go,
# ExampleSign / ExampleOpen): a signer key, its verifier key, a text and the signed note.
PETER_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_LINE = (
    "— PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
PETER_NOTE = TEXT + "\n" + PETER_LINE
# ExampleSign_add_signatures of the same file generates the key "EnochRoot" from an all-zero
# random stream (so its Ed25519 seed is 32 zero bytes) and adds this signature line; the
# verifier key is the one of sumdb/note/note_test.go.
ENOCH_VERIFIER = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
ENOCH_LINE = (
    "— EnochRoot "
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
)


def test_go_example_sign_reproduces_the_published_note() -> None:
    assert sign(TEXT, [PETER_SIGNER]) == PETER_NOTE
    assert verifier_from_signer(PETER_SIGNER) == PETER_VERIFIER


def test_go_example_open() -> None:
    assert open_note(PETER_NOTE, [PETER_VERIFIER]) == (TEXT, ["PeterNeumann"])
    verifier = parse_verifier(PETER_VERIFIER)
    assert verifier.name == "PeterNeumann"
    assert verifier.key_id == 0xC74F20A3 == key_id("PeterNeumann", verifier.public_key)
    assert str(verifier) == PETER_VERIFIER


def test_go_example_add_signatures() -> None:
    enoch_signer, enoch_verifier = signer_from_seed("EnochRoot", bytes(32))
    assert enoch_verifier == ENOCH_VERIFIER
    assert signature_line(TEXT, enoch_signer) == ENOCH_LINE
    both = PETER_NOTE + ENOCH_LINE
    assert open_note(both, [PETER_VERIFIER, ENOCH_VERIFIER]) == (
        TEXT,
        ["PeterNeumann", "EnochRoot"],
    )
    # Signatures by unknown keys are ignored, whichever key is known.
    assert open_note(both, [ENOCH_VERIFIER]) == (TEXT, ["EnochRoot"])
    assert open_note(both, [PETER_VERIFIER]) == (TEXT, ["PeterNeumann"])


def test_key_id_is_the_spec_derivation() -> None:
    public = parse_verifier(PETER_VERIFIER).public_key
    digest = hashlib.sha256(b"PeterNeumann\n\x01" + public).digest()
    assert key_id("PeterNeumann", public) == int.from_bytes(digest[:4], "big")


def test_generated_keys_sign_and_open() -> None:
    signer, verifier = generate_signer("verivote.example/board")
    assert verifier_from_signer(signer) == verifier
    assert verifier.startswith("verivote.example/board+")
    note = sign("checkpoint\n", [signer])
    assert open_note(note, [verifier]) == ("checkpoint\n", ["verivote.example/board"])
    assert generate_signer("x")[0] != generate_signer("x")[0]


@pytest.mark.parametrize(
    "name", ["", "a b", "a+b", "a\nb", "a\tb", "a\u00a0b", "a\u2028b", "a\x01"]
)
def test_key_names_without_spaces_plus_or_controls(name: str) -> None:
    with pytest.raises(ValueError, match="key name"):
        generate_signer(name)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match"),
        ("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "lowercase hex"),
        ("PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "lowercase hex"),
        ("PeterNeumann+c74f20a3+AhpcMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "not valid base64"),
        (
            "PeterNeumann+c74f20a3+AQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4=",
            "not an Ed25519",
        ),  # 31 bytes
        ("PeterNeumann+c74f20a3+Ahpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "not an Ed25519"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TX", "does not match"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW=", "canonical"),
        ("PeterNeumann+c74f20a3", "of the form"),
        ("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "key name"),
        (PETER_SIGNER, "key name|lowercase hex"),
    ],
)
def test_malformed_verifier_keys_are_refused(key: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_verifier(key)


def test_malformed_signer_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="PRIVATE"):
        sign(TEXT, [PETER_VERIFIER])
    with pytest.raises(ValueError, match="does not match"):
        sign(TEXT, [PETER_SIGNER.replace("c74f20a3", "c74f20a4")])
    with pytest.raises(ValueError, match="list"):
        sign(TEXT, PETER_SIGNER)  # one string, not a list of keys
    with pytest.raises(ValueError, match="32 bytes"):
        signer_from_seed("x", bytes(31))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "ending in a newline"),
        ("no newline", "ending in a newline"),
        ("a\x00\n", "control character"),
        ("tab\there\n", "control character"),
        ("\ud800\n", "not valid Unicode"),
    ],
)
def test_texts_that_cannot_be_signed(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sign(text, [PETER_SIGNER])


def test_texts_may_hold_blank_lines() -> None:
    text = "first\n\n\nlast\n\n"
    note = sign(text, [PETER_SIGNER])
    assert open_note(note, [PETER_VERIFIER]) == (text, ["PeterNeumann"])


def test_unknown_keys_are_ignored_but_a_note_needs_one_known_signature() -> None:
    # Same name, another key (so another key ID): unknown, ignored, and then nothing verified.
    impostor, _ = generate_signer("PeterNeumann")
    with pytest.raises(ValueError, match="not signed by any known key"):
        open_note(sign(TEXT, [impostor]), [PETER_VERIFIER])
    note = sign(TEXT, [impostor, PETER_SIGNER])
    assert open_note(note, [PETER_VERIFIER]) == (TEXT, ["PeterNeumann"])
    with pytest.raises(ValueError, match="not signed by any known key"):
        open_note(PETER_NOTE, [])


def test_a_failing_known_signature_rejects_the_note() -> None:
    # A signature line with Peter's name and key ID but another key's signature.
    other, _ = generate_signer("other")
    forged = signature_line(TEXT, other).split(" ")[2]
    blob = base64.b64decode(forged)
    line = "— PeterNeumann " + base64.b64encode(bytes.fromhex("c74f20a3") + blob[4:]).decode()
    with pytest.raises(ValueError, match="does not verify"):
        open_note(TEXT + "\n" + line + "\n", [PETER_VERIFIER])
    with pytest.raises(ValueError, match="does not verify"):
        open_note(PETER_NOTE.replace("answer", "Answer"), [PETER_VERIFIER])


@pytest.mark.parametrize(
    ("note", "message"),
    [
        (TEXT + PETER_LINE, "blank line"),
        (PETER_NOTE[:-1], "end in a newline"),
        (PETER_NOTE + "\n", "end in a newline"),
        (PETER_NOTE.replace("—", "-"), "em dash"),
        (PETER_NOTE.replace("— PeterNeumann ", "— PeterNeumann  "), "not '— <name>"),
        (PETER_NOTE.replace("— PeterNeumann", "—  PeterNeumann"), "not '— <name>"),
        (PETER_NOTE.replace("AM=", "AN="), "canonical base64"),
        (PETER_NOTE.replace("x08go", "x08g!"), "base64"),
        (PETER_NOTE + PETER_LINE, "repeats the key"),
        (TEXT + "\n— PeterNeumann AAAA\n", "too short"),
        (PETER_NOTE.replace("problem,", "problem,\r"), "control character"),
        (TEXT + "\n" + PETER_LINE * (MAX_SIGNATURES + 1), "more than"),
    ],
)
def test_malformed_notes_are_refused(note: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_note(note, [PETER_VERIFIER])


def test_parse_note_reports_the_signature_lines() -> None:
    text, signatures = parse_note(PETER_NOTE + ENOCH_LINE)
    assert text == TEXT
    assert [(s.name, s.key_id) for s in signatures] == [
        ("PeterNeumann", 0xC74F20A3),
        ("EnochRoot", 0xAF0CFE78),
    ]
    assert signatures[0].line + "\n" == PETER_LINE
    assert len(signatures[0].signature) == 64


def test_ambiguous_known_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="list"):
        open_note(PETER_NOTE, PETER_VERIFIER)
    assert open_note(PETER_NOTE, [PETER_VERIFIER, PETER_VERIFIER])[1] == ["PeterNeumann"]


def test_every_single_character_change_is_refused() -> None:
    for position, char in enumerate(PETER_NOTE):
        for replacement in {"x", "\n", "A"} - {char}:
            changed = PETER_NOTE[:position] + replacement + PETER_NOTE[position + 1 :]
            with pytest.raises(ValueError, match=r"note|signature"):
                open_note(changed, [PETER_VERIFIER])


note_texts = st.lists(
    st.text(st.characters(blacklist_categories=["Cc", "Cs"]), max_size=20), min_size=1, max_size=4
).map(lambda lines: "".join(line + "\n" for line in lines))


@settings(max_examples=50, deadline=None)
@given(note_texts, st.integers(min_value=0, max_value=10_000), st.characters())
def test_signed_texts_open_and_changes_are_caught(text: str, position: int, char: str) -> None:
    note = sign(text, [PETER_SIGNER])
    assert open_note(note, [PETER_VERIFIER]) == (text, ["PeterNeumann"])
    position %= len(note)
    changed = note[:position] + char + note[position + 1 :]
    if changed != note:
        with pytest.raises(ValueError, match=r"note|signature"):
            open_note(changed, [PETER_VERIFIER])
