"""One faction's mix server, as its own program (issue 16, item 2; DESIGN.md, "Parties and
trust": "a mix server publishes a proof with every shuffle").

A mixer keeps its token and what it trusts in its own folder and talks to the authority's
server only through its HTTP API (`verivote.web.parties_api`) and the public board. It never
takes rows from the server's word: it reads the board under the latest checkpoint signed by
the pinned authority key and cosigned by enough pinned witnesses, exactly as a guardian does
(`verivote.parties.guardian.signed_board`), and acts on that only.

The folder:

    mixer.json   public: the server, this mixer (a faction id), the election and its base hash
    token        secret (0600): the bearer token the authority issued it
    trust        the verifier keys it checks checkpoints with, the authority's first, then the
                 witnesses': given with --trust at `init`, or else fetched once from the
                 server and pinned (trust on first use)
    mixed.json   public: the shuffles it has posted, per election and district (board index)
    mixer.log    one line per action and per refusal

`mix`, for every district counted by `mixnet`, on the verified board:

1. the district's `mix-input` must be exactly the written ciphertexts of its valid cast
   ballots before the cut-off, in board order: the mixer recomputes it, checking every
   ballot's proof (`verivote.crypto.written.check_written`) and that no ciphertext is cast
   twice;
2. every shuffle already in the district's chain must be the next link of the chain, by a
   mixer of the manifest that has not mixed the district before, with a proof that verifies
   (`verivote.election.mixing.check_shuffle_entry`);
3. then it shuffles the chain's last rows, proves the shuffle bound to its place in the chain
   (`verivote.election.mixing.make_shuffle_entry`) and posts it (POST /api/mix/shuffles).

It refuses, in one line, anything inconsistent: a checkpoint that does not verify, a
mix-input that is not the cast ballots, a shuffle whose proof fails, a closed mix. The
permutation and re-encryption nonces of its shuffle live only in memory while it proves.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verivote.board.note import parse_verifier
from verivote.cluster import Cluster
from verivote.crypto.hashing import election_base_hash
from verivote.crypto.keyfile import read_private, write_private
from verivote.crypto.rows import Row, entry_hash, rows_to_json
from verivote.crypto.shuffle import NonceSource
from verivote.crypto.written import written_width
from verivote.election.mix_workers import HERE, MixWorkers, mix_workers
from verivote.election.mixers import manifest_mixers
from verivote.election.mixing import (
    MIX_CLOSED_TYPE,
    MIX_INPUT_TYPE,
    SHUFFLE_TYPE,
    MixError,
    check_shuffle_entry,
    make_shuffle_entry,
    mixnet_districts,
)
from verivote.election.service import ElectionContext
from verivote.model.manifest import ManifestError, parse_manifest
from verivote.parties.guardian import (
    TRUST_FILE,
    Client,
    GuardianRefusal,
    ServerError,
    SignedBoard,
    board_context,
    read_json,
    read_trust,
    signed_board,
    write_json,
)
from verivote.parties.guardian import log as party_log
from verivote.parties.guardian import refuse as party_refuse
from verivote.parties.recheck import checked_ballots

STATE_FILE = "mixer.json"
TOKEN_FILE = "token"
MIXED_FILE = "mixed.json"
LOG_FILE = "mixer.log"
FORMAT = "verivote-mixer/1"

MixerRefusal = GuardianRefusal
"""The mixer refuses to act; the message is one line saying why (the guardian's kind)."""

Progress = Callable[[str, int, int], None]
"""progress(step, done, total): how far the mixer's long steps are."""

__all__ = ["MixerRefusal", "ServerError", "init", "log", "mix", "verified_mix"]


def log(folder: Path, line: str) -> None:
    """Append one timestamped line to the mixer's log."""
    party_log(folder, line, LOG_FILE)


def refuse(folder: Path, reason: str) -> MixerRefusal:
    """Log a refusal in the mixer's log and return it, to raise."""
    return party_refuse(folder, reason, LOG_FILE)


def read_state(folder: Path) -> dict[str, Any]:
    """The folder's mixer.json (a refusal if the folder is no mixer's)."""
    path = folder / STATE_FILE
    if not path.is_file():
        raise GuardianRefusal(f"{folder} is not a mixer's folder (run verivote mixer init first)")
    try:
        doc = read_json(path)
    except ValueError as exc:
        raise GuardianRefusal(f"{path} is not JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise GuardianRefusal(f"{path} is not a mixer's state ({FORMAT})")
    return doc


def folder_token(folder: Path) -> str:
    """The mixer's token, from its folder (mode 0600)."""
    path = folder / TOKEN_FILE
    if not path.is_file():
        raise GuardianRefusal(f"no token in {folder} (run verivote mixer init first)")
    try:
        token = read_private(path).strip()
    except ValueError as exc:
        raise GuardianRefusal(str(exc)) from None
    if not token:
        raise GuardianRefusal(f"{path} holds no token")
    return token


def init(
    client: Client, folder: Path, mixer: str, token: str, trust: list[str] | None = None
) -> dict[str, Any]:
    """Make `folder` mixer `mixer`'s of the server's election: check with the server that
    `token` is this mixer's, that the board's manifest names it a mixer, keep the token
    (0600) and pin the verifier keys (`trust`, else the ones the server publishes now: trust
    on first use). Run again with the same mixer and election, it changes nothing (the
    pinned keys are never replaced). Returns the folder's state."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = client.get_json("/api/mix")
    me = client.get_json("/api/mix/me")
    if not isinstance(info, dict) or not isinstance(me, dict):
        raise refuse(folder, "the server's answers about the mix are not JSON objects")
    if me.get("mixer") != mixer:
        raise refuse(folder, f"this token is mixer {me.get('mixer')!r}'s, not {mixer!r}'s")
    manifest_entry = client.entries(0, 1)[0]
    base_hash = election_base_hash(manifest_entry).hex()
    if base_hash != info.get("base_hash"):
        raise refuse(folder, "the server's base hash is not the hash of the board's manifest")
    try:
        manifest = parse_manifest(json.loads(manifest_entry)["manifest"], "board entry 0")
    except (KeyError, ValueError, ManifestError) as exc:
        raise refuse(folder, f"board entry 0 is not a manifest ({exc})") from None
    mixers = manifest_mixers(manifest)
    if mixer not in mixers:
        raise refuse(
            folder,
            f"{mixer} is not a mixer of election {manifest.election_id} "
            f"(its mixers: {', '.join(mixers) or 'none'})",
        )
    state = {
        "format": FORMAT,
        "server": client.base,
        "mixer": mixer,
        "election": manifest.election_id,
        "base_hash": base_hash,
    }
    path = folder / STATE_FILE
    if path.is_file():
        old = read_state(folder)
        if old.get("mixer") != mixer or old.get("base_hash") != base_hash:
            raise refuse(
                folder,
                f"{folder} is the folder of mixer {old.get('mixer')} of election "
                f"{old.get('election')}; use a folder of its own",
            )
    _pin(folder, manifest.election_id, trust, info.get("verifiers"))
    token_path = folder / TOKEN_FILE
    if token_path.is_file():
        if folder_token(folder) != token:
            write_private(token_path, token + "\n", overwrite=True)
            log(folder, f"mixer {mixer}: its token was replaced by a new one")
    else:
        write_private(token_path, token + "\n")
    if not path.is_file():
        write_json(path, state)
        log(folder, f"mixer {mixer} of election {manifest.election_id} ready ({client.base})")
    return state


def _pin(folder: Path, election: str, given: list[str] | None, published: Any) -> None:
    """Pin the verifier keys in DIR/trust (never replaced once pinned)."""
    path = folder / TRUST_FILE
    if path.is_file():
        try:
            pinned = read_trust(folder)
        except GuardianRefusal as exc:
            raise refuse(folder, str(exc)) from None
        if given is not None and pinned != given:
            raise refuse(folder, f"{path} already pins other keys; they are not replaced")
        return
    keys = given if given is not None else [str(k) for k in published or []]
    if len(keys) < 2:
        raise refuse(
            folder,
            "no authority and witness keys to pin: give --trust FILE (the authority's verifier "
            "key first, then the witnesses')",
        )
    try:
        authority = parse_verifier(keys[0])
        for key in keys[1:]:
            parse_verifier(key)
    except ValueError as exc:
        raise refuse(folder, f"a key to pin is not a verifier key ({exc})") from None
    if authority.name != f"verivote/{election}":
        raise refuse(
            folder, f"the first key to pin is {authority.name!r}, not the authority of {election}"
        )
    path.write_text("\n".join(keys) + "\n", encoding="utf-8")
    log(folder, f"pinned {len(keys)} verifier keys ({authority.name} first)")


# --- the chain of each mixnet district, checked on the signed board ------------------------------


@dataclass
class Chain:
    """One mixnet district's mix as a verified board holds it: its `mix-input` (recomputed
    from the cast ballots), its shuffles in order (each proof checked), the rows of its last
    entry."""

    district: str
    input_index: int
    input_entry: bytes
    rows: int
    shuffles: list[tuple[int, bytes]] = field(default_factory=list)
    mixers: list[str] = field(default_factory=list)
    last_rows: list[Row[Any]] = field(default_factory=list)

    @property
    def last_entry(self) -> bytes:
        return self.shuffles[-1][1] if self.shuffles else self.input_entry


@dataclass
class VerifiedMix:
    """Every mixnet district's verified chain, and the board's `mix-closed` entry (index,
    document) once it is published and found to name exactly these chains."""

    chains: dict[str, Chain]
    closed: tuple[int, dict[str, Any]] | None


def _no_report(step: str, done: int, total: int) -> None:
    pass


def verified_mix(
    folder: Path,
    board: SignedBoard,
    ctx: ElectionContext,
    log_name: str = LOG_FILE,
    progress: Progress | None = None,
    workers: MixWorkers = HERE,
) -> VerifiedMix:
    """Every mixnet district's chain on the verified `board` of election `ctx`, each link
    checked (see the module docstring: the mix-input is the valid cast ballots' written
    ciphertexts, every shuffle the next link with a proof that verifies), and `mix-closed`
    if the board holds it (its chains' lengths and last hashes and the quorum checked).
    A refusal, logged in `folder/log_name`, for the first thing that is not so. Used by the
    mixer before it mixes and by a guardian before it decrypts the mix; the shuffle proofs
    are checked on `workers`."""

    report = progress or _no_report

    def no(reason: str) -> GuardianRefusal:
        return party_refuse(folder, reason, log_name)

    key = ctx.key
    if key is None:
        raise no("the signed board holds no key ceremony")
    manifest = ctx.manifest
    districts = mixnet_districts(manifest)
    docs = board.docs
    election = ctx.base_hash.hex()
    size = board.checkpoint.size
    inputs: dict[str, list[int]] = {d: [] for d in districts}
    for i, doc in enumerate(docs):
        if doc.get("type") == MIX_INPUT_TYPE:
            d = doc.get("district")
            if doc.get("election") != election or d not in inputs:
                raise no(f"board entry {i} is a mix-input of no mixnet district of this election")
            inputs[str(d)].append(i)
    for d, found in inputs.items():
        if len(found) != 1:
            raise no(
                f"the signed board (size {size}) holds {len(found)} mix-input entries of "
                f"district {d}, not 1" + (" (the tally is not on it yet)" if not found else "")
            )
    cast = _cast_rows(folder, board, ctx, {d: found[0] for d, found in inputs.items()},
                      log_name, report, workers.cluster)  # fmt: skip
    chains: dict[str, Chain] = {}
    for d, [index] in inputs.items():
        doc = docs[index]
        width = written_width(key.group, manifest.district(d))
        mine = rows_to_json(key.group, cast[d])
        if doc.get("width") != width or doc.get("rows") != mine:
            raise no(
                f"the mix-input of district {d} (board entry {index}) is not the written "
                f"ciphertexts of its {len(mine)} valid cast ballots, in board order"
            )
        chains[d] = Chain(d, index, board.entries[index], len(mine), last_rows=list(cast[d]))
    closed_at = [i for i, doc in enumerate(docs) if doc.get("type") == MIX_CLOSED_TYPE]
    end = closed_at[0] if closed_at else len(docs)
    shuffles = [i for i, doc in enumerate(docs) if doc.get("type") == SHUFFLE_TYPE]
    for n, i in enumerate(shuffles, start=1):
        report("checking the earlier shuffles", n - 1, len(shuffles))
        doc = docs[i]
        named = doc.get("district")
        chain = chains.get(named) if isinstance(named, str) else None
        if chain is None or doc.get("election") != election:
            raise no(f"board entry {i} is a shuffle of no mixnet district of this election")
        if i > end:
            raise no(f"board entry {i} is a shuffle after the mix-closed entry {end}")
        if i < chain.input_index:
            raise no(f"board entry {i} is a shuffle before its district's mix-input")
        if doc.get("mixer") in chain.mixers:
            raise no(f"board entry {i}: mixer {doc.get('mixer')} mixes {chain.district} twice")
        try:
            outputs = check_shuffle_entry(
                key, ctx.base_hash, doc, chain.last_entry, chain.last_rows, manifest, workers
            )
        except MixError as exc:
            raise no(f"board entry {i}, shuffle of {chain.district}: {exc}") from None
        chain.shuffles.append((i, board.entries[i]))
        chain.mixers.append(str(doc["mixer"]))
        chain.last_rows = outputs
        report("checking the earlier shuffles", n, len(shuffles))
    closed = None
    if closed_at:
        closed = (closed_at[0], docs[closed_at[0]])
        _check_closed(no, closed, chains, manifest.mix_quorum(), election, len(closed_at))
    return VerifiedMix(chains, closed)


def _check_closed(
    no: Callable[[str], GuardianRefusal],
    closed: tuple[int, dict[str, Any]],
    chains: dict[str, Chain],
    quorum: int,
    election: str,
    count: int,
) -> None:
    index, doc = closed
    if count != 1:
        raise no(f"the signed board holds {count} mix-closed entries, not 1")
    named = doc.get("districts")
    if doc.get("election") != election or not isinstance(named, dict):
        raise no(f"the mix-closed entry (board entry {index}) is malformed")
    if set(named) != set(chains):
        raise no(f"the mix-closed entry (board entry {index}) does not name every mixnet district")
    for d, chain in chains.items():
        mine = {"shuffles": len(chain.shuffles), "last": entry_hash(chain.last_entry)}
        if named[d] != mine:
            raise no(f"the mix-closed entry (board entry {index}) is not the end of {d}'s chain")
        if chain.rows and len(chain.shuffles) < quorum:
            raise no(
                f"the mix of {d} was closed after {len(chain.shuffles)} shuffles, fewer than "
                f"the mix quorum {quorum}"
            )


def _cast_rows(
    folder: Path,
    board: SignedBoard,
    ctx: ElectionContext,
    inputs: dict[str, int],
    log_name: str,
    report: Progress,
    cluster: Cluster | None = None,
) -> dict[str, list[Row[Any]]]:
    """Each mixnet district's written ciphertexts of its cast ballots before its mix-input's
    cut-off, in board order, every ballot's proof checked (`check_written`, as Ray tasks on
    `cluster` if given) and no ciphertext cast twice; a refusal for a ballot cast at or after
    a cut-off."""

    key = ctx.key
    assert key is not None
    docs = board.docs
    out: dict[str, list[Row[Any]]] = {d: [] for d in inputs}
    cutoffs = {}
    for d, index in inputs.items():
        cutoff = docs[index].get("cutoff")
        if isinstance(cutoff, bool) or not isinstance(cutoff, int) or not 0 <= cutoff <= index:
            raise party_refuse(folder, f"the mix-input of {d} has the cut-off {cutoff!r}", log_name)
        cutoffs[d] = cutoff
    cast = [
        i for i, doc in enumerate(docs)
        if doc.get("type") == "ballot-cast" and isinstance(doc.get("ballot"), dict)
        and doc["ballot"].get("district") in inputs
    ]  # fmt: skip
    seen: dict[bytes, int] = {}
    checked = checked_ballots(ctx, [docs[i]["ballot"] for i in cast], True, cluster)
    for n, (i, (problem, cts)) in enumerate(zip(cast, checked, strict=True)):
        if n % 200 == 0:
            report("checking the cast ballots", n, len(cast))
        ballot = docs[i]["ballot"]
        district = str(ballot["district"])
        if i >= cutoffs[district]:
            raise party_refuse(
                folder,
                f"board entry {i} is a ballot of {district} cast at or after the cut-off "
                f"{cutoffs[district]} of its mix-input",
                log_name,
            )
        if problem is not None:
            raise party_refuse(
                folder, f"board entry {i} is not a valid cast written ballot ({problem})", log_name
            )
        for ct in cts:
            pair = key.group.encode(ct.alpha) + key.group.encode(ct.beta)
            if pair in seen:
                raise party_refuse(
                    folder,
                    f"board entries {seen[pair]} and {i} cast the same ciphertext: a copied ballot",
                    log_name,
                )
            seen[pair] = i
        out[district].append(tuple(cts))
    report("checking the cast ballots", len(cast), len(cast))
    return out


# --- mixing ------------------------------------------------------------------------------------


def _records(folder: Path) -> dict[str, Any]:
    path = folder / MIXED_FILE
    return read_json(path) if path.is_file() else {}


def mix(
    client: Client,
    folder: Path,
    witness_quorum: int | None = None,
    progress: Progress | None = None,
    rng: NonceSource | None = None,
    cluster: Cluster | None = None,
) -> list[tuple[str, int]]:
    """Check the latest signed, witnessed board and every mixnet district's chain on it
    (`verified_mix`), then shuffle each district this mixer has not mixed yet and post the
    shuffle with its proof. Returns (district, board index) of each shuffle the server
    acknowledged now; none if this mixer has mixed every district with ballots already.
    `cluster`: the ballots' proof checks, the shuffle checks, the shuffle and its proof run as
    Ray tasks there, in chunks (the mixer's own machines: its permutation and nonces go to
    them)."""
    state = read_state(folder)
    mixer = str(state["mixer"])
    board = signed_board(client, folder, witness_quorum, None, LOG_FILE)
    ctx = board_context(folder, board.entries, board.docs, LOG_FILE)
    if ctx.base_hash.hex() != state["base_hash"]:
        raise refuse(
            folder,
            f"the signed board is of election {ctx.election_id}, not of {state['election']} "
            "that this folder mixes for",
        )
    if mixer not in ctx.manifest.mixers():
        raise refuse(folder, f"{mixer} is not a mixer of election {ctx.election_id}")
    if not mixnet_districts(ctx.manifest):
        raise refuse(folder, f"election {ctx.election_id} has no district counted by mixnet")
    with mix_workers(cluster, ctx.key) as workers:
        return _mix_on(client, folder, state, board, ctx, progress, rng, workers)


def _mix_on(
    client: Client,
    folder: Path,
    state: dict[str, Any],
    board: SignedBoard,
    ctx: ElectionContext,
    progress: Progress | None,
    rng: NonceSource | None,
    workers: MixWorkers,
) -> list[tuple[str, int]]:
    """`mix` once the board is this folder's election's, on `workers`."""
    report = progress or _no_report
    mixer = str(state["mixer"])
    checked = verified_mix(folder, board, ctx, LOG_FILE, progress, workers)
    if checked.closed is not None:
        raise refuse(
            folder,
            f"the mix is closed on the signed board (board entry {checked.closed[0]}): "
            "nothing more is mixed",
        )
    key = ctx.key
    assert key is not None
    records = _records(folder)
    mine = records.setdefault(state["base_hash"], {})
    posted: list[tuple[str, int]] = []
    for district, chain in checked.chains.items():
        if not chain.rows:
            log(folder, f"mixer {mixer}: district {district} has no ballot to mix")
            continue
        if mixer in chain.mixers:
            at = chain.shuffles[chain.mixers.index(mixer)][0]
            mine[district] = at
            log(folder, f"mixer {mixer}: district {district} already mixed (board entry {at})")
            continue
        position = len(chain.shuffles) + 1
        step = f"shuffling and proving {district} ({chain.rows} ballots)"
        report(step, 0, 1)
        entry = make_shuffle_entry(
            key, ctx.base_hash, district, mixer, position, chain.last_entry, chain.last_rows, rng,
            workers,
        )  # fmt: skip
        report(step, 1, 1)
        index = int(client.post_json("/api/mix/shuffles", entry)["index"])
        mine[district] = index
        write_json(folder / MIXED_FILE, records)
        posted.append((district, index))
        log(
            folder,
            f"mixer {mixer}: shuffle {position} of {district} ({chain.rows} ballots, on board "
            f"entry {chain.shuffles[-1][0] if chain.shuffles else chain.input_index}) "
            f"acknowledged as board entry {index}",
        )
    write_json(folder / MIXED_FILE, records)
    return posted
