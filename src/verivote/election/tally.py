"""The encrypted tally: the homomorphic product of every cast ballot, per district (DESIGN.md,
"The flow of one election": tally by adding ciphertexts; issue 5).

Once no station's polls are open, the tally takes the board's size as its cut-off and
multiplies, for every "ballot-cast" entry below it, each candidate's selection ciphertext and
the blank flag's into its district's totals, counting the ballots. Challenged ballots are
"ballot-challenged" entries and are never counted; other entries are skipped. The result is
published once, as

    tally   {"type": "tally", "election": base hash, "cutoff": n,
             "districts": {id: {"ballots": n, "blank": ciphertext,
                                "candidates": {code: ciphertext}}}}

with every district of the manifest counted homomorphically (one without ballots holds
ciphertexts of the identity, α = β = 1: the value 0 with nonce 0) and ciphertexts in the wire
form of `crypto.wire`.

A district counted by mixnet (issue 16, `District.counted_by`) is not in the tally: its cast
ballots are written ballots (`verivote.crypto.written`), whose ciphertexts the mix servers
shuffle. For each such district, in manifest order, one entry is published just before the
tally entry, in the same transaction and with the same cut-off:

    mix-input  {"type": "mix-input", "election": base hash, "district": id, "cutoff": n,
                "width": w, "rows": [[[alpha hex, beta hex] × w] × ballots]}

whose rows are the written ciphertexts of every "ballot-cast" entry of the district below the
cut-off, in board order (`verivote.crypto.written.written_width` gives w). Its bytes are put
together from each chunk's canonical rows (`mix_input_entry`), so the rows of a Tehran-sized
district are held as bytes, never as millions of Python objects.

The work goes in chunks of board entries, on a process pool (or as Ray tasks on a cluster,
`verivote.cluster`). Each chunk's partial product is
stored (`Store.put_tally_part`, under the tally id "tally-<cutoff>") as soon as it is known, so
a tally that is killed resumes with the chunks that are missing. Workers receive raw entries
and return the partial product as canonical JSON, the same bytes whoever computes it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import Any

from verivote.cluster import Cluster, make_pool, width
from verivote.crypto import wire
from verivote.crypto.group import Group, InvalidElement
from verivote.crypto.groups import get_group
from verivote.crypto.written import written_ciphertexts, written_width
from verivote.election.district_logs import seal_districts
from verivote.election.lot import require_contributions
from verivote.election.service import ElectionContext, ElectionError
from verivote.model.canonical import canonical_json
from verivote.model.manifest import Manifest
from verivote.store import Store

Progress = Callable[[int, int], None]
# A district's candidate codes in the manifest's order: the order of a ballot's selections.
Layout = dict[str, tuple[str, ...]]

TALLY_TYPE = "tally"
MIX_INPUT_TYPE = "mix-input"
Widths = Mapping[str, int]
"""A mixnet district's written-ballot width w, by district id."""


@dataclass
class DistrictProduct:
    """One district's running product: ballots counted, blank flags, selections per code."""

    ballots: int
    blank: tuple[Any, Any]
    candidates: dict[str, tuple[Any, Any]] = field(default_factory=dict)


def _identity_product(group: Group[Any], codes: Sequence[str]) -> DistrictProduct:
    one = (group.identity(), group.identity())
    return DistrictProduct(0, one, dict.fromkeys(codes, one))


def _mul(group: Group[Any], a: tuple[Any, Any], b: tuple[Any, Any]) -> tuple[Any, Any]:
    return group.mul(a[0], b[0]), group.mul(a[1], b[1])


def _ct_from_json(group: Group[Any], doc: Any) -> tuple[Any, Any]:
    ct = wire.ciphertext_from_json(group, doc)
    return ct.alpha, ct.beta


def _ct_to_json(group: Group[Any], ct: tuple[Any, Any]) -> dict[str, str]:
    return {"alpha": wire.element_hex(group, ct[0]), "beta": wire.element_hex(group, ct[1])}


def products_to_json(group: Group[Any], products: Mapping[str, DistrictProduct]) -> dict[str, Any]:
    """The "districts" object of a tally entry (and of a stored partial product)."""
    return {
        district: {
            "ballots": p.ballots,
            "blank": _ct_to_json(group, p.blank),
            "candidates": {code: _ct_to_json(group, ct) for code, ct in p.candidates.items()},
        }
        for district, p in products.items()
    }


