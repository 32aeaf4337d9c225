"""A whole synthetic election through the real flow: manifest, ceremony, polling day with
encrypted ballots (some challenged), tally, threshold decryption with a guardian absent,
count, runoff and round 2, and the published records (issue 5, `verivote demo`).

Every voter's plaintext choice is kept beside the encrypted path, so a test can check that the
decrypted tallies and the seats equal what the counting law gives on the plaintext votes.
Voters' devices encrypt in a process pool while the station server checks and casts in the
main process, as they would run on different machines.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from verivote.crypto.keyfile import read_key_share
from verivote.crypto.written import encrypt_for_station
from verivote.election.count import find_entry, run_count
from verivote.election.decryption import combine, decrypt_as_guardian
from verivote.election.district_logs import authority_signer
from verivote.election.lot import contribute_lot
from verivote.election.mixing import (
    MIX_DECRYPTION_TYPE,
    SHUFFLE_TYPE,
    close_mix,
    decrypt_mix_as_guardian,
    mix_as,
    mixnet_districts,
)
from verivote.election.polls import close_polls, open_polls
from verivote.election.publishing import create_signers, local_witnesses, make_checkpoint
from verivote.election.report import publish
from verivote.election.runoff import reuse_ceremony, runoff_manifest
from verivote.election.service import (
    ElectionContext,
    cast,
    challenge,
    hold_ceremony,
    init_election,
    load_context,
)
from verivote.election.tally import run_tally
from verivote.election.turnout import (
    blind_roll,
    evaluate_in_process,
    finish_roll,
    hold_pseudonym_ceremony,
    issue_status_codes,
    pseudonym_transcript,
    reuse_pseudonym_key,
)
from verivote.model.ballots import Ballot
from verivote.model.manifest import Manifest, Mode, parse_manifest
from verivote.polling.roll import check_digit
from verivote.rules.majlis import tally_majlis
from verivote.sim.ballots import FACTIONS, District, iter_ballots, make_district
from verivote.sim.paper_forms import LocalOfficials, publish_keys, publish_round_forms
from verivote.store import Store
from verivote.store.roll import Checkin, CheckinResult, check_in_many, import_voters

Progress = Callable[[str, int, int], None]
"""progress(step, done, total): called as long steps advance."""

# Loose slates and a spread-out personal vote, as in the big cities in 2024: several seats
# stay empty after round 1.
VOTER_MODEL = {"slate_loyalty": 0.3, "appeal_tail": 3.0}


@dataclass(frozen=True)
class DistrictPlan:
    id: str
    name: str
    seats: int
    candidates: int
    stations: int
    voter_share: float
    minority: str | None = None
    mode: Mode | None = None


PROVINCE = (
    DistrictPlan("tehran", "Tehran, Rey, Shemiranat", 4, 24, 6, 0.62),
    DistrictPlan("karaj", "Karaj", 1, 9, 3, 0.30),
    DistrictPlan("armenians-south", "Armenians of the south", 1, 3, 1, 0.08, "armenian-south"),
    # Written ballots, mixed by three factions (issue 16): last, so that the districts above
    # draw the same ballots from the same seed as before it was added.
    DistrictPlan("shahriar", "Shahriar, Qods, Malard", 8, 60, 3, 0.25, mode="mixnet"),
)
MIXERS = FACTIONS[:3]
"""The factions whose mix servers shuffle the written ballots, in mixing order."""


def _faction_id(name: str) -> str:
    return name.lower().replace(" ", "-")


def manifest_candidates(model: District) -> list[dict[str, str]]:
    """A district model's candidates as the manifest lists them (code, name, faction)."""
    candidates = []
    for label in model.candidates:
        code, _, name = label.partition(" ")
        candidates.append({"code": code, "name": name or f"Candidate {code}",
                           "faction": _faction_id(model.faction[label])})  # fmt: skip
    return candidates


