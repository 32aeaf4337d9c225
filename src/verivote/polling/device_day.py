"""A station device's whole polling day from a queue of voters (`verivote device run`, issue
15): the device of `verivote demo`, one OS process serving a group of stations, talking to the
authority's server over HTTP only.

The queue (`write_queue`, a JSON file the authority writes into the device's folder) names the
election and, in the order they come, each voter: national code, station, the candidate codes
chosen, whether they challenge the first ballot the device encrypts, and whether they come back
later to vote again. The device's folder holds one token per station, `tokens/<station>` (0600,
as the authority handed them over), and its journals, `journal-<station>.jsonl`.

The device reads the election from the server's public board (`GET /api/board/entries`): entry
0 is the manifest, whose hash is the base hash, and the ceremony entry holds the joint key. Then
for each voter: check in (`POST /api/checkin`), encrypt the ballot here, and either cast it
(`POST /api/ballots`) or, for a voter who challenges, publish it with its opening (`POST
/api/ballots/challenged`) and cast a freshly encrypted one. Voters who come back are checked in
again at the end of the queue and must be turned away (`already_voted`).

The offline drill (`offline`, voters A to B of the queue, counting from 1): for those voters the
device acts as if the server could not be reached; `verivote.polling.station` journals their
check-ins and ballots, exactly as on a real outage, and the device uploads its journals as soon
as the drill is over (check-ins first, then ballots). A voter who would challenge while the
device is offline casts without challenging: the opening cannot be published then.

The device prints a progress line every `every` voters and, at the end, one JSON line: the
summary (`DaySummary`).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from verivote.crypto.ballot import opening_to_json
from verivote.crypto.ceremony import CeremonyTranscript
from verivote.crypto.elgamal import ElectionKey
from verivote.crypto.groups import get_group
from verivote.crypto.hashing import election_base_hash
from verivote.crypto.keyfile import read_private, write_private
from verivote.crypto.tracking import code_of
from verivote.crypto.written import encrypt_for_station
from verivote.model.manifest import Manifest, parse_manifest
from verivote.polling import station

QUEUE_FORMAT = "verivote-device-queue/1"
TOKENS = "tokens"
CHALLENGED_PATH = "/api/ballots/challenged"
PAGE = 1000


class DeviceError(Exception):
    """The day cannot go on: a refusal the device did not expect, or a bad queue or board."""


@dataclass(frozen=True)
class Voter:
    national_code: str
    station: str
    choices: list[str]
    challenges: bool = False
    returns: bool = False


@dataclass(frozen=True)
class Queue:
    election_id: str
    voters: list[Voter]

    @property
    def stations(self) -> list[str]:
        return sorted({v.station for v in self.voters})


@dataclass
class DaySummary:
    """What the device did: `checked_in` online and, of those it journaled, accepted at
    upload; `cast` online and `uploaded_ballots` accepted at upload."""

    device: str
    stations: list[str]
    voters: int
    checked_in: int = 0
    turned_away: int = 0
    cast: int = 0
    challenged: int = 0
    journaled_checkins: int = 0
    journaled_ballots: int = 0
    uploaded_checkins: int = 0
    uploaded_ballots: int = 0
    conflicts: int = 0
    refused_ballots: int = 0
    offline: list[int] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall-clock seconds spent checking in, encrypting, casting (with challenges), uploading."""

    def timed(self, step: str, started: float) -> None:
        now = time.perf_counter()
        self.seconds[step] = round(self.seconds.get(step, 0.0) + now - started, 3)


def write_queue(path: Path, queue: Queue) -> None:
    """The queue as the authority hands it to a device (0600: it holds the voters' choices)."""
    doc = {"format": QUEUE_FORMAT, "election_id": queue.election_id,
           "voters": [asdict(v) for v in queue.voters]}  # fmt: skip
    write_private(path, json.dumps(doc) + "\n")


def read_queue(path: Path) -> Queue:
    try:
        doc = json.loads(read_private(path))
        if doc.get("format") != QUEUE_FORMAT:
            raise ValueError(f"not a {QUEUE_FORMAT} file")
        voters = [Voter(**v) for v in doc["voters"]]
        return Queue(str(doc["election_id"]), voters)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DeviceError(f"{path}: not a device queue ({exc})") from None


def write_token(folder: Path, station_id: str, token: str) -> None:
    """A station's token, handed to the device that serves it (0600 in its folder)."""
    tokens = folder / TOKENS
    tokens.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private(tokens / station_id, token + "\n")


