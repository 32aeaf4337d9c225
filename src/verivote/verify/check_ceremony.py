"""Check `ceremony`: the key ceremony's published transcript is sound and is this election's."""

from __future__ import annotations

from verivote.crypto.ceremony import CeremonyTranscript, verify_transcript
from verivote.crypto.elgamal import ElectionKey
from verivote.crypto.group import InvalidElement
from verivote.verify.context import Election, Keys
from verivote.verify.loader import Board
from verivote.verify.report import Check


def check_ceremony(board: Board, election: Election) -> tuple[Check, Keys | None]:
    """Exactly one ceremony entry, before any ballot; its transcript verifies
    (`verify_transcript`: commitments, Schnorr proofs, complaints, QUAL, joint key), is in the
    manifest's group and was held for this election, or, for a round 2 that reuses round 1's
    key ("reused_from"), for the previous round the manifest names.

    Returns the transcript and the joint key whenever they can be read, even if the check
    fails, so that the later checks still say what they can."""
    check = Check("ceremony")
    found = board.of_type("ceremony")
    if not found:
        check.fail(None, "no ceremony entry: the election has no key")
        return check.close(), None
    for index, _ in found[1:]:
        check.fail(index, "a second ceremony entry")
    index, doc = found[0]
    check.items = 1
    try:
        transcript = CeremonyTranscript.model_validate(doc.get("transcript"))
    except ValueError as exc:
        check.fail(index, f"the transcript is malformed ({exc.__class__.__name__})")
        return check.close(), None
    try:
        problems = verify_transcript(transcript)
    except (InvalidElement, ValueError) as exc:  # a malformed complaint answer, say
        problems = [f"the transcript cannot be checked ({exc})"]
    for problem in problems + _shape_problems(transcript, doc.get("transcript")):
        check.fail(index, problem)
    _check_owner(election, doc, transcript, index, check)
    if transcript.group != election.manifest.group:
        check.fail(
            index,
            f"the key is in group {transcript.group}, the manifest's is {election.manifest.group}",
        )
        return check.close(), None
    ballots = board.indices("ballot-cast") + board.indices("ballot-challenged")
    if ballots and min(ballots) < index:
        check.fail(min(ballots), "a ballot published before the key ceremony")
    group = election.group
    try:
        key = ElectionKey(group, group.decode(bytes.fromhex(transcript.joint_key)))
    except (InvalidElement, ValueError):
        check.fail(index, "the joint key is not a group element")
        return check.close(), None
    return check.close(), Keys(transcript, key)


def _shape_problems(t: CeremonyTranscript, published: object) -> list[str]:
    """What `verify_transcript` leaves unchecked: the transcript is exactly as the model
    writes it (no value coerced from another type), and the sealed shares it relays go each
    from one guardian to another, at most once per pair."""
    problems = []
    if t.model_dump(mode="json") != published:
        problems.append("the transcript is not in its published form (a value of another type)")
    pairs = [(s.sender, s.recipient) for s in t.shares]
    guardians = range(1, t.guardians + 1)
    if len(set(pairs)) != len(pairs) or any(
        a == b or a not in guardians or b not in guardians for a, b in pairs
    ):
        problems.append("the sealed shares are not each from one guardian to another, once")
    return problems


def _check_owner(
    election: Election, doc: dict[str, object], t: CeremonyTranscript, index: int, check: Check
) -> None:
    """Whose ceremony it was: this election's, or the previous round's when reused."""
    previous = election.manifest.previous_round
    if "reused_from" not in doc:
        if t.base_hash != election.base_hash.hex():
            check.fail(index, "the ceremony was held for another election (its base hash)")
        return
    if previous is None:
        check.fail(index, "a first round cannot reuse another election's ceremony")
    elif doc["reused_from"] != previous.election_id:
        check.fail(
            index,
            f"reused from {doc['reused_from']!r}, but the previous round is "
            f"{previous.election_id!r}",
        )
    elif t.base_hash != previous.base_hash:
        check.fail(index, "the reused ceremony was not held for the previous round")
