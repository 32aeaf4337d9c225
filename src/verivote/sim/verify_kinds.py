"""The verifier's work on a published record, split by kind and measured on one core, for the
projection of `verivote sim national` (issue 17, item 5): the proofs of the ballots of the
homomorphic districts, of the written ballots (mixnet districts), the shuffles, and the
guardians' partial decryptions of the mix.

Each part is run as `verivote.verify.verifier` runs it (the same chunk checker on the ballot
entries, the mix check's own steps in their order), in this process (jobs = 1), so that its
CPU is its own, with no pool around it. The board is read (`load_board`, the verifier's main
process) and its log checked as `check_board` does (in chunks, as tasks) apart. The shuffles
are then checked again as the verifier checks a shuffle of `SPLIT_ROWS` rows or more, by
parts of rows over a pool that its tasks read from the record, to measure what its main
process still does for each (feeding the statement's hash, parsing the proof, combining the
parts), shuffle by shuffle:
`Sizes.split_main_s` and `Sizes.split_main_per_unit_s`, fitted to those times.
The mix check's steps are its class's methods: `check_chains` (every shuffle proof),
`check_partials` (every decryption proof), `check_decryptions` and `check_counts` (combining
the shares, decoding, counting). Whether each part passed is returned too: the figures are
only figures of a valid record.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verivote.board.lines import iter_lines
from verivote.board.merkle import leaf_hash
from verivote.board.record import ENTRIES
from verivote.crypto.shuffle import warm_key
from verivote.sim.meter import Stage
from verivote.verify import loader
from verivote.verify.ballot_chunk import Setup
from verivote.verify.ballot_pool import run_chunks
from verivote.verify.check_board import check_board
from verivote.verify.check_ceremony import check_ceremony
from verivote.verify.check_manifest import check_manifest
from verivote.verify.check_mix import _Mix, _shuffle_context, split_problem
from verivote.verify.check_tally import tally_cutoff
from verivote.verify.context import mixnet_districts
from verivote.verify.loader import load_board, unparsed_type
from verivote.verify.report import Check

StageOf = Callable[[str, str], AbstractContextManager[Stage]]
"""stage(name, unit): a context measuring one part (`verivote.sim.meter.Meter.stage`)."""

BOARD_READ = "verify: board read and parsed"
BOARD = "verify: board check"
HOMOMORPHIC = "verify: homomorphic ballots"
WRITTEN = "verify: written ballots"
SHUFFLES = "verify: shuffles"
MIX_DECRYPTIONS = "verify: mix decryptions"
MIX_COMBINE = "verify: mix combine and count"

BALLOT_TYPES = frozenset({"ballot-cast", "ballot-challenged"})
POLL_TYPES = frozenset({"polls-open", "polls-close"})
MIX_TYPES = frozenset({"mix-input", "mix-partial-decryption", "mix-decryption", "shuffle"})


@dataclass
class Sizes:
    """A record's entry bytes by what they grow with: "ballots", "polls" (stations), "mix"
    (written ciphertexts) and "fixed" (manifest, ceremony, tally, decryptions, count); and its
    largest mix entry (one JSON document, read and parsed whole), with its district; the
    main process's part of a shuffle checked split over a pool: `split_main_s` a shuffle plus
    `split_main_per_unit_s` a ciphertext (least squares over this record's shuffles, each
    checked so, the CPU of this process alone)."""

    groups: dict[str, int] = field(default_factory=dict)
    district_bytes: dict[str, int] = field(default_factory=dict)
    """Each district log's bytes (a record with district logs): what a task of the verifier
    reads, hashes and parses (`load_board` with a pool); the rest is the national log's."""
    largest: int = 0
    largest_district: str | None = None
    split_main_s: float = 0.0
    split_main_per_unit_s: float = 0.0
    national: dict[str, tuple[int, float]] = field(default_factory=dict)
    """The national log as the verifier's main process reads it (`load_board`'s scan): per
    class of line, (bytes, this process's CPU seconds to read, hash and type them): "mix"
    the lines it does not parse (`loader.UNPARSED`), "mix-input" the mix's inputs (parsed),
    "fixed" every other line (parsed)."""


class KindsError(Exception):
    """The record failed a part of the verification being measured."""