def synthetic_manifest(
    election_id: str,
    name: str,
    group: str,
    districts: list[dict[str, Any]],
    stations: list[dict[str, str]],
    what: str,
    result_forms: bool = False,
    turnout: bool = False,
) -> Manifest:
    """The manifest of a synthetic election: every faction of the voter model, a roll,
    and the `MIXERS` as its mix servers."""
    polling = {"roll": True, "result_forms": result_forms, "turnout": turnout}
    return parse_manifest(
        {
            "election_id": election_id,
            "name": name,
            "date": "2024-03-01",
            "group": group,
            "factions": [{"id": _faction_id(f), "name": f} for f in FACTIONS],
            "districts": districts,
            "stations": stations,
            # Voters check in against a roll: one ballot per check-in, counted at the close.
            "polling": polling,
            "mixing": {"mixers": [_faction_id(f) for f in MIXERS]},
        },
        what,
    )


def province(
    seed: int, group: str = "ristretto255", turnout: bool = True
) -> tuple[Manifest, dict[str, District]]:
    """The demonstration province: its manifest and the voter model of each district
    (`turnout`: whether its turnout is provable, issue 19; the casting benchmark's election
    has no roll commitment)."""
    rng = random.Random(seed)
    models: dict[str, District] = {}
    districts = []
    stations = []
    for plan in PROVINCE:
        model = make_district(plan.id, plan.seats, plan.candidates, rng)
        models[plan.id] = model
        district: dict[str, Any] = {
            "id": plan.id, "name": plan.name, "seats": plan.seats, "minority": plan.minority,
            "candidates": manifest_candidates(model),
        }  # fmt: skip
        if plan.mode is not None:
            district["mode"] = plan.mode
        districts.append(district)
        stations += [
            {"id": f"{plan.id}-{i:03d}", "name": f"{plan.name} station {i}", "district": plan.id}
            for i in range(1, plan.stations + 1)
        ]
    manifest = synthetic_manifest(
        f"demo-{seed}",
        "Synthetic provincial Majlis election",
        group,
        districts,
        stations,
        "demo manifest",
        result_forms=True,
        turnout=turnout,
    )
    return manifest, models


@dataclass
class RoundOutcome:
    """One round: its context, the plaintext truth, and the published results."""

    ctx: ElectionContext
    votes: dict[str, Counter[str]] = field(default_factory=dict)
    ballots: Counter[str] = field(default_factory=Counter)
    written: dict[str, list[list[str]]] = field(default_factory=dict)
    """Each mixnet district's ballots as its voters wrote them (the codes handed to the
    devices), for comparing with the decoded ballots."""
    blank: Counter[str] = field(default_factory=Counter)
    challenged: int = 0
    checked_in: int = 0
    turned_away: int = 0
    devices: list[dict[str, Any]] = field(default_factory=list)
    """The station devices' summaries of polling day, when they ran as processes."""
    decrypted: dict[str, Any] = field(default_factory=dict)
    mix: dict[str, Any] = field(default_factory=dict)
    """Each mixnet district's mix as the board shows it: its mixers in order, the guardians
    whose shares decrypted it, its decoded ballots and how many of them did not decode."""
    count: dict[str, Any] = field(default_factory=dict)
    record: Path | None = None
    paper: dict[str, list[list[str]]] = field(default_factory=dict)
    """Each station's paper ballots, the codes as each voter marked them (kept when the
    manifest asks for result forms, issue 18)."""
    forms: int = 0
    """The signed result forms published."""
    status_codes: dict[str, str] = field(default_factory=dict)
    """Each voter's status code (issue 19), as the notifications deliver them: the voters'
    own secret, kept here for the demo's voters and the tests to check their status."""
    absent: list[str] = field(default_factory=list)
    """The national codes of the roll's voters who did not come (issue 19)."""


def normalise(names: tuple[str, ...], codes: dict[str, str], seats: int) -> list[str]:
    """What a station device does with what a voter wrote (majlis-2024): keep the names that
    are candidates of the district (by name or code), each once, the first S of them."""
    out: list[str] = []
    for name in names:
        code = codes.get(name)
        if code is not None and code not in out:
            out.append(code)
    return out[:seats]


STRANGER = "0"
"""The code a synthetic voter writes for a name that is no candidate of the district (no
candidate code of the demo has fewer than 4 digits)."""


def as_written(names: tuple[str, ...], codes: dict[str, str], seats: int) -> list[str]:
    """What a voter writes on the S lines of a written ballot (mixnet path): each name's
    code as it comes, repeats included, STRANGER for a name of no candidate; a name beyond the
    S-th line does not fit. The device encrypts its canonical form
    (`verivote.crypto.written.canonical_written`), the count applies the law
    (`count_truth`)."""
    return [codes.get(name, STRANGER) for name in names[:seats]]


