"""`verivote bench tehran` (issue 16, "Speed"): Tehran's shape on the mix path, end to end.

One district of C candidates (Tehran 2024: 3,545, codes of 4 digits) and S seats (30), its
ballots written as codes (`verivote.crypto.written`), on ristretto255, through every step of
the count, each measured on this machine:

1. **encrypt**: N written ballots, drawn from a fixed seed (see `plaintext_chunk`: faction
   slates, popular names, short ballots, blanks, a name twice, codes of no candidate), each
   encrypted with its proof (`encrypt_written`) and written out as JSON bytes, as a voting
   device sends it;
2. **check at cast**: each ballot read back from its JSON bytes and checked
   (`check_written`), as the server does before it appends it;
3. **shuffle + prove** and **shuffle check**, for each of the M mixers (Tehran: 5, one per
   faction) in turn: `shuffle` + `prove_shuffle`, the proof put in its JSON form as a mixer
   publishes it, then read back (`shuffle_proof_from_json`) and checked (`check_shuffle`) once,
   as the verifier does; the context is `crypto.rows.shuffle_context` with the SHA-256 of the
   packed input rows in place of the previous board entry's bytes;
4. **partial decryptions**: each guardian of a quorum of 3 (of 5, key from a real ceremony,
   `crypto.ceremony.run_ceremony`) decrypts the last mix's rows in batches of 500 with
   Chaum–Pedersen proofs, as its `mix-partial-decryption` entries (`election.mixing.
   mix_partial_entry`), written out as JSON bytes;
5. **check partials**: every entry read back and every proof checked (`check_mix_partial`);
6. **combine**: Lagrange combination of the quorum's shares (`combine_rows`);
7. **decode**: the rows back to the codes as written (`decode_rows`; a row that does not
   decode is void);
8. **count**: the Majlis law on the decoded ballots (`rules.majlis.tally_majlis`,
   `count_majlis`).

Then the count must equal the plaintext count of the same ballots (regenerated from the seed
and counted without any cryptography), and the decoded ballots must be, as a multiset, the
ballots encrypted; otherwise `CountMismatch`.

Per step: wall time, CPU seconds (this process and every worker process, from
/proc/<pid>/stat), CPU per ballot, peak resident memory (VmHWM of this process and of the
largest worker, each reset at the step's start by writing 5 to /proc/<pid>/clear_refs), and
the projection of its CPU to Tehran's 1,850,000 ballots in core-hours (linear: every step is).

Memory: no step holds all ciphertexts as Python objects of its own. Between steps the rows are
one `bytes` of 64·w bytes a row (`PackedRows` gives `crypto.shuffle` a read-only sequence that
builds a row's `Ciphertext`s only when asked for it); ballots, decryption entries, shares,
plaintexts and decoded ballots go to temporary files, chunk by chunk. Work is streamed in
chunks of 500 rows with at most 2·J chunks in flight. The exception is inside
`crypto/shuffle.py`: `shuffle` returns its outputs as a list of `Ciphertext` rows (packed here
at once), and the statement hash and the shape check build every row's encodings / objects
while they run; the mix steps' peak memory shows what that costs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import tempfile
import time
import tracemalloc
from bisect import bisect
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import accumulate
from typing import IO, Any, overload

from verivote.bench.mix import machine
from verivote.bench.procfs import children, cpu_of, peak_kib, reset_peak
from verivote.crypto.ceremony import KeyShare, public_share, run_ceremony
from verivote.crypto.elgamal import Ciphertext, ElectionKey
from verivote.crypto.groups import get_group
from verivote.crypto.hashing import election_base_hash
from verivote.crypto.rows import shuffle_context
from verivote.crypto.shuffle import (
    check_shuffle,
    prove_shuffle,
    shuffle,
    shuffle_proof_from_json,
    shuffle_proof_to_json,
)
from verivote.crypto.written import check_written, encrypt_written, written_width
from verivote.election.mixing import (
    check_mix_partial,
    combine_rows,
    decode_rows,
    mix_partial_entry,
)
from verivote.model.ballots import Ballot
from verivote.model.manifest import Manifest, parse_manifest
from verivote.rules.majlis import count_majlis, tally_majlis
from verivote.rules.plurality import BlockTally
from verivote.rules.tiebreak import PublicLot

GROUP = "ristretto255"
DISTRICT = "tehran"
TEHRAN_BALLOTS = 1_850_000
"""Ballots cast in Tehran's district in 2024, the projection's target."""
TEHRAN_CANDIDATES = 3545
TEHRAN_SEATS = 30
MIXERS = 5
GUARDIANS = 5
QUORUM = 3
PRESENT = (1, 3, 5)
"""The guardians who decrypt: any 3 of the 5 would do."""
HOMOMORPHIC_CHECK_MS = 1600.0
"""Checking one Tehran-shaped ballot on the homomorphic path (issue 16: 1.6 s, one core)."""
GOAL_CHECK_SPEEDUP = 1000
GOAL_CORE_HOURS = 12.0
CHUNK = 500
"""Rows per task, and per mix-partial-decryption entry (as `verivote.election.mixing.BATCH`)."""
MAX_CANDIDATES = 3999
"""Candidate codes are 1001 … 1000 + C (4 digits); codes 5000 … 9999 are strangers."""

STEPS = (
    "encrypt",
    "check_at_cast",
    "shuffle_prove",
    "shuffle_check",
    "partial_decrypt",
    "check_partials",
    "combine",
    "decode",
    "count",
)
"""The election's steps, in order (the plaintext reference count is not one of them)."""
AFTER_POLLS = STEPS[2:]
"""What the count itself costs once the polls have closed: from the first mix on."""

