"""Every guardian and every witness of `verivote demo` as its own OS process with its own
folder (issue 14, "Done means": the demo runs the ceremony, the decryptions and the cosigning
with each party a separate process). The process running this module is the authority.

A demo folder D:

    D/authority/              the authority's: the database, keys/round1, keys/round2
                              (its signing key and the public verifiers and witnesses.json)
    D/guardian-<i>/           guardian i's (`verivote.parties.guardian`): the token the
                              authority gave it, its secrets, key share, pinned keys and log
    D/witness-<faction>/      the faction's witness (`verivote.parties.witness`): its key,
                              state, pinned log keys and log, and serve.out (its server's output)
    D/mixer-<faction>/        the faction's mix server (`verivote.parties.mixer`), for each
                              mixer of the manifest: its token, pinned keys, mixed.json and log
                              (a later round's in D/mixer-<faction>-round<r>/)

The witnesses are `verivote witness init` then `verivote witness serve` processes, started
once and stopped at the end (also on an error or Ctrl-C); round 2's authority key is pinned by
`verivote witness add-log` while they serve. The guardians are `verivote guardian ceremony`,
`contribute` and `decrypt` processes, all of a step at once, against the authority's real
server (`verivote.web.app.live_app` of the round's election, in a thread of this process,
on a free loopback port). The authority never reads a party's folder: it writes each
guardian's token there (as it would hand it over) and reads what the parties print.

The mix (issue 16, item 2): after the tally, each mixer's `verivote mixer init`, all at once,
then each mixer's `verivote mixer mix` in the manifest's mixing order, each after a new
checkpoint cosigned by the witnesses (a mixer acts only on the signed board, so it sees the
shuffle before its own there); then the authority closes the mix.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import verivote
from verivote.crypto.keyfile import write_private
from verivote.election.guardians import open_ceremony
from verivote.election.mixers import issue_mixer_tokens
from verivote.election.mixing import close_mix, mixnet_districts
from verivote.election.polls import close_polls
from verivote.election.publishing import add_witness, create_signers, make_checkpoint
from verivote.election.service import ElectionContext, load_context
from verivote.model.manifest import Manifest
from verivote.model.result_form import ResultForm, head_name, observer_name
from verivote.polling.device_day import Queue, Voter, read_queue, write_queue, write_token
from verivote.sim.election import (
    GUARDIANS,
    QUORUM,
    Progress,
    RoundOutcome,
    count_truth,
    decisions,
    open_day,
)
from verivote.sim.paper_forms import head_groups, publish_keys, publish_round_forms
from verivote.store import Store
from verivote.store.access import issue_token
from verivote.web.app import live_app, read_verifiers
from verivote.web.serving import in_thread

Show = Callable[[str, str, int, int | None], None]
"""show(party, line, done, total): a party's line (its process id and folder) and progress."""

TOKEN_FILE = "token"
QUEUE_FILE = "queue.json"
DEVICE_ERR = "device.err"
DEVICES = 4
PRINTING_DEVICE = 2
"""The device that prints the paper ballots of one of its stations (the one of the fewest
voters) in round 1 (issue 18: the demo prints one station's ballots as PDFs)."""
"""Station devices of the demo, each serving a group of the stations (at most this many)."""
TIMEOUT = 600.0
"""Seconds a guardian or witness process may take for one step."""


class PartyError(Exception):
    """A guardian or witness process failed; the message is one line saying which and why."""


@dataclass
class _Witness:
    faction: str
    folder: Path
    key: str
    url: str
    process: subprocess.Popen[bytes]
    cosigned: int = 0


@dataclass
class _Device:
    index: int
    folder: Path
    runs: int = 0


@dataclass
class _Day:
    """A device's polling day of one round: its folder, queue size and offline drill."""

    device: _Device
    folder: Path
    stations: list[str]
    voters: int
    offline: tuple[int, int] | None
    done: int = 0
    process: subprocess.Popen[bytes] | None = None


def _read_lines(
    process: subprocess.Popen[bytes], day: _Day, lines: queue.Queue[tuple[_Day, str | None]]
) -> None:
    """Each line a device prints, then None when its output ends."""
    assert process.stdout is not None
    for raw in process.stdout:
        lines.put((day, raw.decode("utf-8", "replace").strip()))
    lines.put((day, None))


