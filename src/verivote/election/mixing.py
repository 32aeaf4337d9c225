"""The mix path of written ballots: shuffles by the factions' mix servers, threshold decryption
of the last mix, decoding and count by the law (issue 16, items 2 and 3; DESIGN.md,
"Cryptography").

A district counted by `mixnet` gets, from the tally, a `mix-input` entry: the rows (one per
cast ballot, w ciphertexts each) in board order. Then, per district, a chain of shuffles

    shuffle   {"type": "shuffle", "election": base hash, "district": id, "mixer": faction,
               "position": p, "previous": SHA-256 hex of the entry before (mix-input for
               p = 1, else shuffle p − 1), "rows": rows JSON, "proof": shuffle proof}

each proved (`verivote.crypto.shuffle`) under the context H("mix/shuffle", base hash,
district, mixer, p, previous) (`verivote.crypto.rows.shuffle_context`). The server accepts a
shuffle only from a mixer of the manifest that has not yet mixed this district, at the next
position, on the chain's last entry, with rows of the input's shape and a proof that
verifies; the check and the append hold the election's lock, so two mixers racing for
position p cannot both get it. Once every mixnet district has a quorum of shuffles (or no
rows), the authority publishes once

    mix-closed  {"type": "mix-closed", "election": base hash,
                 "districts": {id: {"shuffles": p, "last": SHA-256 hex of the last entry}}}

after which nothing but decryptions is accepted. Each guardian decrypts the last rows in
batches of `BATCH` rows, with a Chaum–Pedersen proof per ciphertext (context: base hash,
"decryption", district, "mix/<row>/<k>"):

    mix-partial-decryption  {"type": "mix-partial-decryption", "election": base hash,
                             "guardian": i, "district": id, "start": s,
                             "shares": [[{"share": element, "proof": {...}} × w] × batch]}

and the authority's combine (any k guardians with every batch valid, by Lagrange
coefficients, `verivote.crypto.threshold`) gives each row's elements, decoded into the codes
as written (`verivote.crypto.encoding.decode_codes`; a row that does not decode is null):

    mix-decryption  {"type": "mix-decryption", "election": base hash, "district": id,
                     "guardians": [indices used], "ballots": [[codes] or null × N]}

and the counts `tally_majlis` gives over them (Majlis law: strangers ignored, repeats once,
excess names truncated to the first S; a null row or a row with no candidate is void) go into
the `decrypted-tally` entry as {"ballots": N, "blank": void, "votes": {code: n}}, the same form
as a homomorphic district's, so the count, runoff and lots run unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import select

from verivote.cluster import Cluster
from verivote.crypto import wire
from verivote.crypto.ceremony import KeyShare, public_share
from verivote.crypto.elgamal import ElectionKey
from verivote.crypto.encoding import EncodingError, decode_codes
from verivote.crypto.group import Group, InvalidElement
from verivote.crypto.groups import get_group
from verivote.crypto.proofs import verify_decryption
from verivote.crypto.rows import Row, entry_hash, rows_from_json, rows_to_json, shuffle_context
from verivote.crypto.shuffle import (
    NonceSource,
    check_shuffle,
    prove_shuffle,
    shuffle,
    shuffle_proof_from_json,
    shuffle_proof_to_json,
)
from verivote.crypto.threshold import QuorumError
from verivote.crypto.threshold import combine as lagrange_combine
from verivote.election.decryption import check_share, decryption_context, share_json
from verivote.election.guardians import Refused
from verivote.election.mix_workers import HERE, MixWorkers, mix_workers
from verivote.election.service import ElectionContext, ElectionError
from verivote.model.ballots import Ballot
from verivote.model.canonical import canonical_json
from verivote.model.manifest import Manifest
from verivote.rules.majlis import tally_majlis
from verivote.store import Store
from verivote.store.schema import board_entries
from verivote.store.txn import NATIONAL, append, lock_log

MIX_INPUT_TYPE = "mix-input"
SHUFFLE_TYPE = "shuffle"
MIX_CLOSED_TYPE = "mix-closed"
MIX_PARTIAL_TYPE = "mix-partial-decryption"
MIX_DECRYPTION_TYPE = "mix-decryption"
BATCH = 500
"""Rows per mix-partial-decryption entry."""


class MixError(ValueError):
    """A mix entry that is not what the chain needs; the message says why."""


# --- the manifest's mix settings ----------------------------------------------------------------


def mixnet_districts(manifest: Manifest) -> list[str]:
    """The ids of the districts counted by the mix path, in manifest order."""
    return [d.id for d in manifest.mixnet_districts()]


# --- shuffles (pure) ----------------------------------------------------------------------------


def _doc(entry: bytes) -> dict[str, Any]:
    doc = json.loads(entry)
    if not isinstance(doc, dict):
        raise MixError("a board entry is not a JSON object")
    return doc


def entry_rows(group: Group[Any], entry: bytes) -> list[Row[Any]]:
    """The rows a mix-input or shuffle entry holds (MixError if they are malformed)."""
    doc = _doc(entry)
    try:
        if doc.get("type") == MIX_INPUT_TYPE:
            width = doc.get("width")
            if isinstance(width, bool) or not isinstance(width, int) or width < 1:
                raise MixError(f"the mix-input's width {width!r} is not a positive integer")
            return rows_from_json(group, doc.get("rows"), width)
        rows = doc.get("rows")
        width = len(rows[0]) if isinstance(rows, list) and rows and isinstance(rows[0], list) else 1
        return rows_from_json(group, rows, width)
    except MixError:
        raise
    except ValueError as exc:
        raise MixError(f"the entry's rows are malformed: {exc}") from None


def next_position(previous_entry: bytes) -> int:
    """The position of the shuffle that follows `previous_entry` (a mix-input: 1)."""
    doc = _doc(previous_entry)
    if doc.get("type") == MIX_INPUT_TYPE:
        return 1
    position = doc.get("position")
    if (
        doc.get("type") != SHUFFLE_TYPE
        or isinstance(position, bool)
        or not isinstance(position, int)
    ):
        raise MixError("the previous entry is neither a mix-input nor a shuffle")
    return position + 1


def make_shuffle_entry(
    ek: ElectionKey[Any],
    base_hash: bytes,
    district: str,
    mixer: str,
    position: int,
    previous_entry: bytes,
    rows: Sequence[Row[Any]],
    rng: NonceSource | None = None,
    workers: MixWorkers = HERE,
) -> dict[str, Any]:
    """Mixer `mixer`'s shuffle of `rows` (the rows of `previous_entry`) with its proof, as
    the board entry of position `position` (module docstring), computed on `workers`."""
    previous = entry_hash(previous_entry)
    context = shuffle_context(base_hash, district, mixer, position, bytes.fromhex(previous))
    jobs, executor = workers.jobs, workers.executor
    outputs, witness = shuffle(ek, rows, rng, jobs=jobs, executor=executor)
    proof = prove_shuffle(ek, context, rows, outputs, witness, rng, jobs=jobs, executor=executor)
    return {
        "type": SHUFFLE_TYPE,
        "election": base_hash.hex(),
        "district": district,
        "mixer": mixer,
        "position": position,
        "previous": previous,
        "rows": rows_to_json(ek.group, outputs),
        "proof": shuffle_proof_to_json(ek.group, proof),
    }


def check_shuffle_entry(
    ek: ElectionKey[Any],
    base_hash: bytes,
    doc: Mapping[str, Any],
    previous_entry: bytes,
    input_rows: Sequence[Row[Any]],
    manifest: Manifest,
    workers: MixWorkers = HERE,
) -> list[Row[Any]]:
    """The output rows of shuffle entry `doc`, once it is the next link after `previous_entry`
    (whose rows are `input_rows`): of this election, a mixnet district, a mixer of the
    manifest, the next position, the previous entry's hash, rows of the input's shape, and a
    proof that verifies (checked on `workers`). Raises MixError saying what is wrong. That the
    mixer has not mixed this district before is the chain's to check."""
    if doc.get("type") != SHUFFLE_TYPE:
        raise MixError("it is not a shuffle entry")
    if doc.get("election") != base_hash.hex():
        raise MixError("it is for another election")
    district, mixer, position = doc.get("district"), doc.get("mixer"), doc.get("position")
    if not isinstance(district, str) or district not in mixnet_districts(manifest):
        raise MixError(f"district {district!r} is not a mixnet district of the manifest")
    if _doc(previous_entry).get("district") != district:
        raise MixError("the previous entry is of another district")
    if not isinstance(mixer, str) or mixer not in manifest.mixers():
        raise MixError(f"{mixer!r} is not a mixer of this election")
    expected = next_position(previous_entry)
    if position != expected or isinstance(position, bool):
        raise MixError(f"its position is {position!r}, the chain's next is {expected}")
    previous = doc.get("previous")
    if previous != entry_hash(previous_entry):
        raise MixError("its previous hash is not the hash of the chain's last entry")
    if not input_rows:
        raise MixError("there are no rows to shuffle")
    try:
        outputs = rows_from_json(ek.group, doc.get("rows"), len(input_rows[0]))
    except ValueError as exc:
        raise MixError(f"its rows are malformed: {exc}") from None
    if len(outputs) != len(input_rows):
        raise MixError(f"it has {len(outputs)} rows; its input has {len(input_rows)}")
    try:
        proof = shuffle_proof_from_json(ek.group, doc.get("proof"))  # type: ignore[arg-type]
    except (ValueError, KeyError, TypeError) as exc:
        raise MixError(f"its proof is malformed: {exc}") from None
    context = shuffle_context(base_hash, district, mixer, expected, bytes.fromhex(previous))
    if not check_shuffle(
        ek, context, input_rows, outputs, proof, jobs=workers.jobs, executor=workers.executor
    ):
        raise MixError("its shuffle proof does not verify")
    return outputs


