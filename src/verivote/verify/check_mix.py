"""Check `mix`: the mix path of written ballots, rechecked from the record alone (issue 16,
item 4; the entries are described in the election package's `mixing` module, which this one
does not import: the verifier has its own copy of every rule).

For each district the manifest counts on the mix path:

- exactly one `mix-input`, of this election, before the tally, of the district's width (that
  its rows are the written ciphertexts of the district's `ballot-cast` entries below the
  cutoff, in board order, is the `tally` check's: `verivote.verify.check_tally`);
- its chain of `shuffle` entries in board order: position 1, 2, …, each naming the SHA-256 of
  the entry before it, by a mixer of the manifest that has not mixed the district before,
  before `mix-closed`, with rows of the input's shape and a shuffle proof that verifies under
  H("mix/shuffle", base hash, district, mixer, position, previous);
- `mix-closed` (once, when the record has a decrypted tally): its districts are the mixnet
  ones, each with its chain's length, the hash of its last entry, and at least the mix quorum
  of shuffles when it has rows;
- every `mix-partial-decryption` entry: after mix-closed, a guardian of the election, a batch
  of the final rows, every Chaum–Pedersen proof verifying against the guardian's public share;
- one `mix-decryption` per district whose listed guardians are a quorum with every batch
  valid, and whose ballots are exactly what combining their shares and decoding gives (null
  for a row that does not decode);
- the decrypted tally's entry of the district equals the Majlis law's count of those ballots
  (`rules.majlis.tally_majlis`; null rows void).

The main process parses none of the mix's large entries (issue 17, README "What the verifier's
main process does not do any more"): tasks read them from the record by place (`Board.ref`)
and return their heads (`Head`), check the inputs' rows, cut each district's last rows into
batches, and check the shuffle proofs, the decryption proofs and the combination of the shares
with the decoding (one task per district and batch of `BATCH` rows), on `jobs` processes, or
as Ray tasks on a cluster (`verivote.cluster`); a shuffle of at least `SPLIT_ROWS` rows is
checked by parts of its rows over the whole pool (`check_held_shuffle`, its tasks reading the
parts from the record) rather than in one task. The report is the same whichever way the
work runs: failures are emitted in board order.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from verivote.board.lines import LineRef, read_ref
from verivote.cluster import Cluster, make_pool, width
from verivote.crypto import wire
from verivote.crypto.ceremony import public_share
from verivote.crypto.elgamal import Ciphertext, ElectionKey
from verivote.crypto.encoding import EncodingError, decode_codes
from verivote.crypto.group import Group, InvalidElement
from verivote.crypto.hashing import hash_items
from verivote.crypto.proofs import verify_decryption
from verivote.crypto.shuffle import (
    HeldRows,
    check_held_shuffle,
    check_shuffle,
    shuffle_proof_from_json,
)
from verivote.crypto.threshold import combine
from verivote.model.ballots import Ballot
from verivote.rules.majlis import tally_majlis
from verivote.verify.context import Election, Keys, mixnet_districts
from verivote.verify.loader import Board, Doc
from verivote.verify.pieces import Batch, cut, read_batch
from verivote.verify.report import Check

BATCH = 500
"""Rows per mix-partial-decryption entry."""

SPLIT_ROWS = 1_000_000
"""A shuffle of this many rows or more is checked by parts of `SPLIT_PART` rows on every worker
of the pool rather than whole in one task (`split_problem`: the tasks read the parts from the
record). The main process still feeds the statement's one SHA-256 the bytes the tasks make of
the rows, parses the proof and combines the parts, one such shuffle after the other (4 µs a
ciphertext, `verivote sim national`'s `split_shuffle_main`; it was 13–26 µs when it parsed
the rows itself). Below this size a whole shuffle is a task of at most some 6 minutes of one
core at the 2024 shape (Mashhad's, 560,000 ciphertexts at about 0.63 ms); there only
Tehran's shuffles (3.56 M rows of 2 ciphertexts) are split."""


Row = tuple[Ciphertext[Any], ...]

Ref = LineRef | bytes
"""An entry for a task to read (`Board.ref`): where it is in the record, or its bytes."""

Counting = dict[str, tuple[tuple[str, ...], int]]
"""Each mixnet district's candidates' codes and seats, for the combination's tasks to count
their batch (`rules.majlis.tally_majlis` adds up ballot by ballot)."""


def _hash(entry: bytes) -> str:
    return hashlib.sha256(entry).hexdigest()


def _shuffle_context(
    base_hash: bytes, district: str, mixer: str, position: int, previous: bytes
) -> bytes:
    return hash_items("mix/shuffle", base_hash, district, mixer, position, previous)


def _decryption_context(base_hash: bytes, district: str, row: int, k: int) -> list[Any]:
    return [base_hash, "decryption", district, f"mix/{row}/{k}"]


def _rows(group: Group[Any], doc: Any, width: int, first: int = 0) -> list[Row]:
    """The rows of an entry (numbered from `first` in messages: a batch of them), every
    element checked; ValueError otherwise."""
    if not isinstance(doc, list):
        raise ValueError("the rows are not a list")
    out = []
    for i, row in enumerate(doc, start=first):
        if not isinstance(row, list) or len(row) != width:
            raise ValueError(f"row {i} is not a list of {width} ciphertexts")
        cts = []
        for pair in row:
            if not isinstance(pair, list) or len(pair) != 2:
                raise ValueError(f"row {i} holds a ciphertext that is not [alpha, beta]")
            try:
                cts.append(
                    Ciphertext(
                        wire.element_from_hex(group, pair[0]), wire.element_from_hex(group, pair[1])
                    )
                )
            except (InvalidElement, TypeError, ValueError):
                raise ValueError(f"row {i} holds an element that is not in the group") from None
        out.append(tuple(cts))
    return out


# --- work for the processes --------------------------------------------------------------------

_KEY: ElectionKey[Any] | None = None
_COUNTING: Counting = {}


def _init(key: ElectionKey[Any], counting: Counting | None = None) -> None:
    global _KEY, _COUNTING
    _KEY = key
    _COUNTING = counting or {}


ShuffleTask = tuple[bytes, Ref, Ref, int]
"""(the proof's context, the input entry, the shuffle entry, the width)."""


def _shuffle_task(task: ShuffleTask) -> str | None:
    """Why the shuffle (output entry) of the input entry does not verify, or None; the task
    reads both entries."""
    assert _KEY is not None
    return _shuffle_problem(_KEY, _read(task))


def _read(task: ShuffleTask) -> tuple[bytes, bytes, bytes, int]:
    context, before, after, width_ = task
    return context, read_ref(before), read_ref(after), width_


def _shuffle_problem(key: ElectionKey[Any], task: tuple[bytes, bytes, bytes, int]) -> str | None:
    """`_shuffle_task`'s check of the shuffle whose entries it has read."""
    context, input_raw, output_raw, width_ = task
    group = key.group
    try:
        inputs = _rows(group, json.loads(input_raw).get("rows"), width_)
        doc = json.loads(output_raw)
        outputs = _rows(group, doc.get("rows"), width_)
        proof = shuffle_proof_from_json(group, doc.get("proof"))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        return f"malformed: {exc}"
    if len(outputs) != len(inputs):
        return f"it has {len(outputs)} rows, its input {len(inputs)}"
    if not check_shuffle(key, context, inputs, outputs, proof):
        return "its shuffle proof does not verify"
    return None


SPLIT_PART = 2_000
"""Rows of a part of a split shuffle: a task to feed the statement's hash and a task to check
its products (2,000 rows of Tehran's 2 ciphertexts: 4,000 ciphertexts, about 0.5 MB of the
entry, some 2.5 s of a core at 0.61 ms a ciphertext)."""


def split_problem(
    key: ElectionKey[Any],
    task: ShuffleTask,
    pool: Executor | None,
    jobs: int,
    part: int = SPLIT_PART,
) -> str | None:
    """How the verifier checks a shuffle of `SPLIT_ROWS` rows or more: its two entries cut
    into parts of `part` rows by two tasks, which return where each part is and the proof
    (`_split_cut_task`); then `check_held_shuffle` on `pool`, whose tasks read the parts
    themselves. This process parses none of the rows (`sim national` measures what it still
    does). A failure's reason is found by reading the entries here, as the checked reading
    words it (`_malformed`)."""
    context, before, after, width_ = task
    (have, ins, _), (count, outs, proof_doc) = _map(
        pool, _split_cut_task, [(before, part), (after, part)]
    )
    if have is None or count is None or have != count:
        # rows that are no list, or as many as the input's not: the serial check's reason
        # (which then reads them and stops before the proof's check)
        return _shuffle_problem(key, _read(task))
    try:
        proof = shuffle_proof_from_json(key.group, proof_doc, checked=False)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        return _malformed(key, _read(task), exc)
    counts = [min(part, have - start) for start in range(0, have, part)]
    inputs = HeldRows(_packed_rows, ins, counts, width_)
    outputs = HeldRows(_packed_rows, outs, counts, width_)
    if check_held_shuffle(key, context, inputs, outputs, proof, executor=pool, jobs=jobs):
        return None
    return _malformed(key, _read(task), None)


def _split_cut_task(task: tuple[Ref, int]) -> tuple[int | None, list[Batch], Any]:
    """A split shuffle's entry (its input or itself) read here: (how many rows it has, None
    if they are no list; its rows in parts of `part` rows, `verivote.verify.pieces.cut`; its
    "proof" member, parsed, None if it has none)."""
    ref, part = task
    others: dict[str, Any] = {}
    count, batches = cut(read_ref(ref), ref, "rows", None, part, others)
    return count, batches, others.get("proof")


def _packed_rows(group: Group[Any], batch: Batch, width_: int) -> bytes:
    """The part of a split shuffle's rows that `batch` names, read from the record by the
    task that checks it: its elements' bytes back to back (`check_held_shuffle`'s `Source`),
    read without membership checks (the task checks them); ValueError or TypeError for a
    row that is not `width_` ciphertexts of [alpha, beta] hex of the group's length."""
    rows = json.loads(read_batch(batch))
    if not isinstance(rows, list):
        raise ValueError("the rows are not a list")
    size = group.element_bytes
    out: list[bytes] = []
    for row in rows:
        if not isinstance(row, list) or len(row) != width_:
            raise ValueError(f"a row is not a list of {width_} ciphertexts")
        for pair in row:
            if not isinstance(pair, list) or len(pair) != 2:
                raise ValueError("a row holds a ciphertext that is not [alpha, beta]")
            out += (bytes.fromhex(pair[0]), bytes.fromhex(pair[1]))
    blob = b"".join(out)
    if len(blob) != 2 * width_ * len(rows) * size:
        raise ValueError(f"an encoded element is not {size} bytes")
    return blob


def _malformed(
    key: ElectionKey[Any], task: tuple[bytes, bytes, bytes, int], error: Exception | None
) -> str:
    """Why a shuffle read without membership checks failed (`error`: how its reading failed,
    None if its proof did), in the words of the checked reading: the first row or proof
    element it finds malformed, else `error`, else the proof."""
    _, input_raw, output_raw, width_ = task
    try:
        _rows(key.group, json.loads(input_raw).get("rows"), width_)
        doc = json.loads(output_raw)
        _rows(key.group, doc.get("rows"), width_)
        shuffle_proof_from_json(key.group, doc.get("proof"))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        return f"malformed: {exc}"
    return "its shuffle proof does not verify" if error is None else f"malformed: {error}"


BIG = ("rows", "proof", "shares", "ballots")
"""The fields of the mix's entries that grow with the ballots: a head leaves them out."""


def _doc_of(raw: bytes, kind: str) -> Doc:
    """The entry of type `kind` (the type the scan read from the line's end); ValueError if
    the line is not that (`verivote.verify.loader.UNPARSED`)."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"not JSON ({exc.__class__.__name__})") from None
    if not isinstance(doc, dict) or doc.get("type") != kind:
        raise ValueError(f"not a JSON object of type {kind}")
    return doc


@dataclass(frozen=True)
class Head:
    """A mix entry as its task read it (the main process never parses the mix's rows): its
    fields but `BIG` ones, each of those its length (None if not a list), the SHA-256 of
    its line (hex), why it is not an entry of its type (or None); and for a mix-decryption
    its ballots in batches of `BATCH` (`verivote.verify.pieces.cut`)."""

    doc: Doc
    lengths: dict[str, int | None]
    digest: str
    problem: str | None = None
    ballots: list[Batch] | None = None


def _head_task(task: tuple[Ref, str]) -> Head:
    """The head of the entry `task` names (`Head`)."""
    ref, kind = task
    raw = read_ref(ref)
    digest = _hash(raw)
    try:
        doc = _doc_of(raw, kind)
    except ValueError as exc:
        return Head({}, {}, digest, f"malformed: {exc}")
    lengths = {k: len(v) if isinstance(v, list) else None for k, v in doc.items() if k in BIG}
    ballots = None
    if kind == "mix-decryption":
        ballots = cut(raw, ref, "ballots", None, BATCH)[1]
    head = {k: v for k, v in doc.items() if k not in BIG}
    return Head(head, lengths, digest, None, ballots)


def _input_task(task: tuple[Ref, int]) -> tuple[str | None, str]:
    """(why the mix-input's rows are not rows of `width` ciphertexts of the group, or None;
    the SHA-256 of its line)."""
    ref, width_ = task
    assert _KEY is not None
    raw = read_ref(ref)
    try:
        _rows(_KEY.group, json.loads(raw).get("rows"), width_)
    except (ValueError, AttributeError) as exc:
        return str(exc), _hash(raw)
    return None, _hash(raw)


def _batches_task(task: tuple[Ref, int]) -> tuple[int | None, list[Batch]]:
    """The rows of a district's last entry (input or shuffle) up to `count` in batches of
    `BATCH` (`verivote.verify.pieces.cut`: where each batch is in the record, for the task
    that checks it to read it), and how many it has (None: not a list), for the partial
    decryptions' and the combination's tasks (which check every element)."""
    ref, count = task
    return cut(read_ref(ref), ref, "rows", count, BATCH)


PartialTask = tuple[bytes, str, int, Any, Batch, int, Ref]
"""(base hash, district, the batch's first row, the guardian's public share in hex, the
batch of the last rows, the width, the mix-partial-decryption entry)."""


def _partial_task(task: PartialTask) -> str | None:
    """Why the partial decryption is invalid, or None. The task reads its batch of the last
    shuffle's rows and the entry itself: nothing that grows with the rows passes through the
    main process (issue 17)."""
    base_hash, district, start, public_hex, batch, width, entry = task
    assert _KEY is not None
    group = _KEY.group
    try:
        public = wire.element_from_hex(group, public_hex)
        rows = _rows(group, json.loads(read_batch(batch)), width, start)
        shares = _doc_of(read_ref(entry), "mix-partial-decryption").get("shares")
    except (ValueError, TypeError, AttributeError) as exc:
        return f"malformed: {exc}"
    if not isinstance(shares, list) or len(shares) != len(rows):
        return f"it does not hold one list of shares for each of its {len(rows)} rows"
    for n, (row, row_shares) in enumerate(zip(rows, shares, strict=True)):
        if not isinstance(row_shares, list) or len(row_shares) != len(row):
            return f"row {start + n} does not have one share per ciphertext"
        for k, (ct, item) in enumerate(zip(row, row_shares, strict=True)):
            try:
                value = wire.element_from_hex(group, item["share"])
                proof = wire.decryption_proof_from_json(group, item["proof"])
            except (InvalidElement, KeyError, TypeError, ValueError):
                return f"the share of row {start + n}, ciphertext {k} is malformed"
            context = _decryption_context(base_hash, district, start + n, k)
            if not verify_decryption(group, public, ct.alpha, value, proof, context):
                return f"the proof of the share of row {start + n}, ciphertext {k} fails"
    return None


Shares = dict[str, dict[int, dict[int, Ref]]]
"""The valid partial decryptions: district → guardian → batch start → the entry, for the
combination's tasks to read their shares from."""

CombineTask = tuple[str, int, int, int, list[int], Batch, dict[int, Ref], Batch]
"""(district, the batch's first row, width, quorum, the listed guardians, the batch of the
last rows, each listed guardian's valid mix-partial-decryption of the batch, the batch of
the published ballots)."""

Count = tuple[int, dict[str, int], int]
"""A batch's count by the law: (ballots, the votes of each candidate named, void ballots)."""


def _combine_task(task: CombineTask) -> tuple[str | None, Count | None]:
    """One batch of a district's final rows combined from the listed guardians' valid shares
    and decoded (null for a row that does not decode): (the first row whose decoding is not
    the published ballot, as the check words it, or None; the batch's count by the law when
    every row decodes to its published ballot). The task reads the rows, the shares and the
    published ballots from the record, and counts the batch itself
    (`rules.majlis.tally_majlis`, which adds up ballot by ballot): only the count comes back
    (issue 17)."""
    district, start, width, k, listed, rows_batch, entries, ballots_batch = task
    assert _KEY is not None
    group = _KEY.group
    ballots = json.loads(read_batch(ballots_batch))
    # the partial task checked these entries' shapes and proofs; read_ref checks that they
    # are still the lines it checked
    table = {
        g: [
            [item["share"] for item in row]
            for row in _doc_of(read_ref(entries[g]), "mix-partial-decryption")["shares"]
        ]
        for g in listed
    }
    try:
        rows = _rows(group, json.loads(read_batch(rows_batch)), width)
    except ValueError as exc:
        return f"its last shuffle's rows from row {start} are malformed: {exc}", None
    decoded: list[list[str] | None] = []
    for n, row in enumerate(rows):
        elements = []
        for k_, ct in enumerate(row):
            values = {g: wire.element_from_hex(group, table[g][n][k_]) for g in listed}
            elements.append(combine(group, k, ct, values))
        try:
            codes: list[str] | None = decode_codes(group, elements)
        except EncodingError:
            codes = None
        if ballots[n] != codes:
            return f"row {start + n} decrypts to {codes!r}, not {ballots[n]!r}", None
        decoded.append(codes)
    codes_, seats = _COUNTING[district]
    tally = tally_majlis(
        (Ballot(tuple(b) if b is not None else ()) for b in decoded), codes_, seats
    )
    return None, (len(decoded), {c: v for c, v in tally.votes.items() if v}, tally.void)


@contextmanager
def _pool(
    key: ElectionKey[Any],
    tasks: int,
    jobs: int | None,
    cluster: Cluster | None,
    counting: Counting | None = None,
) -> Iterator[Executor | None]:
    """The executor for `tasks` tasks: Ray tasks on `cluster`, else up to `jobs` processes,
    else None (one process or one task: run here, after `_init`)."""
    workers = min(width(cluster, jobs), tasks)
    if cluster is None and workers <= 1:
        _init(key, counting)
        yield None
        return
    with make_pool(cluster, workers, _init, (key, counting)) as pool:
        yield pool


TASKS_A_CALL = 16
"""A process pool's call carries up to this many tasks (`Executor.map`'s chunksize, from 64
tasks a call): the main process's cost is a call's, about 0.15 ms, whatever it carries, and
the mix's national steps have hundreds of thousands of small tasks (heads, partial
decryptions, combinations). Ray's executor sends a task a call."""


def _map(pool: Executor | None, fn: Callable[[Any], Any], tasks: Sequence[Any]) -> list[Any]:
    if pool is None:
        return [fn(t) for t in tasks]
    return list(pool.map(fn, tasks, chunksize=max(1, min(TASKS_A_CALL, len(tasks) // 64))))


def _run(
    key: ElectionKey[Any],
    fn: Callable[[Any], Any],
    tasks: Sequence[Any],
    jobs: int | None,
    cluster: Cluster | None,
    counting: Counting | None = None,
) -> list[Any]:
    """fn over the tasks, in order, on `jobs` processes (1, or one task: in this process), or
    as Ray tasks on `cluster`; `counting` for `_combine_task`."""
    with _pool(key, len(tasks), jobs, cluster, counting) as pool:
        return _map(pool, fn, tasks)


# --- the check ----------------------------------------------------------------------------------


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _input_problem(board: Board, election: Election, district: Any, doc: Doc) -> str | None:
    """What is wrong with a district's mix-input apart from its rows' elements (the rows
    themselves are compared with the cast ballots by the `tally` check)."""
    if doc.get("election") != election.base_hash.hex():
        return "it is for another election"
    if not _int(doc.get("cutoff")) or not _int(doc.get("width")) or doc["width"] < 1:
        return "its cutoff or width is malformed"
    return None


def check_mix(
    board: Board,
    election: Election,
    keys: Keys | None,
    jobs: int | None = None,
    cluster: Cluster | None = None,
    split_rows: int = SPLIT_ROWS,
) -> Check:
    """The `mix` check (module docstring); `split_rows`: `SPLIT_ROWS`."""
    check = Check("mix")
    mixed = mixnet_districts(election.manifest)
    types = ("mix-input", "shuffle", "mix-closed", "mix-partial-decryption", "mix-decryption")
    if not mixed:
        for entry_type in types:
            for index in board.indices(entry_type):
                check.fail(index, f"a {entry_type} entry, but no district is counted by mixnet")
        return check.close()
    if keys is None:
        check.fail(None, "not checked: no usable election key (see ceremony)")
        return check.close()
    _Mix(board, election, keys, mixed, check, jobs, cluster, split_rows).run()
    return check.close()


class _Mix:
    def __init__(
        self,
        board: Board,
        election: Election,
        keys: Keys,
        mixed: list[str],
        check: Check,
        jobs: int | None,
        cluster: Cluster | None = None,
        split_rows: int = SPLIT_ROWS,
    ) -> None:
        self.board, self.election, self.keys = board, election, keys
        self.mixed, self.check, self.jobs = mixed, check, jobs
        self.cluster, self.split_rows = cluster, split_rows
        self.group = election.group
        self.base = election.base_hash.hex()
        self.inputs: dict[str, tuple[int, int]] = {}  # district → (index, width)
        self.chains: dict[str, list[int]] = {d: [] for d in mixed}
        self.last: dict[str, int] = {}  # district → the index of its chain's last entry
        self.digests: dict[int, str] = {}  # a mix-input's or shuffle's index → its SHA-256
        self.heads: dict[int, Head] = {}
        self.batched: dict[str, tuple[int | None, list[Batch]]] = {}
        self.closed: int | None = None
        self.counts: dict[str, tuple[int, Counter[str], int]] = {}
        self.counting: Counting = {
            d.id: (tuple(c.code for c in d.candidates), d.seats)
            for d in election.manifest.districts
            if d.id in mixed
        }

    def run(self) -> None:
        self.check_inputs()
        self.check_chains()
        if not self.check_closed():
            return
        shares = self.check_partials()
        self.check_decryptions(shares)
        self.check_counts()

    def read_heads(self, kind: str) -> list[tuple[int, Head]]:
        """(index, head) of every entry of `kind`, in board order, each read by a task."""
        found = self.board.indices(kind)
        tasks = [(self.board.ref(index), kind) for index in found]
        heads = _run(self.keys.key, _head_task, tasks, self.jobs, self.cluster)
        self.heads.update(zip(found, heads, strict=True))
        return list(zip(found, heads, strict=True))

    def check_inputs(self) -> None:
        tally = self.board.indices("tally")
        found = self.board.of_type("mix-input")

        def problem_of(index: int, doc: Doc) -> str | None:
            if tally and index > tally[0]:
                return "a mix-input after the tally"
            return _input_problem(self.board, self.election, doc.get("district"), doc)

        # the rows' elements of every one that may be a district's input, checked as tasks
        maybe = [
            (i, doc)
            for i, doc in found
            if doc.get("district") in self.mixed and problem_of(i, doc) is None
        ]
        tasks = [(self.board.ref(i), doc["width"]) for i, doc in maybe]
        results = _run(self.keys.key, _input_task, tasks, self.jobs, self.cluster)
        checked = {i: r for (i, _), r in zip(maybe, results, strict=True)}
        for index, doc in found:
            district = doc.get("district")
            if district not in self.mixed:
                self.check.fail(index, f"a mix-input of district {district!r}, not a mixnet one")
            elif district in self.inputs:
                self.check.fail(index, f"a second mix-input of district {district}")
            elif tally and index > tally[0]:
                self.check.fail(index, "a mix-input after the tally")
            else:
                problem = _input_problem(self.board, self.election, district, doc)
                if problem is None:
                    problem, self.digests[index] = checked[index]
                if problem is not None:
                    self.check.fail(index, f"mix-input of {district}: {problem}")
                    continue
                self.inputs[district] = (index, doc["width"])
                self.last[district] = index
        if tally:
            for district in self.mixed:
                if district not in self.inputs:
                    self.check.fail(tally[0], f"no valid mix-input for mixnet district {district}")

    def check_chains(self) -> None:
        mixers = self.election.manifest.mixers()
        closed = self.board.indices("mix-closed")
        seen: dict[str, list[str]] = {d: [] for d in self.mixed}
        tasks: list[tuple[int, ShuffleTask, int]] = []
        for index, head in self.read_heads("shuffle"):
            self.check.items += 1
            doc = head.doc
            district, mixer, position = doc.get("district"), doc.get("mixer"), doc.get("position")
            where = f"shuffle of {district!r} by {mixer!r}"
            if head.problem is not None:
                self.check.fail(index, f"shuffle: {head.problem}")
                continue
            if not isinstance(district, str) or district not in self.inputs:
                self.check.fail(index, f"{where}: no mix-input of a mixnet district to shuffle")
                continue
            problem = None
            previous = self.last[district]
            if doc.get("election") != self.base:
                problem = "it is for another election"
            elif closed and index > closed[0]:
                problem = "it comes after mix-closed"
            elif mixer not in mixers:
                problem = "not a mixer of this election"
            elif mixer in seen[district]:
                problem = "this mixer has already mixed the district"
            elif position != len(self.chains[district]) + 1 or not _int(position):
                problem = (
                    f"position {position!r}, the chain's next is {len(self.chains[district]) + 1}"
                )
            elif doc.get("previous") != self.digests[previous]:
                problem = "its previous hash is not the hash of the chain's last entry"
            if problem is not None:
                self.check.fail(index, f"{where}: {problem}")
                continue
            assert isinstance(mixer, str)
            assert isinstance(position, int)
            seen[district].append(mixer)
            self.chains[district].append(index)
            self.last[district] = index
            self.digests[index] = head.digest
            context = _shuffle_context(
                self.election.base_hash, district, mixer, position, bytes.fromhex(doc["previous"])
            )
            width_ = self.inputs[district][1]
            task = (context, self.board.ref(previous), self.board.ref(index), width_)
            tasks.append((index, task, self.rows_of(district)))
        results = self.check_shuffles([(t, rows) for _, t, rows in tasks])
        for (index, _, _), problem in zip(tasks, results, strict=True):
            if problem is not None:
                self.check.fail(index, f"shuffle: {problem}")

    def check_shuffles(self, tasks: list[tuple[ShuffleTask, int]]) -> list[str | None]:
        """Each shuffle's problem or None, in order, from (task, its rows): the small ones a
        task each (which reads its entries), then each of at least `split_rows` rows by
        chunks of rows over the pool, its entries read here."""
        key = self.keys.key
        wide = width(self.cluster, self.jobs)
        big = [rows >= self.split_rows for _, rows in tasks]
        small = [t for (t, _), b in zip(tasks, big, strict=True) if not b]
        with _pool(key, wide if any(big) else len(small), self.jobs, self.cluster) as pool:
            done = iter(_map(pool, _shuffle_task, small))
            jobs = 1 if pool is None else wide
            return [
                split_problem(key, t, pool, jobs) if b else next(done)
                for (t, _), b in zip(tasks, big, strict=True)
            ]

    def last_batches(self) -> dict[str, tuple[int | None, list[Batch]]]:
        """Per district, its last entry's (input's or shuffle's) rows up to the input's count
        in batches of `BATCH`, and how many it has (`_batches_task`)."""
        tasks = [(self.board.ref(self.last[d]), self.rows_of(d)) for d in self.inputs]
        results = _run(self.keys.key, _batches_task, tasks, self.jobs, self.cluster)
        return dict(zip(self.inputs, results, strict=True))

    def rows_of(self, district: str) -> int:
        doc = self.board.docs[self.inputs[district][0]]
        assert doc is not None
        return len(doc["rows"])

    def check_closed(self) -> bool:
        """Whether mix-closed is there and right (the decryptions are checked only then)."""
        found = self.board.of_type("mix-closed")
        decrypted = self.board.indices("decrypted-tally")
        if not found:
            if decrypted or self.board.indices("mix-partial-decryption"):
                self.check.fail(None, "no mix-closed entry, yet the mix has been decrypted")
            return False
        index, doc = found[0]
        for extra, _ in found[1:]:
            self.check.fail(extra, "a second mix-closed entry")
        self.closed = index
        quorum = self.election.manifest.mix_quorum()
        listed: Any = doc.get("districts")
        ok = doc.get("election") == self.base and isinstance(listed, dict)
        if not ok or set(listed) != set(self.inputs) or set(self.inputs) != set(self.mixed):
            self.check.fail(index, "mix-closed does not name exactly the mixnet districts' chains")
            return False
        for district in self.mixed:
            chain = self.chains[district]
            item = listed[district]
            if not isinstance(item, dict) or item.get("shuffles") != len(chain):
                self.check.fail(index, f"mix-closed: {district} has {len(chain)} valid shuffles")
                return False
            if item.get("last") != self.digests[self.last[district]]:
                self.check.fail(index, f"mix-closed: {district}'s last entry is not its chain's")
                return False
            if self.rows_of(district) and len(chain) < quorum:
                self.check.fail(
                    index,
                    f"mix-closed: {district} has {len(chain)} shuffles, the quorum is {quorum}",
                )
        return True

    def check_partials(self) -> Shares:
        """The valid shares: district → guardian → batch start → shares (hex)."""
        t = self.keys.transcript
        publics = {
            g: wire.element_hex(self.group, public_share(self.group, t, g))
            for g in range(1, t.guardians + 1)
        }
        self.batched = self.last_batches()
        tasks = []
        for index, head in self.read_heads("mix-partial-decryption"):
            self.check.items += 1
            doc = head.doc
            guardian: Any = doc.get("guardian")
            district: Any = doc.get("district")
            start: Any = doc.get("start")
            problem = head.problem
            if problem is not None:
                pass
            elif doc.get("election") != self.base:
                problem = "it is for another election"
            elif self.closed is None or index < self.closed:
                problem = "it comes before mix-closed"
            elif not _int(guardian) or guardian not in publics:
                problem = f"guardian {guardian!r} is not a guardian of this election"
            elif district not in self.inputs:
                problem = f"district {district!r} has no mix"
            elif not _int(start) or start % BATCH or not 0 <= start < self.rows_of(district):
                problem = f"start {start!r} is not the start of a batch"
            if problem is not None:
                self.check.fail(index, f"mix partial decryption: {problem}")
                continue
            assert isinstance(district, str)
            assert isinstance(guardian, int)
            assert isinstance(start, int)
            width_ = self.inputs[district][1]
            task = (
                self.election.base_hash, district, start, publics[guardian],
                self.batched[district][1][start // BATCH], width_, self.board.ref(index),
            )  # fmt: skip
            tasks.append((index, guardian, district, start, task))
        results = _run(
            self.keys.key, _partial_task, [t[-1] for t in tasks], self.jobs, self.cluster
        )
        valid: Shares = {d: {} for d in self.mixed}
        for (index, guardian, district, start, _), problem in zip(tasks, results, strict=True):
            if problem is not None:
                self.check.fail(index, f"mix partial decryption of guardian {guardian}: {problem}")
            else:
                valid[district].setdefault(guardian, {}).setdefault(start, self.board.ref(index))
        return valid

    def check_decryptions(self, valid: Shares) -> None:
        found: dict[str, tuple[int, Head]] = {}
        for index, head in self.read_heads("mix-decryption"):
            district = head.doc.get("district")
            if head.problem is not None:
                self.check.fail(index, f"mix-decryption: {head.problem}")
            elif district not in self.inputs or head.doc.get("election") != self.base:
                self.check.fail(index, f"a mix-decryption of {district!r}, not a mixed district")
            elif district in found:
                self.check.fail(index, f"a second mix-decryption of {district}")
            else:
                found[district] = (index, head)
        decrypted = bool(self.board.indices("decrypted-tally"))
        # First every district's own checks and its batches as tasks, then the tasks on the
        # pool, then the failures in the districts' order, as one district after the other.
        steps: list[tuple[str, int | None, str | None, list[int]]] = []
        tasks: list[CombineTask] = []
        for district in self.mixed:
            if district not in found:
                if decrypted:
                    steps.append((district, None, f"no mix-decryption of district {district}", []))
                continue
            index, head = found[district]
            self.check.items += 1
            problem = self.decryption_problem(district, head, valid[district])
            batches: list[int] = []
            if problem is None:
                mine = self.batches(district, head, valid[district])
                batches = list(range(len(tasks), len(tasks) + len(mine)))
                tasks.extend(mine)
            steps.append((district, index, problem, batches))
        results = _run(self.keys.key, _combine_task, tasks, self.jobs, self.cluster, self.counting)
        for district, where, problem, batches in steps:
            if problem is None:
                ballots, votes, void = 0, Counter[str](), 0
                for b in batches:
                    problem, count = results[b]
                    if problem is not None:
                        break
                    assert count is not None
                    ballots, void = ballots + count[0], void + count[2]
                    votes.update(count[1])
                else:
                    self.counts[district] = (ballots, votes, void)
            if problem is not None and where is None:
                self.check.fail(None, problem)
            elif problem is not None:
                self.check.fail(where, f"mix-decryption of {district}: {problem}")

    def decryption_problem(
        self, district: str, head: Head, valid: dict[int, dict[int, Ref]]
    ) -> str | None:
        """What is wrong with a district's mix-decryption before its rows are combined."""
        k = self.keys.transcript.quorum
        n = self.rows_of(district)
        starts = list(range(0, n, BATCH))
        listed = head.doc.get("guardians")
        if (
            not isinstance(listed, list)
            or len(listed) != k
            or len(set(listed)) != k
            or not all(_int(g) for g in listed)
        ):
            return f"its guardians are not {k} distinct guardians"
        for g in listed:
            if not all(s in valid.get(g, {}) for s in starts):
                return f"guardian {g} does not have a valid partial decryption of every batch"
        if head.lengths.get("ballots") != n:
            return f"it does not hold one ballot for each of the {n} rows"
        return None

    def batches(
        self, district: str, head: Head, valid: dict[int, dict[int, Ref]]
    ) -> list[CombineTask]:
        """The `_combine_task`s of a district whose mix-decryption passed
        `decryption_problem`: one per batch of its last shuffle's rows (at most as many as
        its input's: a shuffle of another length has failed its own check)."""
        count, rows = self.batched[district]
        k = self.keys.transcript.quorum
        width_ = self.inputs[district][1]
        listed: list[int] = head.doc["guardians"]
        ballots = head.ballots or []
        return [
            (district, s, width_, k, listed, rows[s // BATCH],
             {g: valid[g][s] for g in listed}, ballots[s // BATCH])
            for s in range(0, count or 0, BATCH)
        ]  # fmt: skip

    def check_counts(self) -> None:
        found = self.board.of_type("decrypted-tally")
        if not found:
            return
        index, doc = found[0]
        districts = doc.get("districts")
        for district in self.mixed:
            if district not in self.counts:
                continue
            # the law's count of the district's decoded ballots, batch by batch (each
            # `_combine_task` counted its own): the count adds up ballot by ballot
            ballots, votes, void = self.counts[district]
            codes, _ = self.counting[district]
            expected = {
                "ballots": ballots,
                "blank": void,
                "votes": {c: votes.get(c, 0) for c in codes},
            }
            got = districts.get(district) if isinstance(districts, dict) else None
            if got != expected:
                self.check.fail(
                    index,
                    f"decrypted tally of {district} is not the law's count of its decoded ballots",
                )
