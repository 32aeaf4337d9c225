"""A faction's witness as a program of its own (issue 14, item 3; DESIGN.md, "Bulletin board").

The witness keeps its signing key and its memory of the board in a folder that is its own, on
its faction's machine, never in the authority's keys folder:

    witness.key   the witness's note signer key (mode 0600)
    state.json    the last checkpoint it cosigned per origin (public; `Witness.to_dict`),
                  replaced atomically and on disk before a cosignature is handed out
    log-keys      the pinned verifier keys of the logs it witnesses (the election authority's
                  key of each round; the key name is the checkpoint origin), one per line
    witness.log   one line per cosignature and per refusal (never a secret)

It answers the add-checkpoint call of C2SP tlog-witness (https://c2sp.org/tlog-witness):

    POST <url>/add-checkpoint
    old <size>\\n                     the size the caller believes the witness last cosigned
    <base64 hash>\\n ...               the RFC 9162 consistency proof from that size
    \\n
    <signed checkpoint note>

200 with its cosignature line; 409 Conflict (Content-Type text/x.tlog.size, body "<size>\\n")
when `old` is not the size it last cosigned; 400 for a malformed request; 403 when the note is
not signed by the log's pinned key; 404 for a log it does not witness; 422 when the checkpoint
is inconsistent with the one it cosigned (a failing consistency proof or a fork). The
cosignature is a plain Ed25519 signed-note line over the checkpoint (see `Witness`).

`serve` runs the witness over HTTP (Starlette, uvicorn); `FolderWitnessClient` asks a folder
in-process (tests and local simulations) through the same request bytes, and
`HttpWitnessClient` asks a served witness. `ask_witness` is the caller's side: it follows a
409 once with the size the witness names, and checks the cosignature it gets back.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import fcntl
import json
import os
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from verivote.board.checkpoint import (
    BAD_REQUEST,
    CONFLICT,
    Checkpoint,
    Witness,
    WitnessRefusal,
    parse_checkpoint,
)
from verivote.board.merkle import HASH_SIZE
from verivote.board.note import generate_signer, open_note, parse_note, parse_verifier
from verivote.board.record import write_atomic
from verivote.crypto.keyfile import read_private, write_private

__all__ = [
    "KEY_FILE",
    "LOG_FILE",
    "LOG_KEYS_FILE",
    "SIZE_CONTENT_TYPE",
    "STATE_FILE",
    "Answer",
    "FolderWitnessClient",
    "HttpWitnessClient",
    "WitnessClient",
    "WitnessError",
    "add_checkpoint",
    "add_log_key",
    "ask_witness",
    "client_for_url",
    "format_request",
    "handle_request",
    "init_witness",
    "last_cosigned",
    "log_keys",
    "parse_request",
    "serve",
    "verifier_key",
    "witness_app",
]

KEY_FILE = "witness.key"
STATE_FILE = "state.json"
LOG_KEYS_FILE = "log-keys"
LOG_FILE = "witness.log"
LOCK_FILE = ".lock"
SIZE_CONTENT_TYPE = "text/x.tlog.size"
TEXT = "text/plain; charset=utf-8"
MAX_BODY = 64 * 1024
"""The largest add-checkpoint request read (a checkpoint and a proof are a few KiB)."""
MAX_PROOF_LINES = 128
"""More hashes than any consistency proof within a tree of up to 2^64 entries holds."""

_OLD = re.compile(r"old (0|[1-9][0-9]{0,19})", re.ASCII)
_SIZE = re.compile(r"(0|[1-9][0-9]{0,19})\n", re.ASCII)


class WitnessError(Exception):
    """A witness folder that cannot be used (missing, unsafe or malformed), in one line."""


# --- the folder -------------------------------------------------------------------------------


def _check_log_key(key: str) -> str:
    key = key.strip()
    try:
        parse_verifier(key)
    except ValueError as exc:
        raise WitnessError(f"not a verifier key of a log: {exc}") from None
    return key


def init_witness(folder: Path, name: str, log_verifiers: Sequence[str]) -> str:
    """Make a new witness folder: a fresh key named `name`, the pinned log keys, an empty
    state. Returns the witness's verifier key (to give to the authority)."""
    keys = [_check_log_key(k) for k in log_verifiers]
    if not keys:
        raise WitnessError("a witness needs the verifier key of the log it witnesses")
    if len(set(keys)) != len(keys):
        raise WitnessError("the same log key is given twice")
    if (folder / KEY_FILE).exists():
        raise WitnessError(f"{folder} already holds a witness key; use another folder")
    if (folder / "authority.key").exists():
        raise WitnessError(f"{folder} is an election authority's keys folder, not a witness's")
    try:
        signer, verifier = generate_signer(name)
    except ValueError as exc:
        raise WitnessError(f"bad witness name: {exc}") from None
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private(folder / KEY_FILE, signer + "\n")
    write_atomic(folder / LOG_KEYS_FILE, "".join(k + "\n" for k in keys).encode("utf-8"))
    _save_state(folder, Witness(signer))
    _log(folder, f"created: witness {name}, key {verifier}")
    return verifier