def _voters(
    manifest: Manifest, models: dict[str, District], voters: int, rng: random.Random
) -> Iterator[tuple[str, list[str]]]:
    """(station, codes chosen) for every voter of the round. Whether a voter challenges is
    drawn only once the device has encrypted their ballot (`polling_day`)."""
    shares = {p.id: p.voter_share for p in PROVINCE}
    for district in manifest.districts:
        model = models[district.id]
        if manifest.round == 2:
            labels = [label for label in model.candidates if label.split(" ", 1)[0] in
                      {c.code for c in district.candidates}]  # fmt: skip
            model = District(district.id, district.seats, tuple(labels), model.faction)
        codes = {label: label.split(" ", 1)[0] for label in model.candidates}
        stations = [s.id for s in manifest.stations if s.district == district.id]
        size = max(20, int(voters * shares[district.id]))
        write = as_written if district.counted_by == "mixnet" else normalise
        for ballot in iter_ballots(model, size, rng, **VOTER_MODEL):
            yield rng.choice(stations), write(ballot.names(), codes, district.seats)


_WORKER: tuple[Manifest, Any, bytes] | None = None


def _check_in_all(
    store: Store,
    outcome: RoundOutcome,
    jobs: list[tuple[str, list[str]]],
    voters: list[str],
    station_district: dict[str, str],
    progress: Progress,
) -> None:
    """Every voter checks in at their station (in batches, as the check-in server groups the
    requests that arrive together); about one in a hundred comes back a second time and is
    turned away."""
    ctx = outcome.ctx
    rng = random.Random(len(jobs))
    items: list[Checkin] = []
    returns: list[Checkin] = []
    for n, (station, _) in enumerate(jobs):
        hour = 8 + 10 * n // len(jobs)
        items.append(Checkin(voters[n], station, station_district[station], hour, f"demo-{n:07d}"))
        if rng.random() < 0.01:
            returns.append(replace(items[-1], request_id=f"demo-{n:07d}-again"))
    # Those who come back do so after every first check-in, in batches of their own: two
    # check-ins of one voter in one batch may be settled in either order (PostgreSQL's
    # statement inserts a batch in order of national code).
    batches = [items[i : i + 500] for i in range(0, len(items), 500)]
    batches += [returns[i : i + 500] for i in range(0, len(returns), 500)]
    total = len(items) + len(returns)
    done = 0
    for batch in batches:
        for item, answer in zip(
            batch, check_in_many(store.engine, ctx.election_id, batch), strict=True
        ):
            assert isinstance(answer, CheckinResult), answer
            again = item.request_id.endswith("-again")
            assert answer.status == ("already_voted" if again else "accepted"), answer
            outcome.turned_away += again
            outcome.checked_in += not again
        done += len(batch)
        progress("check-in", done, total)


def _national_code(round_number: int, n: int) -> str:
    """The synthetic roll's n-th voter (a valid national code; each round its own roll)."""
    nine = f"{round_number:02d}{n + 1:07d}"
    return nine + check_digit(nine)


def init_device(manifest: Manifest, key: Any, base_hash: bytes) -> None:
    global _WORKER
    _WORKER = (manifest, key, base_hash)


def encrypt_job(job: tuple[str, list[str]]) -> tuple[dict[str, Any], Any]:
    assert _WORKER is not None
    manifest, key, base_hash = _WORKER
    return encrypt_for_station(manifest, key, base_hash, job[0], job[1])


CHALLENGE_RATE = 0.01
"""The share of voters who challenge the ballot their device encrypted (then cast a fresh one)."""


ABSENT_SHARE = 0.2
"""Voters on the roll who do not come, per voter who does (an election with provable turnout:
the roll commitment counts them, the check-ins do not)."""