def merge_json(
    group: Group[Any], into: dict[str, DistrictProduct], layout: Layout, part: Mapping[str, Any]
) -> None:
    """Multiply a partial product's "districts" object into `into`."""
    for district, doc in part.items():
        if district not in layout:
            raise ElectionError(f"a tally part names district {district!r}, not in the manifest")
        acc = into.setdefault(district, _identity_product(group, layout[district]))
        acc.ballots += int(doc["ballots"])
        acc.blank = _mul(group, acc.blank, _ct_from_json(group, doc["blank"]))
        for code, ct in doc["candidates"].items():
            if code not in acc.candidates:
                raise ElectionError(f"a tally part names candidate {code} of no district")
            acc.candidates[code] = _mul(group, acc.candidates[code], _ct_from_json(group, ct))


def _written_row(group: Group[Any], ballot: Mapping[str, Any], width: int) -> list[list[str]]:
    """A written ballot's row for the mix: its w ciphertexts as [alpha hex, beta hex], every
    element decoded (validated) and written back in its canonical encoding."""
    cts = ballot["written"]["ciphertexts"]
    if not isinstance(cts, list) or len(cts) != width:
        raise ElectionError(f"a written ballot of this district has {width} ciphertexts")
    return [
        [wire.element_hex(group, ct.alpha), wire.element_hex(group, ct.beta)]
        for ct in written_ciphertexts(group, ballot)
    ]


def tally_chunk(
    group: Group[Any],
    layout: Layout,
    election: str,
    start: int,
    entries: Sequence[bytes],
    widths: Widths | None = None,
) -> bytes:
    """The partial product of the board entries at start, start + 1, …: canonical JSON
    {"districts": {...}} with only the districts that have a ballot here, and, when a ballot
    of a mixnet district (`widths`) is here, "rows": {district: [row, …]} in board order.

    Only "ballot-cast" entries count. Their proofs were checked when they were cast and are not
    checked again; their shape is: the election's hash, a district of the manifest and its
    candidates in order (or, in a mixnet district, w written ciphertexts), and every element
    must decode (InvalidElement otherwise).
    """
    products: dict[str, DistrictProduct] = {}
    rows: dict[str, list[list[list[str]]]] = {}
    widths = widths or {}
    for offset, raw in enumerate(entries):
        doc = json.loads(raw)
        if doc.get("type") != "ballot-cast":
            continue
        index = start + offset
        try:
            ballot = doc["ballot"]
            district = ballot["district"]
            if ballot.get("election") != election:
                raise ElectionError("not a ballot of this election")
            if district in widths:
                row = _written_row(group, ballot, widths[district])
                rows.setdefault(district, []).append(row)
                continue
            codes = layout.get(district)
            if codes is None:
                raise ElectionError("not a ballot of this election's districts")
            selections = ballot["selections"]
            if tuple(s["candidate"] for s in selections) != codes:
                raise ElectionError("the selections are not the district's candidates in order")
            acc = products.get(district)
            if acc is None:
                acc = products[district] = _identity_product(group, codes)
            for s in selections:
                code = s["candidate"]
                acc.candidates[code] = _mul(
                    group, acc.candidates[code], _ct_from_json(group, s["ciphertext"])
                )
            acc.blank = _mul(group, acc.blank, _ct_from_json(group, ballot["blank"]["ciphertext"]))
            acc.ballots += 1
        except (KeyError, TypeError, ValueError) as exc:
            # InvalidElement is a ValueError; ElectionError too.
            what = "an element is not in the group" if isinstance(exc, InvalidElement) else exc
            raise ElectionError(f"board entry {index} is not a countable ballot ({what})") from None
    part: dict[str, Any] = {"districts": products_to_json(group, products)}
    if rows:
        part["rows"] = rows
    return canonical_json(part)


# --- the process pool ----------------------------------------------------------------------

_WORKER: tuple[Group[Any], Layout, str, dict[str, int]] | None = None


def _init_worker(group_name: str, layout: Layout, election: str, widths: dict[str, int]) -> None:
    global _WORKER
    _WORKER = (get_group(group_name), layout, election, widths)


def _pool_chunk(start: int, entries: list[bytes]) -> bytes:
    assert _WORKER is not None, "the worker was not initialised"
    group, layout, election, widths = _WORKER
    return tally_chunk(group, layout, election, start, entries, widths)


def layout_of(ctx: ElectionContext) -> Layout:
    """Each district's candidate codes, in the manifest's (and the ballots') order: the
    districts counted homomorphically only, those the tally entry holds."""
    return {
        d.id: tuple(c.code for c in d.candidates)
        for d in ctx.manifest.districts
        if d.counted_by == "homomorphic"
    }


def widths_of(manifest: Manifest, group: Group[Any]) -> dict[str, int]:
    """Each mixnet district's written-ballot width, in manifest order."""
    return {d.id: written_width(group, d) for d in manifest.mixnet_districts()}