def add_log_key(folder: Path, key: str) -> bool:
    """Pin one more log's verifier key (a new round's authority); False if already pinned."""
    key = _check_log_key(key)
    _signer(folder)  # a witness folder, with a safe key file
    with _locked(folder):
        keys = log_keys(folder)
        if key in keys:
            return False
        write_atomic(folder / LOG_KEYS_FILE, "".join(k + "\n" for k in [*keys, key]).encode())
        _log(folder, f"log key pinned: {key}")
    return True


def _signer(folder: Path) -> str:
    path = folder / KEY_FILE
    if not path.is_file():
        raise WitnessError(f"{folder} is not a witness folder: no {KEY_FILE} (run witness init)")
    try:
        return read_private(path).strip()
    except ValueError as exc:
        raise WitnessError(str(exc)) from None


def _witness(folder: Path) -> Witness:
    signer = _signer(folder)
    path = folder / STATE_FILE
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        return Witness(signer, state)
    except FileNotFoundError:
        raise WitnessError(f"{folder} has no {STATE_FILE}") from None
    except ValueError as exc:  # JSON and state errors
        raise WitnessError(f"{path} is not a witness state: {exc}") from None


def verifier_key(folder: Path) -> str:
    """The witness's verifier key (public)."""
    return _witness(folder).verifier_key


def log_keys(folder: Path) -> list[str]:
    """The pinned verifier keys of the logs this witness witnesses."""
    path = folder / LOG_KEYS_FILE
    if not path.is_file():
        raise WitnessError(f"{folder} is not a witness folder: no {LOG_KEYS_FILE}")
    keys = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return [_check_log_key(k) for k in keys if k]


def last_cosigned(folder: Path) -> dict[str, Checkpoint]:
    """Per origin, the last checkpoint this witness cosigned."""
    witness = _witness(folder)
    return {o: cp for o in log_origins(folder) if (cp := witness.last(o)) is not None}


def log_origins(folder: Path) -> list[str]:
    """The origins (log key names) this witness witnesses."""
    return [parse_verifier(k).name for k in log_keys(folder)]


def _save_state(folder: Path, witness: Witness) -> None:
    data = json.dumps(witness.to_dict(), indent=2, sort_keys=True) + "\n"
    write_atomic(folder / STATE_FILE, data.encode("utf-8"))