@dataclass(frozen=True)
class Election:
    """What a device needs of the election, read from the public board."""

    manifest: Manifest
    base_hash: bytes
    key: ElectionKey[Any]


def _get(url: str, timeout: float = station.TIMEOUT_S) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body: bytes = response.read()
            return body
    except (urllib.error.URLError, OSError) as exc:
        raise station.ServerUnreachable(str(getattr(exc, "reason", exc))) from None


def fetch_election(server: str, election_id: str) -> Election:
    """The election as the server's board tells it: the manifest (entry 0, whose hash is the
    base hash) and the joint key of its ceremony entry (the last one; a runoff's reuses the
    first round's transcript, so its entry, not the transcript, names this election)."""
    entries: list[bytes] = []
    while True:
        raw = _get(f"{server.rstrip('/')}/api/board/entries?start={len(entries)}"
                   f"&end={len(entries) + PAGE}")  # fmt: skip
        lines = raw.split(b"\n")
        entries += lines[:-1]
        if len(lines) - 1 < PAGE:
            break
    if not entries:
        raise DeviceError("the server's board is empty")
    try:
        manifest = parse_manifest(json.loads(entries[0])["manifest"], "board entry 0")
        docs = [json.loads(e) for e in entries]
        ceremony = [d for d in docs if isinstance(d, dict) and d.get("type") == "ceremony"]
        election = ceremony[-1]["election"]
        transcript = CeremonyTranscript.model_validate(ceremony[-1]["transcript"])
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise DeviceError(f"the server's board holds no election with a key ({exc})") from None
    base_hash = election_base_hash(entries[0])
    if manifest.election_id != election_id:
        raise DeviceError(f"the server's election is {manifest.election_id}, not {election_id}")
    if election != base_hash.hex():
        raise DeviceError("the board's ceremony is not of the board's manifest")
    group = get_group(transcript.group)
    key = ElectionKey(group, group.decode(bytes.fromhex(transcript.joint_key)))
    return Election(manifest, base_hash, key)


class _Offline(station.Server):
    """The server as seen during the offline drill: never reached."""

    def post(self, path: str, document: Any, timeout: float = station.TIMEOUT_S) -> dict[str, Any]:
        raise station.ServerUnreachable("offline drill")


def run_day(
    queue: Queue,
    server: str,
    folder: Path,
    offline: tuple[int, int] | None = None,
    every: int = 25,
    say: Callable[[str], None] = print,
    device: str | None = None,
    print_station: str | None = None,
) -> DaySummary:
    """The polling day of `queue` at `server` (see the module's docstring); `say` is told a
    progress line every `every` voters and nothing else. `print_station`: the paper ballots
    of the voters of this station, each printed once cast (issue 18), into
    `folder`/paper-<station>.pdf, one page a ballot."""
    name = device or folder.name
    servers: dict[str, station.Server] = {}
    for s in queue.stations:
        try:
            servers[s] = station.Server(server, read_private(folder / TOKENS / s).strip())
        except (FileNotFoundError, ValueError) as exc:
            raise DeviceError(f"no token for station {s} in {folder / TOKENS} ({exc})") from None
    total = len(queue.voters)
    summary = DaySummary(name, queue.stations, total, offline=list(offline or ()))
    started = time.perf_counter()
    election = fetch_election(server, queue.election_id)
    summary.timed("fetch_election", started)
    first, last = offline or (0, -1)
    printed: list[tuple[list[str], str]] = []
    if print_station is not None and print_station not in queue.stations:
        raise DeviceError(f"this device does not serve station {print_station}")

    def journal(s: str) -> Path:
        return folder / f"journal-{s}.jsonl"

    def hour(n: int) -> Callable[[], int]:
        return lambda: 8 + 10 * n // max(1, total)

    for n, voter in enumerate(queue.voters, start=1):
        away = first <= n <= last
        online = servers[voter.station]
        dev = _Offline(online.url, online.token) if away else online
        if not away and n == last + 1:
            started = time.perf_counter()
            _upload(servers, journal, summary)
            summary.timed("upload", started)
        started = time.perf_counter()
        answer = station.check_in(dev, journal(voter.station), voter.national_code, hour(n))
        summary.timed("check_in", started)
        if answer["status"] == "recorded_offline":
            summary.journaled_checkins += 1
        elif answer["status"] == "accepted":
            summary.checked_in += 1
        else:
            raise DeviceError(f"voter {n} of the queue was not checked in: {answer['status']}")
        started = time.perf_counter()
        ballot, opened = _encrypt(election, voter)
        summary.timed("encrypt", started)
        started = time.perf_counter()
        if voter.challenges and not away:
            body = {"ballot": ballot, **opening_to_json(election.key.group, opened)}
            reply = _post(dev, CHALLENGED_PATH, body, station.CAST_TIMEOUT_S)
            if reply.get("status") != "challenged":
                raise DeviceError(f"voter {n}'s challenged ballot: {reply}")
            summary.challenged += 1
            ballot, opened = _encrypt(election, voter)
        code = code_of(election.base_hash, ballot)
        try:
            cast = station.cast(dev, journal(voter.station), ballot, code)
        except station.Refused as exc:
            raise DeviceError(f"voter {n}'s ballot was refused: {exc}") from None
        if cast["status"] == "recorded_offline":
            summary.journaled_ballots += 1
        elif cast["status"] == "accepted" and cast["tracking_code"] == code:
            summary.cast += 1
        else:
            raise DeviceError(f"voter {n}'s ballot: {cast}")
        summary.timed("cast", started)
        if voter.station == print_station:
            printed.append((voter.choices, code))
        if n % every == 0 or n == total:
            say(f"progress {n}/{total} voters: {summary.checked_in} checked in, "
                f"{summary.cast} cast, {summary.challenged} challenged, "
                f"{summary.journaled_ballots} journaled")  # fmt: skip
    started = time.perf_counter()
    _upload(servers, journal, summary)
    summary.timed("upload", started)
    for n, voter in enumerate(queue.voters, start=1):
        if voter.returns:
            again = station.check_in(servers[voter.station], journal(voter.station),
                                     voter.national_code, hour(n))  # fmt: skip
            if again["status"] != "already_voted":
                raise DeviceError(f"voter {n} came back and was not turned away: {again}")
            summary.turned_away += 1
    if print_station is not None:
        started = time.perf_counter()
        _print_paper(election.manifest, print_station, printed, folder)
        summary.timed("print", started)
    return summary


