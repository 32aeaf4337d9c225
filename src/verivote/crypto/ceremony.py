"""The threshold key ceremony: n guardians (one per faction, plus independents), quorum k.

A Pedersen/Feldman distributed key generation, in the steps of DESIGN.md ("Key ceremony"):

1. Each guardian i draws a polynomial Pᵢ(x) = aᵢ₀ + aᵢ₁x + … + aᵢ,ₖ₋₁x^(k−1), computes the
   commitments Kᵢⱼ = g^aᵢⱼ, and first publishes only H(commitments) (`CommitmentHash`), so
   nobody can choose their polynomial after seeing the others'.
2. Then it reveals the commitments with a Schnorr proof of knowledge of every coefficient and
   its X25519 transport key (`GuardianKeys`).
3. It sends every other guardian ℓ its share Pᵢ(ℓ), sealed for ℓ (`verivote.crypto.transport`).
4. Each recipient checks g^Pᵢ(ℓ) = ∏ⱼ Kᵢⱼ^(ℓ^j); a share that fails (or does not open) gets a
   public `Complaint`. The accused answers by revealing that share (`ComplaintAnswer`); anyone
   can check it against the commitments. A guardian whose polynomial is broken (bad proofs,
   commitments not matching their hash, an unanswered or wrong complaint) is disqualified.
5. The qualified set QUAL must hold at least k guardians. The joint election key is
   K = ∏_{i∈QUAL} Kᵢ₀; guardian ℓ's secret share is sₗ = Σ_{i∈QUAL} Pᵢ(ℓ), and its public share
   is Kₗ = g^sₗ = ∏_{i∈QUAL} ∏ⱼ Kᵢⱼ^(ℓ^j), computable by anyone from the transcript.

Everything public is in `CeremonyTranscript`, which `verify_transcript` checks on its own.
The functions are pure steps so that each guardian can run its own on its own machine;
`run_ceremony` plays all of them in one process (tests, demo).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from verivote.crypto.group import Group, InvalidElement
from verivote.crypto.hashing import hash_items
from verivote.crypto.proofs import NonceSource, SchnorrProof, prove_schnorr, verify_schnorr
from verivote.crypto.transport import new_transport_key, open_sealed, seal


class CeremonyError(ValueError):
    """The ceremony cannot produce a key (bad parameters, or too few qualified guardians)."""


# --- public messages -------------------------------------------------------------------


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CommitmentHash(_Message):
    guardian: int
    hash: str


class ProofHex(_Message):
    challenge: str
    response: str


class GuardianKeys(_Message):
    guardian: int
    commitments: list[str]
    proofs: list[ProofHex]
    transport_key: str


class EncryptedShare(_Message):
    sender: int
    recipient: int
    nonce: str
    ciphertext: str


class Complaint(_Message):
    complainant: int
    accused: int
    reason: str


class ComplaintAnswer(_Message):
    accused: int
    complainant: int
    share: str


class CeremonyTranscript(_Message):
    """Everything the ceremony published, in order; enough to check it and to compute every
    guardian's public share."""

    group: str
    guardians: int
    quorum: int
    base_hash: str
    commitment_hashes: list[CommitmentHash]
    keys: list[GuardianKeys]
    shares: list[EncryptedShare]
    complaints: list[Complaint]
    answers: list[ComplaintAnswer]
    qualified: list[int]
    joint_key: str


# --- private state -----------------------------------------------------------------------


@dataclass
class GuardianSecrets:
    """What guardian `index` must keep to itself during the ceremony."""

    index: int
    coefficients: list[int]
    transport_private: bytes = field(repr=False)

    def share_for(self, recipient: int, q: int) -> int:
        """Pᵢ(recipient), by Horner's rule."""
        acc = 0
        for a in reversed(self.coefficients):
            acc = (acc * recipient + a) % q
        return acc


@dataclass(frozen=True)
class KeyShare:
    """Guardian `guardian`'s secret share sₗ of the election key and the public facts it needs."""

    group: str
    guardian: int
    secret: int = field(repr=False)
    guardians: int
    quorum: int
    base_hash: str
    joint_key: str


# --- the steps -------------------------------------------------------------------------


def _check_parameters(n: int, k: int) -> None:
    if n < 1:
        raise CeremonyError(f"a ceremony needs at least 1 guardian, got {n}")
    if not 1 <= k <= n:
        raise CeremonyError(f"the quorum must be between 1 and {n} guardians, got {k}")