def open_day(
    store: Store,
    ctx: ElectionContext,
    jobs: list[tuple[str, list[str]]],
    prepare: Callable[[], None] | None = None,
    outcome: RoundOutcome | None = None,
) -> list[str]:
    """Load the roll (one synthetic voter per job, at the job's station's district) and open
    every station; the voters' national codes, in the jobs' order.

    With provable turnout (issue 19): ABSENT_SHARE more voters who will not come, a status
    code for every voter (into `outcome`), and `prepare` (the guardians' evaluations of the
    roll: `Parties.pseudonyms`) before the roll is committed and the polls open."""
    station_district = {s.id: s.district for s in ctx.manifest.stations}
    voters = [_national_code(ctx.manifest.round, n) for n in range(len(jobs))]
    roll = [(code, station_district[station], None)
            for code, (station, _) in zip(voters, jobs, strict=True)]  # fmt: skip
    turnout = ctx.manifest.polling.turnout
    if turnout:
        districts = sorted(set(station_district.values()))
        extra = int(len(jobs) * ABSENT_SHARE)
        absent = [(_national_code(ctx.manifest.round, len(jobs) + n), districts[n % len(districts)],
                   None) for n in range(extra)]  # fmt: skip
        roll += absent
        if outcome is not None:
            outcome.absent = [code for code, _, _ in absent]
    import_voters(store.engine, ctx.election_id, roll)
    if turnout:
        codes = dict(issue_status_codes(store, ctx))
        if outcome is not None:
            outcome.status_codes = codes
        blind_roll(store, ctx)
        if prepare is not None:
            prepare()
        finish_roll(store, ctx)
    open_polls(store, ctx, [s.id for s in ctx.manifest.stations])
    return voters


def count_truth(outcome: RoundOutcome, jobs: list[tuple[str, list[str]]]) -> None:
    """The plaintext truth of the round's cast ballots (one per job): votes, ballots, blanks
    (void ballots), each district's jobs counted by the law (`tally_majlis`: codes of no
    candidate ignored, repeats once, the first S). On the homomorphic path the jobs are already
    normalised; on the mixnet path they are the codes as written, so this is the plaintext
    path the decoded ballots must agree with."""
    manifest = outcome.ctx.manifest
    station_district = {s.id: s.district for s in manifest.stations}
    written: dict[str, list[Ballot]] = {d.id: [] for d in manifest.districts}
    paper = manifest.polling.result_forms
    for station, codes in jobs:
        written[station_district[station]].append(Ballot(tuple(codes)))
        if paper:
            outcome.paper.setdefault(station, []).append(list(codes))
    for district in manifest.districts:
        ballots = written[district.id]
        if not ballots:
            continue
        if district.counted_by == "mixnet":
            outcome.written.setdefault(district.id, []).extend(list(b.names()) for b in ballots)
        law = tally_majlis(ballots, [c.code for c in district.candidates], district.seats)
        outcome.votes.setdefault(district.id, Counter()).update(
            {code: n for code, n in law.votes.items() if n}
        )
        outcome.ballots[district.id] += len(ballots)
        outcome.blank[district.id] += law.void


def decisions(voters: int) -> tuple[list[bool], list[bool]]:
    """Which of the round's voters come back a second time (about one in a hundred) and which
    challenge their first ballot (CHALLENGE_RATE), drawn as `polling_day` draws them."""
    again = random.Random(voters)
    decide = random.Random(voters + 1)
    returns = [again.random() < 0.01 for _ in range(voters)]
    return returns, [decide.random() < CHALLENGE_RATE for _ in range(voters)]


def polling_day(
    store: Store,
    outcome: RoundOutcome,
    jobs: list[tuple[str, list[str]]],
    progress: Progress,
    processes: int,
    prepare: Callable[[], None] | None = None,
) -> None:
    """Load the roll, open every station, check every voter in, let their device encrypt and
    show the tracking code, and only then let them decide: cast, or (about one in a hundred)
    challenge it and cast a fresh ballot (issue 14, item 6). Then close every station.
    Everything in this process, straight through the service (`InProcessParties`);
    `verivote demo` does it over HTTP (`ProcessParties.polling_day`)."""
    ctx = outcome.ctx
    assert ctx.key is not None
    stations = [s.id for s in ctx.manifest.stations]
    station_district = {s.id: s.district for s in ctx.manifest.stations}
    voters = open_day(store, ctx, jobs, prepare, outcome)
    _check_in_all(store, outcome, jobs, voters, station_district, progress)
    decide = random.Random(len(jobs) + 1)
    done = 0
    with ProcessPoolExecutor(
        max_workers=max(1, processes),
        initializer=init_device,
        initargs=(ctx.manifest, ctx.key, ctx.base_hash),
    ) as pool:
        encrypted = pool.map(encrypt_job, jobs, chunksize=16)
        for (station, codes), (ballot, opened) in zip(jobs, encrypted, strict=True):
            # The tracking code is known (and shown) now; the voter decides only after it.
            if decide.random() < CHALLENGE_RATE:
                challenge(store, ctx, ballot, opened)
                outcome.challenged += 1
                ballot, _ = encrypt_for_station(
                    ctx.manifest, ctx.key, ctx.base_hash, station, codes
                )
            cast(store, ctx, ballot)
            done += 1
            progress("polling day", done, len(jobs))
    count_truth(outcome, jobs)
    close_polls(store, ctx, stations)