# --- decryption (pure) --------------------------------------------------------------------------


def mix_label(row: int, k: int) -> str:
    """The label of ciphertext k of (absolute) row `row` in its decryption proof's context."""
    return f"mix/{row}/{k}"


def mix_partial_entry(
    group: Group[Any],
    base_hash: bytes,
    share: KeyShare,
    public: Any,
    district: str,
    start: int,
    rows: Sequence[Row[Any]],
) -> dict[str, Any]:
    """Guardian `share.guardian`'s mix-partial-decryption entry of `rows`, the rows
    start, start + 1, … of `district`'s last mix."""
    shares = []
    for n, row in enumerate(rows):
        shares.append(
            [
                share_json(
                    group,
                    share,
                    public,
                    ct,
                    decryption_context(base_hash, district, mix_label(start + n, k)),
                )
                for k, ct in enumerate(row)
            ]
        )
    return {
        "type": MIX_PARTIAL_TYPE,
        "election": base_hash.hex(),
        "guardian": share.guardian,
        "district": district,
        "start": start,
        "shares": shares,
    }


def check_mix_partial(
    group: Group[Any],
    base_hash: bytes,
    public: Any,
    doc: Mapping[str, Any],
    rows: Sequence[Row[Any]],
) -> list[list[Any]]:
    """The shares of mix-partial-decryption entry `doc`, whose rows (from its "start" on) are
    `rows`, once every proof verifies against the guardian's `public` share. MixError
    otherwise. The caller has checked the guardian, district and start."""
    if doc.get("election") != base_hash.hex():
        raise MixError("it is for another election")
    district, start = doc.get("district"), doc.get("start")
    if not isinstance(district, str) or isinstance(start, bool) or not isinstance(start, int):
        raise MixError("its district or start is malformed")
    shares = doc.get("shares")
    if not isinstance(shares, list) or len(shares) != len(rows):
        raise MixError(f"it does not hold exactly one list of shares for each of {len(rows)} rows")
    out: list[list[Any]] = []
    for n, (row, row_shares) in enumerate(zip(rows, shares, strict=True)):
        if not isinstance(row_shares, list) or len(row_shares) != len(row):
            raise MixError(f"row {start + n} does not have one share per ciphertext")
        values = []
        for k, (ct, item) in enumerate(zip(row, row_shares, strict=True)):
            try:
                value = wire.element_from_hex(group, item["share"])
                proof = wire.decryption_proof_from_json(group, item["proof"])
            except (InvalidElement, KeyError, TypeError, ValueError):
                raise MixError(
                    f"the share of row {start + n}, ciphertext {k} is malformed"
                ) from None
            context = decryption_context(base_hash, district, mix_label(start + n, k))
            if not verify_decryption(group, public, ct.alpha, value, proof, context):
                raise MixError(
                    f"the proof of the share of row {start + n}, ciphertext {k} does not verify"
                )
            values.append(value)
        out.append(values)
    return out