def _commitments_hash(group: Group[Any], base_hash: bytes, index: int, enc: list[bytes]) -> str:
    return hash_items("commitments", base_hash, group.name, index, enc).hex()


def _schnorr_context(base_hash: bytes, index: int, j: int) -> list[bytes | int | str]:
    return [base_hash, "coefficient", index, j]


def guardian_setup(
    group: Group[Any], index: int, quorum: int, base_hash: bytes, nonce: NonceSource | None = None
) -> tuple[GuardianSecrets, CommitmentHash, GuardianKeys]:
    """Step 1–2 for guardian `index` (1-based): its polynomial, the hash to publish first, and
    the commitments with their proofs to reveal once every hash is on the board."""
    rand = nonce or group.random_scalar
    coefficients = [rand() for _ in range(quorum)]
    commitments = [group.pow_g(a) for a in coefficients]
    enc = [group.encode(c) for c in commitments]
    proofs = []
    for j, (a, c) in enumerate(zip(coefficients, commitments, strict=True)):
        p = prove_schnorr(group, a, c, _schnorr_context(base_hash, index, j), rand)
        proofs.append(ProofHex(challenge=hex(p.challenge), response=hex(p.response)))
    transport_private, transport_public = new_transport_key()
    secrets = GuardianSecrets(index, coefficients, transport_private)
    committed = CommitmentHash(guardian=index, hash=_commitments_hash(group, base_hash, index, enc))
    keys = GuardianKeys(
        guardian=index,
        commitments=[e.hex() for e in enc],
        proofs=proofs,
        transport_key=transport_public.hex(),
    )
    return secrets, committed, keys


def send_shares(
    group: Group[Any], sender: GuardianSecrets, keys: Sequence[GuardianKeys], base_hash: bytes
) -> list[EncryptedShare]:
    """Step 3: Pᵢ(ℓ) sealed for every other guardian ℓ."""
    out = []
    for other in keys:
        if other.guardian == sender.index:
            continue
        share = group.encode_scalar(sender.share_for(other.guardian, group.q))
        nonce, ct = seal(
            share,
            sender.transport_private,
            bytes.fromhex(other.transport_key),
            base_hash,
            sender.index,
            other.guardian,
        )
        out.append(
            EncryptedShare(
                sender=sender.index,
                recipient=other.guardian,
                nonce=nonce.hex(),
                ciphertext=ct.hex(),
            )
        )
    return out


def _decode_commitments(group: Group[Any], keys: GuardianKeys) -> list[Any]:
    return [group.decode(bytes.fromhex(c)) for c in keys.commitments]


def share_matches(
    group: Group[Any], commitments: Sequence[Any], recipient: int, share: int
) -> bool:
    """g^share = ∏ⱼ Kⱼ^(recipient^j): the Feldman check of one share."""
    q = group.q
    expected = group.multi_pow([(c, pow(recipient, j, q)) for j, c in enumerate(commitments)])
    return bool(group.pow_g(share) == expected)


def receive_shares(
    group: Group[Any],
    recipient: GuardianSecrets,
    keys: Sequence[GuardianKeys],
    shares: Sequence[EncryptedShare],
    base_hash: bytes,
) -> tuple[dict[int, int], list[Complaint]]:
    """Step 4 for one recipient: the shares that check out, and complaints for the others."""
    by_guardian = {k.guardian: k for k in keys}
    mine = {s.sender: s for s in shares if s.recipient == recipient.index}
    accepted: dict[int, int] = {}
    complaints: list[Complaint] = []
    for sender, sender_keys in sorted(by_guardian.items()):
        if sender == recipient.index:
            continue
        message = mine.get(sender)
        if message is None:
            complaints.append(_complaint(recipient.index, sender, "no share was sent"))
            continue
        plain = open_sealed(
            bytes.fromhex(message.nonce),
            bytes.fromhex(message.ciphertext),
            recipient.transport_private,
            bytes.fromhex(sender_keys.transport_key),
            base_hash,
            sender,
            recipient.index,
        )
        if plain is None:
            complaints.append(_complaint(recipient.index, sender, "the share does not decrypt"))
            continue
        try:
            value = group.decode_scalar(plain)
            commitments = _decode_commitments(group, sender_keys)
        except ValueError:
            complaints.append(_complaint(recipient.index, sender, "the share is malformed"))
            continue
        if not share_matches(group, commitments, recipient.index, value):
            complaints.append(
                _complaint(recipient.index, sender, "the share does not match the commitments")
            )
            continue
        accepted[sender] = value
    return accepted, complaints