def measure_kinds(record: Any, stage: StageOf) -> Sizes:
    """Run and measure each kind of the verifier's work on the record in `record`; KindsError
    if a part fails. Each stage's `items` is set to the part's units (ciphertexts; bytes for
    the board: reading, parsing and the log's hashes). Returns the record's sizes."""
    with stage(BOARD_READ, "bytes") as s:
        board = load_board(record, stream=True)
        s.items = board.total_bytes()
    national = national_scan(Path(record))
    with stage(BOARD, "bytes") as s:
        board_check = check_board(board, None)
        s.items = board.total_bytes()
    if board_check.passed is False:
        raise KindsError(f"the board check fails: {_failures(board_check)}")
    sizes = Sizes({"ballots": 0, "polls": 0, "mix": 0, "fixed": 0}, national=national)
    for position, (raw, doc) in enumerate(zip(board.entries, board.docs, strict=True)):
        kind = doc.get("type") if isinstance(doc, dict) else None
        group = ("ballots" if kind in BALLOT_TYPES else "polls" if kind in POLL_TYPES
                 else "mix" if kind in MIX_TYPES else "fixed")  # fmt: skip
        sizes.groups[group] += len(raw)
        log = board.where(position)[0]
        if log:
            sizes.district_bytes[log] = sizes.district_bytes.get(log, 0) + len(raw)
        if group == "mix" and len(raw) > sizes.largest and isinstance(doc, dict):
            sizes.largest, sizes.largest_district = len(raw), str(doc.get("district"))
    _, election = check_manifest(board)
    if election is None:
        raise KindsError("the record has no usable manifest")
    _, keys = check_ceremony(board, election)
    if keys is None:
        raise KindsError("the record has no usable election key")
    manifest = election.manifest
    setup = Setup(manifest, election.base_hash, keys.key, tally_cutoff(board))
    mixed = set(mixnet_districts(manifest))
    widths = setup.widths(election.group)
    candidates = {d.id: len(d.candidates) for d in manifest.districts}
    by_kind: dict[bool, list[tuple[int, bytes]]] = {True: [], False: []}
    units = {True: 0, False: 0}
    for index, doc in board.ballots():
        ballot = doc.get("ballot")
        district = ballot.get("district") if isinstance(ballot, dict) else None
        written = district in mixed
        by_kind[written].append((index, board.entries[index]))
        if isinstance(district, str):
            units[written] += widths[district] if written else candidates.get(district, 0)
    for written, name in ((False, HOMOMORPHIC), (True, WRITTEN)):
        with stage(name, "ciphertexts") as s:
            results = run_chunks(setup, by_kind[written], jobs=1)
            s.items = units[written]
        if any(r.refused for r in results):
            raise KindsError(f"{name}: a ballot's proofs fail")
    if not mixed:
        return sizes
    check = Check("mix")
    mix = _Mix(board, election, keys, sorted(mixed), check, 1)
    with stage(SHUFFLES, "ciphertexts") as s:
        # the inputs' rows checked, the shuffles' entries read and their proofs checked
        mix.check_inputs()
        rows = {d: mix.rows_of(d) for d in mixed}
        mix.check_chains()
        s.items = sum(rows[d] * widths[d] * len(mix.chains[d]) for d in mixed)
    sizes.split_main_s, sizes.split_main_per_unit_s = _split_main(mix, widths)
    if not mix.check_closed():
        raise KindsError(f"the mix is not closed: {_failures(check)}")
    with stage(MIX_DECRYPTIONS, "ciphertexts") as s:
        shares = mix.check_partials()
        guardians = _partial_guardians(mix)
        s.items = sum(rows[d] * widths[d] * guardians.get(d, 0) for d in mixed)
    with stage(MIX_COMBINE, "ciphertexts") as s:
        mix.check_decryptions(shares)
        mix.check_counts()
        s.items = sum(rows[d] * widths[d] for d in mixed)
    if check.close().passed is False:
        raise KindsError(f"the mix check fails: {_failures(check)}")
    return sizes


def national_scan(record: Path) -> dict[str, tuple[int, float]]:
    """`Sizes.national`: the national log's lines read, hashed and typed (parsed, but for the
    mix's large entries) as `load_board`'s scan does, the CPU of each line's work timed by
    class; the reading of the file's blocks shared out by bytes."""
    spent = {"mix": 0.0, "mix-input": 0.0, "fixed": 0.0}
    sizes = dict.fromkeys(spent, 0)
    started = time.process_time()
    for _, raw in iter_lines(record / ENTRIES, ENTRIES):
        t0 = time.process_time()
        leaf_hash(raw)
        kind = unparsed_type(raw)
        if kind is None:
            doc, _ = loader._parse(raw)
            kind = "mix-input" if doc is not None and doc["type"] == "mix-input" else "fixed"
        else:
            kind = "mix"
        spent[kind] += time.process_time() - t0
        sizes[kind] += len(raw)
    reading = max(0.0, time.process_time() - started - sum(spent.values()))
    total = max(1, sum(sizes.values()))
    return {k: (sizes[k], spent[k] + reading * sizes[k] / total) for k in spent}


def _split_main(mix: _Mix, widths: dict[str, int]) -> tuple[float, float]:
    """(s a shuffle, s a ciphertext) of this process while each shuffle of the record is
    checked as the verifier checks one of `SPLIT_ROWS` rows or more (`_shuffle_problem` on a
    pool of 2, its rows read unchecked as `check_shuffles` reads a split one), fitted by least
    squares over the shuffles (never below 0)."""
    key, base = mix.keys.key, mix.election.base_hash
    points: list[tuple[float, float]] = []
    with ProcessPoolExecutor(2, initializer=warm_key, initargs=(key,)) as pool:
        for district, chain in mix.chains.items():
            previous = mix.inputs[district][0]
            for index in chain:
                doc = mix.heads[index].doc
                context = _shuffle_context(
                    base, district, doc["mixer"], doc["position"], bytes.fromhex(doc["previous"])
                )
                started = time.process_time()
                task = (context, mix.board.ref(previous), mix.board.ref(index), widths[district])
                if split_problem(key, task, pool, 2) is not None:
                    raise KindsError(f"a shuffle of {district} fails when split")
                points.append((mix.rows_of(district) * widths[district],
                               time.process_time() - started))  # fmt: skip
                previous = index
    if not points:
        return 0.0, 0.0
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    var = sum((x - mean_x) ** 2 for x, _ in points)
    if var == 0:
        return 0.0, mean_y / mean_x if mean_x else 0.0
    slope = max(0.0, sum((x - mean_x) * (y - mean_y) for x, y in points) / var)
    return max(0.0, mean_y - slope * mean_x), slope


def _partial_guardians(mix: _Mix) -> dict[str, int]:
    """Per district, how many guardians posted partial decryptions of its mix."""
    seen: dict[str, set[int]] = {}
    for index in mix.board.indices("mix-partial-decryption"):
        doc = mix.heads[index].doc
        seen.setdefault(str(doc.get("district")), set()).add(int(doc.get("guardian", 0)))
    return {d: len(g) for d, g in seen.items()}


def _failures(check: Check) -> str:
    return "; ".join(f.reason for f in check.failures[:3]) or "no reason given"
