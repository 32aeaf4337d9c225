"""Signing the board and publishing it: checkpoints cosigned by the factions' witnesses,
inclusion proofs for voters, and the public election record (issues 4 and 14).

The election's keys folder holds the authority's secret and two public files, never a
witness's secret or state (issue 14, item 3):

    authority.key      the authority's note signer key (origin "verivote/<election>"), 0600
    verifiers          the verifier keys, authority first, then each registered witness's
                       (public; the record's `log/keys`)
    witnesses.json     the registered witnesses: name, verifier key and URL (public)

Each witness is a program of its own (`verivote.parties.witness`) with its key and its memory
of the board in its own folder; `make_checkpoint` asks each one over C2SP tlog-witness
(http:// or https:// URL), or in-process for a witness folder given as a file:// URL (tests and
local simulations). A witness that refuses or cannot be reached is reported, never hidden.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verivote.board.checkpoint import (
    Checkpoint,
    WitnessRefusal,
    format_checkpoint,
    open_checkpoint,
)
from verivote.board.code_index import write_code_index
from verivote.board.districts import NATIONAL
from verivote.board.inclusion import DistrictInclusion, check_in_district
from verivote.board.merkle import leaf_hash, verify_inclusion
from verivote.board.note import (
    generate_signer,
    open_note,
    parse_note,
    parse_verifier,
    sign,
)
from verivote.board.record import check_record, write_atomic, write_record
from verivote.crypto.keyfile import write_private
from verivote.election.district_logs import (
    AUTHORITY_FILE,
    authority_signer,
    last_seals,
    prove_ballot,
    seal_districts,
)
from verivote.election.service import ElectionContext, ElectionError
from verivote.model.manifest import Manifest
from verivote.parties import witness as witness_party
from verivote.store import Store

VERIFIERS_FILE = "verifiers"
WITNESSES_FILE = "witnesses.json"


def origin(election_id: str) -> str:
    """The checkpoint origin, which is also the authority's key name."""
    return f"verivote/{election_id}"


def _write_secret(path: Path, text: str) -> None:
    write_private(path, text + "\n")


@dataclass(frozen=True)
class RegisteredWitness:
    """A witness the authority asks to cosign: its key name, verifier key and URL."""

    name: str
    key: str
    url: str


def _write_public(
    keys_dir: Path, authority_verifier: str, witnesses: list[RegisteredWitness]
) -> None:
    doc = {
        "type": "witnesses",
        "witnesses": [{"name": w.name, "key": w.key, "url": w.url} for w in witnesses],
    }
    write_atomic(keys_dir / WITNESSES_FILE, (json.dumps(doc, indent=2) + "\n").encode("utf-8"))
    keys = [authority_verifier, *(w.key for w in witnesses)]
    write_atomic(keys_dir / VERIFIERS_FILE, "".join(k + "\n" for k in keys).encode())


def create_signers(keys_dir: Path, manifest: Manifest) -> list[str]:
    """Create the authority's signing key (only it: each witness makes its own, see
    `add_witness`); returns the verifier keys, the authority's alone until witnesses are
    registered."""
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if (keys_dir / AUTHORITY_FILE).exists():
        raise ElectionError(f"{keys_dir} already holds an authority key; use another --keys-dir")
    signer, verifier = generate_signer(origin(manifest.election_id))
    _write_secret(keys_dir / AUTHORITY_FILE, signer)
    _write_public(keys_dir, verifier, [])
    return [verifier]