def _log(folder: Path, message: str) -> None:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    line = f"{stamp} {' '.join(message.split())}\n"
    fd = os.open(folder / LOG_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    with os.fdopen(fd, "a", encoding="utf-8") as stream:
        stream.write(line)


_THREAD_LOCK = threading.Lock()


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One request at a time per folder: a thread lock (the server's worker threads) and an
    flock on the folder's lock file (another process on the same folder)."""
    with _THREAD_LOCK:
        fd = os.open(folder / LOCK_FILE, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


# --- the add-checkpoint call ------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """A witness's answer to add-checkpoint: the HTTP status, body and content type."""

    status: int
    text: str
    content_type: str = TEXT

    @property
    def reason(self) -> str:
        """The first line of the body: the refusal's reason."""
        return self.text.strip().split("\n", 1)[0] if self.text.strip() else "(no reason given)"


def format_request(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    """The body of an add-checkpoint request."""
    lines = [f"old {old_size}", *(base64.b64encode(h).decode("ascii") for h in proof), ""]
    return ("".join(line + "\n" for line in lines) + note).encode("utf-8")


def parse_request(body: bytes) -> tuple[int, list[bytes], str]:
    """(old size, consistency proof, signed note) of an add-checkpoint body, read strictly.
    Raises WitnessRefusal (400) naming what is malformed."""
    if len(body) > MAX_BODY:
        raise WitnessRefusal(f"the request is larger than {MAX_BODY} bytes", BAD_REQUEST)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WitnessRefusal("the request is not UTF-8", BAD_REQUEST) from None
    head, blank, note = text.partition("\n\n")
    if not blank:
        raise WitnessRefusal("no empty line before the checkpoint", BAD_REQUEST)
    old_line, *proof_lines = head.split("\n")
    match = _OLD.fullmatch(old_line)
    if match is None:
        raise WitnessRefusal(f"the first line must be 'old <size>', not {old_line!r}", BAD_REQUEST)
    if len(proof_lines) > MAX_PROOF_LINES:
        raise WitnessRefusal(f"more than {MAX_PROOF_LINES} proof lines", BAD_REQUEST)
    proof: list[bytes] = []
    for number, line in enumerate(proof_lines, start=1):
        try:
            node = base64.b64decode(line.encode("ascii"), validate=True)
        except (UnicodeEncodeError, ValueError):
            node = b""
        if len(node) != HASH_SIZE or base64.b64encode(node).decode("ascii") != line:
            raise WitnessRefusal(
                f"proof line {number} is not the base64 of a {HASH_SIZE}-byte hash", BAD_REQUEST
            )
        proof.append(node)
    old_size = int(match.group(1))
    if old_size == 0 and proof:
        raise WitnessRefusal("a consistency proof from old size 0 must be empty", BAD_REQUEST)
    return old_size, proof, note


def _describe(note: str) -> str:
    try:
        checkpoint = parse_checkpoint(parse_note(note)[0])
    except ValueError:
        return "-"
    return f"{checkpoint.origin} size {checkpoint.size}"


def add_checkpoint(folder: Path, old_size: int, proof: Sequence[bytes], note: str) -> Answer:
    """Cosign `note` if it is consistent with what this witness cosigned before (see
    `Witness.add_checkpoint`). The new state is on disk before the cosignature is returned,
    so that no crash can make the witness cosign two forks. Every answer is logged."""
    with _locked(folder):
        witness = _witness(folder)
        try:
            line = witness.add_checkpoint(old_size, proof, note, log_keys(folder))
        except WitnessRefusal as refusal:
            _log(folder, f"refused {refusal.status} {_describe(note)} old {old_size}: {refusal}")
            if refusal.status == CONFLICT and refusal.known_size is not None:
                return Answer(CONFLICT, f"{refusal.known_size}\n", SIZE_CONTENT_TYPE)
            return Answer(refusal.status, f"{refusal.reason}\n")
        _save_state(folder, witness)
        checkpoint = parse_checkpoint(parse_note(note)[0])
        root = base64.b64encode(checkpoint.root).decode("ascii")
        _log(folder, f"cosigned {checkpoint.origin} size {checkpoint.size} root {root}")
    return Answer(200, line)


def handle_request(folder: Path, body: bytes) -> Answer:
    """Answer one add-checkpoint request body."""
    try:
        old_size, proof, note = parse_request(body)
    except WitnessRefusal as refusal:
        with _locked(folder):
            _log(folder, f"refused {refusal.status} malformed request: {refusal}")
        return Answer(refusal.status, f"{refusal.reason}\n")
    return add_checkpoint(folder, old_size, proof, note)


# --- the HTTP server --------------------------------------------------------------------------


def witness_app(folder: Path) -> Any:
    """The witness's ASGI app: POST /add-checkpoint (C2SP tlog-witness). The folder is
    checked now, so that a bad folder stops the server before it listens."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    verifier_key(folder)
    log_keys(folder)

    async def add(request: Request) -> Response:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                answer = Answer(BAD_REQUEST, f"the request is larger than {MAX_BODY} bytes\n")
                break
        else:
            try:
                answer = await run_in_threadpool(handle_request, folder, body)
            except WitnessError as exc:  # the folder went bad under the running server
                answer = Answer(500, f"{exc}\n")
        # the content type exactly as the spec names it (no charset added to text/x.tlog.size)
        return Response(
            answer.text.encode("utf-8"),
            status_code=answer.status,
            headers={"content-type": answer.content_type},
        )

    return Starlette(routes=[Route("/add-checkpoint", add, methods=["POST"])])


def serve(folder: Path, host: str = "127.0.0.1", port: int = 8021) -> None:
    """Serve the witness in `folder` until interrupted."""
    import uvicorn

    app = witness_app(folder)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


# --- the caller's side ------------------------------------------------------------------------


class WitnessClient(Protocol):
    """How the authority asks one witness to cosign: one add-checkpoint call."""

    def add_checkpoint(self, old_size: int, proof: Sequence[bytes], note: str) -> Answer:
        """Send one request; returns the witness's answer. Raises OSError if the witness
        cannot be reached."""
        ...


class FolderWitnessClient:
    """A witness folder asked in-process, through the same request bytes as over HTTP (tests
    and local simulations; the folder is the witness's, never the authority's)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def add_checkpoint(self, old_size: int, proof: Sequence[bytes], note: str) -> Answer:
        if not self.folder.is_dir():
            raise OSError(f"no witness folder {self.folder}")
        try:
            return handle_request(self.folder, format_request(old_size, proof, note))
        except WitnessError as exc:
            raise OSError(str(exc)) from None


class HttpWitnessClient:
    """A witness served over HTTP at `url` (its submission prefix: requests go to
    <url>/add-checkpoint)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/") + "/add-checkpoint"
        self.timeout = timeout

    def add_checkpoint(self, old_size: int, proof: Sequence[bytes], note: str) -> Answer:
        request = urllib.request.Request(
            self.url,
            data=format_request(old_size, proof, note),
            method="POST",
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return _answer(response.status, response.headers, response.read(MAX_BODY))
        except urllib.error.HTTPError as error:
            with error:
                return _answer(error.code, error.headers, error.read(MAX_BODY))
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise OSError(f"cannot reach {self.url}: {reason}") from None


def _answer(status: int, headers: Any, body: bytes) -> Answer:
    content_type = headers.get("Content-Type", "") if headers is not None else ""
    return Answer(status, body.decode("utf-8", errors="replace"), content_type)


def client_for_url(url: str) -> WitnessClient:
    """The client for a registered witness URL: http(s) for a served witness, file: for a
    witness folder asked in-process."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return HttpWitnessClient(url)
    if parts.scheme == "file" and parts.path:
        return FolderWitnessClient(Path(urllib.request.url2pathname(parts.path)))
    raise ValueError(f"a witness URL is http://, https:// or file://, not {url!r}")


def ask_witness(
    client: WitnessClient,
    witness_key: str,
    note: str,
    old_size: int,
    prove: Callable[[int], list[bytes]],
) -> str:
    """Ask one witness to cosign `note` (signed by the log), believing it last cosigned
    `old_size`; `prove(size)` is the consistency proof from `size` to the note's tree.

    On 409 the request is made once more with the size the witness names. Returns the
    witness's cosignature line(s), each checked under `witness_key`. Raises WitnessRefusal
    with the witness's reason (or OSError if it cannot be reached).
    """
    answer = client.add_checkpoint(old_size, prove(old_size), note)
    if answer.status == CONFLICT and answer.content_type.split(";")[0].strip() == SIZE_CONTENT_TYPE:
        match = _SIZE.fullmatch(answer.text)
        if match is None:
            raise WitnessRefusal(f"409 with a malformed size {answer.text!r}", CONFLICT)
        known = int(match.group(1))
        if known == old_size:
            raise WitnessRefusal(f"409 naming the size {known} that was sent", CONFLICT)
        answer = client.add_checkpoint(known, prove(known), note)
    if answer.status != 200:
        raise WitnessRefusal(f"{answer.reason} (status {answer.status})", answer.status)
    lines = [line + "\n" for line in answer.text.split("\n") if line]
    good: list[str] = []
    for line in lines:
        with contextlib.suppress(ValueError):
            if open_note(note + line, [witness_key])[1]:
                good.append(line)
    if not good or len(good) != len(lines):
        raise WitnessRefusal("the witness answered no valid cosignature under its key", 200)
    return "".join(good)
