"""Threshold decryption of the tally: each guardian's partial decryptions, then any k of them
combined into the counts (DESIGN.md, "Key ceremony", threshold decryption; issue 5).

A guardian decrypts every ciphertext of the published tally with its key share and proves each
partial decryption (Chaum–Pedersen, context [base hash, "decryption", district, code or
"blank"]). It publishes one board entry per district, so a guardian interrupted halfway
resumes with the districts it has not published:

    partial-decryption  {"type": "partial-decryption", "election": base hash, "guardian": i,
                         "district": id,
                         "shares": {code or "blank": {"share": element, "proof": {...}}}}

Combining checks every proof against the guardian's public share, which anyone computes from
the ceremony transcript; invalid entries are ignored and reported. For each district the
first k guardians (by index) with valid partials are combined by Lagrange coefficients, and
the count is the discrete log to the base of the joint key K, below ballots + 1. Published
once:

    decrypted-tally     {"type": "decrypted-tally", "election": base hash,
                         "guardians": [indices used], "districts": {id: {"ballots": n,
                         "blank": v, "votes": {code: v}}},

                         "lot": element hex}

with, only when some partial decryption was refused, "rejected": [{"index": board index,
"guardian": i, "district": id, "reason": text}], so that the refusal is public too.

The lot (issue 14, item 4; `verivote.election.lot`): each guardian also partially decrypts
the lot's ciphertext, the product of the guardians' contributions before the tally entry, in
an entry of its own (not in the per-district entries, which would repeat it per district):

    lot-decryption      {"type": "lot-decryption", "election": base hash, "guardian": i,
                         "share": element, "proof": {...}}

with a Chaum–Pedersen proof of context [base hash, "decryption", "lot"]. `combine` checks
them like the others and combines the first k valid ones into the lot element, published as
"lot" (the element's hex) in the decrypted tally; a refused one is listed in "rejected" as
{"index", "guardian", "lot": true, "reason"}.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from verivote.cluster import Cluster
from verivote.crypto import wire
from verivote.crypto.ceremony import CeremonyTranscript, KeyShare, public_share
from verivote.crypto.dlog import discrete_log
from verivote.crypto.elgamal import Ciphertext
from verivote.crypto.group import Group, InvalidElement
from verivote.crypto.groups import get_group
from verivote.crypto.hashing import Item
from verivote.crypto.proofs import verify_decryption
from verivote.crypto.threshold import QuorumError, partial_decrypt
from verivote.crypto.threshold import combine as lagrange_combine
from verivote.election.lot import (
    DECRYPTION_TYPE as LOT_DECRYPTION_TYPE,
)
from verivote.election.lot import (
    check_lot_decryption,
    combine_lot,
    lot_of_board,
    lot_publics,
    make_lot_decryption,
)
from verivote.election.service import ElectionContext, ElectionError
from verivote.election.tally import find_tally, layout_of
from verivote.model.canonical import canonical_json
from verivote.store import Store

PARTIAL_TYPE = "partial-decryption"
DECRYPTED_TYPE = "decrypted-tally"
BLANK = "blank"


def decryption_context(base_hash: bytes, district: str, label: str) -> list[Item]:
    """The context every partial decryption's proof is bound to (label: a code or "blank")."""
    return [base_hash, "decryption", district, label]


def _transcript(ctx: ElectionContext) -> CeremonyTranscript:
    if ctx.transcript is None or ctx.key is None:
        raise ElectionError("the key ceremony has not been held yet (run election ceremony)")
    return ctx.transcript


def _require_tally(store: Store, ctx: ElectionContext) -> dict[str, Any]:
    tally = find_tally(store, ctx)
    if tally is None:
        raise ElectionError("there is no tally to decrypt yet (run verivote tally)")
    return tally


def tally_ciphertexts(
    group: Group[Any], ctx: ElectionContext, tally: Mapping[str, Any]
) -> dict[str, list[tuple[str, Ciphertext[Any]]]]:
    """Each homomorphic district's ciphertexts of the tally, as (code or "blank", ciphertext),
    in the manifest's candidate order with the blank flag last (the mixnet districts' are on
    the mix path)."""
    from verivote.election.mixing import mixnet_districts  # mixing imports this module

    mixed = set(mixnet_districts(ctx.manifest))
    out: dict[str, list[tuple[str, Ciphertext[Any]]]] = {}
    try:
        for district, codes in layout_of(ctx).items():
            if district in mixed:
                continue  # counted on the mix path (`verivote.election.mixing`)
            doc = tally["districts"][district]
            items = [(c, wire.ciphertext_from_json(group, doc["candidates"][c])) for c in codes]
            items.append((BLANK, wire.ciphertext_from_json(group, doc["blank"])))
            out[district] = items
    except (KeyError, TypeError, ValueError) as exc:
        raise ElectionError(f"the published tally is malformed ({exc!r})") from None
    return out


