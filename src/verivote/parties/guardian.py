"""One guardian of the election key, as its own program (issue 14, items 1 and 2; DESIGN.md,
"Parties and trust").

A guardian keeps everything secret in its own folder and talks to the authority's server only
through its HTTP API (`verivote.web.parties_api`) and the public board. The server never sees
a secret: it relays public messages and appends what it has checked.

The folder (every secret written 0600 through `verivote.crypto.keyfile`):

    guardian.json    public: the server, this guardian's number, the election's base hash
    secrets.json     secret: the polynomial's coefficients and the X25519 transport key, with
                     the commitment hash and the reveal made from them (written before the
                     first message is posted, so a guardian that crashes resumes with them)
    shares.json      public: the sealed shares it sends (sealed once; re-posted as they are)
    guardian.key     secret: its key share, once the ceremony's entry is on the board and checks
    trust            the verifier keys it checks checkpoints with, the authority's first, then
                     the witnesses': given with --trust at the ceremony, or else fetched once
                     from the server at the ceremony and pinned (trust on first use)
    trust-<origin>   the same for another election that uses this key (a runoff reusing
                     round 1's key), pinned from `guardian decrypt --trust FILE`
    decrypted.json   public: what it has decrypted, per election (the tally's leaf hash and the
                     districts the server acknowledged), so a second request is refused
    guardian.log     one line per action and per refusal

The ceremony (`CeremonyRun`): commitment hash, reveal, sealed shares, complaints about bad
shares, answers to complaints against it, then the check of the published `ceremony` entry
(`verify_transcript`, its own joint key and public share) and the key share.

Decryption (`decrypt`; plan decision 5): a guardian never takes a ciphertext from the server.
It fetches the latest checkpoint, checks the authority's signature and at least `witness
quorum` witness cosignatures with its pinned keys, fetches the entries of that checkpoint and
checks their Merkle root, checks every cast ballot (proofs, no ciphertext cast twice), rebuilds
each district's tally as the product of the cast ballots, compares it with the one `tally`
entry in that checkpoint, and only then posts the partial decryptions of its own
recomputation. It decrypts nothing else: there is no way to ask it for one ballot (challenged
ballots are opened by the voter's device, never by the guardians).

The lot (issue 14, item 4; `verivote.crypto.lot`): once it has its key share, the guardian
posts its contribution to the lot (`contribute`: after the ceremony, and again for a runoff
that reuses the key), and with its partial decryptions of the tally it posts its share of the
lot ciphertext, which it recomputes from the contributions before the tally on its verified
board (`_decrypt_lot`).

    lot.json         public: the board index of its contribution, per election
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from verivote.board.checkpoint import Checkpoint, open_checkpoint
from verivote.board.districts import read_seal
from verivote.board.merkle import MerkleLog, leaf_hash
from verivote.board.note import parse_verifier
from verivote.board.sealing import open_sealed
from verivote.cluster import Cluster
from verivote.crypto.ballot import BallotError
from verivote.crypto.ceremony import (
    CeremonyTranscript,
    CommitmentHash,
    Complaint,
    EncryptedShare,
    GuardianKeys,
    GuardianSecrets,
    KeyShare,
    answer_complaint,
    guardian_setup,
    public_share,
    receive_shares,
    send_shares,
    verify_transcript,
)
from verivote.crypto.elgamal import Ciphertext, ElectionKey
from verivote.crypto.group import Group
from verivote.crypto.groups import get_group
from verivote.crypto.hashing import election_base_hash
from verivote.crypto.keyfile import read_key_share, read_private, write_key_share, write_private
from verivote.crypto.lot import (
    CONTRIBUTION_TYPE,
    LotError,
    lot_product,
    make_contribution,
    make_lot_decryption,
)
from verivote.crypto.oprf import key_context
from verivote.crypto.written import is_written
from verivote.election.decryption import partial_entry, tally_ciphertexts
from verivote.election.mix_workers import HERE, MixWorkers, mix_workers
from verivote.election.service import ElectionContext, ElectionError
from verivote.election.tally import (
    MIX_INPUT_TYPE,
    TALLY_TYPE,
    DistrictProduct,
    _identity_product,
    layout_of,
    merge_json,
    products_to_json,
    tally_chunk,
    widths_of,
)
from verivote.model.canonical import canonical_json
from verivote.model.manifest import ManifestError, parse_manifest
from verivote.parties.recheck import checked_ballots

if TYPE_CHECKING:
    from verivote.parties.mixer import VerifiedMix

STATE_FILE = "guardian.json"
SECRETS_FILE = "secrets.json"
SHARES_FILE = "shares.json"
KEY_FILE = "guardian.key"
PSEUDONYM_FILES = {"secrets": "pseudonym-secrets.json", "shares": "pseudonym-shares.json",
                   "key": "pseudonym.key"}  # fmt: skip
"""The pseudonym key's own ceremony (issue 19) keeps its secrets, sealed shares and key share
in files of their own, beside the election key's."""
TRUST_FILE = "trust"
DECRYPTED_FILE = "decrypted.json"
LOT_FILE = "lot.json"
LOG_FILE = "guardian.log"
PAGE = 10_000
"""Board entries fetched per request (the server's MAX_RANGE)."""
ROUNDS = ("commitment", "reveal", "shares", "complaints", "answers")


class GuardianRefusal(Exception):
    """The guardian refuses to act; the message is one line saying why. `logged`: the line
    is already in the guardian's log."""

    def __init__(self, reason: str, logged: bool = False) -> None:
        super().__init__(reason)
        self.logged = logged


class ServerError(Exception):
    """The server refused a request or could not be reached; the message says which."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


# --- the folder -----------------------------------------------------------------------------


def log(folder: Path, line: str, name: str = LOG_FILE) -> None:
    """Append one timestamped line to the party's log, `folder/name` (the guardian's by
    default; a mixer keeps its own, `verivote.parties.mixer`)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with (folder / name).open("a", encoding="utf-8") as fh:
        fh.write(f"{stamp} {' '.join(line.split())}\n")


