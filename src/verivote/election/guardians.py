"""The authority's side of the guardians' protocol (issue 14, items 1 and 2): the key ceremony
held with guardians that each run their own program (`verivote.parties.guardian`), and the
partial decryptions they post. The server relays and checks public messages; it never holds a
guardian's secret, and it appends to the board only what the verifier would accept.

The ceremony (DESIGN.md, "Key ceremony"; the steps of `verivote.crypto.ceremony`):

    open        the authority: n guardians, quorum k, one bearer token per guardian
    commitment  each guardian: {"guardian": i, "hash": H(commitments)}          (CommitmentHash)
    reveal      each guardian: its commitments, Schnorr proofs, transport key   (GuardianKeys),
                checked against its hash and its proofs before it is kept
    shares      each guardian: one sealed share per other guardian           [EncryptedShare]
    complaints  each guardian: its complaints, possibly none                      [Complaint]
    answers     each guardian: its answers to the complaints against it    [ComplaintAnswer]

A round opens when every guardian has posted in the one before. When the last answers are in,
the server computes QUAL and the joint key (`qualified_guardians`, `joint_key`), refuses to
finish with fewer than k qualified guardians, checks the transcript as the verifier does
(`verify_transcript`) and appends the `ceremony` entry in the format `hold_ceremony` wrote.

Decryption: a guardian posts one `partial-decryption` entry per district
(`verivote.election.decryption`); every proof is checked against the guardian's public share
and the published tally before the entry is appended. A repeat of an entry already on the board
(same guardian, same district) is acknowledged with the index of the entry already there: the
two prove the same shares, and a guardian that crashed before the acknowledgement redoes its
work.

The lot (issue 14, item 4; `verivote.election.lot`): a guardian posts its `lot-contribution`
once the key is known (checked: its two proofs, one per guardian, before the tally), and with
its partial decryptions its `lot-decryption` (checked against the lot ciphertext of the board).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Table

from verivote.crypto.ceremony import (
    CeremonyTranscript,
    CommitmentHash,
    Complaint,
    ComplaintAnswer,
    EncryptedShare,
    GuardianKeys,
    joint_key,
    keys_failure,
    public_share,
    qualified_guardians,
    verify_transcript,
)
from verivote.crypto.group import Group
from verivote.crypto.groups import get_group
from verivote.crypto.lot import CONTRIBUTION_TYPE, check_lot_decryption
from verivote.crypto.lot import DECRYPTION_TYPE as LOT_DECRYPTION_TYPE
from verivote.crypto.oprf import key_context
from verivote.election.decryption import PARTIAL_TYPE, _valid_shares, tally_ciphertexts
from verivote.election.lot import lot_of_board, lot_publics, publish_contribution
from verivote.election.service import ElectionContext, ElectionError
from verivote.election.tally import find_tally
from verivote.model.canonical import canonical_json
from verivote.store import Store, StoreError
from verivote.store import ceremony as db
from verivote.store.schema import CEREMONY_ROUNDS, ceremony_messages, pseudonym_messages

CEREMONY_TYPE = "ceremony"
PSEUDONYM_CEREMONY_TYPE = "pseudonym-ceremony"
MAX_REASON = 200


@dataclass(frozen=True)
class KeyKind:
    """Which key a ceremony makes: the election key, or the pseudonyms' PRF key (issue 19),
    a key of its own held by the same guardians (same tokens, same n and k) through the same
    rounds, its messages in a table of their own, its transcript a board entry of its own
    type, and every proof of it bound to its own context (`context`)."""

    name: str
    entry_type: str
    table: Table

    def context(self, ctx: ElectionContext) -> bytes:
        """What the ceremony's proofs are bound to (the transcript's `base_hash` field)."""
        return ctx.base_hash if self.name == "election" else key_context(ctx.base_hash)

    def exists(self, ctx: ElectionContext) -> bool:
        """Whether this election holds this ceremony."""
        return self.name == "election" or ctx.manifest.polling.turnout


ELECTION_KEY = KeyKind("election", CEREMONY_TYPE, ceremony_messages)
PSEUDONYM_KEY = KeyKind("pseudonym", PSEUDONYM_CEREMONY_TYPE, pseudonym_messages)
KEY_KINDS = {k.name: k for k in (ELECTION_KEY, PSEUDONYM_KEY)}


class Refused(ElectionError):
    """A guardian's request that the server refuses; `status` is the HTTP status to answer."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