def _print_paper(
    manifest: Manifest, station_id: str, cast: list[tuple[list[str], str]], folder: Path
) -> None:
    """The station's paper ballots as its voters marked them on the device: each one's
    names of candidates once, the first S (`normalise`: what the law counts of the ballot),
    and its tracking code. Printed in Persian, the voters' language here."""
    from verivote.polling.paper import PaperBallot, paper_ballots_pdf

    st = manifest.station(station_id)
    district = manifest.district(st.district)
    codes = {c.code for c in district.candidates}
    ballots = []
    for n, (choices, code) in enumerate(cast, start=1):
        kept = [c for c in dict.fromkeys(choices) if c in codes][: district.seats]
        ballots.append(PaperBallot(tuple(kept), code, f"{station_id}-{n:05d}"))
    if ballots:
        factions = {f.id: f.name for f in manifest.factions}
        pdf = paper_ballots_pdf(manifest.name, district, st, ballots, "fa", factions=factions)
        (folder / f"paper-{station_id}.pdf").write_bytes(pdf)


def _encrypt(election: Election, voter: Voter) -> tuple[dict[str, Any], Any]:
    return encrypt_for_station(election.manifest, election.key, election.base_hash,
                               voter.station, voter.choices)  # fmt: skip


def _post(server: station.Server, path: str, body: Any, timeout: float) -> dict[str, Any]:
    try:
        return server.post(path, body, timeout)
    except (station.Refused, station.ServerUnreachable) as exc:
        raise DeviceError(f"POST {path}: {exc}") from None


def _upload(
    servers: dict[str, station.Server], journal: Callable[[str], Path], summary: DaySummary
) -> None:
    """Every station's journal uploaded (nothing is sent for an empty one)."""
    for s, server in servers.items():
        if not station.pending(journal(s)):
            continue
        try:
            report = station.upload(server, journal(s))
        except (station.Refused, station.ServerUnreachable) as exc:
            raise DeviceError(f"the upload of station {s}'s journal failed: {exc}") from None
        summary.uploaded_checkins += int(report["accepted"])
        summary.conflicts += int(report["conflicts"]) + int(report["errors"])
        ballots = report["ballots"]
        summary.uploaded_ballots += int(ballots["accepted"]) + int(ballots["already_accepted"])
        summary.refused_ballots += int(ballots["refused"])


def parse_offline(values: Sequence[int] | None) -> tuple[int, int] | None:
    if not values:
        return None
    first, last = values
    if first < 1 or last < first:
        raise ValueError("--offline-between A B needs 1 ≤ A ≤ B")
    return first, last


def summary_line(summary: DaySummary) -> str:
    return json.dumps({"summary": asdict(summary)}, sort_keys=True)