def combine_rows(
    group: Group[Any],
    quorum: int,
    rows: Sequence[Row[Any]],
    shares: Mapping[int, Sequence[Sequence[Any]]],
) -> list[list[Any]]:
    """Each row's plaintext elements from `quorum` guardians' checked shares (guardian →
    shares per row per ciphertext), by Lagrange coefficients."""
    chosen = sorted(shares)[:quorum]
    if len(chosen) < quorum:
        raise QuorumError(f"{len(chosen)} guardian(s) decrypted, the quorum is {quorum}")
    return [
        [
            lagrange_combine(group, quorum, ct, {g: shares[g][i][k] for g in chosen})
            for k, ct in enumerate(row)
        ]
        for i, row in enumerate(rows)
    ]


def decode_rows(group: Group[Any], plaintexts: Sequence[Sequence[Any]]) -> list[list[str] | None]:
    """The codes written on each row, None for a row that is no encoded ballot (void)."""
    out: list[list[str] | None] = []
    for elements in plaintexts:
        try:
            out.append(decode_codes(group, elements))
        except EncodingError:
            out.append(None)
    return out


def count_ballots(
    ballots: Sequence[Sequence[str] | None], candidates: Sequence[str], seats: int
) -> dict[str, Any]:
    """A mixnet district's entry of the decrypted tally: {"ballots": N, "blank": void,
    "votes": {code: n}} by the Majlis law (`rules.majlis.tally_majlis`); a null row is void."""
    tally = tally_majlis(
        (Ballot(tuple(b) if b is not None else ()) for b in ballots), candidates, seats
    )
    return {
        "ballots": len(ballots),
        "blank": tally.void,
        "votes": {c: tally.votes.get(c, 0) for c in candidates},
    }


