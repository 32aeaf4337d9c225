"""A verifiable re-encryption shuffle of rows of ElGamal ciphertexts (issue 16, item 2).

The shuffle and its proof are those of Terelius and Wikström ("Proofs of restricted
shuffles", AFRICACRYPT 2010) in the optimised form written as pseudo-code by Haenni, Locher,
Koenig and Dubuis ("Pseudo-Code Algorithms for Verifiable Re-Encryption Mix-Nets", Voting'17,
LNCS 10323: section 3 for the proof, section 4 for its algorithms GenShuffle, GenPermutation,
GenProof, GenPermutationCommitment, GenCommitmentChain and CheckProof). The CHVote protocol
specification carries the same algorithms in its chapter on mixing as GenShuffle,
GenShuffleProof and CheckShuffleProof (its section numbers move between versions). Names below
follow that pseudo-code; indices run from 0 here instead of 1.

Rows
----
Each input item is a row of w ciphertexts (all rows the same width, w ≥ 1): a ballot packed
into w group elements. One permutation ψ moves whole rows, and every ciphertext gets its own
re-encryption nonce:

    out[i][k] = ReEnc(in[ψ(i)][k]; r′[i][k])  =  (α·g^r′, β·K^r′)       (GenShuffle)

The proof is the spec's with the re-encryption part taken column by column, the way Wikström
proves a shuffle of vectors (and Culnane et al., "A description and proof of a generalised and
optimised variant of Wikström's mixnet", arXiv:1901.08371, prove it sound):

- The permutation commitment, the challenge vector u, the commitment chain and the responses
  s′ᵢ = ω′ᵢ + c·ũᵢ are exactly the spec's: they bind one permutation, shared by all columns.
- The spec's single t₄ = (t₄,₁, t₄,₂) and s₄ become one pair and one response per column k:

      t₄,ₖ = (g^(−ω₄,ₖ)·∏ᵢ α′ᵢₖ^ω′ᵢ ,  K^(−ω₄,ₖ)·∏ᵢ β′ᵢₖ^ω′ᵢ)
      s₄,ₖ = ω₄,ₖ + c·Σᵢ r′ᵢₖ·ũᵢ

  and the verifier checks, per column, t₄,ₖ = (ẽₖ,α^(−c)·g^(−s₄,ₖ)·∏ᵢ α′ᵢₖ^s′ᵢ,
  ẽₖ,β^(−c)·K^(−s₄,ₖ)·∏ᵢ β′ᵢₖ^s′ᵢ) with ẽₖ = ∏ᵢ inᵢₖ^uᵢ. Because the same ω′ᵢ and s′ᵢ
  appear in every column, the extractor gets one permutation matrix that maps every column
  (so whole rows move together), and per column the re-encryption randomness Σᵢ r′ᵢₖ·ũᵢ.
  With w = 1 this is the spec's proof letter for letter.

Ciphertexts here are (α, β) = (g^r, m·K^r) (`verivote.crypto.elgamal`); the spec writes them
(a, b) = (m·pk^r, g^r), so its t₄,₁ (in pk) is our β part and its t₄,₂ (in g) our α part.

Generators
----------
h and h₀ … h_(N−1) (the spec's h, h₁ … h_N, from GetGenerators) are hashed to the group, so
nobody knows a discrete-log relation among them or to g (`generator`): ristretto255 uses
libsodium's `crypto_core_ristretto255_from_hash` (the RFC 9496 one-way map) on 64 bytes of
SHA-512; eg4096 raises a hash-derived integer x mod p to the cofactor r = (p − 1)/q, which
lands in the order-q subgroup (squaring would only reach the quadratic residues, of order
q·r′, since p is not a safe prime). Index 0 of the tag "shuffle/generator" is h; index i + 1
is hᵢ.

Hashes (every input written down)
---------------------------------
With enc the group's canonical element encoding and `hashing.encode_items` framing:

    d  = H("shuffle/statement", context, group name, enc(K), N, w,
           [[[enc(α), enc(β)] per ciphertext] per input row],
           [[[enc(α′), enc(β′)] per ciphertext] per output row],
           [enc(c₀), …, enc(c_(N−1))])                        (SHA-256, 32 bytes)
    uᵢ = challenge(q, "shuffle/u", d, i)        for i = 0 … N−1     (the spec's GetChallenges)
    c  = challenge(q, "shuffle/challenge", d, [enc(ĉ₀), …, enc(ĉ_(N−1))],
                   [enc(t₁), enc(t₂), enc(t₃)], [[enc(t₄,ₖ,α), enc(t₄,ₖ,β)] per column k],
                   [enc(t̂₀), …, enc(t̂_(N−1))])                       (the spec's GetChallenge)

so both challenges cover the whole statement: the caller's context bytes (election, contest,
mixer, position in the chain), the key, the inputs, the outputs, the permutation commitment
and (for c) the commitment chain. As in `verivote.crypto.proofs`, the proof is carried in
challenge–response form: the verifier recomputes every t from the responses and accepts iff
the recomputed challenge equals c (equivalent to the spec's check t = t′ with c = H(y, t)).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from verivote.crypto import wire
from verivote.crypto.elgamal import Ciphertext, ElectionKey, reencrypt
from verivote.crypto.group import E, Group, InvalidElement
from verivote.crypto.hashing import challenge, encode_items, hash_items

NonceSource = Callable[[], int]
Row = Sequence[Ciphertext[E]]

GENERATOR_TAG = "shuffle/generator"


# --- independent generators ----------------------------------------------------------------


@lru_cache(maxsize=4096)
def _generator(group_name: str, index: int) -> Any:
    from verivote.crypto.groups import get_group

    group = get_group(group_name)
    attempt = 0
    while True:
        seed = encode_items(GENERATOR_TAG, [group_name, index, attempt])
        if group_name == "ristretto255":
            import rbcl

            h: Any = bytes(rbcl.crypto_core_ristretto255_from_hash(hashlib.sha512(seed).digest()))
        elif group_name == "eg4096":
            import gmpy2

            from verivote.crypto.groups.eg4096 import P, R

            # 9 × 512 = 4,608 bits, reduced mod the 4,096-bit p: the bias is below 2^-500.
            wide = b"".join(hashlib.sha512(seed + bytes([j])).digest() for j in range(9))
            x = gmpy2.mpz(int.from_bytes(wide, "big")) % P
            h = gmpy2.powmod(x, R, P) if x else group.identity()
        else:
            raise ValueError(f"no hash to the group {group_name!r}")
        if h != group.identity() and h != group.generator():
            return h
        attempt += 1


def generator(group: Group[E], index: int) -> E:
    """The index-th independent generator of `group`: index 0 is the spec's h, index i + 1
    its hᵢ₊₁ (GetGenerators). Hashed to the group with the tag "shuffle/generator", the
    group's name, the index and an attempt counter (a result equal to 1 or to g is skipped,
    which never happens in practice); nobody knows its discrete log to g or to another one."""
    if index < 0:
        raise ValueError("generator indices are non-negative")
    h: E = _generator(group.name, index)
    return h


def generators(group: Group[E], n: int) -> tuple[E, list[E]]:
    """(h, [h₀, …, h_(n−1)]): the generators a shuffle of n rows needs."""
    return generator(group, 0), [generator(group, i + 1) for i in range(n)]


# --- the shuffle ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShuffleWitness:
    """What the mixer keeps secret: output row i re-encrypts input row permutation[i], with
    randomness[i][k] the nonce of its k-th ciphertext."""

    permutation: tuple[int, ...]
    randomness: tuple[tuple[int, ...], ...]


def _random_permutation(n: int, rand: NonceSource) -> tuple[int, ...]:
    """GenPermutation: Fisher–Yates (Knuth's algorithm P) over 0 … n−1. Each step reduces a
    uniform scalar mod (i + 1); the bias is below n/q < 2^-200."""
    perm = list(range(n))
    for i in range(n - 1, 0, -1):
        j = rand() % (i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    return tuple(perm)


def _width(rows: Sequence[Row[Any]]) -> int:
    if not rows:
        raise ValueError("a shuffle needs at least one row")
    w = len(rows[0])
    if w < 1 or any(len(row) != w for row in rows):
        raise ValueError("every row must hold the same number (≥ 1) of ciphertexts")
    return w


def shuffle(
    ek: ElectionKey[E], rows: Sequence[Row[E]], rng: NonceSource | None = None
) -> tuple[list[tuple[Ciphertext[E], ...]], ShuffleWitness]:
    """GenShuffle (Haenni et al., section 4; CHVote, mixing): a random permutation ψ
    (GenPermutation) and out[i][k] = ReEnc(rows[ψ(i)][k]; r′ᵢₖ) with fresh r′ᵢₖ.

    `rng` returns uniform scalars in [0, q) (default: the group's CSPRNG); tests inject a
    seeded one. Returns the output rows and the witness the proof needs."""
    w = _width(rows)
    rand = rng or ek.group.random_scalar
    perm = _random_permutation(len(rows), rand)
    randomness = tuple(tuple(rand() for _ in range(w)) for _ in rows)
    outputs = [
        tuple(reencrypt(ek, ct, r) for ct, r in zip(rows[j], randomness[i], strict=True))
        for i, j in enumerate(perm)
    ]
    return outputs, ShuffleWitness(perm, randomness)


# --- the proof -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShuffleProof:
    """The spec's π = (c, s, c⃗, ĉ⃗) without t (recomputed by the verifier):

    - `challenge`: c;
    - `commitments`: the permutation commitment c₀ … c_(N−1) (GenPermutationCommitment);
    - `chain`: the commitment chain ĉ₀ … ĉ_(N−1) (GenCommitmentChain);
    - `s1`, `s2`, `s3`: the spec's s₁, s₂, s₃; `s4`: one s₄,ₖ per column k;
    - `s_hat`: ŝ₀ … ŝ_(N−1); `s_prime`: s′₀ … s′_(N−1) (the spec's s̃ or s′).
    """

    challenge: int
    commitments: tuple[Any, ...]
    chain: tuple[Any, ...]
    s1: int
    s2: int
    s3: int
    s4: tuple[int, ...]
    s_hat: tuple[int, ...]
    s_prime: tuple[int, ...]


def _rows_encoded(group: Group[E], rows: Sequence[Row[E]]) -> list[list[list[bytes]]]:
    enc = group.encode
    return [[[enc(ct.alpha), enc(ct.beta)] for ct in row] for row in rows]


def _statement_digest(
    ek: ElectionKey[E],
    context: bytes,
    rows: Sequence[Row[E]],
    outputs: Sequence[Row[E]],
    commitments: Sequence[E],
) -> bytes:
    g = ek.group
    return hash_items(
        "shuffle/statement",
        context,
        g.name,
        ek.encoded(),
        len(rows),
        len(rows[0]),
        _rows_encoded(g, rows),
        _rows_encoded(g, outputs),
        [g.encode(c) for c in commitments],
    )


def _challenges_u(q: int, digest: bytes, n: int) -> list[int]:
    """GetChallenges: u₀ … u_(n−1), each hashed from the statement digest and its index."""
    return [challenge(q, "shuffle/u", digest, i) for i in range(n)]


def _final_challenge(
    group: Group[E],
    digest: bytes,
    chain: Sequence[E],
    t123: Sequence[E],
    t4: Sequence[tuple[E, E]],
    t_hat: Sequence[E],
) -> int:
    enc = group.encode
    return challenge(
        group.q,
        "shuffle/challenge",
        digest,
        [enc(x) for x in chain],
        [enc(x) for x in t123],
        [[enc(a), enc(b)] for a, b in t4],
        [enc(x) for x in t_hat],
    )


def prove_shuffle(
    ek: ElectionKey[E],
    context: bytes,
    rows: Sequence[Row[E]],
    outputs: Sequence[Row[E]],
    witness: ShuffleWitness,
    nonce: NonceSource | None = None,
) -> ShuffleProof:
    """GenShuffleProof (Haenni et al., section 4; CHVote, mixing), for rows (module docstring).

    The permutation commitment is cⱼ = g^rⱼ · ∏_{i: ψ(i) = j} hᵢ: for a permutation that is the
    spec's c_ψ(i) = g^r_ψ(i)·hᵢ; written as a product it also runs, unchanged, on a witness
    that is no permutation (the tests feed it such witnesses to see the proof fail).
    `nonce` supplies the prover's random scalars (default: the group's CSPRNG)."""
    g = ek.group
    q = g.q
    w = _width(rows)
    n = len(rows)
    perm = witness.permutation
    if len(outputs) != n or any(len(row) != w for row in outputs):
        raise ValueError("the outputs must have the inputs' shape")
    if len(perm) != n or any(not 0 <= j < n for j in perm):
        raise ValueError("the witness does not map outputs to inputs")
    if len(witness.randomness) != n or any(len(rs) != w for rs in witness.randomness):
        raise ValueError("the witness needs one nonce per output ciphertext")
    rand = nonce or g.random_scalar
    h, hs = generators(g, n)

    # GenPermutationCommitment
    r = [rand() for _ in range(n)]
    preimages: list[list[int]] = [[] for _ in range(n)]
    for i, j in enumerate(perm):
        preimages[j].append(i)
    commitments = [g.mul(g.pow_g(r[j]), g.prod([hs[i] for i in preimages[j]])) for j in range(n)]

    digest = _statement_digest(ek, context, rows, outputs, commitments)
    u = _challenges_u(q, digest, n)
    u_tilde = [u[perm[i]] for i in range(n)]

    # GenCommitmentChain
    r_hat = [rand() for _ in range(n)]
    chain: list[E] = []
    previous = h
    for i in range(n):
        previous = g.mul(g.pow_g(r_hat[i]), g.pow(previous, u_tilde[i]))
        chain.append(previous)

    # commitments of the Σ-protocol
    w1, w2, w3 = rand(), rand(), rand()
    w4 = [rand() for _ in range(w)]
    w_hat = [rand() for _ in range(n)]
    w_prime = [rand() for _ in range(n)]
    t1 = g.pow_g(w1)
    t2 = g.pow_g(w2)
    t3 = g.mul(g.pow_g(w3), g.multi_pow(list(zip(hs, w_prime, strict=True))))
    t4 = [
        (
            g.mul(
                g.pow_g(-w4[k]),
                g.multi_pow([(outputs[i][k].alpha, w_prime[i]) for i in range(n)]),
            ),
            g.mul(
                ek.pow_k(-w4[k]),
                g.multi_pow([(outputs[i][k].beta, w_prime[i]) for i in range(n)]),
            ),
        )
        for k in range(w)
    ]
    t_hat = [
        g.mul(g.pow_g(w_hat[i]), g.pow(chain[i - 1] if i else h, w_prime[i])) for i in range(n)
    ]
    c = _final_challenge(g, digest, chain, (t1, t2, t3), t4, t_hat)

    # responses: vᵢ = ∏_{j > i} ũⱼ, so that ĉ_(N−1) = g^(Σ r̂ᵢ·vᵢ) · h^(∏ uᵢ)
    v = [1] * n
    for i in range(n - 2, -1, -1):
        v[i] = u_tilde[i + 1] * v[i + 1] % q
    r_bar = sum(r) % q
    r_hat_sum = sum(a * b for a, b in zip(r_hat, v, strict=True)) % q
    r_u = sum(a * b for a, b in zip(r, u, strict=True)) % q
    r4 = [sum(witness.randomness[i][k] * u_tilde[i] for i in range(n)) % q for k in range(w)]
    return ShuffleProof(
        challenge=c,
        commitments=tuple(commitments),
        chain=tuple(chain),
        s1=(w1 + c * r_bar) % q,
        s2=(w2 + c * r_hat_sum) % q,
        s3=(w3 + c * r_u) % q,
        s4=tuple((w4[k] + c * r4[k]) % q for k in range(w)),
        s_hat=tuple((w_hat[i] + c * r_hat[i]) % q for i in range(n)),
        s_prime=tuple((w_prime[i] + c * u_tilde[i]) % q for i in range(n)),
    )


# --- verification --------------------------------------------------------------------------


def _all_members(group: Group[Any], elements: Sequence[Any]) -> bool:
    """Whether every value is an element of the group's prime-order group (never raises)."""
    if group.name == "eg4096":
        from verivote.crypto.groups.eg4096 import batch_is_member

        return batch_is_member(list(elements))
    try:
        return all(group.decode(group.encode(e)) == e for e in elements)
    except (InvalidElement, ValueError, TypeError, AttributeError, OverflowError):
        return False


def _is_scalar(q: int, k: object) -> bool:
    return type(k) is int and 0 <= k < q


def _well_formed(
    ek: ElectionKey[Any],
    rows: Sequence[Row[Any]],
    outputs: Sequence[Row[Any]],
    proof: ShuffleProof,
) -> bool:
    """Shapes, scalars in [0, q), and every element in the group."""
    g = ek.group
    q = g.q
    n = len(rows)
    if n < 1 or len(outputs) != n:
        return False
    w = len(rows[0])
    if w < 1:
        return False
    elements: list[Any] = [ek.key]
    for row in (*rows, *outputs):
        if not isinstance(row, Sequence) or len(row) != w:
            return False
        for ct in row:
            if not isinstance(ct, Ciphertext):
                return False
            elements.append(ct.alpha)
            elements.append(ct.beta)
    if not isinstance(proof, ShuffleProof):
        return False
    vectors = (proof.commitments, proof.chain, proof.s_hat, proof.s_prime)
    if any(not isinstance(x, tuple) or len(x) != n for x in vectors):
        return False
    if not isinstance(proof.s4, tuple) or len(proof.s4) != w:
        return False
    scalars = (proof.challenge, proof.s1, proof.s2, proof.s3, *proof.s4)
    if not all(_is_scalar(q, k) for k in (*scalars, *proof.s_hat, *proof.s_prime)):
        return False
    elements.extend(proof.commitments)
    elements.extend(proof.chain)
    return _all_members(g, elements)


def check_shuffle(
    ek: ElectionKey[E],
    context: bytes,
    rows: Sequence[Row[E]],
    outputs: Sequence[Row[E]],
    proof: ShuffleProof,
) -> bool:
    """CheckShuffleProof (Haenni et al., section 4; CHVote, mixing), for rows.

    First every shape, scalar and element is checked (the key, every α and β of the inputs and
    outputs, the commitments and the chain must be group elements; every scalar in [0, q));
    then, with ũ unknown to the verifier,

        c̄ = ∏cⱼ / ∏hᵢ,   ĉ = ĉ_(N−1) / h^(∏uᵢ),   c̃ = ∏cᵢ^uᵢ,   ẽₖ = ∏ᵢ inᵢₖ^uᵢ
        t₁ = c̄^(−c)·g^s₁        t₂ = ĉ^(−c)·g^s₂        t₃ = c̃^(−c)·g^s₃·∏hᵢ^s′ᵢ
        t₄,ₖ = (ẽₖ,α^(−c)·g^(−s₄,ₖ)·∏ᵢ α′ᵢₖ^s′ᵢ ,  ẽₖ,β^(−c)·K^(−s₄,ₖ)·∏ᵢ β′ᵢₖ^s′ᵢ)
        t̂ᵢ = ĉᵢ^(−c)·g^ŝᵢ·ĉᵢ₋₁^s′ᵢ      (ĉ₋₁ = h)

    and the proof holds iff c = H(statement, ĉ, t) (module docstring). Returns False for
    anything malformed; never raises on bad input."""
    try:
        if not _well_formed(ek, rows, outputs, proof):
            return False
        return _check(ek, context, rows, outputs, proof)
    except (InvalidElement, ValueError, TypeError, AttributeError, IndexError, OverflowError):
        return False


def _check(
    ek: ElectionKey[E],
    context: bytes,
    rows: Sequence[Row[E]],
    outputs: Sequence[Row[E]],
    proof: ShuffleProof,
) -> bool:
    g = ek.group
    q = g.q
    n = len(rows)
    w = len(rows[0])
    c = proof.challenge
    minus_c = -c % q
    h, hs = generators(g, n)
    chain = proof.chain

    digest = _statement_digest(ek, context, rows, outputs, proof.commitments)
    u = _challenges_u(q, digest, n)
    u_prod = 1
    for x in u:
        u_prod = u_prod * x % q

    c_bar = g.div(g.prod(list(proof.commitments)), g.prod(hs))
    c_hat = g.div(chain[-1], g.pow(h, u_prod))
    c_tilde = g.multi_pow(list(zip(proof.commitments, u, strict=True)))
    t1 = g.mul(g.pow(c_bar, minus_c), g.pow_g(proof.s1))
    t2 = g.mul(g.pow(c_hat, minus_c), g.pow_g(proof.s2))
    t3 = g.multi_pow(
        [(c_tilde, minus_c), (g.generator(), proof.s3), *zip(hs, proof.s_prime, strict=True)]
    )
    t4 = []
    for k in range(w):
        e_alpha = g.multi_pow([(rows[i][k].alpha, u[i]) for i in range(n)])
        e_beta = g.multi_pow([(rows[i][k].beta, u[i]) for i in range(n)])
        s4 = proof.s4[k]
        t4.append(
            (
                g.mul(
                    g.mul(g.pow(e_alpha, minus_c), g.pow_g(-s4)),
                    g.multi_pow([(outputs[i][k].alpha, proof.s_prime[i]) for i in range(n)]),
                ),
                g.mul(
                    g.mul(g.pow(e_beta, minus_c), ek.pow_k(-s4)),
                    g.multi_pow([(outputs[i][k].beta, proof.s_prime[i]) for i in range(n)]),
                ),
            )
        )
    t_hat = [
        g.multi_pow(
            [
                (chain[i], minus_c),
                (g.generator(), proof.s_hat[i]),
                (chain[i - 1] if i else h, proof.s_prime[i]),
            ]
        )
        for i in range(n)
    ]
    return c == _final_challenge(g, digest, chain, (t1, t2, t3), t4, t_hat)


# --- wire form -----------------------------------------------------------------------------


def shuffle_proof_to_json(group: Group[Any], proof: ShuffleProof) -> wire.Json:
    """The proof as a JSON object of hex strings (elements in their canonical encoding,
    scalars fixed-width big-endian), like the other proofs (`verivote.crypto.wire`)."""

    def scalars(ks: Sequence[int]) -> list[str]:
        return [wire.scalar_hex(group, k) for k in ks]

    return {
        "challenge": wire.scalar_hex(group, proof.challenge),
        "commitments": [wire.element_hex(group, e) for e in proof.commitments],
        "chain": [wire.element_hex(group, e) for e in proof.chain],
        "s1": wire.scalar_hex(group, proof.s1),
        "s2": wire.scalar_hex(group, proof.s2),
        "s3": wire.scalar_hex(group, proof.s3),
        "s4": scalars(proof.s4),
        "s_hat": scalars(proof.s_hat),
        "s_prime": scalars(proof.s_prime),
    }


def shuffle_proof_from_json(group: Group[Any], doc: wire.Json) -> ShuffleProof:
    """Decode a proof, validating every element and scalar; raises ValueError (InvalidElement
    is one) for anything malformed, never returns a half-checked proof."""
    if not isinstance(doc, dict) or set(doc) != {
        "challenge",
        "commitments",
        "chain",
        "s1",
        "s2",
        "s3",
        "s4",
        "s_hat",
        "s_prime",
    }:
        raise ValueError("a shuffle proof has exactly the fields of shuffle_proof_to_json")

    def text_list(key: str) -> list[str]:
        value = doc[key]
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise ValueError(f"shuffle proof field {key!r} must be a list of hex strings")
        return value

    def scalar(key: str) -> int:
        value = doc[key]
        if not isinstance(value, str):
            raise ValueError(f"shuffle proof field {key!r} must be a hex string")
        return wire.scalar_from_hex(group, value)

    return ShuffleProof(
        challenge=scalar("challenge"),
        commitments=tuple(wire.element_from_hex(group, x) for x in text_list("commitments")),
        chain=tuple(wire.element_from_hex(group, x) for x in text_list("chain")),
        s1=scalar("s1"),
        s2=scalar("s2"),
        s3=scalar("s3"),
        s4=tuple(wire.scalar_from_hex(group, x) for x in text_list("s4")),
        s_hat=tuple(wire.scalar_from_hex(group, x) for x in text_list("s_hat")),
        s_prime=tuple(wire.scalar_from_hex(group, x) for x in text_list("s_prime")),
    )