def ceremony_entry(
    ctx: ElectionContext, transcript: CeremonyTranscript, kind: KeyKind = ELECTION_KEY
) -> bytes:
    """The `ceremony` board entry, exactly as `hold_ceremony` writes it (or the
    `pseudonym-ceremony` entry, of the same shape)."""
    return canonical_json(
        {
            "type": kind.entry_type,
            "election": ctx.base_hash.hex(),
            "transcript": transcript.model_dump(mode="json"),
        }
    )


def open_ceremony(store: Store, ctx: ElectionContext, guardians: int, quorum: int) -> list[str]:
    """Open the key ceremony for `guardians` guardians with quorum `quorum`; returns their
    bearer tokens, guardian 1's first (shown once: only their hashes are kept)."""
    if ctx.transcript is not None:
        raise ElectionError("the key ceremony of this election has already been held")
    if guardians < 1:
        raise ElectionError(f"a ceremony needs at least 1 guardian, got {guardians}")
    if not 1 <= quorum <= guardians:
        raise ElectionError(f"the quorum must be between 1 and {guardians} guardians, got {quorum}")
    try:
        return db.open_ceremony(store.engine, ctx.election_id, guardians, quorum)
    except StoreError as exc:
        raise ElectionError(str(exc)) from None


def guardian_of(store: Store, ctx: ElectionContext, token: str | None) -> int:
    """The guardian that `token` (an `Authorization: Bearer` value) belongs to."""
    if not token:
        raise Refused(401, "a guardian's token is required (Authorization: Bearer <token>)")
    found = db.guardian_of_token(store.engine, token)
    if found is None:
        raise Refused(401, "unknown guardian token")
    if found[0] != ctx.election_id and not _same_ceremony(store, ctx, found[0]):
        raise Refused(403, f"this token is a guardian's of election {found[0]}")
    return found[1]


def _same_ceremony(store: Store, ctx: ElectionContext, election_id: str) -> bool:
    """Whether this election's key is the one made in `election_id`'s ceremony (a runoff
    that reuses round 1's key: round 1's guardians decrypt it with round 1's tokens)."""
    other = store.election(election_id)
    return (
        other is not None
        and ctx.transcript is not None
        and ctx.transcript.base_hash == other.base_hash
    )


def _parameters(
    store: Store, ctx: ElectionContext, kind: KeyKind = ELECTION_KEY
) -> tuple[int, int]:
    if not kind.exists(ctx):
        raise Refused(404, "this election's turnout is not provable: it has no pseudonym key")
    found = db.ceremony_parameters(store.engine, ctx.election_id)
    if found is None:
        raise Refused(404, "no key ceremony has been opened (run verivote election ceremony)")
    return found


def _ceremony_index(store: Store, ctx: ElectionContext, kind: KeyKind = ELECTION_KEY) -> int | None:
    found = store.entries_of_type(ctx.election_id, kind.entry_type)
    return found[0][0] if found else None


def _current_round(posted: dict[str, dict[int, str]], guardians: int) -> str | None:
    for round_ in CEREMONY_ROUNDS:
        if len(posted[round_]) < guardians:
            return round_
    return None


def _draft(
    group: Group[Any],
    ctx: ElectionContext,
    n: int,
    k: int,
    posted: dict[str, dict[int, str]],
    kind: KeyKind = ELECTION_KEY,
) -> CeremonyTranscript:
    def every(round_: str) -> list[Any]:
        out: list[Any] = []
        for _, body in sorted(posted[round_].items()):
            doc = json.loads(body)
            out.extend(doc if isinstance(doc, list) else [doc])
        return out

    return CeremonyTranscript(
        group=group.name,
        guardians=n,
        quorum=k,
        base_hash=kind.context(ctx).hex(),
        commitment_hashes=[CommitmentHash.model_validate(d) for d in every("commitment")],
        keys=[GuardianKeys.model_validate(d) for d in every("reveal")],
        shares=[EncryptedShare.model_validate(d) for d in every("shares")],
        complaints=[Complaint.model_validate(d) for d in every("complaints")],
        answers=[ComplaintAnswer.model_validate(d) for d in every("answers")],
        qualified=[],
        joint_key="",
    )