def refuse(folder: Path, reason: str, name: str = LOG_FILE) -> GuardianRefusal:
    """Log a refusal (in `folder/name`) and return it, to raise."""
    log(folder, f"refused: {reason}", name)
    return GuardianRefusal(reason, logged=True)


def read_json(path: Path) -> Any:
    """A party's JSON file."""
    return json.loads(path.read_text(encoding="utf-8"))


def write_json(path: Path, doc: Any) -> None:
    """A party's JSON file, replaced whole (a crash leaves the old one or the new one)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_trust(folder: Path, name: str = TRUST_FILE) -> list[str]:
    """The verifier keys pinned in `folder/name`, the authority's first."""
    path = folder / name
    if not path.is_file():
        raise GuardianRefusal(f"no pinned keys in {path} (run verivote guardian ceremony first)")
    keys = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    try:
        for key in keys:
            parse_verifier(key)
    except ValueError as exc:
        raise GuardianRefusal(f"{path}: {exc}") from None
    if not keys:
        raise GuardianRefusal(f"{path} holds no verifier key")
    return keys


def trust_for(
    folder: Path, origin: str, given: list[str] | None = None, log_name: str = LOG_FILE
) -> list[str]:
    """The pinned keys of the log `origin` (the authority's key name): DIR/trust, pinned at
    the ceremony (or a mixer's `init`), for the ceremony's election; DIR/trust-<origin> for
    another election that uses the same key (a runoff reusing round 1's key), pinned from
    `given` the first time. Refusals and pinnings go to the log `folder/log_name`."""
    main = folder / TRUST_FILE
    if main.is_file():
        keys = read_trust(folder)
        if parse_verifier(keys[0]).name == origin:
            if given is not None and given != keys:
                raise refuse(
                    folder, f"{main} already pins other keys; they are not replaced", log_name
                )
            return keys
    name = f"{TRUST_FILE}-{origin.replace('/', '_')}"
    if (folder / name).is_file():
        keys = read_trust(folder, name)
        if given is not None and given != keys:
            raise refuse(
                folder, f"{folder / name} already pins other keys; they are not replaced", log_name
            )
        return keys
    if given is None:
        raise refuse(
            folder,
            f"no keys pinned for {origin}: give --trust FILE (its authority's verifier key "
            "first, then the witnesses')",
            log_name,
        )
    try:
        authority = parse_verifier(given[0]).name if given else None
        for key in given[1:]:
            parse_verifier(key)
    except ValueError as exc:
        raise refuse(folder, f"a key to pin is not a verifier key ({exc})", log_name) from None
    if authority != origin:
        raise refuse(
            folder, f"the first key to pin is {authority!r}, not the authority {origin!r}", log_name
        )
    (folder / name).write_text("\n".join(given) + "\n", encoding="utf-8")
    log(folder, f"pinned {len(given)} verifier keys for {origin}", log_name)
    return given


def read_token(path: Path) -> str:
    """A guardian's bearer token from its file (mode 0600, as the authority wrote it)."""
    try:
        token = read_private(path).strip()
    except ValueError as exc:
        raise GuardianRefusal(str(exc)) from None
    if not token:
        raise GuardianRefusal(f"{path} holds no token")
    return token


# --- the server -------------------------------------------------------------------------------


