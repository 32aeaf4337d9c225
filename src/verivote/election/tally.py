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

with every district of the manifest (one without ballots holds ciphertexts of the identity,
α = β = 1: the value 0 with nonce 0) and ciphertexts in the wire form of `crypto.wire`.

The work goes in chunks of board entries, on a process pool. Each chunk's partial product is
stored (`Store.put_tally_part`, under the tally id "tally-<cutoff>") as soon as it is known, so
a tally that is killed resumes with the chunks that are missing. Workers receive raw entries
and return the partial product as canonical JSON, the same bytes whoever computes it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from verivote.crypto import wire
from verivote.crypto.group import Group, InvalidElement
from verivote.crypto.groups import get_group
from verivote.election.lot import require_contributions
from verivote.election.service import ElectionContext, ElectionError
from verivote.model.canonical import canonical_json
from verivote.store import Store

Progress = Callable[[int, int], None]
# A district's candidate codes in the manifest's order: the order of a ballot's selections.
Layout = dict[str, tuple[str, ...]]

TALLY_TYPE = "tally"


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


def tally_chunk(
    group: Group[Any], layout: Layout, election: str, start: int, entries: Sequence[bytes]
) -> bytes:
    """The partial product of the board entries at start, start + 1, …: canonical JSON
    {"districts": {...}} with only the districts that have a ballot here.

    Only "ballot-cast" entries count. Their proofs were checked when they were cast and are not
    checked again; their shape is: the election's hash, a district of the manifest and its
    candidates in order, and every element must decode (InvalidElement otherwise).
    """
    products: dict[str, DistrictProduct] = {}
    for offset, raw in enumerate(entries):
        doc = json.loads(raw)
        if doc.get("type") != "ballot-cast":
            continue
        index = start + offset
        try:
            ballot = doc["ballot"]
            district = ballot["district"]
            codes = layout.get(district)
            if ballot.get("election") != election or codes is None:
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
    return canonical_json({"districts": products_to_json(group, products)})


# --- the process pool ----------------------------------------------------------------------

_WORKER: tuple[Group[Any], Layout, str] | None = None


def _init_worker(group_name: str, layout: Layout, election: str) -> None:
    global _WORKER
    _WORKER = (get_group(group_name), layout, election)


def _pool_chunk(start: int, entries: list[bytes]) -> bytes:
    assert _WORKER is not None, "the worker was not initialised"
    group, layout, election = _WORKER
    return tally_chunk(group, layout, election, start, entries)


def layout_of(ctx: ElectionContext) -> Layout:
    """Each district's candidate codes, in the manifest's (and the ballots') order."""
    return {d.id: tuple(c.code for c in d.candidates) for d in ctx.manifest.districts}


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
) -> dict[str, DistrictProduct]:
    """The product of the board's entries below `cutoff`, per district of the manifest,
    resuming from (and adding to) the parts stored under `tally_id`. `run_tally` uses
    "tally-<cutoff>"; another id recomputes everything (tests compare the two)."""
    if chunk < 1:
        raise ValueError(f"a chunk holds at least one board entry, not {chunk}")
    group = get_group(ctx.manifest.group)
    layout = layout_of(ctx)
    election = ctx.base_hash.hex()
    used, todo = _plan(store.tally_parts(ctx.election_id, tally_id), cutoff, chunk)
    products = {d: _identity_product(group, codes) for d, codes in layout.items()}
    done = 0
    for start, end, part in used:
        merge_json(group, products, layout, json.loads(part)["districts"])
        done += end - start
    report = progress or (lambda _done, _total: None)
    report(done, cutoff)

    def finished(start: int, end: int, part: bytes) -> None:
        nonlocal done
        # Stored before anything else happens: from here on a restart skips this chunk.
        store.put_tally_part(ctx.election_id, tally_id, start, end, part)
        merge_json(group, products, layout, json.loads(part)["districts"])
        done += end - start
        report(done, cutoff)

    workers = processes or os.cpu_count() or 1
    if workers <= 1 or len(todo) <= 1:
        for start, end in todo:
            entries = store.entries(ctx.election_id, start, end)
            finished(start, end, tally_chunk(group, layout, election, start, entries))
    else:
        _run_pool(store, ctx, todo, workers, (group.name, layout, election), finished)
    return products


def _run_pool(
    store: Store,
    ctx: ElectionContext,
    todo: Sequence[tuple[int, int]],
    workers: int,
    init: tuple[str, Layout, str],
    finished: Callable[[int, int, bytes], None],
) -> None:
    # A bounded window of chunks in flight: the board is read as the workers need it, never
    # all at once, and finished chunks are stored while the others compute.
    window = 2 * workers
    queue: Iterator[tuple[int, int]] = iter(todo)
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=init)
    pending: dict[Future[bytes], tuple[int, int]] = {}

    def submit() -> None:
        for start, end in queue:
            entries = store.entries(ctx.election_id, start, end)
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
) -> dict[str, Any]:
    """Compute and publish the election's encrypted tally (see the module's docstring); a
    tally already published is returned as it is. `processes` cores (default all; 1 = no
    pool), `chunk` board entries per unit of work, `progress(done, total)` in board entries.

    Refused (ElectionError, naming them) while any station's polls are open, and until a
    quorum of guardians has contributed to the lot (`verivote.election.lot`).
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
    cutoff = store.entry_count(ctx.election_id)
    products = accumulate(store, ctx, cutoff, f"tally-{cutoff}", processes, chunk, progress)
    group = get_group(ctx.manifest.group)
    entry = canonical_json(
        {
            "type": TALLY_TYPE,
            "election": ctx.base_hash.hex(),
            "cutoff": cutoff,
            "districts": products_to_json(group, products),
        }
    )
    # append_once: a second tally finishing at the same time publishes nothing; both return
    # the entry on the board.
    _, published = store.append_once(ctx.election_id, entry, TALLY_TYPE)
    doc: dict[str, Any] = json.loads(published)
    return doc