def ceremony_state(
    store: Store, ctx: ElectionContext, kind: KeyKind = ELECTION_KEY
) -> dict[str, Any]:
    """The ceremony as any guardian may see it: parameters, the round open now ("commitment"
    … "answers", then "finished" or "failed" with the reason), and every public message so
    far, by round and by guardian (a list for the rounds after the reveal). `key` names the
    key it makes, `context` what its proofs are bound to, `pseudonym_key` whether the
    election also holds the pseudonym key's ceremony."""
    n, k = _parameters(store, ctx, kind)
    posted = db.messages(store.engine, ctx.election_id, kind.table)
    current = _current_round(posted, n)
    index = _ceremony_index(store, ctx, kind)
    failure = None
    if current is None and index is None:
        # Every round is complete: finish here too (the post of the last answer may still be
        # finishing; the entry is appended once).
        try:
            finish(store, ctx, n, k, posted, kind)
        except ElectionError as exc:
            failure = str(exc)
        index = _ceremony_index(store, ctx, kind)
    doc: dict[str, Any] = {
        "election": ctx.election_id,
        "base_hash": ctx.base_hash.hex(),
        "key": kind.name,
        "context": kind.context(ctx).hex(),
        "pseudonym_key": PSEUDONYM_KEY.exists(ctx),
        "group": ctx.manifest.group,
        "guardians": n,
        "quorum": k,
        "round": current or ("finished" if index is not None else "failed"),
        "messages": {
            r: {str(g): json.loads(body) for g, body in sorted(posted[r].items())}
            for r in CEREMONY_ROUNDS
        },
        "ceremony_index": index,
    }
    if failure is not None:
        doc["failure"] = failure
    return doc


def _is_hex(text: object, size: int | None = None) -> bool:
    if not isinstance(text, str) or (size is not None and len(text) != 2 * size):
        return False
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return True


def _check_message(
    group: Group[Any],
    ctx: ElectionContext,
    n: int,
    k: int,
    posted: dict[str, dict[int, str]],
    round_: str,
    guardian: int,
    doc: Any,
    kind: KeyKind = ELECTION_KEY,
) -> Any:
    """The message, parsed, if guardian `guardian` may post it in `round_`; Refused if not."""
    others = [i for i in range(1, n + 1) if i != guardian]
    try:
        if round_ == "commitment":
            message: Any = CommitmentHash.model_validate(doc)
            if message.guardian != guardian or not _is_hex(message.hash, 32):
                raise Refused(400, "a commitment is this guardian's number and 64 hex digits")
            return message
        if round_ == "reveal":
            keys = GuardianKeys.model_validate(doc)
            if keys.guardian != guardian:
                raise Refused(400, f"guardian {guardian} may reveal only its own commitments")
            if not _is_hex(keys.transport_key, 32):
                raise Refused(400, "the transport key is not 32 bytes in hex")
            draft = _draft(group, ctx, n, k, {**posted, "reveal": {}}, kind)
            failure = keys_failure(group, draft, keys)
            if failure is not None:
                raise Refused(400, f"reveal refused: {failure}")
            return keys
        if not isinstance(doc, list):
            raise Refused(400, f"the {round_} round takes a JSON list")
        if round_ == "shares":
            shares = [EncryptedShare.model_validate(d) for d in doc]
            if [s.recipient for s in shares] != others or any(s.sender != guardian for s in shares):
                raise Refused(
                    400, f"guardian {guardian} must send one share to each of {others}, in order"
                )
            if not all(_is_hex(s.nonce) and _is_hex(s.ciphertext) for s in shares):
                raise Refused(400, "a sealed share is not hex")
            return shares
        if round_ == "complaints":
            complaints = [Complaint.model_validate(d) for d in doc]
            accused = [c.accused for c in complaints]
            if any(c.complainant != guardian for c in complaints) or accused != sorted(
                set(accused)
            ):
                raise Refused(400, "complaints are this guardian's, one per accused, in order")
            if not set(accused) <= set(others):
                raise Refused(400, "a complaint accuses no other guardian")
            if any(len(c.reason) > MAX_REASON for c in complaints):
                raise Refused(400, f"a complaint's reason is longer than {MAX_REASON} characters")
            return complaints
        answers = [ComplaintAnswer.model_validate(d) for d in doc]
        against = sorted(
            int(complainant)
            for complainant, body in posted["complaints"].items()
            for c in json.loads(body)
            if c["accused"] == guardian
        )
        if (
            any(a.accused != guardian for a in answers)
            or [a.complainant for a in answers] != against
        ):
            raise Refused(
                400, f"guardian {guardian} must answer the complaints of {against}, in order"
            )
        for a in answers:
            if not isinstance(a.share, str) or not a.share.startswith("0x"):
                raise Refused(400, "an answer's share is a hexadecimal number (0x…)")
            int(a.share, 16)
        return answers
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the body"
        raise Refused(400, f"malformed {round_} message: {where}: {first['msg']}") from None
    except ValueError as exc:
        raise Refused(400, f"malformed {round_} message: {exc}") from None


