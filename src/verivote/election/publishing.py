"""Signing the board and publishing it: checkpoints cosigned by the factions' witnesses,
inclusion proofs for voters, and the public election record (issue 4).

Keys live in files of mode 0600 in the election's keys folder, never in the database:

    authority.key              the authority's note signer key (origin "verivote/<election>")
    witness-<faction>.key      one witness signer key per faction
    witness-<faction>.json     the witness's state: the last checkpoint it cosigned (public)
    verifiers                  the verifier keys, authority first (public; `log/keys`)

In a real election each witness runs on its faction's own machine; here each is a local file,
but the witness only ever sees the signed checkpoint and a consistency proof, as it would
over the network.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verivote.board.checkpoint import (
    Checkpoint,
    Witness,
    WitnessRefusal,
    format_checkpoint,
    open_checkpoint,
)
from verivote.board.merkle import MerkleLog, leaf_hash, verify_inclusion
from verivote.board.note import generate_signer, sign, verifier_from_signer
from verivote.board.record import check_record, write_record
from verivote.crypto.keyfile import read_private, write_private
from verivote.election.service import ElectionContext, ElectionError
from verivote.model.manifest import Manifest
from verivote.store import Store

AUTHORITY_FILE = "authority.key"
VERIFIERS_FILE = "verifiers"


def origin(election_id: str) -> str:
    """The checkpoint origin, which is also the authority's key name."""
    return f"verivote/{election_id}"


def _write_secret(path: Path, text: str) -> None:
    write_private(path, text + "\n")


def _read_secret(path: Path) -> str:
    if not path.is_file():
        raise ElectionError(f"missing key file {path}")
    try:
        return read_private(path).strip()
    except ValueError as exc:
        raise ElectionError(str(exc)) from None


def create_signers(keys_dir: Path, manifest: Manifest) -> list[str]:
    """Create the authority's and one witness key per faction; returns the verifier keys."""
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if (keys_dir / AUTHORITY_FILE).exists():
        raise ElectionError(f"{keys_dir} already holds an authority key; use another --keys-dir")
    signer, verifier = generate_signer(origin(manifest.election_id))
    _write_secret(keys_dir / AUTHORITY_FILE, signer)
    verifiers = [verifier]
    for faction in manifest.factions:
        w_signer, w_verifier = generate_signer(f"witness/{faction.id}")
        _write_secret(keys_dir / f"witness-{faction.id}.key", w_signer)
        verifiers.append(w_verifier)
    (keys_dir / VERIFIERS_FILE).write_text("\n".join(verifiers) + "\n", encoding="utf-8")
    return verifiers


def verifier_keys(keys_dir: Path) -> list[str]:
    path = keys_dir / VERIFIERS_FILE
    if not path.is_file():
        raise ElectionError(f"no verifier keys in {keys_dir} (was election init run with it?)")
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _board_log(store: Store, election_id: str) -> tuple[MerkleLog, list[bytes]]:
    entries = store.entries(election_id)
    log = MerkleLog()
    for entry in entries:
        log.append_entry(entry)
    return log, entries


@dataclass(frozen=True)
class CheckpointResult:
    note: str
    size: int
    witnesses: list[str]
    refusals: list[str]


def make_checkpoint(store: Store, ctx: ElectionContext, keys_dir: Path) -> CheckpointResult:
    """Sign the board's current root and have every faction's witness cosign it."""
    authority = _read_secret(keys_dir / AUTHORITY_FILE)
    authority_verifier = verifier_from_signer(authority)
    log, _ = _board_log(store, ctx.election_id)
    checkpoint = Checkpoint(origin(ctx.election_id), log.size, log.root())
    note = sign(format_checkpoint(checkpoint), [authority])
    cosigned: list[str] = []
    refusals: list[str] = []
    for faction in ctx.manifest.factions:
        key_path = keys_dir / f"witness-{faction.id}.key"
        state_path = keys_dir / f"witness-{faction.id}.json"
        state = json.loads(state_path.read_text(encoding="utf-8")) if state_path.exists() else None
        witness = Witness(_read_secret(key_path), state)
        last = witness.last(checkpoint.origin)
        proof = log.consistency_proof(last.size) if last and last.size < log.size else []
        try:
            note += witness.cosign(note, proof, authority_verifier)
        except WitnessRefusal as exc:  # reported to the operator, never hidden
            refusals.append(f"{witness.name}: {exc}")
            continue
        state_path.write_text(json.dumps(witness.to_dict()), encoding="utf-8")
        cosigned.append(witness.name)
    store.put_checkpoint(ctx.election_id, log.size, note)
    return CheckpointResult(note, log.size, cosigned, refusals)


def prove_inclusion(
    store: Store, ctx: ElectionContext, keys_dir: Path, code: str
) -> dict[str, Any]:
    """The inclusion proof of the ballot with tracking code (or challenged-ballot id) `code`
    in the latest checkpoint, checked before it is returned."""
    ballot = store.ballot(ctx.election_id, code)
    if ballot is None:
        raise ElectionError(f"no ballot with code {code} on the board of {ctx.election_id}")
    latest = store.latest_checkpoint(ctx.election_id)
    if latest is None or ballot.board_idx >= latest[0]:
        raise ElectionError(
            "the ballot is on the board but not yet in a signed checkpoint; "
            "run `verivote board checkpoint` and ask again"
        )
    size, note = latest
    checkpoint, _ = open_checkpoint(note, verifier_keys(keys_dir)[:1])
    log, entries = _board_log(store, ctx.election_id)
    proof = log.inclusion_proof(ballot.board_idx, size)
    entry = entries[ballot.board_idx]
    if not verify_inclusion(leaf_hash(entry), ballot.board_idx, size, proof, checkpoint.root):
        raise ElectionError("internal error: the inclusion proof does not verify")
    return {
        "type": "inclusion-proof",
        "election": ctx.election_id,
        "code": code,
        "state": ballot.state,
        "index": ballot.board_idx,
        "size": size,
        "entry": entry.decode("utf-8"),
        "proof": [base64.b64encode(h).decode("ascii") for h in proof],
        "checkpoint": note,
    }


def check_inclusion(doc: dict[str, Any], verifiers: list[str]) -> bool:
    """A voter's check of an inclusion proof: the checkpoint is signed by the authority and
    the entry's leaf hash, with the proof, gives the checkpoint's root."""
    try:
        checkpoint, _ = open_checkpoint(doc["checkpoint"], verifiers[:1])
        proof = [base64.b64decode(h, validate=True) for h in doc["proof"]]
        return checkpoint.size == doc["size"] and verify_inclusion(
            leaf_hash(doc["entry"].encode("utf-8")), doc["index"], doc["size"], proof,
            checkpoint.root,
        )  # fmt: skip
    except (KeyError, TypeError, ValueError):
        return False


def export_record(store: Store, ctx: ElectionContext, keys_dir: Path, directory: Path) -> int:
    """Write the public record of the latest checkpoint to `directory`; returns its size."""
    latest = store.latest_checkpoint(ctx.election_id)
    if latest is None:
        raise ElectionError("no checkpoint yet: run `verivote board checkpoint` first")
    size, note = latest
    entries = store.entries(ctx.election_id, 0, size)
    write_record(directory, entries, note, verifier_keys(keys_dir))
    problems = check_record(directory)
    if problems:
        raise ElectionError(f"the written record does not check: {problems[0]}")
    return size