# --- the board's state of the mix ---------------------------------------------------------------


@dataclass
class DistrictMix:
    """One district's chain as the board holds it: its mix-input and its shuffles in order,
    by board index; an entry's bytes are read from the store when asked (`read`), since a
    national district's entries hold millions of rows."""

    district: str
    input_index: int
    rows: int
    width: int
    read: Callable[[int], bytes]
    shuffles: list[int] = field(default_factory=list)
    mixers: list[str] = field(default_factory=list)

    @property
    def last_index(self) -> int:
        return self.shuffles[-1] if self.shuffles else self.input_index

    @property
    def input_entry(self) -> bytes:
        return self.read(self.input_index)

    @property
    def last_entry(self) -> bytes:
        return self.read(self.last_index)

    def chain_entries(self) -> list[bytes]:
        """The mix-input and every shuffle's entry, in order."""
        return [self.read(i) for i in (self.input_index, *self.shuffles)]


@dataclass
class MixState:
    """Every mixnet district's chain and the mix-closed entry, if published."""

    districts: dict[str, DistrictMix]
    closed: dict[str, Any] | None
    closed_index: int | None


@dataclass(frozen=True)
class _Head:
    """What `mix_state` needs of a mix-input or shuffle entry: its district, election, mixer
    (a shuffle's) and number of rows (a mix-input's)."""

    district: Any
    election: Any
    mixer: str
    rows: int
    width: int


_HEADS: WeakKeyDictionary[Store, dict[tuple[str, str, int, int], _Head]] = WeakKeyDictionary()
"""Per store, the heads of the entries `mix_state` has parsed, by (election, type, index,
length). A board entry never changes once appended, so each is parsed once per process:
otherwise every shuffle accepted, and every district a mixer shuffles, parsed the whole mix
again (quadratic in the districts times the ballots: hours at a hundredth of the 2024 shape)."""


def _head(raw: bytes) -> _Head:
    doc = json.loads(raw)
    if not isinstance(doc, dict):
        return _Head(None, None, "", 0, 0)
    rows = doc.get("rows")
    width = doc.get("width", 0)
    return _Head(
        doc.get("district"), doc.get("election"), str(doc.get("mixer")),
        len(rows) if isinstance(rows, list) else 0, width if isinstance(width, int) else 0,
    )  # fmt: skip


def _heads(store: Store, election_id: str, entry_type: str) -> list[tuple[int, _Head]]:
    """(index, head) of every entry of `entry_type` of the election's national log, parsing
    only those this process has not parsed before."""
    known = _HEADS.setdefault(store, {})
    found = []
    for index, size in store.sizes_of_type(election_id, entry_type):
        key = (election_id, entry_type, index, size)
        head = known.get(key)
        if head is None:
            head = known[key] = _head(store.entry(election_id, index))
        found.append((index, head))
    return found


def mix_state(store: Store, ctx: ElectionContext) -> MixState:
    """The mix as the board holds it (only entries of this election; the server appended only
    valid shuffles, so they are taken in board order)."""
    election = ctx.base_hash.hex()
    districts: dict[str, DistrictMix] = {}

    def read(index: int) -> bytes:
        return store.entry(ctx.election_id, index)

    for index, head in _heads(store, ctx.election_id, MIX_INPUT_TYPE):
        district = head.district
        if head.election != election or not isinstance(district, str):
            continue
        if district not in districts:
            districts[district] = DistrictMix(district, index, head.rows, head.width, read)
    for index, head in _heads(store, ctx.election_id, SHUFFLE_TYPE):
        found = districts.get(head.district) if isinstance(head.district, str) else None
        if found is not None and head.election == election:
            found.shuffles.append(index)
            found.mixers.append(head.mixer)
    closed = store.entries_of_type(ctx.election_id, MIX_CLOSED_TYPE)
    if closed:
        return MixState(districts, json.loads(closed[0][1]), closed[0][0])
    return MixState(districts, None, None)