def post_message(
    store: Store,
    ctx: ElectionContext,
    guardian: int,
    round_: str,
    doc: Any,
    kind: KeyKind = ELECTION_KEY,
) -> dict[str, Any]:
    """Keep guardian `guardian`'s message of `round_` once it is checked; finish the ceremony
    when it is the last answer. Returns the ceremony's state."""
    if round_ not in CEREMONY_ROUNDS:
        raise Refused(404, f"no ceremony round {round_!r}")
    n, k = _parameters(store, ctx, kind)
    if _ceremony_index(store, ctx, kind) is not None:
        raise Refused(409, "the key ceremony is over: its transcript is on the board")
    posted = db.messages(store.engine, ctx.election_id, kind.table)
    current = _current_round(posted, n)
    order = list(CEREMONY_ROUNDS)
    if current is None or order.index(round_) < order.index(current):
        mine = posted[round_].get(guardian)
        if mine is not None and json.loads(mine) == doc:
            return ceremony_state(store, ctx, kind)  # a retry of a message already kept
        raise Refused(409, f"the {round_} round is closed")
    if order.index(round_) > order.index(current):
        missing = [i for i in range(1, n + 1) if i not in posted[current]]
        raise Refused(
            409,
            f"the {round_} round is not open yet: the {current} round waits for guardian(s) "
            + ", ".join(str(i) for i in missing),
        )
    group = get_group(ctx.manifest.group)
    message = _check_message(group, ctx, n, k, posted, round_, guardian, doc, kind)
    body = (
        [m.model_dump(mode="json") for m in message]
        if isinstance(message, list)
        else message.model_dump(mode="json")
    )
    try:
        db.put_message(
            store.engine, ctx.election_id, round_, guardian, canonical_json(body).decode(),
            kind.table,
        )  # fmt: skip
    except db.MessageConflict as exc:
        raise Refused(409, str(exc)) from None
    posted = db.messages(store.engine, ctx.election_id, kind.table)
    if _current_round(posted, n) is None:
        try:
            finish(store, ctx, n, k, posted, kind)
        except ElectionError as exc:
            raise Refused(409, str(exc)) from None
    return ceremony_state(store, ctx, kind)


def finish(
    store: Store,
    ctx: ElectionContext,
    n: int,
    k: int,
    posted: dict[str, dict[int, str]],
    kind: KeyKind = ELECTION_KEY,
) -> CeremonyTranscript:
    """QUAL, the joint key and the `ceremony` entry, once every round is complete."""
    group = get_group(ctx.manifest.group)
    draft = _draft(group, ctx, n, k, posted, kind)
    qualified, excluded = qualified_guardians(group, draft)
    if len(qualified) < k:
        raise ElectionError(
            f"the key ceremony failed: only {len(qualified)} guardians qualified, fewer than "
            f"the quorum {k}: " + "; ".join(excluded)
        )
    key = joint_key(group, draft, qualified)
    transcript = draft.model_copy(
        update={"qualified": qualified, "joint_key": group.encode(key).hex()}
    )
    problems = verify_transcript(transcript)
    if problems:
        raise ElectionError(f"the key ceremony's transcript does not verify: {problems[0]}")
    store.append_once(ctx.election_id, ceremony_entry(ctx, transcript, kind), kind.entry_type)
    return transcript


# --- decryption --------------------------------------------------------------------------------