GUARDIANS = 5
QUORUM = 3
"""Five factions, each a guardian of the election key; any three decrypt."""


class Parties(Protocol):
    """The guardians' and the witnesses' part of the flow (issue 14): `InProcessParties` plays
    them in this process (tests), `verivote.sim.parties.ProcessParties` runs each as its own
    OS process with its own folder (`verivote demo`). The authority's part is the flow's."""

    def signers(self, manifest: Manifest, round_number: int) -> Path:
        """The authority's keys folder of this round, with every faction's witness
        registered in it (a round after the first: the same witnesses, this round's log
        key pinned)."""
        ...

    def ceremony(self, store: Store, ctx: ElectionContext, keys_dir: Path) -> None:
        """The key ceremony of `ctx` among the guardians, then each one's lot contribution."""
        ...

    def contribute(self, store: Store, ctx: ElectionContext, keys_dir: Path) -> None:
        """Each guardian's lot contribution to `ctx`, which reuses the ceremony's key."""
        ...

    def decrypt(
        self,
        store: Store,
        ctx: ElectionContext,
        keys_dir: Path,
        present: list[int],
        progress: Progress,
    ) -> None:
        """The `present` guardians' partial decryptions of the tally (and the lot) of `ctx`."""
        ...

    def checkpoint(self, store: Store, ctx: ElectionContext, keys_dir: Path) -> None:
        """Sign the board and have it cosigned by the witnesses (before publishing)."""
        ...

    def mix(self, store: Store, ctx: ElectionContext, keys_dir: Path, progress: Progress) -> None:
        """After the tally (issue 16, item 2): every mixer of the manifest shuffles each
        mixnet district in turn, then the authority closes the mix. Nothing to do for an
        election without mixnet districts. `decrypt` then decrypts the closed mix too."""
        ...

    def polling_day(
        self,
        store: Store,
        outcome: RoundOutcome,
        jobs: list[tuple[str, list[str]]],
        progress: Progress,
        processes: int,
        keys_dir: Path,
    ) -> None:
        """Polling day of `outcome.ctx`: every job a voter who checks in and casts (some
        challenging first, some coming back and turned away), `outcome` filled, the stations
        closed at the end."""
        ...

    def pseudonyms(self, store: Store, ctx: ElectionContext, keys_dir: Path) -> None:
        """The guardians answer the roll's blinded batches with their shares of the
        pseudonym key (issue 19), each checking the roll's published size first."""
        ...

    def officials(self, store: Store, ctx: ElectionContext) -> None:
        """Before polling day (issue 18): each station head and faction observer makes their
        own signing key; the authority publishes the verifier keys (`form-signers`)."""
        ...

    def forms(self, store: Store, outcome: RoundOutcome) -> None:
        """After the close: each station's result form, entered twice, signed by its head
        and the observers present (each only if it matches their own copy), published."""
        ...


def contribute_all(store: Store, ctx: ElectionContext, guardians_dir: Path, guardians: int) -> None:
    """Every guardian's contribution to the lot of `ctx` (issue 14, item 4), once its key is
    known: after the ceremony, or after round 2 reuses round 1's key."""
    for g in range(1, guardians + 1):
        contribute_lot(store, ctx, read_key_share(guardians_dir / f"guardian-{g}.key"))