def rows_fragment(rows: Sequence[Any]) -> bytes:
    """The canonical JSON of a list of rows without its brackets: fragments of consecutive
    chunks joined by commas are the canonical JSON of all their rows."""
    return canonical_json(list(rows))[1:-1]


def mix_input_entry(
    election: str, district: str, cutoff: int, width: int, fragments: Sequence[bytes]
) -> bytes:
    """The canonical JSON of a `mix-input` entry (module docstring) from its rows' fragments
    (`rows_fragment`) in board order, put together as bytes: exactly canonical_json of the
    entry with the rows parsed back."""
    head = canonical_json({"cutoff": cutoff, "district": district, "election": election})
    rows = b",".join(f for f in fragments if f)
    tail = canonical_json({"type": MIX_INPUT_TYPE, "width": width})
    return head[:-1] + b',"rows":[' + rows + b"]," + tail[1:]


def _plan(
    stored: Sequence[tuple[int, int, bytes]], cutoff: int, chunk: int
) -> tuple[list[tuple[int, int, bytes]], list[tuple[int, int]]]:
    """The stored parts that tile [0, cutoff) from 0 on, and the chunks still to compute.

    Parts are taken only where they start exactly at the end of the previous one, so even a
    part stored by a run with another chunk size never overlaps another: a ballot is
    multiplied in once.
    """
    by_start: dict[int, tuple[int, int, bytes]] = {}
    for part in stored:
        if part[1] <= cutoff:
            by_start.setdefault(part[0], part)
    starts = sorted(by_start)
    used: list[tuple[int, int, bytes]] = []
    todo: list[tuple[int, int]] = []
    pos = 0
    while pos < cutoff:
        found = by_start.get(pos)
        if found is not None:
            used.append(found)
            pos = found[1]
            continue
        gap_end = next((s for s in starts if s > pos), cutoff)
        todo.extend((s, min(s + chunk, gap_end)) for s in range(pos, gap_end, chunk))
        pos = gap_end
    return used, todo


def accumulate(
    store: Store,
    ctx: ElectionContext,
    cutoff: int,
    tally_id: str,
    processes: int | None = None,
    chunk: int = 2000,
    progress: Progress | None = None,
    cluster: Cluster | None = None,
) -> dict[str, DistrictProduct]:
    """The product of the board's entries below `cutoff`, per homomorphic district of the
    manifest, resuming from (and adding to) the parts stored under `tally_id`. `run_tally`
    uses "tally-<cutoff>"; another id recomputes everything (tests compare the two)."""
    return accumulate_all(store, ctx, cutoff, tally_id, processes, chunk, progress, cluster)[0]


def accumulate_all(
    store: Store,
    ctx: ElectionContext,
    cutoff: int,
    tally_id: str,
    processes: int | None = None,
    chunk: int = 2000,
    progress: Progress | None = None,
    cluster: Cluster | None = None,
) -> tuple[dict[str, DistrictProduct], dict[str, list[bytes]]]:
    """`accumulate`, and each mixnet district's rows below `cutoff` as fragments of canonical
    JSON in board order (`rows_fragment`, for `mix_input_entry`). With a `cluster`, every
    chunk is a Ray task there instead of on `processes` processes."""
    if chunk < 1:
        raise ValueError(f"a chunk holds at least one board entry, not {chunk}")
    group = get_group(ctx.manifest.group)
    layout = layout_of(ctx)
    widths = widths_of(ctx.manifest, group)
    election = ctx.base_hash.hex()
    used, todo = _plan(store.tally_parts(ctx.election_id, tally_id), cutoff, chunk)
    products = {d: _identity_product(group, codes) for d, codes in layout.items()}
    fragments: dict[str, dict[int, bytes]] = {d: {} for d in widths}
    done = 0

    def merge(start: int, part: bytes) -> None:
        doc = json.loads(part)
        merge_json(group, products, layout, doc["districts"])
        for district, rows in doc.get("rows", {}).items():
            if district not in fragments:
                raise ElectionError(f"a tally part has rows of {district!r}, no mixnet district")
            fragments[district][start] = rows_fragment(rows)

    for start, end, part in used:
        merge(start, part)
        done += end - start
    report = progress or (lambda _done, _total: None)
    report(done, cutoff)

    def finished(start: int, end: int, part: bytes) -> None:
        nonlocal done
        # Stored before anything else happens: from here on a restart skips this chunk.
        store.put_tally_part(ctx.election_id, tally_id, start, end, part)
        merge(start, part)
        done += end - start
        report(done, cutoff)

    workers = width(cluster, processes)
    if cluster is None and (workers <= 1 or len(todo) <= 1):
        for start, end in todo:
            entries = store.merged_entries(ctx.election_id, start, end)
            finished(start, end, tally_chunk(group, layout, election, start, entries, widths))
    else:
        init = (group.name, layout, election, widths)
        _run_pool(store, ctx, todo, workers, init, finished, cluster)
    rows = {d: [by_start[s] for s in sorted(by_start)] for d, by_start in fragments.items()}
    return products, rows