_PARTIAL_KEYS = {"type", "election", "guardian", "district", "shares"}


def accept_partial(store: Store, ctx: ElectionContext, guardian: int, doc: Any) -> int:
    """Append guardian `guardian`'s partial-decryption entry once every proof in it checks
    against its public share and the published tally; returns its board index."""
    t = ctx.transcript
    if t is None:
        raise Refused(409, "the key ceremony has not been held yet")
    tally = find_tally(store, ctx)
    if tally is None:
        raise Refused(409, "there is no tally to decrypt yet")
    if not isinstance(doc, dict) or set(doc) != _PARTIAL_KEYS:
        raise Refused(400, f"a partial decryption has exactly the fields {sorted(_PARTIAL_KEYS)}")
    if doc["type"] != PARTIAL_TYPE or doc["election"] != ctx.base_hash.hex():
        raise Refused(400, "not a partial decryption of this election")
    if doc["guardian"] != guardian:
        raise Refused(403, f"guardian {guardian} may post only its own partial decryptions")
    group = get_group(t.group)
    items = tally_ciphertexts(group, ctx, tally)
    district = doc["district"]
    if not isinstance(district, str) or district not in items:
        raise Refused(400, f"district {district!r} is not in the manifest")
    try:
        _valid_shares(group, ctx, public_share(group, t, guardian), district, items[district], doc)
    except ValueError as exc:
        raise Refused(400, f"partial decryption refused: {exc}") from None
    for index, raw in store.entries_of_type(ctx.election_id, PARTIAL_TYPE):
        old = json.loads(raw)
        if old.get("guardian") == guardian and old.get("district") == district:
            # Checked when it was appended, it proves the same shares (a share is α^s; only
            # the proofs' nonces differ): a guardian redoing its work after a crash before
            # the acknowledgement gets the entry already on the board.
            return index
    return store.append_entry(ctx.election_id, canonical_json(doc), PARTIAL_TYPE)


def accept_contribution(store: Store, ctx: ElectionContext, guardian: int, doc: Any) -> int:
    """Append guardian `guardian`'s lot-contribution entry (issue 14, item 4) once its two
    proofs check and it comes before the tally, one per guardian; returns its board index."""
    if ctx.transcript is None:
        raise Refused(409, "the key ceremony has not been held yet")
    if not isinstance(doc, dict) or doc.get("type") != CONTRIBUTION_TYPE:
        raise Refused(400, "not a lot contribution")
    if doc.get("guardian") != guardian:
        raise Refused(403, f"guardian {guardian} may post only its own lot contribution")
    try:
        return publish_contribution(store, ctx, doc)
    except ElectionError as exc:
        status = 409 if "already" in str(exc) else 400
        raise Refused(status, str(exc)) from None


_LOT_KEYS = {"type", "election", "guardian", "share", "proof"}


def accept_lot_decryption(store: Store, ctx: ElectionContext, guardian: int, doc: Any) -> int:
    """Append guardian `guardian`'s lot-decryption entry once its proof checks against its
    public share and the lot ciphertext of the board (the contributions before the tally);
    a repeat gets the index of the entry already there. Returns its board index."""
    if ctx.transcript is None:
        raise Refused(409, "the key ceremony has not been held yet")
    if not isinstance(doc, dict) or set(doc) != _LOT_KEYS:
        raise Refused(400, f"a lot decryption has exactly the fields {sorted(_LOT_KEYS)}")
    if doc["guardian"] != guardian:
        raise Refused(403, f"guardian {guardian} may post only its own share of the lot")
    try:
        lot = lot_of_board(store, ctx)
    except ElectionError as exc:
        raise Refused(409, str(exc)) from None
    group = get_group(ctx.transcript.group)
    reason, _ = check_lot_decryption(group, ctx.base_hash, lot_publics(ctx), lot, doc)
    if reason is not None:
        raise Refused(400, f"lot decryption refused: {reason}")
    for index, raw in store.entries_of_type(ctx.election_id, LOT_DECRYPTION_TYPE):
        if json.loads(raw).get("guardian") == guardian:
            return index  # the same share of the same lot, proved again after a crash
    return store.append_entry(ctx.election_id, canonical_json(doc), LOT_DECRYPTION_TYPE)