class InProcessParties:
    """Every guardian and witness played in this process (tests): the keys folder of each
    round under `directory`/keys/round<n>, the guardians' key shares in round 1's, each
    faction's witness in a folder of its own, `directory`/witnesses/<faction id>, asked
    in-process (`local_witnesses`)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.shares: Path | None = None
        self._officials: LocalOfficials | None = None

    def signers(self, manifest: Manifest, round_number: int) -> Path:
        keys = self.directory / "keys" / f"round{round_number}"
        create_signers(keys, manifest)
        local_witnesses(keys, self.directory / "witnesses", manifest)
        return keys

    def ceremony(self, store: Store, ctx: ElectionContext, keys_dir: Path) -> None:
        hold_ceremony(store, ctx, GUARDIANS, QUORUM, keys_dir)
        if ctx.manifest.polling.turnout:
            hold_pseudonym_ceremony(store, ctx, GUARDIANS, QUORUM, keys_dir)
        self.shares = keys_dir
        contribute_all(store, load_context(store, ctx.election_id), keys_dir, GUARDIANS)

    def contribute(self, store: Store, ctx: ElectionContext, keys_dir: Path) -> None:
        assert self.shares is not None
        contribute_all(store, ctx, self.shares, GUARDIANS)

    def decrypt(
        self,
        store: Store,
        ctx: ElectionContext,
        keys_dir: Path,
        present: list[int],
        progress: Progress,
    ) -> None:
        assert self.shares is not None
        for g in present:
            share = read_key_share(self.shares / f"guardian-{g}.key")
            step = f"guardian {g} decrypts"

            def report(done: int, total: int, step: str = step) -> None:
                progress(step, done, total)

            decrypt_as_guardian(store, ctx, share, progress=report)
        self.decrypt_mix(store, ctx, present, progress)

    def mix(self, store: Store, ctx: ElectionContext, keys_dir: Path, progress: Progress) -> None:
        """Between the tally and the decryption (issue 16): each mixer of the manifest
        shuffles every mixnet district in turn, in this process, then the mix is closed; the
        `present` guardians then decrypt the last rows (`decrypt` calls `decrypt_mix`).
        Nothing to do for an election without mixnet districts."""
        if not mixnet_districts(ctx.manifest):
            return
        mixers = ctx.manifest.mixers()
        for n, mixer in enumerate(mixers):
            progress("mixing", n, len(mixers))
            mix_as(store, ctx, mixer)
        progress("mixing", len(mixers), len(mixers))
        close_mix(store, ctx)

    def decrypt_mix(
        self,
        store: Store,
        ctx: ElectionContext,
        present: list[int],
        progress: Progress,
    ) -> None:
        """The `present` guardians' partial decryptions of the closed mix's last rows."""
        if not mixnet_districts(ctx.manifest):
            return
        assert self.shares is not None
        for g in present:
            share = read_key_share(self.shares / f"guardian-{g}.key")
            step = f"guardian {g} decrypts the mix"

            def report(done: int, total: int, step: str = step) -> None:
                progress(step, done, total)

            decrypt_mix_as_guardian(store, ctx, share, progress=report)

    def checkpoint(self, store: Store, ctx: ElectionContext, keys_dir: Path) -> None:
        make_checkpoint(store, ctx, keys_dir)

    def polling_day(
        self,
        store: Store,
        outcome: RoundOutcome,
        jobs: list[tuple[str, list[str]]],
        progress: Progress,
        processes: int,
        keys_dir: Path,
    ) -> None:
        ctx = outcome.ctx
        polling_day(store, outcome, jobs, progress, processes,
                    lambda: self.pseudonyms(store, ctx, keys_dir))  # fmt: skip

    def pseudonyms(self, store: Store, ctx: ElectionContext, keys_dir: Path) -> None:
        assert self.shares is not None
        evaluate_in_process(store, ctx, self.shares, list(range(1, QUORUM + 1)))

    def officials(self, store: Store, ctx: ElectionContext) -> None:
        officials = LocalOfficials(self.directory / "officials", ctx.manifest.round)
        publish_keys(store, ctx, officials.make_keys(ctx))
        self._officials = officials

    def forms(self, store: Store, outcome: RoundOutcome) -> None:
        assert self._officials is not None, "officials() comes before forms()"
        outcome.forms = publish_round_forms(store, outcome.ctx, outcome.paper, self._officials.sign)


def count_round(
    store: Store,
    outcome: RoundOutcome,
    parties: Parties,
    keys_dir: Path,
    present: list[int],
    progress: Progress,
    processes: int,
) -> None:
    """Tally, mix (the mixnet districts), decrypt with the `present` guardians, combine,
    count."""
    ctx = outcome.ctx
    run_tally(store, ctx, processes=processes, progress=lambda d, t: progress("tally", d, t),
              signer=authority_signer(keys_dir))  # fmt: skip
    parties.mix(store, ctx, keys_dir, progress)
    parties.decrypt(store, ctx, keys_dir, present, progress)
    combine(store, ctx)
    outcome.decrypted = find_entry(store, ctx.election_id, "decrypted-tally") or {}
    outcome.mix = mix_summary(store, ctx)
    outcome.count = run_count(store, ctx)


def mix_summary(store: Store, ctx: ElectionContext) -> dict[str, Any]:
    """`RoundOutcome.mix` from the board's shuffle and mix-decryption entries."""
    summary: dict[str, Any] = {
        d.id: {"mixers": [], "guardians": [], "ballots": 0, "undecodable": 0}
        for d in ctx.manifest.mixnet_districts()
    }
    for _, raw in store.entries_of_type(ctx.election_id, SHUFFLE_TYPE):
        doc = json.loads(raw)
        summary[doc["district"]]["mixers"].append(doc["mixer"])
    for _, raw in store.entries_of_type(ctx.election_id, MIX_DECRYPTION_TYPE):
        doc = json.loads(raw)
        summary[doc["district"]].update(
            guardians=doc["guardians"],
            ballots=len(doc["ballots"]),
            undecodable=sum(row is None for row in doc["ballots"]),
        )
    return summary