def check_share(ctx: ElectionContext, t: CeremonyTranscript, share: KeyShare) -> Any:
    """The guardian's public share, once `share` is known to belong to this election's key.

    The share must come from the ceremony this election's key was made in: a runoff that
    reuses round 1's key (`verivote.election.runoff.reuse_ceremony`) publishes round 1's
    transcript, whose base hash is round 1's, and the guardians keep their round-1 shares.
    """
    if share.base_hash != t.base_hash:
        raise ElectionError(
            f"this key share (guardian {share.guardian}) is of another election: its base hash "
            f"is {share.base_hash[:16]}…, this election's key ceremony's {t.base_hash[:16]}…"
        )
    if share.group != t.group or share.joint_key != t.joint_key:
        raise ElectionError(
            f"this key share (guardian {share.guardian}) is from another key ceremony: its "
            "joint key is not this election's"
        )
    if not 1 <= share.guardian <= t.guardians:
        raise ElectionError(f"guardian {share.guardian} is not one of the {t.guardians} guardians")
    group = get_group(t.group)
    public = public_share(group, t, share.guardian)
    if group.pow_g(share.secret) != public:
        raise ElectionError(
            f"the key share of guardian {share.guardian} does not match its public share in "
            "the ceremony transcript"
        )
    return public


def _partials(store: Store, ctx: ElectionContext) -> list[tuple[int, dict[str, Any]]]:
    return [
        (idx, json.loads(raw)) for idx, raw in store.entries_of_type(ctx.election_id, PARTIAL_TYPE)
    ]


def _lot_decryptions(store: Store, ctx: ElectionContext) -> list[tuple[int, dict[str, Any]]]:
    return [
        (idx, json.loads(raw))
        for idx, raw in store.entries_of_type(ctx.election_id, LOT_DECRYPTION_TYPE)
    ]