def verifier_keys(keys_dir: Path) -> list[str]:
    """The verifier keys: the authority's first, then each registered witness's."""
    path = keys_dir / VERIFIERS_FILE
    if not path.is_file():
        raise ElectionError(f"no verifier keys in {keys_dir} (was election init run with it?)")
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def registered_witnesses(keys_dir: Path) -> list[RegisteredWitness]:
    """The witnesses registered in the keys folder, in registration order."""
    path = keys_dir / WITNESSES_FILE
    if not path.is_file():
        verifier_keys(keys_dir)  # says whether the folder is a keys folder at all
        raise ElectionError(f"no {WITNESSES_FILE} in {keys_dir} (was election init run with it?)")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return [
            RegisteredWitness(str(w["name"]), str(w["key"]), str(w["url"]))
            for w in doc["witnesses"]
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise ElectionError(f"{path} is not a list of witnesses: {exc}") from None


def _folder_of(url: str) -> Path | None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "file":
        return None
    return Path(urllib.parse.unquote(parts.path))


def add_witness(keys_dir: Path, url: str, key: str) -> RegisteredWitness:
    """Register a witness (its URL and verifier key) to be asked for every checkpoint.

    Refuses a key that is not a verifier key, a key or name or URL already registered, a URL
    that is not http(s):// or file://, and a file:// witness folder that is the keys folder,
    lies in it or holds another key.
    """
    key = key.strip()
    try:
        name = parse_verifier(key).name
    except ValueError as exc:
        raise ElectionError(f"not a valid verifier key: {exc}") from None
    try:
        witness_party.client_for_url(url)
    except ValueError as exc:
        raise ElectionError(str(exc)) from None
    authority = verifier_keys(keys_dir)[0]
    if key == authority or name == parse_verifier(authority).name:
        raise ElectionError("that is the authority's own key, not a witness's")
    witnesses = registered_witnesses(keys_dir)
    for w in witnesses:
        if key == w.key:
            raise ElectionError(f"the witness key {key} is already registered")
        if name == w.name:
            raise ElectionError(f"a witness named {name} is already registered")
        if url.rstrip("/") == w.url.rstrip("/"):
            raise ElectionError(f"a witness at {url} is already registered")
    folder = _folder_of(url)
    if folder is not None:
        keys, place = keys_dir.resolve(), folder.resolve()
        if place == keys or keys in place.parents or place in keys.parents:
            raise ElectionError("a witness folder is never the authority's keys folder or in it")
        try:
            actual = witness_party.verifier_key(folder)
        except witness_party.WitnessError as exc:
            raise ElectionError(str(exc)) from None
        if actual != key:
            raise ElectionError(f"the witness folder {folder} holds the key {actual}, not {key}")
    added = RegisteredWitness(name, key, url)
    _write_public(keys_dir, authority, [*witnesses, added])
    return added


def local_witnesses(keys_dir: Path, directory: Path, manifest: Manifest) -> list[str]:
    """One witness per faction in `directory`/<faction id> (its own folder), registered in
    `keys_dir` with a file:// URL: the in-process witnesses of tests and simulations. A folder
    made for an earlier round is reused, with this round's authority key pinned as well.
    Returns the witnesses' verifier keys."""
    authority = verifier_keys(keys_dir)[0]
    keys: list[str] = []
    for faction in manifest.factions:
        folder = directory / faction.id
        try:
            if (folder / witness_party.KEY_FILE).exists():
                witness_party.add_log_key(folder, authority)
                key = witness_party.verifier_key(folder)
            else:
                key = witness_party.init_witness(folder, f"witness/{faction.id}", [authority])
        except witness_party.WitnessError as exc:
            raise ElectionError(str(exc)) from None
        add_witness(keys_dir, folder.resolve().as_uri(), key)
        keys.append(key)
    return keys


@dataclass(frozen=True)
class CheckpointResult:
    """A checkpoint made: its note, size, the witnesses that cosigned it now, each refusal
    ("<witness>: <reason>"), and the witnesses that refused or were unreachable now but had
    cosigned this same checkpoint before (their earlier cosignature is kept in the note)."""

    note: str
    size: int
    witnesses: list[str]
    refusals: list[str]
    kept: list[str] = field(default_factory=list)


def _last_size(latest: tuple[int, str] | None, witness_key: str) -> int:
    """The size of the latest stored checkpoint if this witness cosigned it, else 0: the
    first guess of what the witness last cosigned (a 409 corrects it)."""
    if latest is None:
        return 0
    try:
        open_note(latest[1], [witness_key])
    except ValueError:
        return 0
    return latest[0]


def make_checkpoint(store: Store, ctx: ElectionContext, keys_dir: Path) -> CheckpointResult:
    """Seal every district log that grew, sign the national log's current root and ask every
    registered witness to cosign it (C2SP
    tlog-witness add-checkpoint, with the consistency proof from the size it last cosigned).
    Each refusal, and each witness that cannot be reached, is in `refusals`; a cosignature
    of the same checkpoint stored before is kept rather than lost to a witness that is down."""
    authority = authority_signer(keys_dir)
    witnesses = registered_witnesses(keys_dir)
    # Every district log that grew is sealed into the national log first: the national
    # checkpoint then covers every ballot on the board (README, "National scale").
    seal_districts(store, ctx, authority)
    # The root and the proofs come from the board's stored tree (O(log n) stored hashes),
    # all at this one size, whatever is appended meanwhile.
    size = store.entry_count(ctx.election_id)
    checkpoint = Checkpoint(origin(ctx.election_id), size, store.tree_root(ctx.election_id, size))
    signed = sign(format_checkpoint(checkpoint), [authority])
    latest = store.latest_checkpoint(ctx.election_id)

    def prove(old_size: int) -> list[bytes]:
        return (
            store.consistency_proof(ctx.election_id, old_size, size) if 0 < old_size < size else []
        )

    note = signed
    cosigned: list[str] = []
    refusals: list[str] = []
    kept: list[str] = []
    for witness in witnesses:
        try:
            client = witness_party.client_for_url(witness.url)
            lines = witness_party.ask_witness(
                client, witness.key, signed, _last_size(latest, witness.key), prove
            )
        except WitnessRefusal as exc:  # reported to the operator, never hidden
            refusals.append(f"{witness.name}: {exc.reason}")
        except (OSError, ValueError) as exc:
            refusals.append(f"{witness.name}: unreachable: {exc}")
        else:
            note += lines
            cosigned.append(witness.name)
            continue
        earlier = _earlier_cosignature(latest, size, signed, witness.key)
        if earlier is not None:  # the same checkpoint, cosigned before: not lost now
            note += earlier
            kept.append(witness.name)
    store.put_checkpoint(ctx.election_id, size, note)
    return CheckpointResult(note, size, cosigned, refusals, kept)


def _earlier_cosignature(
    latest: tuple[int, str] | None, size: int, signed: str, witness_key: str
) -> str | None:
    """The witness's cosignature line in the stored checkpoint, if that is of the same tree
    (same text) as the one just signed."""
    if latest is None or latest[0] != size:
        return None
    try:
        text, signatures = parse_note(latest[1])
        if text != parse_note(signed)[0]:
            return None
    except ValueError:
        return None
    for signature in signatures:
        line = signature.line + "\n"
        try:
            open_note(signed + line, [witness_key])
        except ValueError:
            continue
        return line
    return None


def prove_inclusion(
    store: Store, ctx: ElectionContext, keys_dir: Path, code: str
) -> dict[str, Any]:
    """The inclusion proof of the ballot with tracking code (or challenged-ballot id) `code`
    in the latest checkpoint, checked before it is returned: for a ballot in a district's log
    (issue 17) the two proofs of `board.inclusion` (in the district's sealed checkpoint, and
    that seal in the national checkpoint), for one in the national log a single proof."""
    ballot = store.ballot(ctx.election_id, code)
    if ballot is None and store.ballot_state(ctx.election_id, code) == "pending":
        raise ElectionError(
            "the ballot was accepted and waits in its station's batch, which goes onto the "
            "board shuffled when it fills, ages or the station closes; ask again then"
        )
    if ballot is None:
        raise ElectionError(f"no ballot with code {code} on the board of {ctx.election_id}")
    latest = store.latest_checkpoint(ctx.election_id)
    if latest is None:
        raise ElectionError(_NOT_YET)
    size, note = latest
    authority = verifier_keys(keys_dir)[:1]
    head = {"type": "inclusion-proof", "election": ctx.election_id, "code": code,
            "state": ballot.state}  # fmt: skip
    if ballot.board_log:
        proved = prove_ballot(store, ctx.election_id, ballot.board_log, ballot.board_idx, latest)
        if not check_in_district(proved, authority[0]):
            raise ElectionError("internal error: the district inclusion proof does not verify")
        return head | proved.to_json()
    if ballot.board_idx >= size:
        raise ElectionError(_NOT_YET)
    checkpoint, _ = open_checkpoint(note, authority)
    entry, proof = store.proved_entry(ctx.election_id, ballot.board_idx, size)
    if not verify_inclusion(leaf_hash(entry), ballot.board_idx, size, proof, checkpoint.root):
        raise ElectionError("internal error: the inclusion proof does not verify")
    return head | {
        "index": ballot.board_idx,
        "size": size,
        "entry": entry.decode("utf-8"),
        "proof": [base64.b64encode(h).decode("ascii") for h in proof],
        "checkpoint": note,
    }


_NOT_YET = (
    "the ballot is on the board but not yet in a signed checkpoint; "
    "run `verivote board checkpoint` and ask again"
)


def check_inclusion(doc: dict[str, Any], verifiers: list[str]) -> bool:
    """A voter's check of an inclusion proof: the checkpoint is signed by the authority and
    the entry's leaf hash, with the proof, gives the checkpoint's root (for a district
    ballot: both proofs, `board.inclusion.check_in_district`)."""
    try:
        if "seal" in doc:
            return check_in_district(DistrictInclusion.from_json(doc), verifiers[0])
        checkpoint, _ = open_checkpoint(doc["checkpoint"], verifiers[:1])
        proof = [base64.b64decode(h, validate=True) for h in doc["proof"]]
        return checkpoint.size == doc["size"] and verify_inclusion(
            leaf_hash(doc["entry"].encode("utf-8")), doc["index"], doc["size"], proof,
            checkpoint.root,
        )  # fmt: skip
    except (KeyError, TypeError, ValueError, IndexError):
        return False


NATIONAL_PAGE = 16
DISTRICT_PAGE = 5_000
"""Entries read from the store at a time by `export_record`: a national entry may be a mix
of millions of rows, a district's are ballots of about a kilobyte."""


def paged_entries(
    store: Store, election_id: str, log: str, size: int, page: int
) -> Iterator[bytes]:
    """Entries 0 … size−1 of `log`, read `page` at a time (a national record is never held)."""
    for start in range(0, size, page):
        yield from store.entries(election_id, start, min(size, start + page), log=log)


def export_record(store: Store, ctx: ElectionContext, keys_dir: Path, directory: Path) -> int:
    """Write the public record of the latest checkpoint to `directory`; returns its size."""
    from verivote.board.roll_commitment import ROLL_FILE
    from verivote.election.turnout import write_roll  # turnout imports the guardians' module

    latest = store.latest_checkpoint(ctx.election_id)
    if latest is None:
        raise ElectionError("no checkpoint yet: run `verivote board checkpoint` first")
    size, note = latest
    entries = paged_entries(store, ctx.election_id, NATIONAL, size, NATIONAL_PAGE)
    try:
        seals = last_seals(store, ctx.election_id, size)
        districts = {
            d: (paged_entries(store, ctx.election_id, d, sealed, DISTRICT_PAGE), seal_note)
            for d, (sealed, seal_note) in seals.items()
        }
        write_record(directory, entries, note, verifier_keys(keys_dir), districts or None)
        # the tracker's index of codes, for voters checking from the static files alone
        write_code_index(directory, districts)
        if ctx.manifest.polling.turnout:  # the committed roll's leaves (issue 19)
            write_roll(store, ctx.election_id, directory / ROLL_FILE)
    except ValueError as exc:  # entries that do not give the signed root: never published
        raise ElectionError(f"the record does not check, not written: {exc}") from None
    problems = check_record(directory)
    if problems:
        raise ElectionError(f"the written record does not check: {problems[0]}")
    return size