class Client:
    """The authority's server, over HTTP (JSON in, JSON or JSON lines out)."""

    def __init__(self, server: str, token: str | None = None, timeout: float = 60) -> None:
        self.base = server.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _request(self, method: str, path: str, body: Any = None) -> bytes:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = canonical_json(body)
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.base + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw: bytes = response.read()
                return raw
        except urllib.error.HTTPError as exc:
            try:
                detail = str(json.loads(exc.read()).get("detail", exc.reason))
            except (ValueError, AttributeError):
                detail = str(exc.reason)
            raise ServerError(exc.code, f"the server refused {method} {path}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServerError(0, f"cannot reach the server at {self.base}: {reason}") from None

    def get_json(self, path: str) -> Any:
        return json.loads(self._request("GET", path))

    def post_json(self, path: str, doc: Any) -> Any:
        return json.loads(self._request("POST", path, doc))

    def entries(self, start: int, end: int, log: str = "") -> list[bytes]:
        """Entries start ≤ i < end of a log (the national log, or district `log`'s), byte
        for byte."""
        out: list[bytes] = []
        which = f"&log={urllib.parse.quote(log, safe='')}" if log else ""
        while start + len(out) < end:
            first = start + len(out)
            last = min(end, first + PAGE)
            raw = self._request("GET", f"/api/board/entries?start={first}&end={last}{which}")
            lines = raw.split(b"\n")
            if lines[-1] != b"" or len(lines) < 2:
                raise ServerError(0, f"the server sent no board entries from {first}")
            out.extend(lines[:-1])
        if len(out) != end - start:
            raise ServerError(0, f"the server sent {len(out)} board entries, not {end - start}")
        return out

    def all_entries(self) -> list[bytes]:
        """Every board entry the server has now (unsigned: for reading the election only)."""
        out: list[bytes] = []
        while True:
            first = len(out)
            raw = self._request("GET", f"/api/board/entries?start={first}&end={first + PAGE}")
            lines = raw.split(b"\n")
            if lines[-1] != b"":
                raise ServerError(0, f"the server sent a cut board entry after {first}")
            out.extend(lines[:-1])
            if len(lines) - 1 < PAGE:
                return out

    def latest_checkpoint(self) -> str | None:
        """The note of the latest signed checkpoint (as the server has it), if any."""
        notes = self.get_json("/api/checkpoints")
        if not isinstance(notes, list) or not notes:
            return None
        note = notes[0].get("note") if isinstance(notes[0], dict) else None
        return note if isinstance(note, str) else None


# --- the ceremony ----------------------------------------------------------------------------

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Waiting:
    """How to wait for the other guardians: poll every `poll` seconds, give up after
    `timeout`, report with `progress` (one line now and then)."""

    poll: float = 1.0
    timeout: float = 3600.0
    progress: Progress | None = None


def _secrets_doc(
    group: Group[Any], secrets: GuardianSecrets, committed: CommitmentHash, keys: GuardianKeys
) -> dict[str, Any]:
    return {
        "format": "verivote-guardian-secrets/1",
        "group": group.name,
        "guardian": secrets.index,
        "coefficients": [group.encode_scalar(a).hex() for a in secrets.coefficients],
        "transport_private": secrets.transport_private.hex(),
        "commitment": committed.model_dump(mode="json"),
        "reveal": keys.model_dump(mode="json"),
    }


class CeremonyRun:
    """Guardian `index`'s side of every round of the key ceremony, resumable from `folder`."""

    def __init__(
        self,
        client: Client,
        folder: Path,
        index: int,
        trust: list[str] | None = None,
        waiting: Waiting | None = None,
        key: str = "election",
    ) -> None:
        self.key = key
        pseudonym = key == "pseudonym"
        self.api = "/api/pseudonym-ceremony" if pseudonym else "/api/ceremony"
        self.entry_type = "pseudonym-ceremony" if pseudonym else "ceremony"
        self.files = PSEUDONYM_FILES if pseudonym else {
            "secrets": SECRETS_FILE, "shares": SHARES_FILE, "key": KEY_FILE}  # fmt: skip
        self.context = b""
        """What this ceremony's proofs are bound to: the base hash, or for the pseudonym key
        its own context, which the guardian computes itself (`oprf.key_context`)."""
        self.client = client
        self.folder = folder
        self.index = index
        self.trust = trust
        self.waiting = waiting or Waiting()
        self.state: dict[str, Any] = {}
        self.group: Group[Any] | None = None
        self.base_hash = b""
        self.secrets: GuardianSecrets | None = None
        self.committed: CommitmentHash | None = None
        self.keys: GuardianKeys | None = None

    # -- helpers ---------------------------------------------------------------------------

    def _refuse(self, reason: str) -> GuardianRefusal:
        return refuse(self.folder, f"guardian {self.index}: {reason}")

    def _fetch(self) -> dict[str, Any]:
        state = self.client.get_json(self.api)
        if not isinstance(state, dict):
            raise self._refuse("the server's ceremony state is not a JSON object")
        self.state = state
        return state

    def _round_at_least(self, round_: str) -> bool:
        current = self.state.get("round")
        if current in ("finished", "failed"):
            return True
        if round_ not in ROUNDS:  # "finished": every round is done
            return False
        return current in ROUNDS and ROUNDS.index(current) >= ROUNDS.index(round_)

    def _posted(self, round_: str) -> dict[int, Any]:
        """Every guardian's message of `round_` so far, by guardian."""
        return {int(g): m for g, m in self.state.get("messages", {}).get(round_, {}).items()}

    def _mine(self, round_: str) -> Any:
        """This guardian's message of `round_` as the server kept it, or None."""
        return self._posted(round_).get(self.index)

    def _post(self, round_: str, doc: Any) -> None:
        try:
            self.state = self.client.post_json(f"{self.api}/{round_}", doc)
        except ServerError as exc:
            if exc.status == 409 and "ceremony failed" in str(exc):
                raise self._refuse(str(exc)) from None
            raise
        log(self.folder, f"guardian {self.index}: posted its {round_} message")

    def _wait_for(self, round_: str) -> None:
        """Poll until the ceremony has reached `round_` (every guardian posted before it)."""
        started = time.monotonic()
        last_report = 0.0
        self._fetch()
        while not self._round_at_least(round_):
            waited = time.monotonic() - started
            if waited > self.waiting.timeout:
                raise self._refuse(
                    f"gave up after {waited:.0f} s waiting for the {round_} round "
                    f"({self._who_is_missing()})"
                )
            if self.waiting.progress and waited - last_report >= 10:
                self.waiting.progress(
                    f"guardian {self.index}: waiting for the {round_} round "
                    f"({self._who_is_missing()}), {waited:.0f} s"
                )
                last_report = waited
            time.sleep(self.waiting.poll)
            self._fetch()

    def _who_is_missing(self) -> str:
        current = self.state.get("round")
        if current not in ROUNDS:
            return f"the ceremony is {current}"
        have = self._posted(current)
        missing = [i for i in range(1, int(self.state["guardians"]) + 1) if i not in have]
        return f"the {current} round waits for guardian(s) {', '.join(map(str, missing))}"

    # -- the steps -------------------------------------------------------------------------

    def start(self) -> None:
        """Check the ceremony against the board, pin the keys, load or make the secrets."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        state = self._fetch()
        n = int(state["guardians"])
        if not 1 <= self.index <= n:
            raise self._refuse(f"there are {n} guardians; {self.index} is not one of them")
        manifest_entry = self.client.entries(0, 1)[0]
        base_hash = election_base_hash(manifest_entry)
        if base_hash.hex() != state["base_hash"]:
            raise self._refuse("the ceremony's base hash is not the hash of the board's manifest")
        try:
            manifest = parse_manifest(json.loads(manifest_entry)["manifest"], "board entry 0")
        except (KeyError, ValueError, ManifestError) as exc:
            raise self._refuse(f"board entry 0 is not a manifest ({exc})") from None
        if manifest.group != state["group"]:
            raise self._refuse("the ceremony's group is not the manifest's")
        self.group = get_group(manifest.group)
        self.base_hash = base_hash
        self.context = key_context(base_hash) if self.key == "pseudonym" else base_hash
        self._check_folder(state)
        self._pin_trust(state)
        self._load_or_make_secrets()

    def _check_folder(self, state: dict[str, Any]) -> None:
        path = self.folder / STATE_FILE
        mine = {
            "format": "verivote-guardian/1",
            "server": self.client.base,
            "guardian": self.index,
            "election": state["election"],
            "base_hash": state["base_hash"],
        }
        if path.is_file():
            old = read_json(path)
            for field in ("guardian", "base_hash"):
                if old.get(field) != mine[field]:
                    raise self._refuse(
                        f"{self.folder} is the folder of guardian {old.get('guardian')} of "
                        f"election {old.get('election')}; use a folder of its own"
                    )
            return
        write_json(path, mine)

    def _pin_trust(self, state: dict[str, Any]) -> None:
        path = self.folder / TRUST_FILE
        keys = self.trust if self.trust is not None else list(state.get("verifiers") or [])
        if path.is_file():
            pinned = read_trust(self.folder)
            if self.trust is not None and pinned != self.trust:
                raise self._refuse(f"{path} already pins other keys; they are not replaced")
            return
        if len(keys) < 2:
            raise self._refuse(
                "no authority and witness keys to pin: give --trust FILE (the authority's "
                "verifier key first, then the witnesses')"
            )
        try:
            authority = parse_verifier(keys[0])
            for key in keys[1:]:
                parse_verifier(key)
        except ValueError as exc:
            raise self._refuse(f"a key to pin is not a verifier key ({exc})") from None
        if authority.name != f"verivote/{state['election']}":
            raise self._refuse(
                f"the first key to pin is {authority.name!r}, not the authority of "
                f"{state['election']}"
            )
        path.write_text("\n".join(keys) + "\n", encoding="utf-8")
        log(self.folder, f"pinned {len(keys)} verifier keys ({authority.name} first)")

    def _load_or_make_secrets(self) -> None:
        assert self.group is not None
        group = self.group
        path = self.folder / self.files["secrets"]
        k = int(self.state["quorum"])
        if path.is_file():
            try:
                doc = json.loads(read_private(path))
            except ValueError as exc:
                raise self._refuse(str(exc)) from None
            self.secrets = GuardianSecrets(
                self.index,
                [group.decode_scalar(bytes.fromhex(a)) for a in doc["coefficients"]],
                bytes.fromhex(doc["transport_private"]),
            )
            self.committed = CommitmentHash.model_validate(doc["commitment"])
            self.keys = GuardianKeys.model_validate(doc["reveal"])
            if len(self.secrets.coefficients) != k:
                raise self._refuse(f"{path} holds a polynomial for another quorum")
            return
        self.secrets, self.committed, self.keys = guardian_setup(group, self.index, k, self.context)
        write_private(
            path, json.dumps(_secrets_doc(group, self.secrets, self.committed, self.keys)) + "\n"
        )
        log(self.folder, f"guardian {self.index}: drew its polynomial and transport key")

    def commit(self) -> None:
        assert self.committed is not None
        if self._mine("commitment") is None:
            self._post("commitment", self.committed.model_dump(mode="json"))

    def reveal(self) -> None:
        assert self.keys is not None
        self._wait_for("reveal")
        if self._mine("reveal") is None:
            self._post("reveal", self.keys.model_dump(mode="json"))

    def _all_keys(self) -> list[GuardianKeys]:
        return [GuardianKeys.model_validate(m) for _, m in sorted(self._posted("reveal").items())]

    def send(self) -> None:
        """Seal this guardian's share for every other guardian (once) and post them."""
        assert self.group is not None
        assert self.secrets is not None
        self._wait_for("shares")
        path = self.folder / self.files["shares"]
        if path.is_file():
            sealed = [EncryptedShare.model_validate(d) for d in read_json(path)]
        else:
            sealed = send_shares(self.group, self.secrets, self._all_keys(), self.context)
            write_json(path, [s.model_dump(mode="json") for s in sealed])
        if self._mine("shares") is None:
            self._post("shares", [s.model_dump(mode="json") for s in sealed])

    def _received(self) -> tuple[dict[int, int], list[Complaint]]:
        assert self.group is not None
        assert self.secrets is not None
        shares = [
            EncryptedShare.model_validate(m)
            for _, sent in sorted(self._posted("shares").items())
            for m in sent
        ]
        return receive_shares(self.group, self.secrets, self._all_keys(), shares, self.context)

    def complain(self) -> list[Complaint]:
        """Open the shares sent to this guardian; complain about every one that is bad."""
        self._wait_for("complaints")
        _, complaints = self._received()
        for c in complaints:
            log(
                self.folder,
                f"guardian {self.index}: complains about guardian {c.accused}: {c.reason}",
            )
        if self._mine("complaints") is None:
            self._post("complaints", [c.model_dump(mode="json") for c in complaints])
        return complaints

    def answer(self) -> None:
        """Answer every complaint against this guardian by revealing the disputed share."""
        assert self.group is not None
        assert self.secrets is not None
        self._wait_for("answers")
        against = [
            Complaint.model_validate(m)
            for _, raised in sorted(self._posted("complaints").items())
            for m in raised
            if m.get("accused") == self.index
        ]
        answers = [answer_complaint(self.group, self.secrets, c) for c in against]
        if self._mine("answers") is None:
            self._post("answers", [a.model_dump(mode="json") for a in answers])

    def result(self) -> tuple[KeyShare, CeremonyTranscript]:
        """Check the published ceremony entry and write this guardian's key share."""
        assert self.group is not None
        assert self.secrets is not None
        group = self.group
        self._wait_for("finished")
        if self.state.get("round") == "failed":
            raise self._refuse(str(self.state.get("failure") or "the key ceremony failed"))
        index = int(self.state["ceremony_index"])
        try:
            doc = json.loads(self.client.entries(index, index + 1)[0])
            transcript = CeremonyTranscript.model_validate(doc["transcript"])
        except (KeyError, ValueError) as exc:
            raise self._refuse(
                f"board entry {index} is not a ceremony transcript ({exc})"
            ) from None
        if doc.get("type") != self.entry_type or doc.get("election") != self.base_hash.hex():
            raise self._refuse(f"board entry {index} is not this election's ceremony")
        if transcript.base_hash != self.context.hex():
            raise self._refuse("the published transcript is of another election")
        assert self.committed is not None
        assert self.keys is not None
        if self.committed not in transcript.commitment_hashes or self.keys not in transcript.keys:
            raise self._refuse("the published transcript does not hold this guardian's messages")
        problems = verify_transcript(transcript)
        if problems:
            raise self._refuse(f"the published transcript does not verify: {problems[0]}")
        accepted, _ = self._received()
        revealed = {
            a.accused: int(a.share, 16) for a in transcript.answers if a.complainant == self.index
        }
        total = 0
        for i in transcript.qualified:
            if i == self.index:
                value = self.secrets.share_for(self.index, group.q)
            elif i in accepted:
                value = accepted[i]
            else:
                value = revealed[i]  # qualified: its answer to this guardian's complaint checks
            total = (total + value) % group.q
        if group.pow_g(total) != public_share(group, transcript, self.index):
            raise self._refuse("this guardian's key share does not match its public share")
        share = KeyShare(
            group=group.name,
            guardian=self.index,
            secret=total,
            guardians=transcript.guardians,
            quorum=transcript.quorum,
            base_hash=transcript.base_hash,
            joint_key=transcript.joint_key,
        )
        path = self.folder / self.files["key"]
        if path.is_file():
            old = read_key_share(path)
            if old.secret != share.secret or old.joint_key != share.joint_key:
                raise self._refuse(f"{path} already holds another key share")
        else:
            write_key_share(path, share)
        log(
            self.folder,
            f"guardian {self.index}: key share written; joint key "
            f"{transcript.joint_key[:16]}…, qualified {transcript.qualified}",
        )
        return share, transcript

    def run(self) -> tuple[KeyShare, CeremonyTranscript]:
        """Every round in order, resuming where a previous run stopped."""
        self.start()
        self.commit()
        self.reveal()
        self.send()
        self.complain()
        self.answer()
        return self.result()


# --- decryption --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedBoard:
    """The entries of the latest checkpoint, checked with a party's pinned keys."""

    checkpoint: Checkpoint
    entries: list[bytes]
    docs: list[dict[str, Any]]
    """The entries parsed, once."""


@dataclass(frozen=True)
class Board(SignedBoard):
    """The entries of a checkpoint this party has verified, and the election they tell."""

    ctx: ElectionContext


def signed_board(
    client: Client,
    folder: Path,
    witness_quorum: int | None = None,
    given: list[str] | None = None,
    log_name: str = LOG_FILE,
) -> SignedBoard:
    """The latest checkpoint, checked with the keys pinned in `folder` (the authority's
    signature and at least `witness_quorum` witness cosignatures: by default a majority of
    the pinned witnesses), and its entries, checked against its Merkle root. What any party
    (a guardian, a mixer) acts on; refusals go to its log `folder/log_name`."""
    note = client.latest_checkpoint()
    if note is None:
        raise refuse(folder, "the server has no signed checkpoint to act under", log_name)
    trust = trust_for(folder, note.split("\n", 1)[0], given, log_name)
    authority = parse_verifier(trust[0]).name
    witnesses = {parse_verifier(key).name for key in trust[1:]}
    if not witnesses:
        raise refuse(folder, f"no witness key is pinned for {authority}", log_name)
    needed = len(witnesses) // 2 + 1 if witness_quorum is None else witness_quorum
    if not 1 <= needed <= len(witnesses):
        raise refuse(
            folder, f"the witness quorum must be 1 to {len(witnesses)}, not {needed}", log_name
        )
    try:
        checkpoint, names = open_checkpoint(note, trust)
    except ValueError as exc:
        raise refuse(
            folder, f"the latest checkpoint does not verify with the pinned keys: {exc}", log_name
        ) from None
    if authority not in names or checkpoint.origin != authority:
        raise refuse(
            folder, f"the latest checkpoint is not signed by the authority {authority}", log_name
        )
    cosigned = sorted(witnesses.intersection(names))
    if len(cosigned) < needed:
        raise refuse(
            folder,
            f"the checkpoint of size {checkpoint.size} is cosigned by {len(cosigned)} pinned "
            f"witness(es), fewer than {needed}",
            log_name,
        )
    national = client.entries(0, checkpoint.size)
    log_tree = MerkleLog(leaf_hash(e) for e in national)
    if log_tree.root() != checkpoint.root:
        raise refuse(
            folder,
            f"the server's entries do not give the root of the signed checkpoint of size "
            f"{checkpoint.size}",
            log_name,
        )
    entries = _merged(client, folder, national, trust[0], log_name)
    return SignedBoard(checkpoint, entries, _parsed(folder, entries, log_name))


def _merged(
    client: Client, folder: Path, national: list[bytes], authority: str, log_name: str
) -> list[bytes]:
    """The board as the one sequence of the README's "Order": each district's log fetched up
    to its last seal in the checked national log, every seal checked against it
    (`board.sealing.open_sealed`). A board without seals is the national log itself."""
    sealed: dict[str, int] = {}
    for raw in national:
        if b'"district-checkpoint"' not in raw:  # a cheap filter before parsing
            continue
        try:
            seal = read_seal(json.loads(raw))
        except ValueError:
            continue  # open_sealed names it
        sealed[seal.district] = max(sealed.get(seal.district, 0), seal.checkpoint.size)
    if not sealed:
        return national
    try:
        districts = {d: client.entries(0, size, log=d) for d, size in sorted(sealed.items())}
        base_hash = election_base_hash(national[0]).hex() if national else None
        return open_sealed(national, districts, authority, base_hash)
    except ValueError as exc:
        raise refuse(folder, f"the district logs do not check: {exc}", log_name) from None


def verified_board(
    client: Client,
    folder: Path,
    share: KeyShare,
    witness_quorum: int | None = None,
    given: list[str] | None = None,
) -> Board:
    """The latest signed, witnessed checkpoint and its entries (`signed_board`), and the
    election they tell, whose key must be the one `share` is of."""
    signed = signed_board(client, folder, witness_quorum, given)
    ctx = _context(folder, signed.entries, signed.docs, share)
    return Board(signed.checkpoint, signed.entries, signed.docs, ctx)


def _parsed(folder: Path, entries: list[bytes], log_name: str = LOG_FILE) -> list[dict[str, Any]]:
    """Every entry as a JSON object, parsed once; a refusal for one that is not."""
    docs = []
    for i, raw in enumerate(entries):
        try:
            doc = json.loads(raw)
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            raise refuse(folder, f"board entry {i} is not a JSON object", log_name)
        docs.append(doc)
    return docs


def board_context(
    folder: Path, entries: list[bytes], docs: list[dict[str, Any]], log_name: str = LOG_FILE
) -> ElectionContext:
    """The election as its board tells it (`docs`, the `entries` parsed): the manifest of
    entry 0, its base hash, the key of its one `ceremony` entry."""
    if not entries:
        raise refuse(folder, "the signed checkpoint holds no entry", log_name)
    try:
        manifest = parse_manifest(docs[0]["manifest"], "board entry 0")
    except (KeyError, ValueError, ManifestError) as exc:
        raise refuse(folder, f"board entry 0 is not a manifest ({exc})", log_name) from None
    base_hash = election_base_hash(entries[0])
    ceremonies = [d for d in docs if d.get("type") == "ceremony"]
    if len(ceremonies) != 1:
        raise refuse(
            folder, f"the signed board holds {len(ceremonies)} ceremony entries, not 1", log_name
        )
    try:
        transcript = CeremonyTranscript.model_validate(ceremonies[0]["transcript"])
        group = get_group(transcript.group)
        key = ElectionKey(group, group.decode(bytes.fromhex(transcript.joint_key)))
    except (KeyError, ValueError) as exc:
        raise refuse(folder, f"the board's ceremony entry is malformed ({exc})", log_name) from None
    return ElectionContext(manifest.election_id, manifest, base_hash, key, transcript)


def _context(
    folder: Path, entries: list[bytes], docs: list[dict[str, Any]], share: KeyShare
) -> ElectionContext:
    """The election as its board tells it (`board_context`), with this share checked to be
    its key's."""
    ctx = board_context(folder, entries, docs)
    transcript = ctx.transcript
    assert transcript is not None
    if transcript.base_hash != share.base_hash or transcript.joint_key != share.joint_key:
        raise refuse(folder, "the board's key ceremony is not the one this key share is from")
    group = get_group(transcript.group)
    if group.pow_g(share.secret) != public_share(group, transcript, share.guardian):
        raise refuse(folder, "this key share does not match its public share on the board")
    return ctx


def recompute_tally(
    folder: Path, board: Board, cluster: Cluster | None = None
) -> tuple[int, dict[str, Any]]:
    """The board's one `tally` entry (index, document), once it is found to be exactly the
    product of the valid cast ballots of the verified board (their proofs checked as Ray
    tasks on `cluster` if given); a refusal otherwise."""
    ctx = board.ctx
    assert ctx.key is not None
    group = ctx.key.group
    docs = board.docs
    tallies = [i for i, d in enumerate(docs) if d.get("type") == TALLY_TYPE]
    if not tallies:
        raise refuse(
            folder, f"no tally under the signed checkpoint of size {board.checkpoint.size}"
        )
    if len(tallies) > 1:
        raise refuse(
            folder,
            f"the signed board holds {len(tallies)} tally entries "
            f"(at {', '.join(map(str, tallies))}); there is one tally",
        )
    index = tallies[0]
    tally = docs[index]
    cutoff = tally.get("cutoff")
    cast = [i for i, d in enumerate(docs) if d.get("type") == "ballot-cast"]
    if not isinstance(cutoff, int) or not 0 <= cutoff <= index:
        raise refuse(folder, f"the tally (entry {index}) has the cut-off {cutoff!r}")
    late = [i for i in cast if i >= cutoff]
    if late:
        raise refuse(
            folder,
            f"the tally is not the product of exactly the cast ballots: {len(late)} ballot(s) "
            f"cast at or after its cut-off {cutoff} (first: entry {late[0]})",
        )
    seen: dict[tuple[str, str], int] = {}
    checked = checked_ballots(ctx, [docs[i].get("ballot") for i in cast], False, cluster)
    for i, (problem, _) in zip(cast, checked, strict=True):
        ballot = docs[i].get("ballot")
        try:
            if problem is not None:
                raise BallotError(problem)
            assert isinstance(ballot, dict)
            if is_written(ballot):
                cts = ballot["written"]["ciphertexts"]
            else:
                cts = [s["ciphertext"] for s in ballot["selections"]]
                cts.append(ballot["blank"]["ciphertext"])
        except (BallotError, ElectionError, KeyError, TypeError, ValueError) as exc:
            raise refuse(folder, f"board entry {i} is not a valid cast ballot ({exc})") from None
        for ct in cts:
            pair = (str(ct["alpha"]), str(ct["beta"]))
            if pair in seen:
                raise refuse(
                    folder,
                    f"board entries {seen[pair]} and {i} cast the same ciphertext: a copied ballot",
                )
            seen[pair] = i
    layout = layout_of(ctx)
    products: dict[str, DistrictProduct] = {
        d: _identity_product(group, codes) for d, codes in layout.items()
    }
    widths = widths_of(ctx.manifest, group)
    try:
        part = json.loads(
            tally_chunk(group, layout, ctx.base_hash.hex(), 0, board.entries[:cutoff], widths)
        )
    except ElectionError as exc:
        raise refuse(folder, str(exc)) from None
    merge_json(group, products, layout, part["districts"])
    _check_mix_inputs(folder, board, index, widths, part.get("rows", {}))
    districts = products_to_json(group, products)
    mine: dict[str, Any] = {
        "type": TALLY_TYPE,
        "election": ctx.base_hash.hex(),
        "cutoff": cutoff,
        "districts": districts,
    }
    if mine != tally:
        published = tally.get("districts")
        published = published if isinstance(published, dict) else {}
        wrong = sorted(d for d in layout if districts[d] != published.get(d)) or ["its fields"]
        raise refuse(
            folder,
            f"the tally (board entry {index}) is not the product of exactly the "
            f"{len(cast)} cast ballots (it differs in {', '.join(wrong)})",
        )
    return index, mine


def _check_mix_inputs(
    folder: Path,
    board: Board,
    tally_index: int,
    widths: dict[str, int],
    rows: dict[str, Any],
) -> None:
    """The `mix-input` entries (issue 16, `verivote.election.tally`): one per mixnet district,
    in manifest order, just before the tally, each exactly the rows this guardian recomputed
    from the cast written ballots below the tally's cut-off, in board order. A refusal
    otherwise."""
    docs = board.docs
    cutoff = docs[tally_index]["cutoff"]
    found = [i for i, d in enumerate(docs) if d.get("type") == MIX_INPUT_TYPE]
    expected_at = list(range(tally_index - len(widths), tally_index))
    if found != expected_at:
        raise refuse(
            folder,
            f"the signed board holds mix-input entries at {found or 'no index'}; there is one "
            f"per mixnet district ({len(widths)}), just before the tally (entry {tally_index})",
        )
    election = board.ctx.base_hash.hex()
    for i, (district, width) in zip(found, widths.items(), strict=True):
        mine = {
            "type": MIX_INPUT_TYPE, "election": election, "district": district,
            "cutoff": cutoff, "width": width, "rows": rows.get(district, []),
        }  # fmt: skip
        if docs[i] != mine:
            raise refuse(
                folder,
                f"the mix input of district {district} (board entry {i}) is not exactly the "
                "written ballots cast there below the tally's cut-off, in board order",
            )


def decryption_items(
    board: Board, tally_index: int, tally: dict[str, Any]
) -> dict[str, list[tuple[str, Ciphertext[Any]]]]:
    """What this guardian decrypts, from the verified `board` only: each district's
    ciphertexts of its OWN recomputed `tally` (`recompute_tally`; the board's tally entry is
    at `tally_index`), in the layout the server checks partial decryptions against
    (`verivote.election.decryption.tally_ciphertexts`).

    The lot's ciphertext is decrypted apart, in an entry of its own (`_decrypt_lot`)."""
    ctx = board.ctx
    assert ctx.key is not None
    return tally_ciphertexts(ctx.key.group, ctx, tally)


def own_share(folder: Path) -> KeyShare:
    """This guardian's key share, from its folder (a refusal if there is none yet)."""
    if not (folder / KEY_FILE).is_file():
        raise refuse(folder, f"no key share in {folder} (run verivote guardian ceremony first)")
    try:
        return read_key_share(folder / KEY_FILE)
    except ValueError as exc:
        raise refuse(folder, str(exc)) from None


def _records(folder: Path) -> dict[str, Any]:
    path = folder / DECRYPTED_FILE
    return read_json(path) if path.is_file() else {}


def decrypt(
    client: Client,
    folder: Path,
    witness_quorum: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    trust: list[str] | None = None,
    cluster: Cluster | None = None,
) -> list[int]:
    """Check the signed board and the tally, then post this guardian's partial decryptions of
    its own recomputation; returns the board indices the server acknowledged. `trust`: the
    keys to pin for an election other than the ceremony's (see `trust_for`). `cluster`: the
    ballots' proof checks, the mix's shuffle checks and partial decryptions run as Ray tasks
    there (the guardian's own machines: its key share goes to them)."""
    share = own_share(folder)
    board = verified_board(client, folder, share, witness_quorum, trust)
    with mix_workers(cluster, board.ctx.key) as workers:
        return _decrypt_on(client, folder, share, board, progress, workers)


def _decrypt_on(
    client: Client,
    folder: Path,
    share: KeyShare,
    board: Board,
    progress: Callable[[int, int], None] | None,
    workers: MixWorkers,
) -> list[int]:
    """`decrypt` once the board is verified, the mix's work on `workers`."""
    ctx = board.ctx
    tally_index, tally = recompute_tally(folder, board, workers.cluster)
    mixed = closed_mix(folder, board, workers)  # before anything is decrypted
    election = ctx.base_hash.hex()
    what = leaf_hash(board.entries[tally_index]).hex()
    records = _records(folder)
    record = records.get(election)
    if record is not None:
        if record["tally"] != what:
            raise refuse(
                folder,
                f"already decrypted another tally of election {ctx.election_id} "
                f"(board entry {record['index']}); a second one is refused",
            )
        if record.get("done"):
            raise refuse(
                folder,
                f"already decrypted the tally of election {ctx.election_id} "
                f"(board entry {tally_index}); a second request is refused",
            )
    else:
        record = {"tally": what, "index": tally_index, "posted": {}, "done": False}
    records[election] = record
    write_json(folder / DECRYPTED_FILE, records)  # before anything is decrypted
    items = decryption_items(board, tally_index, tally)
    assert ctx.key is not None
    assert ctx.transcript is not None
    group = ctx.key.group
    public = public_share(group, ctx.transcript, share.guardian)
    total = len(items)
    published: list[int] = []
    report = progress or (lambda _done, _total: None)
    report(0, total)
    for n, (district, cts) in enumerate(items.items(), start=1):
        entry = partial_entry(group, ctx.base_hash, share, public, district, cts)
        ack = client.post_json("/api/decryption/partials", entry)
        index = int(ack["index"])
        published.append(index)
        record["posted"][district] = index
        write_json(folder / DECRYPTED_FILE, records)
        log(
            folder,
            f"guardian {share.guardian}: partial decryption of {district} of the tally "
            f"at entry {tally_index} acknowledged as board entry {index}",
        )
        report(n, total)
    published.append(_decrypt_lot(client, folder, board, share, tally_index))
    record["posted"]["lot"] = published[-1]
    write_json(folder / DECRYPTED_FILE, records)
    if mixed is not None:
        done = record.setdefault("mix", {})
        for index in _decrypt_mix(client, folder, board, share, mixed, done, workers):
            published.append(index)
            write_json(folder / DECRYPTED_FILE, records)
    record["done"] = True
    write_json(folder / DECRYPTED_FILE, records)
    return published


def closed_mix(folder: Path, board: Board, workers: MixWorkers = HERE) -> VerifiedMix | None:
    """The verified mix of the board's mixnet districts (`verivote.parties.mixer.verified_mix`:
    each mix-input recomputed from the cast ballots, every shuffle proof checked, mix-closed
    naming the end of each chain after a quorum of mixers), or None for an election without
    mixnet districts. A refusal while the signed board has no mix-closed entry: a guardian
    decrypts only the rows the closed mix ends with (issue 16, item 3). The shuffle proofs
    are checked on `workers`."""
    from verivote.election.mixing import mixnet_districts
    from verivote.parties.mixer import verified_mix  # the mixer's module imports this one

    if not mixnet_districts(board.ctx.manifest):
        return None
    checked = verified_mix(folder, board, board.ctx, LOG_FILE, None, workers)
    if checked.closed is None:
        raise refuse(
            folder,
            f"the mix is not closed on the signed board of size {board.checkpoint.size} (no "
            "mix-closed entry): nothing is decrypted before it",
        )
    return checked


def _decrypt_mix(
    client: Client,
    folder: Path,
    board: Board,
    share: KeyShare,
    mixed: VerifiedMix,
    done: dict[str, Any],
    workers: MixWorkers = HERE,
) -> list[int]:
    """Post this guardian's partial decryptions of the last rows of every mixnet district's
    verified, closed chain (`closed_mix`), one entry per batch of `BATCH` rows
    (`verivote.election.mixing.mix_partial_entry`, computed on `workers`); `done` records the
    batches acknowledged (district → start → board index) and is skipped on a run resumed
    after a crash. Returns the board indices acknowledged now."""
    from verivote.election.mixing import BATCH

    ctx = board.ctx
    assert ctx.key is not None
    assert ctx.transcript is not None
    group = ctx.key.group
    public = public_share(group, ctx.transcript, share.guardian)
    todo: list[tuple[str, int, Sequence[Any]]] = []
    for district, chain in mixed.chains.items():
        posted = done.setdefault(district, {})
        rows = chain.last_rows
        todo.extend(
            (district, start, rows[start : start + BATCH])
            for start in range(0, len(rows), BATCH)
            if str(start) not in posted
        )
    out: list[int] = []
    batches = _mix_partials(group, ctx.base_hash, share, public, todo, workers)
    for (district, start, batch), entry in zip(todo, batches, strict=True):
        try:
            index = int(client.post_json("/api/decryption/mix-partials", entry)["index"])
        except ServerError as exc:
            if exc.status != 409 or "already decrypted" not in str(exc):
                raise
            index = -1  # posted by a run that crashed before the acknowledgement
        done[district][str(start)] = index
        if index >= 0:
            out.append(index)
        log(
            folder,
            f"guardian {share.guardian}: partial decryption of rows {start}–"
            f"{start + len(batch) - 1} of the closed mix of {district} "
            + (f"acknowledged as board entry {index}" if index >= 0 else "already on the board"),
        )
    return out


def _mix_partials(
    group: Group[Any],
    base_hash: bytes,
    share: KeyShare,
    public: Any,
    todo: Sequence[tuple[str, int, Sequence[Any]]],
    workers: MixWorkers,
) -> Iterator[dict[str, Any]]:
    """The mix-partial-decryption entry of each (district, start, rows) of `todo`, in order:
    computed one by one here, or on `workers`' executor with a window of batches in flight
    (each posted while the next ones compute)."""
    from verivote.election.mixing import mix_partial_entry

    if workers.executor is None:
        for district, start, rows in todo:
            yield mix_partial_entry(group, base_hash, share, public, district, start, rows)
        return
    pool = workers.executor
    window: deque[Future[dict[str, Any]]] = deque()
    pending = iter(todo)
    for district, start, rows in pending:
        window.append(
            pool.submit(mix_partial_entry, group, base_hash, share, public, district, start, rows)
        )
        if len(window) >= 2 * (workers.jobs or 1):
            yield window.popleft().result()
    while window:
        yield window.popleft().result()


def _decrypt_lot(
    client: Client, folder: Path, board: Board, share: KeyShare, tally_index: int
) -> int:
    """Post this guardian's partial decryption of the lot ciphertext (issue 14, item 4), which
    it recomputes from the contributions on its verified board before the tally entry; returns
    the board index the server acknowledged."""
    ctx = board.ctx
    assert ctx.key is not None
    assert ctx.transcript is not None
    group = ctx.key.group
    try:
        lot = lot_product(group, ctx.transcript, ctx.base_hash, board.docs[:tally_index])
    except LotError as exc:
        raise refuse(folder, f"the lot cannot be decrypted: {exc}") from None
    public = public_share(group, ctx.transcript, share.guardian)
    entry = make_lot_decryption(group, ctx.base_hash, share, public, lot)
    index = int(client.post_json("/api/decryption/lot", entry)["index"])
    log(
        folder,
        f"guardian {share.guardian}: partial decryption of the lot of election "
        f"{ctx.election_id} acknowledged as board entry {index}",
    )
    return index


def contribute(client: Client, folder: Path, done_is_fine: bool = False) -> int:
    """Post this guardian's contribution to the lot of the server's election (issue 14, item 4):
    an encryption of a random element under the joint key, with proofs of its randomness and
    of this guardian's key share. The election is read from the board (its base hash is the
    hash of entry 0, its key the one ceremony entry, which must be this share's); a guardian
    contributes once per election (recorded in DIR/lot.json; a second request is refused, or
    with `done_is_fine`, as for a ceremony run again, answered with the entry already there).
    Returns the board index of the entry."""
    share = own_share(folder)
    entries = client.all_entries()
    docs = _parsed(folder, entries)
    ctx = _context(folder, entries, docs, share)
    assert ctx.key is not None
    assert ctx.transcript is not None
    election = ctx.base_hash.hex()
    path = folder / LOT_FILE
    records: dict[str, Any] = read_json(path) if path.is_file() else {}
    for i, doc in enumerate(docs):
        if doc.get("type") == CONTRIBUTION_TYPE and doc.get("guardian") == share.guardian:
            records[election] = i
            write_json(path, records)
            if done_is_fine:
                return i
            raise refuse(
                folder,
                f"guardian {share.guardian} has already contributed to the lot of election "
                f"{ctx.election_id} (board entry {i}); a second contribution is refused",
            )
    group = ctx.key.group
    public = public_share(group, ctx.transcript, share.guardian)
    entry = make_contribution(group, ctx.base_hash, share, public)
    index = int(client.post_json("/api/lot/contributions", entry)["index"])
    records[election] = index
    write_json(path, records)
    log(
        folder,
        f"guardian {share.guardian}: contribution to the lot of election {ctx.election_id} "
        f"acknowledged as board entry {index}",
    )
    return index