def _complaint(complainant: int, accused: int, reason: str) -> Complaint:
    return Complaint(complainant=complainant, accused=accused, reason=reason)


def answer_complaint(
    group: Group[Any], accused: GuardianSecrets, complaint: Complaint
) -> ComplaintAnswer:
    """The accused reveals the disputed share; anyone can then check it."""
    share = accused.share_for(complaint.complainant, group.q)
    return ComplaintAnswer(
        accused=accused.index, complainant=complaint.complainant, share=hex(share)
    )


# --- checking and finishing ---------------------------------------------------------------


def _keys_failure(group: Group[Any], t: CeremonyTranscript, keys: GuardianKeys) -> str | None:
    """Why guardian `keys.guardian`'s published polynomial is unacceptable, or None."""
    base_hash = bytes.fromhex(t.base_hash)
    hashes = {h.guardian: h.hash for h in t.commitment_hashes}
    if len(keys.commitments) != t.quorum or len(keys.proofs) != t.quorum:
        return f"guardian {keys.guardian} did not publish {t.quorum} commitments and proofs"
    try:
        commitments = _decode_commitments(group, keys)
    except (InvalidElement, ValueError) as exc:
        return f"guardian {keys.guardian}: a commitment is not a group element ({exc})"
    enc = [group.encode(c) for c in commitments]
    if hashes.get(keys.guardian) != _commitments_hash(group, base_hash, keys.guardian, enc):
        return f"guardian {keys.guardian}: the commitments do not match the hash published first"
    for j, (c, p) in enumerate(zip(commitments, keys.proofs, strict=True)):
        proof = SchnorrProof(int(p.challenge, 16), int(p.response, 16))
        if not verify_schnorr(group, c, proof, _schnorr_context(base_hash, keys.guardian, j)):
            return f"guardian {keys.guardian}: the proof of coefficient {j} does not verify"
    return None


def keys_failure(group: Group[Any], t: CeremonyTranscript, keys: GuardianKeys) -> str | None:
    """Why a revealed polynomial is unacceptable (count, encoding, hash published first,
    Schnorr proofs), or None: what a server checks before it keeps a reveal (issue 14)."""
    return _keys_failure(group, t, keys)


def qualified_guardians(group: Group[Any], t: CeremonyTranscript) -> tuple[list[int], list[str]]:
    """QUAL, recomputed from the public messages, and the reason for each exclusion."""
    reasons: list[str] = []
    keys = {k.guardian: k for k in t.keys}
    bad: set[int] = set()
    for index in range(1, t.guardians + 1):
        if index not in keys:
            bad.add(index)
            reasons.append(f"guardian {index} revealed no commitments")
            continue
        failure = _keys_failure(group, t, keys[index])
        if failure:
            bad.add(index)
            reasons.append(failure)
    answers = {(a.accused, a.complainant): a for a in t.answers}
    for c in t.complaints:
        if c.accused in bad:
            continue
        answer = answers.get((c.accused, c.complainant))
        if answer is None:
            bad.add(c.accused)
            reasons.append(f"guardian {c.accused} did not answer the complaint of {c.complainant}")
            continue
        commitments = _decode_commitments(group, keys[c.accused])
        share = int(answer.share, 16)
        if not (0 <= share < group.q and share_matches(group, commitments, c.complainant, share)):
            bad.add(c.accused)
            reasons.append(
                f"guardian {c.accused} sent guardian {c.complainant} a share that does not "
                "match its commitments"
            )
    return [i for i in range(1, t.guardians + 1) if i not in bad], reasons


def joint_key(group: Group[Any], t: CeremonyTranscript, qualified: Sequence[int]) -> Any:
    """K = ∏_{i∈QUAL} Kᵢ₀."""
    keys = {k.guardian: k for k in t.keys}
    return group.prod([group.decode(bytes.fromhex(keys[i].commitments[0])) for i in qualified])