def _run_pool(
    store: Store,
    ctx: ElectionContext,
    todo: Sequence[tuple[int, int]],
    workers: int,
    init: tuple[str, Layout, str, dict[str, int]],
    finished: Callable[[int, int, bytes], None],
    cluster: Cluster | None,
) -> None:
    # A bounded window of chunks in flight: the board is read as the workers need it, never
    # all at once, and finished chunks are stored while the others compute.
    window = 2 * workers
    queue: Iterator[tuple[int, int]] = iter(todo)
    pool = make_pool(cluster, workers, _init_worker, init)
    pending: dict[Future[bytes], tuple[int, int]] = {}

    def submit() -> None:
        for start, end in queue:
            entries = store.merged_entries(ctx.election_id, start, end)
            pending[pool.submit(_pool_chunk, start, entries)] = (start, end)
            if len(pending) >= window:
                return

    try:
        submit()
        while pending:
            ready, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(ready, key=lambda f: pending[f]):
                start, end = pending.pop(future)
                finished(start, end, future.result())
            submit()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def find_tally(store: Store, ctx: ElectionContext) -> dict[str, Any] | None:
    """The published tally entry, if there is one."""
    found = store.entries_of_type(ctx.election_id, TALLY_TYPE)
    if not found:
        return None
    doc: dict[str, Any] = json.loads(found[0][1])
    return doc


def run_tally(
    store: Store,
    ctx: ElectionContext,
    processes: int | None = None,
    chunk: int = 2000,
    progress: Progress | None = None,
    cluster: Cluster | None = None,
    signer: str | None = None,
) -> dict[str, Any]:
    """Compute and publish the election's encrypted tally (see the module's docstring); a
    tally already published is returned as it is. `processes` cores (default all; 1 = no
    pool), `chunk` board entries per unit of work, `progress(done, total)` in board entries,
    `cluster` a Ray cluster to run the chunks on instead (`verivote.cluster`), `signer` the
    authority's signer key, with which every district log is sealed first.

    Refused (ElectionError, naming them) while any station's polls are open, until a quorum
    of guardians has contributed to the lot (`verivote.election.lot`), and while a district
    log holds entries not sealed into the national log (without `signer`): the cutoff is a
    position of the merged board, which only sealed entries have (README, "National scale").
    """
    existing = find_tally(store, ctx)
    if existing is not None:
        return existing
    still_open = [s for s, state in store.polls(ctx.election_id).items() if state == "open"]
    if still_open:
        raise ElectionError(
            f"the polls are still open at {len(still_open)} station(s): "
            f"{', '.join(still_open)}; close them before the tally"
        )
    # The tally closes the lot (issue 14, item 4): a quorum of guardians must be in it.
    require_contributions(store, ctx)
    if signer is not None:
        seal_districts(store, ctx, signer)
    unsealed = store.unsealed(ctx.election_id)
    if unsealed:
        raise ElectionError(
            f"{len(unsealed)} district log(s) hold entries not sealed into the national log "
            f"({', '.join(sorted(unsealed)[:5])}): seal them with `verivote board checkpoint`,"
            " or give `verivote tally` the authority's keys folder (--keys-dir)"
        )
    cutoff = store.merged_size(ctx.election_id)
    products, rows = accumulate_all(
        store, ctx, cutoff, f"tally-{cutoff}", processes, chunk, progress, cluster
    )
    group = get_group(ctx.manifest.group)
    widths = widths_of(ctx.manifest, group)
    mix_inputs = [
        (
            mix_input_entry(ctx.base_hash.hex(), district, cutoff, widths[district], fragments),
            MIX_INPUT_TYPE,
        )
        for district, fragments in rows.items()
    ]
    entry = canonical_json(
        {
            "type": TALLY_TYPE,
            "election": ctx.base_hash.hex(),
            "cutoff": cutoff,
            "districts": products_to_json(group, products),
        }
    )
    # append_once: a second tally finishing at the same time publishes nothing (neither its
    # mix inputs nor its tally); both return the entry on the board.
    _, published = store.append_once(ctx.election_id, entry, TALLY_TYPE, before=mix_inputs)
    doc: dict[str, Any] = json.loads(published)
    return doc