def _append_guarded(
    store: Store,
    ctx: ElectionContext,
    entry: bytes,
    entry_type: str,
    after: int,
    guard: Callable[[list[tuple[str, bytes]]], None],
) -> int:
    """Append `entry` under the election's lock, once `guard` has seen every shuffle,
    mix-closed and mix-decryption entry appended after index `after` (as (type, entry)) and
    not raised: what was checked before the lock still holds when the entry goes on."""
    with store.engine.begin() as conn:
        lock_log(conn, ctx.election_id)  # the national log's lock: every append to it waits
        newer = conn.execute(
            select(board_entries.c.entry_type, board_entries.c.entry)
            .where(
                board_entries.c.election_id == ctx.election_id,
                board_entries.c.log == NATIONAL,
                board_entries.c.idx > after,
                board_entries.c.entry_type.in_(
                    [SHUFFLE_TYPE, MIX_CLOSED_TYPE, MIX_DECRYPTION_TYPE]
                ),
            )
            .order_by(board_entries.c.idx)
        ).all()
        guard([(str(row.entry_type), bytes(row.entry)) for row in newer])
        return append(conn, ctx.election_id, entry, entry_type)


def _key(ctx: ElectionContext) -> ElectionKey[Any]:
    if ctx.key is None:
        raise ElectionError("the key ceremony has not been held yet (run election ceremony)")
    return ctx.key


SHUFFLE_FIELDS = frozenset(
    {"type", "election", "district", "mixer", "position", "previous", "rows", "proof"}
)


def accept_shuffle(store: Store, ctx: ElectionContext, mixer: str, doc: Any) -> int:
    """Put mixer `mixer`'s shuffle entry `doc` on the board, after every check of the module
    docstring; returns its board index. Refused (with the HTTP status to answer) otherwise."""
    key = _key(ctx)
    if not isinstance(doc, dict) or set(doc) != SHUFFLE_FIELDS:
        raise Refused(400, f"a shuffle entry has exactly the fields {sorted(SHUFFLE_FIELDS)}")
    if mixer not in ctx.manifest.mixers():
        raise Refused(403, f"{mixer!r} is not a mixer of this election")
    if doc.get("mixer") != mixer:
        raise Refused(403, f"the shuffle names mixer {doc.get('mixer')!r}, not {mixer!r}")
    state = mix_state(store, ctx)
    if state.closed is not None:
        raise Refused(409, "the mix is closed: no more shuffles are accepted")
    district = doc.get("district")
    chain = state.districts.get(district) if isinstance(district, str) else None
    if chain is None:
        raise Refused(
            404, f"district {district!r} has no mix-input (not a mixnet district, or no tally yet)"
        )
    if mixer in chain.mixers:
        raise Refused(409, f"mixer {mixer} has already mixed district {district}")
    if chain.rows == 0:
        raise Refused(409, f"district {district} has no ballots to mix")
    expected = len(chain.shuffles) + 1
    if doc.get("position") != expected:
        raise Refused(
            409, f"position {doc.get('position')!r}: the next shuffle of {district} is {expected}"
        )
    try:
        last = chain.last_entry
        rows = entry_rows(key.group, last)
        check_shuffle_entry(key, ctx.base_hash, doc, last, rows, ctx.manifest)
    except MixError as exc:
        raise Refused(422, f"shuffle refused: {exc}") from None

    def guard(newer: list[tuple[str, bytes]]) -> None:
        for entry_type, raw in newer:
            if entry_type == MIX_CLOSED_TYPE:
                raise Refused(409, "the mix is closed: no more shuffles are accepted")
            if entry_type == SHUFFLE_TYPE and json.loads(raw).get("district") == district:
                raise Refused(409, f"another shuffle took position {expected} of {district} first")

    return _append_guarded(store, ctx, canonical_json(doc), SHUFFLE_TYPE, chain.last_index, guard)


def mix_as(
    store: Store, ctx: ElectionContext, mixer: str, rng: NonceSource | None = None
) -> list[int]:
    """Mixer `mixer`, in this process: shuffle every district it has not mixed yet (with rows),
    each on the chain's last entry; returns the board indices of its shuffles."""
    key = _key(ctx)
    done: list[int] = []
    for district in mixnet_districts(ctx.manifest):
        state = mix_state(store, ctx)
        chain = state.districts.get(district)
        if state.closed is not None or chain is None or chain.rows == 0:
            continue
        if mixer in chain.mixers:
            continue
        last = chain.last_entry
        rows = entry_rows(key.group, last)
        doc = make_shuffle_entry(
            key, ctx.base_hash, district, mixer, len(chain.shuffles) + 1, last, rows, rng,
        )  # fmt: skip
        done.append(accept_shuffle(store, ctx, mixer, doc))
    return done


def _missing_inputs(ctx: ElectionContext, state: MixState) -> list[str]:
    return [d for d in mixnet_districts(ctx.manifest) if d not in state.districts]