def public_share(group: Group[Any], t: CeremonyTranscript, guardian: int) -> Any:
    """Kₗ = g^sₗ = ∏_{i∈QUAL} ∏ⱼ Kᵢⱼ^(ℓ^j), from the transcript alone."""
    keys = {k.guardian: k for k in t.keys}
    q = group.q
    pairs = []
    for i in t.qualified:
        for j, c in enumerate(_decode_commitments(group, keys[i])):
            pairs.append((c, pow(guardian, j, q)))
    return group.multi_pow(pairs)


def verify_transcript(t: CeremonyTranscript) -> list[str]:
    """Every problem with a published ceremony; an empty list means it is sound:
    parameters, commitment hashes, Schnorr proofs, complaints resolved, QUAL and the joint key."""
    from verivote.crypto.groups import get_group

    try:
        group = get_group(t.group)
    except ValueError as exc:
        return [str(exc)]
    problems: list[str] = []
    try:
        _check_parameters(t.guardians, t.quorum)
    except CeremonyError as exc:
        return [str(exc)]
    qualified, reasons = qualified_guardians(group, t)
    if qualified != t.qualified:
        problems.append(
            f"the qualified guardians are {qualified}, the transcript says {t.qualified}"
        )
        problems.extend(reasons)
    if len(qualified) < t.quorum:
        problems.append(
            f"only {len(qualified)} guardians qualified, fewer than the quorum {t.quorum}"
        )
        return problems
    if group.encode(joint_key(group, t, qualified)).hex() != t.joint_key:
        problems.append("the joint key is not the product of the qualified constant commitments")
    return problems


# --- playing every guardian in one process ---------------------------------------------------


@dataclass
class CeremonyOutcome:
    transcript: CeremonyTranscript
    shares: dict[int, KeyShare]
    excluded: list[str]


def run_ceremony(
    group: Group[Any],
    guardians: int,
    quorum: int,
    base_hash: bytes,
    nonce: NonceSource | None = None,
    dishonest: Mapping[int, Callable[[GuardianSecrets], GuardianSecrets]] | None = None,
) -> CeremonyOutcome:
    """All steps for `guardians` guardians in one process.

    `dishonest` maps a guardian to a function that alters its secrets *after* it has published
    its commitments (tests: a guardian that sends shares of another polynomial).
    """
    _check_parameters(guardians, quorum)
    setups = [guardian_setup(group, i, quorum, base_hash, nonce) for i in range(1, guardians + 1)]
    secrets = {s.index: s for s, _, _ in setups}
    hashes = [h for _, h, _ in setups]
    keys = [k for _, _, k in setups]
    for index, alter in (dishonest or {}).items():
        secrets[index] = alter(secrets[index])
    sent: list[EncryptedShare] = []
    for s in secrets.values():
        sent.extend(send_shares(group, s, keys, base_hash))
    received: dict[int, dict[int, int]] = {}
    complaints: list[Complaint] = []
    for s in secrets.values():
        received[s.index], raised = receive_shares(group, s, keys, sent, base_hash)
        complaints.extend(raised)
    answers = [answer_complaint(group, secrets[c.accused], c) for c in complaints]
    draft = CeremonyTranscript(
        group=group.name,
        guardians=guardians,
        quorum=quorum,
        base_hash=base_hash.hex(),
        commitment_hashes=hashes,
        keys=keys,
        shares=sent,
        complaints=complaints,
        answers=answers,
        qualified=[],
        joint_key="",
    )
    qualified, excluded = qualified_guardians(group, draft)
    if len(qualified) < quorum:
        raise CeremonyError(
            f"only {len(qualified)} guardians qualified, fewer than the quorum {quorum}: "
            + "; ".join(excluded)
        )
    key = joint_key(group, draft, qualified)
    transcript = draft.model_copy(
        update={"qualified": qualified, "joint_key": group.encode(key).hex()}
    )
    revealed = {(a.accused, a.complainant): int(a.share, 16) for a in answers}
    out: dict[int, KeyShare] = {}
    for index, s in secrets.items():
        total = 0
        for i in qualified:
            if i == index:
                value = s.share_for(index, group.q)
            else:
                value = received[index].get(i, revealed.get((i, index), 0))
            total = (total + value) % group.q
        out[index] = KeyShare(
            group=group.name,
            guardian=index,
            secret=total,
            guardians=guardians,
            quorum=quorum,
            base_hash=base_hash.hex(),
            joint_key=transcript.joint_key,
        )
    return CeremonyOutcome(transcript, out, excluded)