Step = Callable[[str, float], None]
"""step(what is running, progress units just completed); `units` gives the total."""


class CountMismatch(RuntimeError):
    """The count of the decrypted ballots is not the plaintext count of the same ballots."""


def validate(ballots: int, candidates: int, seats: int, jobs: int | None) -> str | None:
    """The one-line reason these sizes cannot be measured, or None."""
    if ballots < 2:
        return (
            f"--ballots must be at least 2 (a shuffle of one ballot hides nothing), not {ballots}"
        )
    if not 1 <= candidates <= MAX_CANDIDATES:
        return (
            f"--candidates must be between 1 and {MAX_CANDIDATES:,} (4-digit codes 1001 … "
            f"{1000 + MAX_CANDIDATES}), not {candidates}"
        )
    if not 1 <= seats <= 100:
        return f"--seats must be between 1 and 100, not {seats}"
    if jobs is not None and jobs < 1:
        return f"--jobs must be at least 1, not {jobs}"
    return None


def units(ballots: int, mixes: int = MIXERS) -> float:
    """Progress units of a run: one per chunk of each streamed step, three per mix."""
    chunks = -(-ballots // CHUNK)
    streamed = 2 + 2 * len(PRESENT) + 2  # encrypt, check, partials, their checks, combine, decode
    return 3 + chunks * streamed + 3 * mixes + 1  # setup, pool, reference; …; the count


# --- the election -------------------------------------------------------------------------------


def tehran_manifest(candidates: int, seats: int) -> Manifest:
    """One district counted on the mix path, C candidates with codes 1001 …, S seats, 10
    stations, and M factions that mix in manifest order."""
    factions = [f"faction-{i}" for i in range(1, MIXERS + 1)]
    return parse_manifest(
        {
            "election_id": "bench-tehran",
            "name": "Tehran-shaped mix benchmark",
            "date": "2024-03-01",
            "factions": [{"id": f, "name": f"Faction {f[-1]}"} for f in factions],
            "districts": [
                {
                    "id": DISTRICT,
                    "name": "Tehran, Rey, Shemiranat, Eslamshahr and Pardis",
                    "seats": seats,
                    "province": "Tehran",
                    "mode": "mixnet",
                    "candidates": [
                        {
                            "code": str(1001 + i),
                            "name": f"Candidate {1001 + i}",
                            "faction": factions[i % MIXERS],
                        }
                        for i in range(candidates)
                    ],
                }
            ],
            "stations": [
                {"id": f"tehran-{s:03d}", "name": f"Station {s}", "district": DISTRICT}
                for s in range(1, 11)
            ],
        }
    )


@dataclass(frozen=True)
class Setup:
    """What every step needs; each worker process gets it once, when it starts."""

    manifest: Manifest
    base_hash: bytes
    ek: ElectionKey[Any]
    shares: dict[int, KeyShare] = field(repr=False)
    publics: dict[int, Any]
    seed: int

    @property
    def codes(self) -> list[str]:
        return [c.code for c in self.manifest.district(DISTRICT).candidates]

    @property
    def seats(self) -> int:
        return self.manifest.district(DISTRICT).seats


def make_setup(candidates: int, seats: int, seed: int) -> Setup:
    """The manifest, its base hash, and a 3-of-5 key from a real (in-process) ceremony."""
    manifest = tehran_manifest(candidates, seats)
    base_hash = election_base_hash(manifest.canonical())
    group = get_group(GROUP)
    outcome = run_ceremony(group, GUARDIANS, QUORUM, base_hash)
    t = outcome.transcript
    ek = ElectionKey(group, group.decode(bytes.fromhex(t.joint_key)))
    publics = {g: public_share(group, t, g) for g in PRESENT}
    shares = {g: outcome.shares[g] for g in PRESENT}
    return Setup(manifest, base_hash, ek, shares, publics, seed)


# --- the plaintext ballots ----------------------------------------------------------------------

_WEIGHTS: dict[int, list[float]] = {}


def _cumulative(candidates: int) -> list[float]:
    """Cumulative popularity weights of the candidates, 1/(i + 20)^1.1 (a few hundred names
    get most votes, as in Tehran), computed once per process."""
    if candidates not in _WEIGHTS:
        _WEIGHTS[candidates] = list(accumulate(1 / (i + 20) ** 1.1 for i in range(candidates)))
    return _WEIGHTS[candidates]


def plaintext_chunk(
    codes: Sequence[str], seats: int, seed: int, chunk: int, count: int
) -> list[list[str]]:
    """The `count` ballots of chunk `chunk`, the same in every process (seeded by seed and
    chunk). Each voter: with probability 0.45 a faction's slate (the first S candidates of
    one of 3 slates drawn from the seed), else names drawn by popularity, without repeats;
    the ballot is full (S names) with probability 0.6, else of 1 … S−1 names; then 1 % are
    blank, 2 % write one name twice, 2 % write a code of no candidate (5000 … 9999)."""
    slates_rng = random.Random(f"tehran-slates/{seed}")
    slates = [slates_rng.sample(list(codes), min(seats, len(codes))) for _ in range(3)]
    cum = _cumulative(len(codes))
    total = cum[-1]
    rng = random.Random(f"tehran-ballots/{seed}/{chunk}")
    out: list[list[str]] = []
    for _ in range(count):
        length = seats if rng.random() < 0.6 else rng.randint(1, max(1, seats - 1))
        if rng.random() < 0.45:
            names = list(rng.choice(slates)[:length])
        else:
            names = []
            seen: set[str] = set()
            want = min(length, len(codes))
            while len(names) < want:
                c = codes[min(bisect(cum, rng.random() * total), len(codes) - 1)]
                if c not in seen:
                    seen.add(c)
                    names.append(c)
        roll = rng.random()
        if roll < 0.01:
            names = []
        elif roll < 0.03 and names:  # a name twice
            if len(names) > 1:
                names[-1] = names[0]
            elif seats > 1:
                names.append(names[0])
        elif roll < 0.05 and names:
            names[rng.randrange(len(names))] = str(rng.randint(5000, 9999))  # a stranger
        out.append(names)
    return out


def _chunks(ballots: int) -> list[tuple[int, int, int]]:
    """(chunk index, first row, rows) for every chunk of CHUNK rows."""
    return [
        (i, start, min(CHUNK, ballots - start)) for i, start in enumerate(range(0, ballots, CHUNK))
    ]


def _ballot_line(codes: Sequence[str] | None) -> str:
    """A decoded ballot as one line of text: codes separated by spaces, "!" if void."""
    return "!" if codes is None else " ".join(codes)


def _multiset_digest(lines: Iterable[str]) -> int:
    """An order-free digest of ballots: Σ SHA-256(line) mod 2^256."""
    acc = 0
    for line in lines:
        acc += int.from_bytes(hashlib.sha256(line.encode()).digest(), "big")
    return acc % (1 << 256)


# --- rows as bytes ------------------------------------------------------------------------------

ELEMENT = 32
"""Bytes of a ristretto255 element."""


class PackedRows(Sequence[tuple[Ciphertext[bytes], ...]]):
    """Rows of w ciphertexts packed as one `bytes` (α₁ β₁ … α_w β_w, 32 bytes each), seen as
    a read-only sequence of rows; a row's `Ciphertext`s exist only while someone holds them.
    The bytes are canonical ristretto255 encodings, which are the group's elements
    (`crypto.groups.ristretto255`); whoever checks them (`check_shuffle`) checks them."""

    def __init__(self, blob: bytes, width: int) -> None:
        self.blob = blob
        self.width = width
        self.size = 2 * ELEMENT * width
        if len(blob) % self.size:
            raise ValueError("packed rows must be whole rows")

    def __len__(self) -> int:
        return len(self.blob) // self.size

    def row(self, i: int) -> tuple[Ciphertext[bytes], ...]:
        b = self.blob
        at = i * self.size
        return tuple(
            Ciphertext(b[at + 64 * k : at + 64 * k + 32], b[at + 64 * k + 32 : at + 64 * k + 64])
            for k in range(self.width)
        )

    @overload
    def __getitem__(self, i: int) -> tuple[Ciphertext[bytes], ...]: ...

    @overload
    def __getitem__(self, i: slice) -> list[tuple[Ciphertext[bytes], ...]]: ...

    def __getitem__(
        self, i: int | slice
    ) -> tuple[Ciphertext[bytes], ...] | list[tuple[Ciphertext[bytes], ...]]:
        if isinstance(i, slice):
            return [self.row(j) for j in range(*i.indices(len(self)))]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("row index out of range")
        return self.row(i)

    def __iter__(self) -> Iterator[tuple[Ciphertext[bytes], ...]]:
        return (self.row(i) for i in range(len(self)))

    def chunk(self, start: int, count: int) -> bytes:
        return self.blob[start * self.size : (start + count) * self.size]


def pack_rows(rows: Iterable[Sequence[Ciphertext[bytes]]]) -> bytes:
    return b"".join(ct.alpha + ct.beta for row in rows for ct in row)


def _pack(elements: Iterable[bytes]) -> bytes:
    return b"".join(elements)


def _unpack(blob: bytes) -> list[bytes]:
    return [blob[i : i + ELEMENT] for i in range(0, len(blob), ELEMENT)]


class Spool:
    """Chunks of bytes in a temporary file, read back by index: what a step writes and the
    next one reads, without holding it in memory."""

    def __init__(self) -> None:
        self.file: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self.spans: list[tuple[int, int]] = []
        self.size = 0

    def append(self, blob: bytes) -> None:
        self.file.seek(self.size)
        self.file.write(blob)
        self.spans.append((self.size, len(blob)))
        self.size += len(blob)

    def __getitem__(self, i: int) -> bytes:
        at, length = self.spans[i]
        self.file.seek(at)
        return self.file.read(length)

    def __len__(self) -> int:
        return len(self.spans)

    def close(self) -> None:
        self.file.close()


# --- the tasks (run in the workers, or here with --jobs 1) ---------------------------------------

_SETUP: Setup | None = None


def _init(setup: Setup) -> None:
    """A worker's start: keep the setup, build the fixed-base tables of g and the key."""
    global _SETUP
    _SETUP = setup
    setup.ek.group.pow_g(1)
    setup.ek.pow_k(1)


def _setup() -> Setup:
    if _SETUP is None:
        raise RuntimeError("a benchmark task ran before its worker got the setup")
    return _SETUP


def _encrypt_task(chunk: int, start: int, count: int) -> tuple[bytes, float]:
    """The chunk's ballots encrypted, one JSON document a line; and the CPU seconds spent
    drawing the plaintexts (not part of the encryption's figure)."""
    s = _setup()
    t0 = time.process_time()
    ballots = plaintext_chunk(s.codes, s.seats, s.seed, chunk, count)
    drawn = time.process_time() - t0
    stations = [st.id for st in s.manifest.stations]
    lines = []
    for n, codes in enumerate(ballots):
        ballot, _ = encrypt_written(
            s.manifest, s.ek, s.base_hash, stations[(start + n) % len(stations)], codes
        )
        lines.append(json.dumps(ballot, separators=(",", ":")).encode())
    return b"\n".join(lines), drawn


def _check_task(blob: bytes) -> bytes:
    """Each ballot of the chunk checked from its JSON bytes; its ciphertexts, packed."""
    s = _setup()
    out = []
    for line in blob.split(b"\n"):
        cts = check_written(s.manifest, s.ek, s.base_hash, json.loads(line))
        out.append(pack_rows([cts]))
    return b"".join(out)


def _partial_task(guardian: int, start: int, rows_blob: bytes, width: int) -> bytes:
    """Guardian `guardian`'s mix-partial-decryption entry of the rows from `start`, as JSON."""
    s = _setup()
    group = s.ek.group
    doc = mix_partial_entry(group, s.base_hash, s.shares[guardian], s.publics[guardian],
                            DISTRICT, start, PackedRows(rows_blob, width))  # fmt: skip
    return json.dumps(doc, separators=(",", ":")).encode()


def _check_partial_task(guardian: int, entry: bytes, rows_blob: bytes, width: int) -> bytes:
    """The entry read from its bytes and every proof checked; the shares, packed."""
    s = _setup()
    shares = check_mix_partial(s.ek.group, s.base_hash, s.publics[guardian], json.loads(entry),
                               PackedRows(rows_blob, width))  # fmt: skip
    return _pack(x for row in shares for x in row)


def _combine_task(rows_blob: bytes, width: int, shares: dict[int, bytes]) -> bytes:
    """The plaintext elements of the rows, from the quorum's checked shares, packed."""
    group = _setup().ek.group
    rows = PackedRows(rows_blob, width)
    by_guardian = {
        g: [xs[i : i + width] for i in range(0, len(xs), width)]
        for g, xs in ((g, _unpack(blob)) for g, blob in shares.items())
    }
    plain = combine_rows(group, QUORUM, rows, by_guardian)
    return _pack(x for row in plain for x in row)


def _decode_task(plain_blob: bytes, width: int) -> bytes:
    """The codes written on each row, one line a ballot ("!" for a row that does not decode)."""
    group = _setup().ek.group
    xs = _unpack(plain_blob)
    ballots = decode_rows(group, [xs[i : i + width] for i in range(0, len(xs), width)])
    return "\n".join(_ballot_line(b) for b in ballots).encode()


# --- measuring ----------------------------------------------------------------------------------


@dataclass
class Figures:
    """One step's measurements (summed over its parts, peaks the largest)."""

    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_main_mib: float = 0.0
    peak_worker_mib: float = 0.0
    parts: int = 0
    start_main_mib: float | None = None
    traced_mib: float | None = None

    def add(self, other: Figures) -> None:
        self.wall_s += other.wall_s
        self.cpu_s += other.cpu_s
        self.peak_main_mib = max(self.peak_main_mib, other.peak_main_mib)
        self.peak_worker_mib = max(self.peak_worker_mib, other.peak_worker_mib)
        self.parts += other.parts
        if self.start_main_mib is None:
            self.start_main_mib = other.start_main_mib
        if other.traced_mib is not None:
            self.traced_mib = max(self.traced_mib or 0.0, other.traced_mib)

    def as_json(self, ballots: int) -> dict[str, Any]:
        per_ballot = self.cpu_s / ballots
        return {
            "wall_s": round(self.wall_s, 3),
            "cpu_s": round(self.cpu_s, 3),
            "cpu_ms_per_ballot": round(1000 * per_ballot, 4),
            "peak_rss_main_mib": round(self.peak_main_mib, 1),
            "peak_rss_worker_mib": round(self.peak_worker_mib, 1),
            "rss_main_at_start_mib": round(self.start_main_mib or 0.0, 1),
            "traced_peak_main_mib": None if self.traced_mib is None else round(self.traced_mib, 1),
            "tehran_core_hours": round(per_ballot * TEHRAN_BALLOTS / 3600, 3),
        }


class Meter:
    """Measures a step: `with meter.step(name) as extra:` (extra[0] += CPU seconds to leave
    out of the step, measured where it was spent). With `trace`, also the peak of the Python
    allocations of this process during the step above those alive at its start
    (tracemalloc, which slows Python code down: times of such a run are not the figures)."""

    def __init__(self, trace: bool = False) -> None:
        self.steps: dict[str, Figures] = {}
        self.workers: list[int] = []
        self.trace = trace

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[list[float]]:
        workers = self.workers
        pids: list[int | str] = ["self", *workers]
        for pid in pids:
            reset_peak(pid)
        rss0 = peak_kib("self", "VmRSS") / 1024
        if self.trace:
            tracemalloc.reset_peak()
        traced0 = tracemalloc.get_traced_memory()[0] if self.trace else 0
        cpu0 = time.process_time() + sum(cpu_of(p) for p in workers)
        t0 = time.perf_counter()
        extra = [0.0]
        yield extra
        wall = time.perf_counter() - t0
        traced = (tracemalloc.get_traced_memory()[1] - traced0) / 2**20 if self.trace else None
        cpu = time.process_time() + sum(cpu_of(p) for p in workers) - cpu0 - extra[0]
        fig = Figures(
            wall,
            max(cpu, 0.0),
            peak_kib("self") / 1024,
            max((peak_kib(p) for p in workers), default=0) / 1024,
            1,
            rss0,
            traced,
        )
        self.steps.setdefault(name, Figures()).add(fig)


class Runner:
    """Runs tasks in order, in this process (jobs = 1) or on the pool, at most 2·J in flight,
    handing each result to `sink` as soon as it and those before it are done."""

    def __init__(self, setup: Setup, jobs: int) -> None:
        self.jobs = jobs
        self.pool: ProcessPoolExecutor | None = None
        if jobs > 1:
            self.pool = ProcessPoolExecutor(max_workers=jobs, initializer=_init, initargs=(setup,))
            list(self.pool.map(_ready, range(4 * jobs)))  # start and warm every worker
        else:
            _init(setup)

    @property
    def executor(self) -> Executor | None:
        return self.pool

    def stream(
        self,
        fn: Callable[..., Any],
        calls: Iterable[tuple[Any, ...]],
        sink: Callable[[Any], None],
    ) -> None:
        if self.pool is None:
            for args in calls:
                sink(fn(*args))
            return
        window: deque[Future[Any]] = deque()
        for args in calls:
            window.append(self.pool.submit(fn, *args))
            if len(window) >= 2 * self.jobs:
                sink(window.popleft().result())
        while window:
            sink(window.popleft().result())

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _ready(_: int) -> int:
    time.sleep(0.05)
    return os.getpid()


# --- the run ------------------------------------------------------------------------------------


def measure_tehran(
    ballots: int,
    jobs: int | None = None,
    candidates: int = TEHRAN_CANDIDATES,
    seats: int = TEHRAN_SEATS,
    seed: int = 1,
    step: Step | None = None,
    trace_memory: bool = False,
) -> dict[str, Any]:
    """The figures of `verivote bench tehran` (module docstring). Raises ValueError for bad
    sizes, CountMismatch if the decrypted count is not the plaintext count."""
    problem = validate(ballots, candidates, seats, jobs)
    if problem:
        raise ValueError(problem)
    report = step or (lambda _what, _done: None)
    workers = jobs or os.cpu_count() or 1
    started = time.perf_counter()
    meter = Meter(trace_memory)

    report("holding the key ceremony (5 guardians, quorum 3)", 0)
    setup = make_setup(candidates, seats, seed)
    group = setup.ek.group
    width = written_width(group, setup.manifest.district(DISTRICT))
    codes = setup.codes
    chunks = _chunks(ballots)
    report(f"starting {workers} process(es)", 1)
    runner = Runner(setup, workers)
    meter.workers = children() if workers > 1 else []
    if trace_memory:
        tracemalloc.start()  # after the workers started: they are not traced
    spools: list[Spool] = []

    def spool() -> Spool:
        s = Spool()
        spools.append(s)
        return s

    try:
        # the reference: the same ballots counted in plaintext, no cryptography
        report("counting the plaintext ballots (the reference)", 1)
        with meter.step("plaintext_reference"):
            digest = [0]

            def plain_ballots() -> Iterator[Ballot]:
                for chunk, _, count in chunks:
                    ballots_of_chunk = plaintext_chunk(codes, seats, seed, chunk, count)
                    digest[0] += _multiset_digest(_ballot_line(b) for b in ballots_of_chunk)
                    for b in ballots_of_chunk:
                        yield Ballot(tuple(b))

            expected = tally_majlis(plain_ballots(), codes, seats)
            expected_digest = digest[0] % (1 << 256)
        report(f"encrypting {ballots:,} written ballots", 1)

        # 1. encrypt
        cast = spool()
        with meter.step("encrypt") as extra:

            def encrypted(result: tuple[bytes, float]) -> None:
                cast.append(result[0])
                extra[0] += result[1]
                report(f"encrypting {ballots:,} written ballots", 1)

            runner.stream(_encrypt_task, chunks, encrypted)
        json_bytes = cast.size

        # 2. check at cast
        rows_parts: list[bytes] = []
        with meter.step("check_at_cast"):

            def checked(blob: bytes) -> None:
                rows_parts.append(blob)
                report(f"checking {ballots:,} ballots from their JSON", 1)

            runner.stream(_check_task, ((cast[i],) for i in range(len(cast))), checked)
            rows = b"".join(rows_parts)
            rows_parts.clear()
        cast.close()

        # 3. the mixes
        jobs_kw: dict[str, Any] = {"jobs": workers, "executor": runner.executor}
        mixes: list[dict[str, Any]] = []
        for p in range(1, MIXERS + 1):
            mixer = setup.manifest.mixers()[p - 1]
            previous = hashlib.sha256(rows).digest()
            context = shuffle_context(setup.base_hash, DISTRICT, mixer, p, previous)
            inputs = PackedRows(rows, width)
            report(f"mix {p} of {MIXERS} ({mixer}): shuffle + proof", 0)
            with meter.step("shuffle_prove"):
                t0 = time.perf_counter()
                outs, witness = shuffle(setup.ek, inputs, **jobs_kw)
                out_blob = pack_rows(outs)
                del outs
                outputs = PackedRows(out_blob, width)
                proof = prove_shuffle(setup.ek, context, inputs, outputs, witness, **jobs_kw)
                del witness
                proof_json = json.dumps(shuffle_proof_to_json(group, proof)).encode()
                del proof
                prove_s = time.perf_counter() - t0
            report(f"mix {p} of {MIXERS} ({mixer}): checking the proof", 2)
            with meter.step("shuffle_check"):
                t0 = time.perf_counter()
                read = shuffle_proof_from_json(group, json.loads(proof_json))
                ok = check_shuffle(setup.ek, context, inputs, outputs, read, **jobs_kw)
                del read
                check_s = time.perf_counter() - t0
            if not ok:
                raise CountMismatch(f"the proof of mix {p} ({mixer}) does not verify")
            mixes.append(
                {"mixer": mixer, "prove_wall_s": round(prove_s, 3),
                 "check_wall_s": round(check_s, 3), "proof_bytes": len(proof_json)}
            )  # fmt: skip
            rows = out_blob
            report(f"mix {p} of {MIXERS} done", 1)
        final = PackedRows(rows, width)

        # 4. partial decryptions, 5. their check
        entries = {g: spool() for g in PRESENT}
        for g in PRESENT:
            with meter.step("partial_decrypt"):

                def decrypted(blob: bytes, g: int = g) -> None:
                    entries[g].append(blob)
                    report(f"guardian {g}: partial decryptions with proofs", 1)

                runner.stream(
                    _partial_task,
                    ((g, start, final.chunk(start, count), width) for _, start, count in chunks),
                    decrypted,
                )
        checked_shares = {g: spool() for g in PRESENT}
        for g in PRESENT:
            with meter.step("check_partials"):

                def share_checked(blob: bytes, g: int = g) -> None:
                    checked_shares[g].append(blob)
                    report(f"checking guardian {g}'s proofs", 1)

                runner.stream(
                    _check_partial_task,
                    (
                        (g, entries[g][i], final.chunk(start, count), width)
                        for i, (_, start, count) in enumerate(chunks)
                    ),
                    share_checked,
                )
            entries[g].close()
        partial_bytes = sum(e.size for e in entries.values())

        # 6. combine
        plain = spool()
        with meter.step("combine"):

            def combined(blob: bytes) -> None:
                plain.append(blob)
                report("combining the shares (Lagrange)", 1)

            runner.stream(
                _combine_task,
                (
                    (final.chunk(start, count), width, {g: checked_shares[g][i] for g in PRESENT})
                    for i, (_, start, count) in enumerate(chunks)
                ),
                combined,
            )

        # 7. decode
        decoded = spool()
        with meter.step("decode"):

            def decoded_chunk(blob: bytes) -> None:
                decoded.append(blob)
                report("decoding the ballots", 1)

            runner.stream(_decode_task, ((plain[i], width) for i in range(len(plain))),
                          decoded_chunk)  # fmt: skip

        # 8. count
        report("counting by the law", 0)
        with meter.step("count"):

            def decoded_ballots() -> Iterator[Ballot]:
                for i in range(len(decoded)):
                    for line in decoded[i].decode().split("\n"):
                        yield Ballot(() if line == "!" else tuple(line.split()))

            got = tally_majlis(decoded_ballots(), codes, seats)
            lot = PublicLot(bytes(32), "bench")
            result = count_majlis(got, codes, seats, lot)
        report("comparing with the plaintext count", 1)
        got_digest = _multiset_digest(
            line for i in range(len(decoded)) for line in decoded[i].decode().split("\n")
        )
        _compare(expected, got, expected_digest == got_digest)
        reference = count_majlis(expected, codes, seats, PublicLot(bytes(32), "bench"))
        if (reference.elected, reference.runoff) != (result.elected, result.runoff):
            raise CountMismatch("the elected or the runoff field differ from the plaintext count")
    finally:
        if trace_memory:
            tracemalloc.stop()
        runner.close()
        for s in spools:
            s.close()

    steps = {name: meter.steps[name].as_json(ballots) for name in STEPS}
    total = sum(s["tehran_core_hours"] for s in steps.values())
    after = sum(steps[name]["tehran_core_hours"] for name in AFTER_POLLS)
    check_ms = steps["check_at_cast"]["cpu_ms_per_ballot"]
    speedup = HOMOMORPHIC_CHECK_MS / check_ms if check_ms else float("inf")
    return {
        "group": GROUP,
        "ballots": ballots,
        "candidates": candidates,
        "seats": seats,
        "width": width,
        "mixes": MIXERS,
        "guardians": GUARDIANS,
        "quorum": QUORUM,
        "jobs": workers,
        "seed": seed,
        "steps": steps,
        "plaintext_reference": meter.steps["plaintext_reference"].as_json(ballots),
        "mix_details": mixes,
        "tehran_ballots": TEHRAN_BALLOTS,
        "tehran_core_hours_total": round(total, 3),
        "tehran_core_hours_after_polls": round(after, 3),
        "check_ms_per_ballot": check_ms,
        "check_speedup_vs_homomorphic": round(speedup, 1),
        "goal_check_speedup": GOAL_CHECK_SPEEDUP,
        "goal_check_met": speedup >= GOAL_CHECK_SPEEDUP,
        "goal_core_hours": GOAL_CORE_HOURS,
        "goal_core_hours_met": total <= GOAL_CORE_HOURS,
        "count_matches": True,
        "valid": got.valid,
        "void": got.void,
        "elected": len(result.elected),
        "runoff_field": len(result.runoff or ()),
        "bytes": {
            "ballots_json": json_bytes,
            "rows": len(rows),
            "partial_decryption_entries": partial_bytes,
        },
        "memory": "peak resident set (VmHWM from /proc, reset at each step's start through "
        "/proc/<pid>/clear_refs) of this process and of the largest worker"
        + (
            "; traced: peak of this process's Python allocations during the step above those "
            "alive at its start (tracemalloc, which slows the run: its times are not figures)"
            if trace_memory
            else ""
        ),
        "trace_memory": trace_memory,
        "wall_s": round(time.perf_counter() - started, 3),
        "machine": machine(),
    }


def _compare(expected: BlockTally, got: BlockTally, same_ballots: bool) -> None:
    """Fail loudly unless the decrypted count is the plaintext one, ballot for ballot."""
    if (expected.valid, expected.void) != (got.valid, got.void):
        raise CountMismatch(
            f"the decrypted ballots count {got.valid} valid and {got.void} void, the plaintext "
            f"ballots {expected.valid} and {expected.void}"
        )
    differ = [c for c in expected.votes if expected.votes[c] != got.votes.get(c, 0)]
    if differ or set(got.votes) - set(expected.votes):
        c = differ[0] if differ else sorted(set(got.votes) - set(expected.votes))[0]
        raise CountMismatch(
            f"candidate {c} has {got.votes.get(c, 0)} votes after decryption, "
            f"{expected.votes.get(c, 0)} in the plaintext count"
        )
    if not same_ballots:
        raise CountMismatch("the decoded ballots are not the ballots encrypted (multiset digest)")