def close_mix(store: Store, ctx: ElectionContext) -> dict[str, Any]:
    """Publish mix-closed once every mixnet district has at least the quorum of shuffles (by
    distinct mixers: the server takes one per mixer) or no rows; the entry already published
    is returned as it is. ElectionError naming what is missing otherwise."""
    state = mix_state(store, ctx)
    if state.closed is not None:
        return state.closed
    missing = _missing_inputs(ctx, state)
    if missing:
        raise ElectionError(
            f"no mix-input for district(s) {', '.join(missing)}: run verivote tally first"
        )
    quorum = ctx.manifest.mix_quorum()
    mixers = ctx.manifest.mixers()
    short = []
    for district, chain in state.districts.items():
        if chain.rows and len(chain.shuffles) < quorum:
            waiting = [m for m in mixers if m not in chain.mixers]
            short.append(
                f"{district} has {len(chain.shuffles)} of {quorum} shuffles "
                f"(not yet mixed by: {', '.join(waiting) or 'nobody'})"
            )
    if short:
        raise ElectionError("the mix cannot be closed: " + "; ".join(short))
    doc = {
        "type": MIX_CLOSED_TYPE,
        "election": ctx.base_hash.hex(),
        "districts": {
            d: {"shuffles": len(c.shuffles), "last": entry_hash(c.last_entry)}
            for d, c in state.districts.items()
        },
    }
    after = max((c.last_index for c in state.districts.values()), default=0)

    def guard(newer: list[tuple[str, bytes]]) -> None:
        for entry_type, _ in newer:
            if entry_type in (SHUFFLE_TYPE, MIX_CLOSED_TYPE):
                raise _Raced()

    try:
        _append_guarded(store, ctx, canonical_json(doc), MIX_CLOSED_TYPE, after, guard)
    except _Raced:
        return close_mix(store, ctx)  # a shuffle or another close came first: read again
    return doc


class _Raced(Exception):
    pass


def _require_closed(state: MixState) -> dict[str, Any]:
    if state.closed is None:
        raise ElectionError("the mix is not closed yet (run verivote mix close)")
    return state.closed


def final_rows(store: Store, ctx: ElectionContext) -> dict[str, list[Row[Any]]]:
    """Each mixnet district's rows to decrypt: those of the entry mix-closed names last."""
    key = _key(ctx)
    state = mix_state(store, ctx)
    closed = _require_closed(state)
    out: dict[str, list[Row[Any]]] = {}
    for district, chain in state.districts.items():
        named = closed.get("districts", {}).get(district, {}).get("last")
        last = next((raw for raw in chain.chain_entries() if entry_hash(raw) == named), None)
        if last is None:
            raise ElectionError(f"mix-closed names no entry of district {district}'s chain")
        out[district] = entry_rows(key.group, last)
    return out


def _mix_partials(store: Store, ctx: ElectionContext) -> list[tuple[int, dict[str, Any]]]:
    election = ctx.base_hash.hex()
    found = []
    for idx, raw in store.entries_of_type(ctx.election_id, MIX_PARTIAL_TYPE):
        doc = json.loads(raw)
        if isinstance(doc, dict) and doc.get("election") == election:
            found.append((idx, doc))
    return found