def run_election(
    store: Store,
    directory: Path,
    voters: int,
    seed: int,
    group: str = "ristretto255",
    absent: int = 4,
    progress: Progress | None = None,
    processes: int = 1,
    parties: Parties | None = None,
) -> tuple[RoundOutcome, RoundOutcome | None]:
    """The whole flow, the records in `directory`: round 1, and round 2 if needed. The
    guardians and witnesses are `parties` (by default `InProcessParties` in `directory`);
    the same guardians and witnesses serve both rounds, round 2 reusing round 1's key."""
    report = progress or (lambda step, done, total: None)
    parties = parties or InProcessParties(directory)
    rng = random.Random(seed)
    manifest, models = province(seed, group)
    keys1 = parties.signers(manifest, 1)
    init_election(store, manifest)
    ctx = load_context(store, manifest.election_id)
    parties.ceremony(store, ctx, keys1)
    ctx = load_context(store, manifest.election_id)
    present = [g for g in range(1, GUARDIANS + 1) if g != absent]

    def in_round(n: int) -> Progress:
        return lambda step, done, total: report(f"round {n}: {step}", done, total)

    first = RoundOutcome(ctx)
    jobs = list(_voters(manifest, models, voters, rng))
    paper = manifest.polling.result_forms
    if paper:
        parties.officials(store, ctx)
    parties.polling_day(store, first, jobs, in_round(1), processes, keys1)
    if paper:
        parties.forms(store, first)
    count_round(store, first, parties, keys1, present, in_round(1), processes)
    first.record = directory / "record-round1"
    parties.checkpoint(store, ctx, keys1)
    publish(store, ctx, keys1, first.record)

    round2 = runoff_manifest(ctx, first.count)
    if round2 is None:
        return first, None
    keys2 = parties.signers(round2, 2)
    init_election(store, round2)
    ctx2 = load_context(store, round2.election_id)
    assert ctx.transcript is not None
    reuse_ceremony(store, ctx2, ctx.transcript)
    pseudonym_key = pseudonym_transcript(store, ctx.election_id)
    if pseudonym_key is not None and round2.polling.turnout:
        reuse_pseudonym_key(store, ctx2, pseudonym_key)
    ctx2 = load_context(store, round2.election_id)
    parties.contribute(store, ctx2, keys2)  # fresh: round 1's lot is known by now
    second = RoundOutcome(ctx2)
    turnout = int(voters * 0.7)
    jobs = list(_voters(round2, models, turnout, rng))
    if paper:
        parties.officials(store, ctx2)
    parties.polling_day(store, second, jobs, in_round(2), processes, keys2)
    if paper:
        parties.forms(store, second)
    count_round(store, second, parties, keys2, present, in_round(2), processes)
    second.record = directory / "record-round2"
    parties.checkpoint(store, ctx2, keys2)
    publish(store, ctx2, keys2, second.record)
    return first, second
