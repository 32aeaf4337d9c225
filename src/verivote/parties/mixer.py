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
from pathlib import Path
from typing import Any

from verivote.board.note import parse_verifier
from verivote.crypto.hashing import election_base_hash
from verivote.crypto.keyfile import read_private, write_private
from verivote.election.mixers import manifest_mixers
from verivote.model.manifest import ManifestError, parse_manifest
from verivote.parties.guardian import (
    TRUST_FILE,
    Client,
    GuardianRefusal,
    ServerError,
    read_trust,
)
from verivote.parties.guardian import log as party_log
from verivote.parties.guardian import refuse as party_refuse

STATE_FILE = "mixer.json"
TOKEN_FILE = "token"
MIXED_FILE = "mixed.json"
LOG_FILE = "mixer.log"
FORMAT = "verivote-mixer/1"

MixerRefusal = GuardianRefusal
"""The mixer refuses to act; the message is one line saying why (the guardian's kind)."""

__all__ = ["MixerRefusal", "ServerError", "init", "log"]


def log(folder: Path, line: str) -> None:
    """Append one timestamped line to the mixer's log."""
    party_log(folder, line, LOG_FILE)


def refuse(folder: Path, reason: str) -> MixerRefusal:
    """Log a refusal in the mixer's log and return it, to raise."""
    return party_refuse(folder, reason, LOG_FILE)


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _write_json(path: Path, doc: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_state(folder: Path) -> dict[str, Any]:
    """The folder's mixer.json (a refusal if the folder is no mixer's)."""
    path = folder / STATE_FILE
    if not path.is_file():
        raise GuardianRefusal(f"{folder} is not a mixer's folder (run verivote mixer init first)")
    try:
        doc = _read_json(path)
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
        _write_json(path, state)
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
