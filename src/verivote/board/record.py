"""The public election record on disk: the bulletin board's content and its signed checkpoint
(DESIGN.md, "The flow of one election": the election record is the board's content plus its
signed checkpoints, a directory that anyone can download and check).

    log/entries.jsonl   one board entry per line, in board order: the canonical JSON bytes
                        (`verivote.model.canonical`) of the entry, then "\\n". The leaf is the
                        line without its newline; canonical JSON never holds a raw newline.
    log/checkpoint      the C2SP signed note of the checkpoint over all the entries.
    log/keys            one verifier key per line: first the election authority's (its key name
                        is the checkpoint's origin), then every witness that cosigned.

Everything needed to check the record is in it, and the checks need nothing beyond SHA-256 and
Ed25519: recompute the RFC 6962 root of the lines, compare with the checkpoint, verify every
signature line under the listed keys.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from verivote.board.checkpoint import Checkpoint, open_checkpoint, parse_checkpoint
from verivote.board.merkle import leaf_hash, root
from verivote.board.note import Verifier, parse_note, parse_verifier
from verivote.model.canonical import parse_canonical

__all__ = ["CHECKPOINT", "ENTRIES", "KEYS", "Record", "check_record", "read_record", "write_record"]

ENTRIES = "log/entries.jsonl"
CHECKPOINT = "log/checkpoint"
KEYS = "log/keys"


@dataclass(frozen=True)
class Record:
    """An election record as read from disk; `check_record` says whether to trust it."""

    entries: tuple[bytes, ...]
    checkpoint_note: str
    verifier_keys: tuple[str, ...]

    def leaf_hashes(self) -> list[bytes]:
        """The RFC 6962 leaf hash of every entry."""
        return [leaf_hash(entry) for entry in self.entries]

    def root(self) -> bytes:
        """The Merkle root over all entries."""
        return root(self.leaf_hashes())

    def checkpoint(self) -> Checkpoint:
        """The checkpoint, verified under the authority's key (the first of `verifier_keys`).

        Raises ValueError if the authority did not sign it; it checks nothing else.
        """
        if not self.verifier_keys:
            raise ValueError(f"{KEYS} lists no authority key")
        checkpoint, _ = open_checkpoint(self.checkpoint_note, [self.verifier_keys[0]])
        return checkpoint


def _lines(raw: bytes, path: str, problems: list[str]) -> list[bytes]:
    # Split on b"\n" only: str.splitlines would also split at U+2028 and friends, which
    # canonical JSON leaves unescaped.
    if not raw:
        return []
    if not raw.endswith(b"\n"):
        problems.append(f"{path}: the last line does not end in a newline")
        return raw.split(b"\n")
    return raw[:-1].split(b"\n")


def _check_entries(raw: bytes, problems: list[str]) -> list[bytes]:
    entries = _lines(raw, ENTRIES, problems)
    for number, line in enumerate(entries, start=1):
        try:
            parse_canonical(line)
        except ValueError as exc:
            problems.append(f"{ENTRIES} line {number}: {exc}")
    return entries


def _check_keys(raw: bytes, problems: list[str]) -> list[Verifier | None]:
    """The listed keys in order, None for a line that is not a verifier key."""
    keys: list[Verifier | None] = []
    seen: set[tuple[str, int]] = set()
    for number, line in enumerate(_lines(raw, KEYS, problems), start=1):
        try:
            verifier = parse_verifier(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            problems.append(f"{KEYS} line {number}: {exc}")
            keys.append(None)
            continue
        handle = (verifier.name, verifier.key_id)
        if handle in seen:
            problems.append(f"{KEYS} line {number}: the key {line.decode()} is listed twice")
        seen.add(handle)
        keys.append(verifier)
    if not keys:
        problems.append(f"{KEYS}: no keys; the first line must be the authority's verifier key")
    return keys


def _check_signatures(
    raw: bytes, keys: list[Verifier | None], problems: list[str]
) -> Checkpoint | None:
    """Verify every signature line of the checkpoint under the listed keys."""
    try:
        text, signatures = parse_note(raw.decode("utf-8"))
        checkpoint = parse_checkpoint(text)
    except UnicodeDecodeError as exc:
        problems.append(f"{CHECKPOINT}: not UTF-8 ({exc.reason} at byte {exc.start})")
        return None
    except ValueError as exc:
        problems.append(f"{CHECKPOINT}: {exc}")
        return None
    listed = {(key.name, key.key_id): key for key in keys if key is not None}
    signed: set[tuple[str, int]] = set()
    raw_text = text.encode("utf-8")
    for number, signature in enumerate(signatures, start=1):
        handle = (signature.name, signature.key_id)
        verifier = listed.get(handle)
        if verifier is None:
            problems.append(
                f"{CHECKPOINT}: signature line {number} is by {signature.name}"
                f"+{signature.key_id:08x}, which {KEYS} does not list"
            )
        elif not verifier.verify(raw_text, signature.signature):
            problems.append(f"{CHECKPOINT}: the signature by {signature.name} does not verify")
        else:
            signed.add(handle)
    authority = keys[0] if keys else None
    if authority is not None:
        if authority.name != checkpoint.origin:
            problems.append(
                f"{KEYS}: the authority key {authority.name!r} (first line) is not the"
                f" checkpoint origin {checkpoint.origin!r}"
            )
        if (authority.name, authority.key_id) not in signed:
            problems.append(f"{CHECKPOINT}: no valid signature by the authority {authority.name}")
    for key in keys[1:]:
        if key is not None and (key.name, key.key_id) not in signed:
            problems.append(f"{CHECKPOINT}: {key.name}, listed in {KEYS}, did not cosign")
    return checkpoint


def _problems(entries_raw: bytes, checkpoint_raw: bytes, keys_raw: bytes) -> list[str]:
    problems: list[str] = []
    entries = _check_entries(entries_raw, problems)
    keys = _check_keys(keys_raw, problems)
    checkpoint = _check_signatures(checkpoint_raw, keys, problems)
    if checkpoint is not None:
        if checkpoint.size != len(entries):
            problems.append(
                f"{CHECKPOINT}: tree size {checkpoint.size}, but {ENTRIES} has {len(entries)}"
                " entries"
            )
        if root([leaf_hash(entry) for entry in entries]) != checkpoint.root:
            problems.append(f"{CHECKPOINT}: the root hash is not the Merkle root of {ENTRIES}")
    return problems


def _read_files(directory: Path) -> tuple[bytes, bytes, bytes]:
    contents: list[bytes] = []
    for name in (ENTRIES, CHECKPOINT, KEYS):
        try:
            contents.append((directory / name).read_bytes())
        except OSError as exc:
            raise ValueError(f"{name}: cannot read ({exc.strerror or exc})") from None
    return contents[0], contents[1], contents[2]


def check_record(directory: str | os.PathLike[str]) -> list[str]:
    """Everything wrong with the record in `directory`, one line each; empty if it checks.

    Checked: every entry line is canonical JSON of an entry; every key line is a verifier key;
    the checkpoint is a well-formed signed note of a well-formed checkpoint; every signature
    line is by a listed key and verifies; the authority (first key, named as the origin) and
    every listed witness signed; the tree size is the number of entries and the root hash
    their Merkle root.
    """
    try:
        files = _read_files(Path(directory))
    except ValueError as exc:
        return [str(exc)]
    return _problems(*files)


def read_record(directory: str | os.PathLike[str]) -> Record:
    """Read the record's files; raises ValueError if one is missing or not a list of lines.

    Reading checks no signature and no hash: use `check_record` before trusting the content.
    """
    entries_raw, checkpoint_raw, keys_raw = _read_files(Path(directory))
    problems: list[str] = []
    entries = _lines(entries_raw, ENTRIES, problems)
    key_lines = _lines(keys_raw, KEYS, problems)
    if problems:
        raise ValueError(problems[0])
    try:
        checkpoint_note = checkpoint_raw.decode("utf-8")
        keys = tuple(line.decode("utf-8") for line in key_lines)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{CHECKPOINT} or {KEYS} is not UTF-8: {exc.reason}") from None
    return Record(tuple(entries), checkpoint_note, keys)


def write_atomic(path: Path, data: bytes, mode: int = 0o644, sync_folder: bool = True) -> None:
    """Replace `path` with `data` so that a reader or a crash sees the old file or the new one,
    never a mix: a temporary file beside it, flushed and fsynced, renamed over it (atomic on
    POSIX and Windows), then, with `sync_folder`, the folder fsynced so that the rename itself
    is on disk (a caller writing several files may sync the folder once, `fsync_directory`)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)  # mkstemp makes files private
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    if sync_folder:
        fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    """Make the renames in `directory` durable; not every platform can open a directory."""
    with contextlib.suppress(OSError):
        handle = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def write_record(
    directory: str | os.PathLike[str],
    entries: Sequence[bytes],
    checkpoint_note: str,
    verifier_keys: Sequence[str],
) -> None:
    """Write the record into `directory`/log, each file atomically.

    Refuses (ValueError) an entry holding a newline or not in canonical JSON, and any record
    that `check_record` would find a problem with, so a written record always checks.
    The entries file is replaced first and the checkpoint last.
    """
    if isinstance(verifier_keys, str):
        raise ValueError("verifier_keys is a list of keys, not one string")
    for index, entry in enumerate(entries):
        if not isinstance(entry, bytes):
            raise ValueError(f"entry {index} is {type(entry).__name__}, not bytes")
        if b"\n" in entry:
            raise ValueError(f"entry {index} contains a newline; entries are one line each")
        parse_canonical(entry)
    for key in verifier_keys:
        if not isinstance(key, str) or "\n" in key:
            raise ValueError("every verifier key is one line of text")
    if not isinstance(checkpoint_note, str):
        raise ValueError("the checkpoint note is text")
    entries_raw = b"".join(entry + b"\n" for entry in entries)
    keys_raw = "".join(key + "\n" for key in verifier_keys).encode("utf-8")
    try:
        checkpoint_raw = checkpoint_note.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the checkpoint note is not valid Unicode") from None
    problems = _problems(entries_raw, checkpoint_raw, keys_raw)
    if problems:
        raise ValueError("refusing to write a record that does not check: " + problems[0])
    log = Path(directory) / "log"
    log.mkdir(parents=True, exist_ok=True)
    base = Path(directory)
    for name, raw in ((ENTRIES, entries_raw), (KEYS, keys_raw), (CHECKPOINT, checkpoint_raw)):
        write_atomic(base / name, raw, sync_folder=False)
    fsync_directory(log)