def decrypt_as_guardian(
    store: Store,
    ctx: ElectionContext,
    share: KeyShare,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Publish guardian `share.guardian`'s partial decryptions of the tally, one entry per
    district, skipping the districts it has already published, and (once) its lot-decryption
    entry; returns how many district entries it published now. `progress(done, total)`
    counts ciphertexts."""
    t = _transcript(ctx)
    public = check_share(ctx, t, share)
    group = get_group(t.group)
    tally = _require_tally(store, ctx)
    items = tally_ciphertexts(group, ctx, tally)
    election = ctx.base_hash.hex()
    lot = lot_of_board(store, ctx)
    if not any(
        doc.get("guardian") == share.guardian and doc.get("election") == election
        for _, doc in _lot_decryptions(store, ctx)
    ):
        entry = make_lot_decryption(group, ctx.base_hash, share, public, lot)
        store.append_entry(ctx.election_id, canonical_json(entry), LOT_DECRYPTION_TYPE)
    published = {
        doc.get("district")
        for _, doc in _partials(store, ctx)
        if doc.get("guardian") == share.guardian and doc.get("election") == election
    }
    total = sum(len(v) for v in items.values())
    done = sum(len(v) for d, v in items.items() if d in published)
    report = progress or (lambda _done, _total: None)
    report(done, total)
    count = 0
    for district, cts in items.items():
        if district in published:
            continue
        first = done

        def one_more(n: int, first: int = first) -> None:
            report(first + n, total)

        entry = partial_entry(group, ctx.base_hash, share, public, district, cts, one_more)
        done += len(cts)
        store.append_entry(ctx.election_id, canonical_json(entry), PARTIAL_TYPE)
        count += 1
    return count


def share_json(
    group: Group[Any], share: KeyShare, public: Any, ct: Ciphertext[Any], context: list[Item]
) -> dict[str, Any]:
    """Guardian `share.guardian`'s share α^s of `ct` with its Chaum–Pedersen proof against its
    `public` share, under `context`, in the wire form of a partial decryption."""
    p = partial_decrypt(group, share.guardian, share.secret, public, ct, context)
    return {
        "share": wire.element_hex(group, p.share),
        "proof": wire.schnorr_to_json(group, p.proof),
    }


def partial_entry(
    group: Group[Any],
    base_hash: bytes,
    share: KeyShare,
    public: Any,
    district: str,
    cts: Sequence[tuple[str, Ciphertext[Any]]],
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Guardian `share.guardian`'s partial-decryption entry of one district: for each (label,
    ciphertext) its share α^s with a Chaum–Pedersen proof against its `public` share.
    `progress(n)` is told how many ciphertexts are done."""
    shares: dict[str, Any] = {}
    for n, (label, ct) in enumerate(cts, start=1):
        shares[label] = share_json(
            group, share, public, ct, decryption_context(base_hash, district, label)
        )
        if progress is not None:
            progress(n)
    return {
        "type": PARTIAL_TYPE,
        "election": base_hash.hex(),
        "guardian": share.guardian,
        "district": district,
        "shares": shares,
    }


def _valid_shares(
    group: Group[Any],
    ctx: ElectionContext,
    public: Any,
    district: str,
    cts: Sequence[tuple[str, Ciphertext[Any]]],
    doc: Mapping[str, Any],
) -> dict[str, Any]:
    """The shares of one partial-decryption entry, by label; ValueError saying what is wrong."""
    shares = doc.get("shares")
    if not isinstance(shares, dict) or set(shares) != {label for label, _ in cts}:
        raise ValueError("it does not hold exactly one share per ciphertext of the district")
    out: dict[str, Any] = {}
    for label, ct in cts:
        try:
            value = wire.element_from_hex(group, shares[label]["share"])
            proof = wire.decryption_proof_from_json(group, shares[label]["proof"])
        except (InvalidElement, KeyError, TypeError, ValueError):
            raise ValueError(f"the share of {label} is malformed") from None
        context = decryption_context(ctx.base_hash, district, label)
        if not verify_decryption(group, public, ct.alpha, value, proof, context):
            raise ValueError(f"the proof of the share of {label} does not verify")
        out[label] = value
    return out


def _numbers(indices: Sequence[int]) -> str:
    return ", ".join(str(i) for i in indices) or "none"


def combine_partials(
    ctx: ElectionContext,
    tally: Mapping[str, Any],
    partials: Sequence[tuple[int, Mapping[str, Any]]],
    lot: Ciphertext[Any],
    lot_decryptions: Sequence[tuple[int, Mapping[str, Any]]],
) -> dict[str, Any]:
    """The decrypted-tally entry from the tally, the (board index, partial-decryption entry)
    pairs, the lot's ciphertext and the (board index, lot-decryption entry) pairs given,
    without touching the store (see the module's docstring). Raises QuorumError naming the
    guardians present and missing when a district, or the lot, has fewer than k valid ones."""
    t = _transcript(ctx)
    assert ctx.key is not None
    group = get_group(t.group)
    items = tally_ciphertexts(group, ctx, tally)
    election = ctx.base_hash.hex()
    publics: dict[int, Any] = {}
    valid: dict[str, dict[int, dict[str, Any]]] = {d: {} for d in items}
    rejected: list[dict[str, Any]] = []
    for index, partial in partials:
        guardian, district = partial.get("guardian"), partial.get("district")
        reason = None
        if partial.get("election") != election:
            reason = "it is for another election"
        elif not isinstance(guardian, int) or not 1 <= guardian <= t.guardians:
            reason = f"guardian {guardian!r} is not a guardian of this election"
        elif not isinstance(district, str) or district not in items:
            reason = f"district {district!r} is not in the manifest"
        elif guardian in valid[district]:
            continue  # a repeat of a valid entry (a guardian that ran twice at once)
        else:
            if guardian not in publics:
                publics[guardian] = public_share(group, t, guardian)
            try:
                valid[district][guardian] = _valid_shares(
                    group, ctx, publics[guardian], district, items[district], partial
                )
            except ValueError as exc:
                reason = str(exc)
        if reason is not None:
            rejected.append(
                {"index": index, "guardian": guardian, "district": district, "reason": reason}
            )
    k = t.quorum
    everyone = list(range(1, t.guardians + 1))
    short = [d for d in items if len(valid[d]) < k]
    if short:
        present = sorted(valid[short[0]])
        where = "" if len(short) == len(items) else f" in district {short[0]}"
        message = (
            f"decryption needs {k} guardians; present: {_numbers(present)}; "
            f"missing: {_numbers([g for g in everyone if g not in present])}{where}"
        )
        if rejected:
            message += "; refused: " + "; ".join(
                f"guardian {r['guardian']} ({r.get('district', 'the lot')}): {r['reason']}"
                for r in rejected
            )
        raise QuorumError(message)
    used: set[int] = set()
    districts: dict[str, Any] = {}
    for district, cts in items.items():
        chosen = sorted(valid[district])[:k]
        used.update(chosen)
        ballots = int(tally["districts"][district]["ballots"])
        values: dict[str, int] = {}
        for label, ct in cts:
            power = lagrange_combine(group, k, ct, {g: valid[district][g][label] for g in chosen})
            values[label] = discrete_log(group, ctx.key.key, power, bound=ballots + 1)
        blank = values.pop(BLANK)
        districts[district] = {"ballots": ballots, "blank": blank, "votes": values}
    element = _lot_element(ctx, group, lot, lot_decryptions, rejected)
    doc: dict[str, Any] = {
        "type": DECRYPTED_TYPE,
        "election": election,
        "guardians": sorted(used),
        "districts": districts,
        "lot": wire.element_hex(group, element),
    }
    if rejected:
        doc["rejected"] = sorted(rejected, key=lambda r: int(r["index"]))
    return doc


def _lot_element(
    ctx: ElectionContext,
    group: Group[Any],
    lot: Ciphertext[Any],
    lot_decryptions: Sequence[tuple[int, Mapping[str, Any]]],
    rejected: list[dict[str, Any]],
) -> Any:
    """The lot element from the first k valid lot decryptions; the refused ones are added to
    `rejected`. QuorumError when fewer than k guardians' are valid."""
    t = _transcript(ctx)
    publics = lot_publics(ctx)
    valid: dict[int, Any] = {}
    for index, doc in lot_decryptions:
        guardian = doc.get("guardian")
        if isinstance(guardian, int) and guardian in valid:
            continue  # a repeat of a valid entry
        reason, value = check_lot_decryption(group, ctx.base_hash, publics, lot, doc)
        if reason is None:
            assert isinstance(guardian, int)
            valid[guardian] = value
        else:
            rejected.append({"index": index, "guardian": guardian, "lot": True, "reason": reason})
    if len(valid) < t.quorum:
        everyone = list(range(1, t.guardians + 1))
        present = sorted(valid)
        raise QuorumError(
            f"decrypting the lot needs {t.quorum} guardians; present: {_numbers(present)}; "
            f"missing: {_numbers([g for g in everyone if g not in present])}"
        )
    return combine_lot(group, t.quorum, lot, valid)


def find_decrypted(store: Store, ctx: ElectionContext) -> dict[str, Any] | None:
    """The published decrypted tally, if there is one."""
    found = store.entries_of_type(ctx.election_id, DECRYPTED_TYPE)
    if not found:
        return None
    doc: dict[str, Any] = json.loads(found[0][1])
    return doc


def combine(store: Store, ctx: ElectionContext, cluster: Cluster | None = None) -> dict[str, Any]:
    """Combine the published partial decryptions into the counts and publish them once; the
    decrypted tally already published is returned as it is.

    The mixnet districts' counts come from the mix path (`verivote.election.mixing.combine_mix`,
    which first publishes each district's mix-decryption entry; with a `cluster`, it checks
    the guardians' partial decryptions of the mix as Ray tasks there): the decrypted tally
    holds every district of the manifest, each in the same form."""
    from verivote.election.mixing import combine_mix  # mixing imports this module

    existing = find_decrypted(store, ctx)
    if existing is not None:
        return existing
    _transcript(ctx)
    tally = _require_tally(store, ctx)
    lot = lot_of_board(store, ctx)
    doc = combine_partials(ctx, tally, _partials(store, ctx), lot, _lot_decryptions(store, ctx))
    doc["districts"].update(combine_mix(store, ctx, cluster))
    _, published = store.append_once(ctx.election_id, canonical_json(doc), DECRYPTED_TYPE)
    result: dict[str, Any] = json.loads(published)
    return result