def decrypt_mix_as_guardian(
    store: Store,
    ctx: ElectionContext,
    share: KeyShare,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Publish guardian `share.guardian`'s partial decryptions of every mixnet district's final
    rows, one entry per batch of `BATCH` rows, skipping the batches it has already published
    (so an interrupted guardian resumes); returns how many entries it published now.
    `progress(done, total)` counts rows."""
    if ctx.transcript is None:
        raise ElectionError("the key ceremony has not been held yet (run election ceremony)")
    public = check_share(ctx, ctx.transcript, share)
    group = get_group(ctx.transcript.group)
    rows = final_rows(store, ctx)
    published = {
        (doc.get("district"), doc.get("start"))
        for _, doc in _mix_partials(store, ctx)
        if doc.get("guardian") == share.guardian
    }
    total = sum(len(r) for r in rows.values())
    done = 0
    report = progress or (lambda _done, _total: None)
    report(done, total)
    count = 0
    for district, district_rows in rows.items():
        for start in range(0, len(district_rows), BATCH):
            batch = district_rows[start : start + BATCH]
            if (district, start) not in published:
                entry = mix_partial_entry(
                    group, ctx.base_hash, share, public, district, start, batch
                )
                store.append_entry(ctx.election_id, canonical_json(entry), MIX_PARTIAL_TYPE)
                count += 1
            done += len(batch)
            report(done, total)
    return count


PARTIAL_FIELDS = frozenset({"type", "election", "guardian", "district", "start", "shares"})


def accept_mix_partial(store: Store, ctx: ElectionContext, guardian: int, doc: Any) -> int:
    """Put guardian `guardian`'s mix-partial-decryption entry `doc` on the board once it is
    a batch of the final rows and every proof verifies; returns its board index."""
    if ctx.transcript is None:
        raise Refused(409, "the key ceremony has not been held yet")
    if not isinstance(doc, dict) or set(doc) != PARTIAL_FIELDS:
        raise Refused(
            400, f"a mix partial decryption has exactly the fields {sorted(PARTIAL_FIELDS)}"
        )
    if doc.get("type") != MIX_PARTIAL_TYPE:
        raise Refused(400, f"the entry's type is not {MIX_PARTIAL_TYPE}")
    if doc.get("guardian") != guardian or isinstance(doc.get("guardian"), bool):
        raise Refused(403, f"the entry names guardian {doc.get('guardian')!r}, not {guardian}")
    if not 1 <= guardian <= ctx.transcript.guardians:
        raise Refused(403, f"{guardian} is not a guardian of this election")
    try:
        rows = final_rows(store, ctx)
    except ElectionError as exc:
        raise Refused(409, str(exc)) from None
    district, start = doc.get("district"), doc.get("start")
    if not isinstance(district, str) or district not in rows:
        raise Refused(404, f"district {district!r} has no mix to decrypt")
    n = len(rows[district])
    if isinstance(start, bool) or not isinstance(start, int) or start % BATCH or not 0 <= start < n:
        raise Refused(422, f"start {start!r} is not the start of a batch of {BATCH} of {n} rows")
    if any(
        d.get("guardian") == guardian and d.get("district") == district and d.get("start") == start
        for _, d in _mix_partials(store, ctx)
    ):
        raise Refused(409, f"guardian {guardian} has already decrypted rows {start}… of {district}")
    group = get_group(ctx.transcript.group)
    public = public_share(group, ctx.transcript, guardian)
    try:
        check_mix_partial(group, ctx.base_hash, public, doc, rows[district][start : start + BATCH])
    except MixError as exc:
        raise Refused(422, f"mix partial decryption refused: {exc}") from None
    return store.append_entry(ctx.election_id, canonical_json(doc), MIX_PARTIAL_TYPE)


def _numbers(indices: Sequence[int]) -> str:
    return ", ".join(str(i) for i in indices) or "none"


def _valid_shares(
    group: Group[Any],
    base_hash: bytes,
    public: Any,
    doc: Mapping[str, Any],
    rows: Sequence[Row[Any]],
) -> list[list[Any]] | None:
    """`check_mix_partial`'s shares, or None for a partial it refuses (a task's result)."""
    try:
        return check_mix_partial(group, base_hash, public, doc, rows)
    except MixError:
        return None


def _decrypt_district(
    group: Group[Any],
    ctx: ElectionContext,
    district: str,
    rows: Sequence[Row[Any]],
    partials: Sequence[tuple[int, Mapping[str, Any]]],
    workers: MixWorkers = HERE,
) -> dict[str, Any]:
    """The mix-decryption entry of one district from the valid partials of k guardians that
    cover every batch. QuorumError naming who is present and missing otherwise. The partials'
    proofs are checked on `workers` (every candidate partial at once; which ones are used is
    then decided in board order, as one by one)."""
    assert ctx.transcript is not None
    t = ctx.transcript
    starts = list(range(0, len(rows), BATCH))
    candidates: list[tuple[int, int, Mapping[str, Any]]] = []
    publics: dict[int, Any] = {}
    for _, doc in partials:
        guardian, start = doc.get("guardian"), doc.get("start")
        if (
            doc.get("district") != district
            or not isinstance(guardian, int)
            or isinstance(guardian, bool)
        ):
            continue
        if not 1 <= guardian <= t.guardians or start not in starts:
            continue
        assert isinstance(start, int)
        if guardian not in publics:
            publics[guardian] = public_share(group, t, guardian)
        candidates.append((guardian, start, doc))
    calls = [
        (group, ctx.base_hash, publics[g], doc, rows[start : start + BATCH])
        for g, start, doc in candidates
    ]
    if workers.executor is None:
        checked = [_valid_shares(*call) for call in calls]
    else:
        checked = list(workers.executor.map(_valid_shares, *zip(*calls, strict=True)))
    valid: dict[int, dict[int, list[list[Any]]]] = {}
    for (guardian, start, _), shares in zip(candidates, checked, strict=True):
        if start in valid.get(guardian, {}) or shares is None:
            continue
        valid.setdefault(guardian, {})[start] = shares
    complete = sorted(g for g, got in valid.items() if all(s in got for s in starts))
    if len(complete) < t.quorum:
        everyone = list(range(1, t.guardians + 1))
        raise QuorumError(
            f"decrypting the mix of district {district} needs {t.quorum} guardians with every "
            f"batch; complete: {_numbers(complete)}; "
            f"missing: {_numbers([g for g in everyone if g not in complete])}"
        )
    chosen = complete[: t.quorum]
    joined = {g: [row for s in starts for row in valid[g][s]] for g in chosen}
    plaintexts = combine_rows(group, t.quorum, rows, joined)
    return {
        "type": MIX_DECRYPTION_TYPE,
        "election": ctx.base_hash.hex(),
        "district": district,
        "guardians": chosen,
        "ballots": decode_rows(group, plaintexts),
    }


def find_mix_decryptions(store: Store, ctx: ElectionContext) -> dict[str, dict[str, Any]]:
    """The published mix-decryption entries, by district (the first of each)."""
    election = ctx.base_hash.hex()
    out: dict[str, dict[str, Any]] = {}
    for _, raw in store.entries_of_type(ctx.election_id, MIX_DECRYPTION_TYPE):
        doc = json.loads(raw)
        if doc.get("election") == election and isinstance(doc.get("district"), str):
            out.setdefault(doc["district"], doc)
    return out


def combine_mix(
    store: Store, ctx: ElectionContext, cluster: Cluster | None = None
) -> dict[str, dict[str, Any]]:
    """Decrypt and decode every mixnet district's final rows (publishing its mix-decryption
    entry once) and return the districts' entries of the decrypted tally. Nothing to do (an
    empty dict) for an election without mixnet districts. `cluster`: the guardians' partial
    decryptions are checked as Ray tasks there, one per batch."""
    if not mixnet_districts(ctx.manifest):
        return {}
    if ctx.transcript is None:
        raise ElectionError("the key ceremony has not been held yet (run election ceremony)")
    group = get_group(ctx.transcript.group)
    published = find_mix_decryptions(store, ctx)
    rows: dict[str, list[Row[Any]]] | None = None
    partials = None
    out: dict[str, dict[str, Any]] = {}
    for district in mixnet_districts(ctx.manifest):
        doc = published.get(district)
        if doc is None:
            if rows is None:
                rows = final_rows(store, ctx)
                partials = _mix_partials(store, ctx)
            assert partials is not None
            if district not in rows:
                raise ElectionError(f"district {district} has no mix-input (run verivote tally)")
            with mix_workers(cluster, ctx.key) as workers:
                doc = _decrypt_district(group, ctx, district, rows[district], partials, workers)
            doc = _publish_decryption(store, ctx, doc)
        d = ctx.manifest.district(district)
        out[district] = count_ballots(doc["ballots"], [c.code for c in d.candidates], d.seats)
    return out


def _publish_decryption(store: Store, ctx: ElectionContext, doc: dict[str, Any]) -> dict[str, Any]:
    """Append a district's mix-decryption entry unless one is already on the board (then that
    one is returned): two combines at once publish one."""
    district = doc["district"]
    entry = canonical_json(doc)

    def guard(newer: list[tuple[str, bytes]]) -> None:
        for entry_type, raw in newer:
            if entry_type == MIX_DECRYPTION_TYPE and json.loads(raw).get("district") == district:
                raise _Raced()

    existing = find_mix_decryptions(store, ctx).get(district)
    if existing is not None:
        return existing
    try:
        _append_guarded(store, ctx, entry, MIX_DECRYPTION_TYPE, -1, guard)
    except _Raced:
        return find_mix_decryptions(store, ctx)[district]
    return doc


def mix_status(store: Store, ctx: ElectionContext) -> dict[str, Any]:
    """Where the mix stands, for `verivote mix status`: per mixnet district its rows (None
    before the tally), who has mixed it and who not yet, each guardian's decrypted batches,
    and whether its mix-decryption is published."""
    state = mix_state(store, ctx)
    mixers = ctx.manifest.mixers()
    batches: dict[str, dict[int, int]] = {}
    for _, doc in _mix_partials(store, ctx):
        district, guardian = doc.get("district"), doc.get("guardian")
        if isinstance(district, str) and isinstance(guardian, int):
            per = batches.setdefault(district, {})
            per[guardian] = per.get(guardian, 0) + 1
    decrypted = find_mix_decryptions(store, ctx)
    districts: dict[str, Any] = {}
    for district in mixnet_districts(ctx.manifest):
        chain = state.districts.get(district)
        rows = chain.rows if chain is not None else None
        done = chain.mixers if chain is not None else []
        districts[district] = {
            "rows": rows,
            "shuffled_by": done,
            "waiting_for": [m for m in mixers if m not in done] if rows else [],
            "batches": -(-rows // BATCH) if rows else 0,
            "decrypted_batches": {str(g): n for g, n in sorted(batches.get(district, {}).items())},
            "decrypted": district in decrypted,
        }
    return {
        "closed": state.closed is not None,
        "mixers": mixers,
        "quorum": ctx.manifest.mix_quorum(),
        "districts": districts,
    }