def _describe_day(summary: dict[str, Any], process: subprocess.Popen[bytes] | None) -> str:
    pid = "" if process is None else f" (pid {process.pid})"
    text = (
        f"done{pid}: {summary['checked_in']} checked in, {summary['cast']} cast, "
        f"{summary['challenged']} challenged, {summary['turned_away']} turned away"
    )
    if summary["journaled_ballots"] or summary["journaled_checkins"]:
        text += (f"; offline {summary['offline'][0]}-{summary['offline'][1]}: journaled "
                 f"{summary['journaled_checkins']} check-ins and {summary['journaled_ballots']} "
                 f"ballots, uploaded {summary['uploaded_checkins']} + "
                 f"{summary['uploaded_ballots']}")  # fmt: skip
    return text


@dataclass
class _Guardian:
    index: int
    folder: Path
    steps: list[str] = field(default_factory=list)


def _environment() -> dict[str, str]:
    """The parties run the same verivote as this process, whatever the working folder."""
    here = str(Path(verivote.__file__).resolve().parent.parent)
    path = [here, *(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path)}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


class ProcessParties:
    """The guardians and witnesses of a demo in `directory`, each its own process (see the
    module's docstring); a context manager that stops every process it started on leaving.
    `show` is told of each party's process and progress."""

    def __init__(self, directory: Path, show: Show | None = None, poll: float = 0.1) -> None:
        self.directory = directory.resolve()
        self.authority = self.directory / "authority"
        self.show: Show = show or (lambda party, line, done, total: None)
        self.poll = poll
        self.env = _environment()
        self.witnesses: dict[str, _Witness] = {}
        self.guardians = {
            g: _Guardian(g, self.directory / f"guardian-{g}") for g in range(1, GUARDIANS + 1)
        }
        self.devices: dict[int, _Device] = {}
        self.mixer_runs = 0
        self.official_runs = 0
        self.paper: Path | None = None
        self.official_keys: dict[str, str] = {}
        self.mixers: set[str] = set()
        self.processes = 0
        self.running: list[subprocess.Popen[bytes]] = []
        self._old_term: Any = None

    # -- processes ---------------------------------------------------------------------------

    def __enter__(self) -> ProcessParties:
        self.authority.mkdir(parents=True, exist_ok=True, mode=0o700)
        if threading_main():
            # `kill PID` stops the parties too, as Ctrl-C does (KeyboardInterrupt).
            self._old_term = signal.signal(signal.SIGTERM, _interrupted)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if self._old_term is not None:
            signal.signal(signal.SIGTERM, self._old_term)

    def _start(
        self, args: list[str], cwd: Path, out: Any = subprocess.PIPE, err: Any = None
    ) -> subprocess.Popen[bytes]:
        if err is None:
            err = subprocess.STDOUT if out is not subprocess.PIPE else subprocess.PIPE
        process = subprocess.Popen(
            [sys.executable, "-m", "verivote", *args],
            cwd=cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
        self.processes += 1
        self.running.append(process)
        return process

    def _finish(self, process: subprocess.Popen[bytes], who: str) -> str:
        """Wait for a party's process; its standard output, or a PartyError."""
        try:
            out, err = process.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise PartyError(f"{who} (pid {process.pid}) took more than {TIMEOUT:.0f} s") from None
        finally:
            if process in self.running and process.poll() is not None:
                self.running.remove(process)
        if process.returncode != 0:
            reason = _last_line((err or b"").decode("utf-8", "replace"))
            raise PartyError(f"{who} (pid {process.pid}) failed: {reason}")
        return (out or b"").decode("utf-8", "replace")

    def stop(self) -> None:
        """Stop every process still running (the witnesses' servers; on an error, also the
        guardians of the step that failed): SIGTERM, then SIGKILL after 10 s."""
        for process in self.running:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 10
        for process in self.running:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.running.clear()
        for w in self.witnesses.values():
            self.show(f"witness-{w.faction}", self._witness_line(w, "stopped"), w.cosigned,
                      w.cosigned)  # fmt: skip

    # -- witnesses ---------------------------------------------------------------------------

    def _witness_line(self, w: _Witness, state: str) -> str:
        return f"witness {w.faction} pid {w.process.pid} {w.folder.name}/: {state}"

    def _start_witnesses(self, factions: list[str], authority_key: str) -> None:
        """Each faction's `witness init` (the witness draws its own key), then its `witness
        serve` on a free port, waited for until it listens; all at once."""
        folders = {f: self.directory / f"witness-{f}" for f in factions}
        inits = [
            (f, self._start(["witness", "init", "--dir", str(folders[f]), "--name",
                             f"witness/{f}", "--log-key", authority_key], self.directory))
            for f in factions
        ]  # fmt: skip
        keys = {f: _last_line(self._finish(p, f"witness {f} init")) for f, p in inits}
        for _ in range(5):  # a port taken meanwhile by another program: try another
            serving = []
            for f in factions:
                port = _free_port()
                with (folders[f] / "serve.out").open("ab") as out:
                    args = ["witness", "serve", "--dir", str(folders[f]), "--port", str(port)]
                    serving.append((f, port, self._start(args, folders[f], out)))
            factions = []
            for f, port, process in serving:
                if not self._listening(process, port):
                    if process.poll() is None:
                        process.kill()
                    process.wait()
                    self.running.remove(process)
                    factions.append(f)
                    continue
                w = _Witness(f, folders[f], keys[f], f"http://127.0.0.1:{port}", process)
                self.witnesses[f] = w
                self.show(f"witness-{f}", self._witness_line(w, f"serving {w.url}"), 0, None)
            if not factions:
                return
        log = (folders[factions[0]] / "serve.out").read_text(encoding="utf-8", errors="replace")
        raise PartyError(f"witness {factions[0]} could not serve: {_last_line(log)}")

    def _listening(self, process: subprocess.Popen[bytes], port: int) -> bool:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return True
            except OSError:
                time.sleep(0.05)
        return False

    def signers(self, manifest: Manifest, round_number: int) -> Path:
        """The round's keys folder in D/authority, with each faction's witness process
        registered: started for round 1; for a later round, the same process pins the new
        authority key (`witness add-log`, run while it serves)."""
        keys = self.authority / "keys" / f"round{round_number}"
        authority_key = create_signers(keys, manifest)[0]
        new = [f.id for f in manifest.factions if f.id not in self.witnesses]
        if new:
            self._start_witnesses(new, authority_key)
        pinning = [
            (w, self._start(["witness", "add-log", "--dir", str(w.folder), "--log-key",
                             authority_key], w.folder))
            for f, w in self.witnesses.items() if f not in new
        ]  # fmt: skip
        for w, process in pinning:
            self._finish(process, f"witness {w.faction} add-log")
            line = f"pinned round {round_number}'s log key (pid {process.pid})"
            self.show(f"witness-{w.faction}", self._witness_line(w, line), w.cosigned, None)
        for faction in (f.id for f in manifest.factions):
            w = self.witnesses[faction]
            add_witness(keys, w.url, w.key)
        return keys

    def checkpoint(self, store: Store, ctx: ElectionContext, keys_dir: Path) -> None:
        """Sign the board; every witness process must cosign it."""
        result = make_checkpoint(store, ctx, keys_dir)
        if result.refusals:
            raise PartyError(f"checkpoint of size {result.size}: {'; '.join(result.refusals)}")
        for w in self.witnesses.values():
            if f"witness/{w.faction}" in result.witnesses:
                w.cosigned += 1
            line = f"cosigned {w.cosigned} checkpoint(s), the last of size {result.size}"
            self.show(f"witness-{w.faction}", self._witness_line(w, line), w.cosigned, None)

    # -- guardians ---------------------------------------------------------------------------

    @contextmanager
    def _server(self, store: Store, ctx: ElectionContext, keys_dir: Path) -> Iterator[str]:
        """The authority's server of this election (its live app), for the guardians."""
        fresh = load_context(store, ctx.election_id)
        with in_thread(live_app(store, fresh, read_verifiers(keys_dir, ctx.election_id))) as url:
            yield url

    def _guardians(
        self, server: str, command: str, who: list[int], *extra: str, label: str | None = None
    ) -> None:
        """`verivote guardian COMMAND` for each guardian in `who`, all at once (shown as
        `label`, by default the command)."""
        shown = label or command
        started = []
        for g in who:
            guardian = self.guardians[g]
            args = ["guardian", command, "--server", server,
                    "--token-file", str(guardian.folder / TOKEN_FILE),
                    "--dir", str(guardian.folder), *extra]  # fmt: skip
            if command == "ceremony":
                args += ["--index", str(g), "--poll", str(self.poll), "--timeout", str(TIMEOUT)]
            process = self._start(args, guardian.folder)
            started.append((guardian, process))
            self._show_guardian(guardian, f"{shown} (pid {process.pid})", running=True)
        # Whichever ends first is looked at first: a guardian that fails stops the step at
        # once, rather than after the others have waited for it until their timeout.
        deadline = time.monotonic() + TIMEOUT
        while started:
            for guardian, process in [(g, p) for g, p in started if p.poll() is not None]:
                started.remove((guardian, process))
                self._finish(process, f"guardian {guardian.index} {command}")
                guardian.steps.append(command)
                self._show_guardian(guardian, f"{shown} done (pid {process.pid})")
            if started and time.monotonic() > deadline:
                late = started[0][0].index
                raise PartyError(f"guardian {late} {command} took more than {TIMEOUT:.0f} s")
            time.sleep(0.05)

    def _show_guardian(self, guardian: _Guardian, state: str, running: bool = False) -> None:
        line = f"guardian {guardian.index} {guardian.folder.name}/: {state}"
        done = len(guardian.steps)
        self.show(f"guardian-{guardian.index}", line, done, done + running)

    def ceremony(self, store: Store, ctx: ElectionContext, keys_dir: Path) -> None:
        """Open the ceremony, hand each guardian its token (0600 in its folder), and let the
        five guardian processes hold it and contribute to the lot, pinning the round's
        verifier keys (public: the authority's, then the witnesses')."""
        tokens = open_ceremony(store, ctx, GUARDIANS, QUORUM)
        for g, token in enumerate(tokens, start=1):
            folder = self.guardians[g].folder
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_private(folder / TOKEN_FILE, token + "\n")
        with self._server(store, ctx, keys_dir) as server:
            trust = str(keys_dir / "verifiers")
            self._guardians(server, "ceremony", sorted(self.guardians), "--trust", trust)

    def contribute(self, store: Store, ctx: ElectionContext, keys_dir: Path) -> None:
        """Each guardian's lot contribution to a runoff that reuses the ceremony's key."""
        with self._server(store, ctx, keys_dir) as server:
            self._guardians(server, "contribute", sorted(self.guardians))

    def pseudonyms(self, store: Store, ctx: ElectionContext, keys_dir: Path) -> None:
        """A quorum of guardian processes answer the roll's blinded batches (`verivote
        guardian pseudonyms`), each checking the board's roll-size entry first."""
        with self._server(store, ctx, keys_dir) as server:
            self._guardians(server, "pseudonyms", list(range(1, QUORUM + 1)))

    def decrypt(
        self,
        store: Store,
        ctx: ElectionContext,
        keys_dir: Path,
        present: list[int],
        progress: Progress,
    ) -> None:
        """A checkpoint cosigned by the witnesses, then the present guardians' `guardian
        decrypt` at once, each checking that board and recomputing the tally itself, and the
        closed mix's last rows too when there are mixnet districts (each checking the whole
        chain of shuffles first). For an election other than the ceremony's (round 2) they pin
        its verifier keys (--trust)."""
        self.checkpoint(store, ctx, keys_dir)
        transcript = load_context(store, ctx.election_id).transcript
        reused = transcript is not None and transcript.base_hash != ctx.base_hash.hex()
        trust = ("--trust", str(keys_dir / "verifiers")) if reused else ()
        with self._server(store, ctx, keys_dir) as server:
            mixed = bool(mixnet_districts(ctx.manifest))
            label = "decrypt the tally and the mix" if mixed else None
            self._guardians(server, "decrypt", present, *trust, label=label)

    # -- mixers --------------------------------------------------------------------------

    def mix(self, store: Store, ctx: ElectionContext, keys_dir: Path, progress: Progress) -> None:
        """Issue each mixer its token (0600 in its folder), run every `mixer init` at once
        (pinning the round's verifier keys), then each `mixer mix` in mixing order, each after
        a checkpoint cosigned by the witnesses; close the mix. Nothing for an election
        without mixnet districts."""
        if not mixnet_districts(ctx.manifest):
            return
        mixers = ctx.manifest.mixers()
        round_number = ctx.manifest.round
        suffix = "" if round_number == 1 else f"-round{round_number}"
        folders = {m: self.directory / f"mixer-{m}{suffix}" for m in mixers}
        for mixer, token in issue_mixer_tokens(store, ctx, mixers).items():
            folders[mixer].mkdir(parents=True, exist_ok=True, mode=0o700)
            write_private(folders[mixer] / TOKEN_FILE, token + "\n")
        trust = str(keys_dir / "verifiers")
        with self._server(store, ctx, keys_dir) as server:
            inits = [
                (m, self._start(["mixer", "init", "--server", server, "--token-file",
                                 str(folders[m] / TOKEN_FILE), "--dir", str(folders[m]),
                                 "--mixer", m, "--trust", trust], folders[m]))
                for m in mixers
            ]  # fmt: skip
            for m, process in inits:
                self._finish(process, f"mixer {m} init")
                self.mixers.add(m)
                self._show_mixer(m, folders[m], f"ready (pid {process.pid})", 0)
            for n, m in enumerate(mixers):
                progress("mixing", n, len(mixers))
                self.checkpoint(store, ctx, keys_dir)
                process = self._start(
                    ["mixer", "mix", "--dir", str(folders[m]), "--server", server, "--json"],
                    folders[m],
                )
                self._show_mixer(m, folders[m], f"mix (pid {process.pid})", 0)
                posted = json.loads(_last_line(self._finish(process, f"mixer {m} mix")))
                self.mixer_runs += 1
                shuffles = ", ".join(f"{d} → entry {i}" for d, i in posted["posted"].items())
                self._show_mixer(m, folders[m], f"shuffled {shuffles} (pid {process.pid})", 1)
            progress("mixing", len(mixers), len(mixers))
        close_mix(store, ctx)

    def _show_mixer(self, mixer: str, folder: Path, state: str, done: int) -> None:
        self.show(f"mixer-{mixer}", f"mixer {mixer} {folder.name}/: {state}", done, 1)

    # -- station officials (issue 18) ------------------------------------------------------

    def _head_folders(self, ctx: ElectionContext) -> dict[int, tuple[Path, list[str]]]:
        """Each station head's folder (beside its stations' device) and stations."""
        groups = head_groups([s.id for s in ctx.manifest.stations], DEVICES)
        return {d: (self.directory / f"device-{d}" / "head", g) for d, g in groups.items()}

    def _observer_folders(self, ctx: ElectionContext) -> dict[str, Path]:
        """Each faction observer's folder, in the faction's own (its witness's) folder."""
        return {f.id: self.directory / f"witness-{f.id}" / "observer"
                for f in ctx.manifest.factions}  # fmt: skip

    def officials(self, store: Store, ctx: ElectionContext) -> None:
        """Every station head's and faction observer's `verivote official keys`, all at
        once; the authority publishes the printed verifier keys before the polls open. The
        same officials serve round 2 with the same keys (round 2's stations are round 1's)."""
        heads = self._head_folders(ctx)
        observers = self._observer_folders(ctx)
        for folder, _ in heads.values():  # the device's folder, private as the device keeps it
            folder.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        started = [
            (f"head {d}", self._start(["official", "keys", "--dir", str(folder),
                                       *(a for s in stations for a in ("--station", s))],
                                      self.directory))
            for d, (folder, stations) in heads.items() if not folder.exists()
        ] + [
            (f"observer {f}", self._start(["official", "keys", "--dir", str(folder),
                                           "--faction", f], self.directory))
            for f, folder in observers.items() if not folder.exists()
        ]  # fmt: skip
        for who, process in started:
            printed = _last_line(self._finish(process, f"official {who} keys"))
            self.official_keys.update(json.loads(printed))
        self.official_runs += len(started)
        keys = self.official_keys
        publish_keys(store, ctx, (
            {s.id: keys[head_name(s.id)] for s in ctx.manifest.stations},
            {f.id: keys[observer_name(f.id)] for f in ctx.manifest.factions},
        ))  # fmt: skip
        self.show("officials", f"officials: {len(heads)} station heads and {len(observers)} "
                  f"observers, keys published (round {ctx.manifest.round})", 1, 1)  # fmt: skip

    def forms(self, store: Store, outcome: RoundOutcome) -> None:
        """Each closed station's form, entered twice by the authority's clerks; every head's
        and observer's `verivote official sign` at once, each comparing with its own copy (the
        head the second entry, an observer its count at the table); the signed forms
        published."""
        ctx = outcome.ctx
        heads = self._head_folders(ctx)
        observers = self._observer_folders(ctx)

        def sign(forms: list[ResultForm], second: list[ResultForm]) -> dict[str, list[str]]:
            r = ctx.manifest.round
            clerks = self.authority / f"forms-round{r}"
            clerks.mkdir(mode=0o700, exist_ok=True)
            entered = clerks / "entered-1.json"  # the second entry is each official's own
            entered.write_text(json.dumps([f.model_dump() for f in forms]), encoding="utf-8")
            own = json.dumps([f.model_dump() for f in second])
            folders = [folder for folder, _ in heads.values()] + list(observers.values())
            started = []
            for folder in folders:
                (folder / f"own-count-round{r}.json").write_text(own, encoding="utf-8")
                started.append((folder, self._start(
                    ["official", "sign", "--dir", str(folder), "--forms", str(entered),
                     "--own", str(folder / f"own-count-round{r}.json"), "--out",
                     str(folder / f"signatures-round{r}.json")], self.directory)))  # fmt: skip
            lines: dict[str, list[str]] = {}
            for folder, process in started:
                self._finish(process, f"official {folder.parent.name}/{folder.name} sign")
                out = folder / f"signatures-round{r}.json"
                signed = json.loads(out.read_text(encoding="utf-8"))
                for station, more in signed.items():
                    lines.setdefault(station, []).extend(more)
            self.official_runs += len(started)
            return lines

        outcome.forms = publish_round_forms(store, ctx, outcome.paper, sign)
        self.show("officials", f"officials: {outcome.forms} result forms signed by their "
                  f"heads and observers (round {ctx.manifest.round})", 1, 1)  # fmt: skip

    # -- station devices -----------------------------------------------------------------

    def polling_day(
        self,
        store: Store,
        outcome: RoundOutcome,
        jobs: list[tuple[str, list[str]]],
        progress: Progress,
        processes: int,
        keys_dir: Path,
    ) -> None:
        """Polling day over HTTP: load the roll and open every station; hand each device its
        stations' tokens and its queue of voters (0600 in D/device-<n>/round<r>/); start the
        devices' `verivote device run` all at once against the authority's real server
        (device 1 offline for the middle third of its queue, a drill: it journals those
        voters and uploads its journals when back); fill `outcome` from the devices'
        summaries and the queues; close the polls once every device is done."""
        ctx = outcome.ctx
        voters = open_day(store, ctx, jobs,
                          lambda: self.pseudonyms(store, ctx, keys_dir), outcome)  # fmt: skip
        returns, challenges = decisions(len(jobs))
        stations = [s.id for s in ctx.manifest.stations]
        k = min(DEVICES, len(stations))
        groups = {d: stations[d - 1 :: k] for d in range(1, k + 1)}
        device_of = {s: d for d, group in groups.items() for s in group}
        queues: dict[int, list[Voter]] = {d: [] for d in groups}
        for n, ((station, codes), code) in enumerate(zip(jobs, voters, strict=True)):
            queues[device_of[station]].append(
                Voter(code, station, codes, challenges[n], returns[n])
            )
        round_number = ctx.manifest.round
        days = []
        for d, group in groups.items():
            device = self.devices.setdefault(d, _Device(d, self.directory / f"device-{d}"))
            device.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            folder = device.folder / f"round{round_number}"
            folder.mkdir(mode=0o700)
            for station in group:  # handed over as issued: the authority keeps only the hash
                write_token(folder, station, issue_token(store.engine, ctx.election_id, station))
            write_queue(folder / QUEUE_FILE, Queue(ctx.election_id, queues[d]))
            size = len(queues[d])
            offline = (size // 3 + 1, 2 * size // 3) if d == 1 and size >= 3 else None
            days.append(_Day(device, folder, group, size, offline))
        with self._server(store, ctx, keys_dir) as server:
            summaries = self._devices(server, days, progress, len(jobs))
        close_polls(store, ctx, stations)
        for day, summary in zip(days, summaries, strict=True):
            counted = int(summary["cast"]) + int(summary["uploaded_ballots"])
            if counted != day.voters or summary["conflicts"] or summary["refused_ballots"]:
                raise PartyError(f"device {day.device.index}: {counted} of {day.voters} ballots "
                                 f"cast, {summary['conflicts']} conflicts, "
                                 f"{summary['refused_ballots']} ballots refused")  # fmt: skip
            outcome.checked_in += int(summary["checked_in"]) + int(summary["uploaded_checkins"])
            outcome.turned_away += int(summary["turned_away"])
            outcome.challenged += int(summary["challenged"])
            outcome.devices.append(summary)
        count_truth(outcome, jobs)

    def _devices(
        self, server: str, days: list[_Day], progress: Progress, total: int
    ) -> list[dict[str, Any]]:
        """Every device's `verivote device run` at once; their summaries, in order. Each
        device's lines are read as they come (a thread per device) and shown."""
        lines: queue.Queue[tuple[_Day, str | None]] = queue.Queue()
        running = []
        for day in days:
            every = str(max(1, day.voters // 20))
            args = ["device", "run", str(day.folder / QUEUE_FILE), "--server", server,
                    "--folder", str(day.folder), "--every", every,
                    "--name", day.device.folder.name]  # fmt: skip
            if day.offline:
                args += ["--offline-between", *(str(v) for v in day.offline)]
            if day.device.index == PRINTING_DEVICE and day.folder.name == "round1":
                cast = Counter(v.station for v in read_queue(day.folder / QUEUE_FILE).voters)
                # the station of the fewest voters: its ballots print in a second or two
                printed = min((s for s in day.stations if cast[s]), key=lambda s: (cast[s], s))
                args += ["--print-station", printed]
                self.paper = day.folder / f"paper-{printed}.pdf"
            with (day.folder / DEVICE_ERR).open("ab") as err:
                process = self._start(args, day.folder, err=err)
            day.process = process
            threading.Thread(target=_read_lines, args=(process, day, lines), daemon=True).start()
            running.append(day)
            drill = f", offline {day.offline[0]}-{day.offline[1]}" if day.offline else ""
            self._show_device(day, f"run (pid {process.pid}), {day.voters} voters{drill}")
        deadline = time.monotonic() + TIMEOUT
        summaries: dict[int, dict[str, Any]] = {}
        while running:
            try:
                day, line = lines.get(timeout=1.0)
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise PartyError(f"device {running[0].device.index} took more than "
                                     f"{TIMEOUT:.0f} s") from None  # fmt: skip
                continue
            if line is None:  # its output ended: the process is ending
                self._ended(day)
                running.remove(day)
                if day.device.index not in summaries:
                    raise PartyError(f"device {day.device.index} ended without a summary")
                continue
            if line.startswith('{"summary"'):
                summary = json.loads(line)["summary"]
                summaries[day.device.index] = summary
                day.done = day.voters
                day.device.runs += 1
                self._show_device(day, _describe_day(summary, day.process))
            elif line.startswith("progress "):
                day.done = int(line.split()[1].split("/")[0])
                self._show_device(day, line.removeprefix("progress ").replace(" voters", "", 1))
            progress("polling day (devices)", sum(d.done for d in days), total)
        return [summaries[day.device.index] for day in days]

    def _ended(self, day: _Day) -> None:
        """Wait for a device whose output has ended; PartyError if it failed (the last line
        of its errors, kept in its folder)."""
        process = day.process
        assert process is not None
        try:
            process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self.running.remove(process)
        if process.returncode != 0:
            err = (day.folder / DEVICE_ERR).read_text(encoding="utf-8", errors="replace")
            raise PartyError(f"device {day.device.index} run (pid {process.pid}) failed: "
                             f"{_last_line(err)}")  # fmt: skip

    def _show_device(self, day: _Day, state: str) -> None:
        line = f"device {day.device.index} {day.device.folder.name}/{day.folder.name}/: {state}"
        self.show(f"device-{day.device.index}", line, day.done, max(1, day.voters))

    def summary(self) -> str:
        """How many processes took part, by party."""
        runs = sum(len(g.steps) for g in self.guardians.values())
        device_runs = sum(d.runs for d in self.devices.values())
        mixer_runs = 2 * self.mixer_runs  # an init and a mix each
        others = (self.processes - runs - device_runs - len(self.witnesses) - mixer_runs
                  - self.official_runs)  # fmt: skip
        return (
            f"{self.processes} processes besides this one (the authority): "
            f"{len(self.guardians)} guardians ({runs} runs of verivote guardian), "
            f"{len(self.witnesses)} witnesses ({len(self.witnesses)} servers, "
            f"{others} init and add-log runs), {len(self.mixers)} mixers ({mixer_runs} runs "
            f"of verivote mixer), {len(self.devices)} station devices ({device_runs} runs of "
            f"verivote device run), station heads and observers ({self.official_runs} runs of "
            "verivote official)"
        )


def threading_main() -> bool:
    """Whether this is the main thread (only it may set a signal handler)."""
    return threading.current_thread() is threading.main_thread()


def _interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
