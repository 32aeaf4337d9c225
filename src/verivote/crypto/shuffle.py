"""A verifiable re-encryption shuffle of rows of ElGamal ciphertexts (issue 16, item 2).

The shuffle and its proof are those of Terelius and Wikström ("Proofs of restricted
shuffles", AFRICACRYPT 2010) in the optimised form written as pseudo-code by Haenni, Locher,
Koenig and Dubuis ("Pseudo-Code Algorithms for Verifiable Re-Encryption Mix-Nets", Voting'17,
LNCS 10323: section 3 for the proof, section 4 for its algorithms GenShuffle, GenPermutation,
GenProof, GenPermutationCommitment, GenCommitmentChain and CheckProof). The CHVote protocol
specification carries the same algorithms in its chapter on mixing as GenShuffle,
GenShuffleProof and CheckShuffleProof (its numbers move between versions: Algorithms 5.41
GenShuffle, 5.44 GenShuffleProof and 5.46 GenPermutationCommitment in the 1.x drafts that the
Geneva proof of concept follows; 8.47 GenShuffleProof and 8.51 CheckShuffleProof in 3.1).
Names below follow that pseudo-code; indices run from 0 here instead of 1.

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
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from verivote.crypto import wire
from verivote.crypto.elgamal import Ciphertext, ElectionKey
from verivote.crypto.group import E, Group, InvalidElement
from verivote.crypto.hashing import (
    ItemHasher,
    bytes_header,
    challenge,
    encode_items,
    sequence_header,
)

NonceSource = Callable[[], int]
Row = Sequence[Ciphertext[E]]

GENERATOR_TAG = "shuffle/generator"


# --- independent generators ----------------------------------------------------------------


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
    return _derived(group, index + 1)[index]


_DERIVED: dict[str, list[Any]] = {}
_DERIVED_LOCK = threading.Lock()


def _derived(group: Group[E], count: int) -> list[E]:
    """The first `count` generators of `group`, derived once per process and kept (32 bytes
    each for ristretto255, 512 for eg4096, where deriving one costs a 3,840-bit power)."""
    with _DERIVED_LOCK:
        known = _DERIVED.setdefault(group.name, [])
        while len(known) < count:
            known.append(_generator(group.name, len(known)))
        return known[:count]


def generators(group: Group[E], n: int) -> tuple[E, list[E]]:
    """(h, [h₀, …, h_(n−1)]): the generators a shuffle of n rows needs."""
    known = _derived(group, n + 1)
    return known[0], known[1:]


# --- process pools and bytes -----------------------------------------------------------------
# The per-row work of the shuffle, the proof and the check is split into contiguous chunks of
# rows. Each chunk is one call of a module-level `_…_task` function taking and returning
# elements packed as bytes (the group's canonical encodings back to back): the serial path
# runs the same functions in this process on one chunk, a pool runs them on many, so the two
# paths compute the same elements, and a worker never holds more than its chunk.

Runner = Callable[..., list[Any]]


def _pack(group: Group[E], elements: Iterable[E]) -> bytes:
    """The canonical encodings of `elements` back to back (checked to be of the right length,
    so that a malformed value cannot shift the others)."""
    parts = [group.encode(e) for e in elements]
    blob = b"".join(parts)
    if len(blob) != len(parts) * group.element_bytes:
        raise ValueError("a value is not an encodable group element")
    return blob


def _unpack(group: Group[E], blob: bytes) -> list[E]:
    """The values packed by `_pack`, NOT checked for membership (the callers check it when the
    bytes come from outside: `_check_task`)."""
    size = group.element_bytes
    if group.name == "ristretto255":
        return [blob[i : i + size] for i in range(0, len(blob), size)]  # type: ignore[misc]
    if group.name == "eg4096":
        import gmpy2

        return [gmpy2.mpz.from_bytes(blob[i : i + size], "big") for i in range(0, len(blob), size)]
    return [group.decode(blob[i : i + size]) for i in range(0, len(blob), size)]


def element_reader(group: Group[E], checked: bool = True) -> Callable[[str], E]:
    """hex → element: checked for membership (`wire.element_from_hex`), or with
    `checked=False` only read, of the group's encoding length, for a verifier that leaves the
    membership check to `check_shuffle`'s tasks (which check every element they get).
    ValueError or TypeError for text that is no hex of that length."""
    if checked:
        return lambda text: wire.element_from_hex(group, text)
    size = group.element_bytes

    def read(text: str) -> E:
        raw = bytes.fromhex(text)
        if len(raw) != size:
            raise ValueError(f"an encoded element is {size} bytes, got {len(raw)}")
        return raw if group.name == "ristretto255" else _unpack(group, raw)[0]  # type: ignore[return-value]

    return read


def _pack_rows(group: Group[E], rows: Iterable[Row[E]]) -> bytes:
    return _pack(group, (x for row in rows for ct in row for x in (ct.alpha, ct.beta)))


def _unpack_rows(group: Group[E], blob: bytes, w: int) -> list[tuple[Ciphertext[E], ...]]:
    xs = _unpack(group, blob)
    return [
        tuple(Ciphertext(xs[i + 2 * k], xs[i + 2 * k + 1]) for k in range(w))
        for i in range(0, len(xs), 2 * w)
    ]


def _ranges(n: int, parts: int) -> list[tuple[int, int]]:
    """`parts` (at most n) contiguous ranges covering 0 … n−1, sizes differing by at most 1."""
    parts = max(1, min(n, parts))
    size, extra = divmod(n, parts)
    out = []
    start = 0
    for p in range(parts):
        end = start + size + (1 if p < extra else 0)
        out.append((start, end))
        start = end
    return out


Block = tuple[int, int, int, int]
"""Rows a … b−1, columns ka … kb−1 of the ciphertexts: a task's share of the t₄ work."""


def _tasks(group: Group[Any], n: int, w: int, parts: int) -> list[tuple[tuple[int, int], Block]]:
    """For each task, its rows for the per-row work, and its block of ciphertexts for the
    per-column products of t₄ (where the ciphertexts are also checked). Rows are split into
    `parts` chunks. The ciphertexts are split by rows too, except in a group with a real
    multi-exponentiation (eg4096) when there are at least `parts` columns: then by columns,
    since cutting a multi-exponentiation in pieces repeats its 256 squarings in each piece.
    A task may get no rows, or an empty block."""
    rows = _ranges(n, parts)
    if group.name == "eg4096" and w >= parts > 1:
        blocks = [(0, n, ka, kb) for ka, kb in _ranges(w, parts)]
    else:
        blocks = [(a, b, 0, w) for a, b in rows]
    count = max(len(rows), len(blocks))
    rows += [(n, n)] * (count - len(rows))
    blocks += [(n, n, w, w)] * (count - len(blocks))
    return list(zip(rows, blocks, strict=True))


def _pack_block(group: Group[E], rows: Sequence[Row[E]], block: Block) -> bytes:
    a, b, ka, kb = block
    return _pack(
        group, (x for i in range(a, b) for ct in rows[i][ka:kb] for x in (ct.alpha, ct.beta))
    )


def _columns(xs: list[E], width: int) -> list[tuple[list[E], list[E]]]:
    """The α and β column of each of the `width` columns of packed rows."""
    return [(xs[2 * k :: 2 * width], xs[2 * k + 1 :: 2 * width]) for k in range(width)]


@contextmanager
def _runner(jobs: int | None, executor: Executor | None) -> Iterator[tuple[Runner, int]]:
    """(run, parts): run(fn, argument tuples) calls fn on each, in order, in this process or
    in the pool; parts is the number of chunks to cut the rows into.

    jobs=1 and no executor: no pool at all. jobs=None: every core. An executor (for example
    `shuffle_pool`) is used as it is and left running; otherwise a pool of `jobs` processes
    is made for the call and shut down after it."""
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    if workers < 1:
        raise ValueError("jobs must be at least 1")
    if executor is None and workers == 1:
        yield (lambda fn, calls: [fn(*args) for args in calls]), 1
        return
    pool = executor or ProcessPoolExecutor(max_workers=workers)

    def run(fn: Callable[..., Any], calls: list[tuple[Any, ...]]) -> list[Any]:
        futures = [pool.submit(fn, *args) for args in calls]
        return [f.result() for f in futures]

    try:
        yield run, workers
    finally:
        if executor is None:
            pool.shutdown(wait=True, cancel_futures=True)


def warm_key(ek: ElectionKey[Any]) -> None:
    """A worker's initializer: the fixed-base tables of g and of the election key, built once
    per worker process before its first chunk."""
    ek.group.pow_g(1)
    ek.pow_k(1)


def shuffle_pool(ek: ElectionKey[Any], jobs: int | None = None) -> ProcessPoolExecutor:
    """A process pool for `shuffle`, `prove_shuffle` and `check_shuffle` (pass it as
    `executor`, with `jobs` = its size, to reuse it across calls): each worker builds the
    fixed-base tables of g and of the election key once, when it starts."""
    return ProcessPoolExecutor(
        max_workers=jobs or os.cpu_count() or 1, initializer=warm_key, initargs=(ek,)
    )


# Above this many uses of one base in one chunk, eg4096 builds a fixed-base table for it (0.5 s
# to build, then ~0.11 ms an exponentiation instead of 1.2 ms: it pays after ~450 uses).
_TABLE_USES = 1000


def power_of(group: Group[E], base: E, uses: int) -> Callable[[int], E]:
    """k ↦ base^k for a base about to be raised `uses` times: a fixed-base table where the group
    has them and it pays (eg4096, `_TABLE_USES`), else `group.pow`."""
    if group.name == "eg4096" and uses >= _TABLE_USES:
        return group.fixed_base(base)
    return lambda k: group.pow(base, k)


def _multi_pow(group: Group[E], pairs: Sequence[tuple[E, int]]) -> E:
    """∏ aᵢ^kᵢ: the group's multi-exponentiation where it has one (eg4096), else one power per
    term and one product fewer than `Group.multi_pow` (which starts from the identity)."""
    if group.name == "eg4096":
        return group.multi_pow(pairs)
    acc: E | None = None
    pow_, mul = group.pow, group.mul
    for a, k in pairs:
        x = pow_(a, k)
        acc = x if acc is None else mul(acc, x)
    return group.identity() if acc is None else acc


def _prod(group: Group[E], elements: Sequence[E]) -> E:
    if not elements:
        return group.identity()
    acc = elements[0]
    for x in elements[1:]:
        acc = group.mul(acc, x)
    return acc


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


def _reencrypt_task(ek: ElectionKey[E], blob: bytes, nonces: list[int]) -> bytes:
    """GenReEncryption for a chunk: (α·g^r, β·K^r) for each packed (α, β) and its nonce."""
    g = ek.group
    xs = _unpack(g, blob)
    pow_g, pow_k, mul = g.pow_g, ek.pow_k, g.mul
    out: list[E] = []
    for idx, r in enumerate(nonces):
        out.append(mul(xs[2 * idx], pow_g(r)))
        out.append(mul(xs[2 * idx + 1], pow_k(r)))
    return _pack(g, out)


def shuffle(
    ek: ElectionKey[E],
    rows: Sequence[Row[E]],
    rng: NonceSource | None = None,
    *,
    jobs: int | None = 1,
    executor: Executor | None = None,
) -> tuple[list[tuple[Ciphertext[E], ...]], ShuffleWitness]:
    """GenShuffle (Haenni et al.; CHVote, mixing): a random permutation ψ (GenPermutation) and
    out[i][k] = ReEnc(rows[ψ(i)][k]; r′ᵢₖ) with fresh r′ᵢₖ (GenReEncryption).

    `rng` returns uniform scalars in [0, q) (default: the group's CSPRNG); tests inject a
    seeded one. Every random scalar is drawn here, in this order, whatever `jobs` is, so a
    seeded shuffle is the same with or without a pool. `jobs`/`executor`: the re-encryptions
    in chunks on a process pool (`_runner`). Returns the output rows and the witness."""
    w = _width(rows)
    g = ek.group
    rand = rng or g.random_scalar
    n = len(rows)
    perm = _random_permutation(n, rand)
    randomness = tuple(tuple(rand() for _ in range(w)) for _ in rows)
    with _runner(jobs, executor) as (run, parts):
        calls = [
            (
                ek,
                _pack_rows(g, (rows[perm[i]] for i in range(a, b))),
                [r for i in range(a, b) for r in randomness[i]],
            )
            for a, b in _ranges(n, parts)
        ]
        blobs = run(_reencrypt_task, calls)
    outputs = [row for blob in blobs for row in _unpack_rows(g, blob, w)]
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


def _add_rows(hasher: ItemHasher, group: Group[E], rows: Sequence[Row[E]]) -> None:
    """enc([[[enc(α), enc(β)] per ciphertext] per row]), one row at a time: a national
    district's rows are never all held as nested lists of encodings. Every encoding of the
    group is `element_bytes` long, so the headers are the same for every row of a width and
    each row's encoding is joined from them (the item-by-item `_encode` cost the verifier's
    main process about 25 µs a ciphertext of Tehran's split shuffles); a value of another
    length is hashed item by item, as `ItemHasher.add` would."""
    enc = group.encode
    size = group.element_bytes
    element = bytes_header(size)
    pair = sequence_header(2) + element
    hasher.open_sequence(len(rows))
    for row in rows:
        parts = [sequence_header(len(row))]
        for ct in row:
            a, b = enc(ct.alpha), enc(ct.beta)
            if len(a) != size or len(b) != size:
                hasher.add([[enc(ct.alpha), enc(ct.beta)] for ct in row])
                break
            parts += (pair, a, element, b)
        else:
            hasher.add_encoded(b"".join(parts))


def _statement_digest(
    ek: ElectionKey[E],
    context: bytes,
    rows: Sequence[Row[E]],
    outputs: Sequence[Row[E]],
    commitments: Sequence[E],
) -> bytes:
    sides = (rows, outputs)
    return _digest(
        ek, context, len(rows), len(rows[0]),
        lambda hasher, side: _add_rows(hasher, ek.group, sides[side]), commitments,
    )  # fmt: skip


def _digest(
    ek: ElectionKey[E],
    context: bytes,
    n: int,
    w: int,
    add_side: Callable[[ItemHasher, int], None],
    commitments: Sequence[E],
) -> bytes:
    """d (module docstring) of n rows of w ciphertexts, each side's rows (0 the inputs, 1
    the outputs) added by `add_side(hasher, side)` with their sequence's header: held here
    (`_add_rows`) or fed by tasks (`check_held_shuffle`)."""
    g = ek.group
    hasher = ItemHasher("shuffle/statement")
    for item in (context, g.name, ek.encoded(), n, w):
        hasher.add(item)
    add_side(hasher, 0)
    add_side(hasher, 1)
    hasher.open_sequence(len(commitments))
    for c in commitments:
        hasher.add(g.encode(c))
    return hasher.digest()


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


def _commit_task(
    ek: ElectionKey[E],
    r: list[int],
    preimages: list[bytes],
    hs_blob: bytes,
    w_prime: list[int],
    block_blob: bytes,
    block_w_prime: list[int],
    block_width: int,
) -> tuple[bytes, bytes, bytes]:
    """The prover's work of a task before the challenges u: for its rows, the commitments
    cⱼ = g^rⱼ·∏ h_ψ⁻¹(j) and the factor ∏ hᵢ^ω′ᵢ of t₃; for its block, per column k the
    factors ∏ α′ᵢₖ^ω′ᵢ and ∏ β′ᵢₖ^ω′ᵢ of t₄,ₖ. Returns the three packed."""
    g = ek.group
    commitments = []
    for rj, pre in zip(r, preimages, strict=True):
        c = g.pow_g(rj)
        for h in _unpack(g, pre):
            c = g.mul(c, h)
        commitments.append(c)
    t3 = _multi_pow(g, list(zip(_unpack(g, hs_blob), w_prime, strict=True)))
    t4 = [
        _multi_pow(g, list(zip(column, block_w_prime, strict=True)))
        for pair in _columns(_unpack(g, block_blob), block_width)
        for column in pair
    ]
    return _pack(g, commitments), _pack(g, [t3]), _pack(g, t4)


def _gh_task(group: Group[E], h_blob: bytes, pairs: list[tuple[int, int]]) -> bytes:
    """g^x · h^y for each (x, y): the chain elements and the t̂ᵢ of a chunk."""
    (h,) = _unpack(group, h_blob)
    pow_h = power_of(group, h, len(pairs))
    return _pack(group, [group.mul(group.pow_g(x), pow_h(y)) for x, y in pairs])


def prove_shuffle(
    ek: ElectionKey[E],
    context: bytes,
    rows: Sequence[Row[E]],
    outputs: Sequence[Row[E]],
    witness: ShuffleWitness,
    nonce: NonceSource | None = None,
    *,
    jobs: int | None = 1,
    executor: Executor | None = None,
) -> ShuffleProof:
    """GenShuffleProof (Haenni et al.'s GenProof; CHVote, mixing), for rows (module docstring).

    The permutation commitment is cⱼ = g^rⱼ · ∏_{i: ψ(i) = j} hᵢ: for a permutation that is the
    spec's c_ψ(i) = g^r_ψ(i)·hᵢ; written as a product it also runs, unchanged, on a witness
    that is no permutation (the tests feed it such witnesses to see the proof fail).

    The commitment chain ĉᵢ = g^r̂ᵢ·ĉᵢ₋₁^ũᵢ (GenCommitmentChain, ĉ₋₁ = h) is computed in its
    closed form ĉᵢ = g^Rᵢ·h^Uᵢ with Uᵢ = ũ₀⋯ũᵢ and Rᵢ = Σ_{j ≤ i} r̂ⱼ·ũⱼ₊₁⋯ũᵢ (the same
    elements), and likewise t̂ᵢ = g^ω̂ᵢ·ĉᵢ₋₁^ω′ᵢ = g^(ω̂ᵢ + Rᵢ₋₁·ω′ᵢ)·h^(Uᵢ₋₁·ω′ᵢ): no
    element waits for the one before, so chunks of rows run in parallel (`jobs`/`executor`,
    as in `shuffle`). `nonce` supplies the prover's random scalars (default: the group's
    CSPRNG), all drawn here in a fixed order, so a seeded proof is the same with or without a
    pool."""
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

    # every random scalar, in the order of the serial algorithm
    r = [rand() for _ in range(n)]
    r_hat = [rand() for _ in range(n)]
    w1, w2, w3 = rand(), rand(), rand()
    w4 = [rand() for _ in range(w)]
    w_hat = [rand() for _ in range(n)]
    w_prime = [rand() for _ in range(n)]

    preimages: list[list[int]] = [[] for _ in range(n)]
    for i, j in enumerate(perm):
        preimages[j].append(i)

    with _runner(jobs, executor) as (run, parts):
        tasks = _tasks(g, n, w, parts)
        chunks = [rows_ab for rows_ab, _ in tasks]
        # GenPermutationCommitment, and the factors of t₃ and t₄ that need no challenge
        results = run(
            _commit_task,
            [
                (
                    ek,
                    r[a:b],
                    [_pack(g, [hs[i] for i in preimages[j]]) for j in range(a, b)],
                    _pack(g, hs[a:b]),
                    w_prime[a:b],
                    _pack_block(g, outputs, block),
                    w_prime[block[0] : block[1]],
                    block[3] - block[2],
                )
                for (a, b), block in tasks
            ],
        )
        commitments = [c for blob, _, _ in results for c in _unpack(g, blob)]
        t3_factors = [_unpack(g, blob)[0] for _, blob, _ in results]
        t4_factors: list[list[E]] = [[] for _ in range(2 * w)]
        for (_, block), (_, _, blob) in zip(tasks, results, strict=True):
            for index, x in enumerate(_unpack(g, blob)):
                t4_factors[2 * block[2] + index].append(x)

        digest = _statement_digest(ek, context, rows, outputs, commitments)
        u = _challenges_u(q, digest, n)
        u_tilde = [u[perm[i]] for i in range(n)]

        # GenCommitmentChain and t̂ in closed form: (exponent of g, exponent of h) per element
        chain_exp: list[tuple[int, int]] = []
        t_hat_exp: list[tuple[int, int]] = []
        big_r, big_u = 0, 1
        for i in range(n):
            t_hat_exp.append(((w_hat[i] + big_r * w_prime[i]) % q, big_u * w_prime[i] % q))
            big_r = (r_hat[i] + u_tilde[i] * big_r) % q
            big_u = big_u * u_tilde[i] % q
            chain_exp.append((big_r, big_u))
        h_blob = _pack(g, [h])
        done = run(_gh_task, [(g, h_blob, chain_exp[a:b] + t_hat_exp[a:b]) for a, b in chunks])
    chain: list[E] = []
    t_hat: list[E] = []
    for (a, b), blob in zip(chunks, done, strict=True):
        xs = _unpack(g, blob)
        chain.extend(xs[: b - a])
        t_hat.extend(xs[b - a :])

    # the commitments of the Σ-protocol
    t1 = g.pow_g(w1)
    t2 = g.pow_g(w2)
    t3 = g.mul(g.pow_g(w3), _prod(g, t3_factors))
    t4 = [
        (
            g.mul(g.pow_g(-w4[k]), _prod(g, t4_factors[2 * k])),
            g.mul(ek.pow_k(-w4[k]), _prod(g, t4_factors[2 * k + 1])),
        )
        for k in range(w)
    ]
    c = _final_challenge(g, digest, chain, (t1, t2, t3), t4, t_hat)

    # responses; Σ r̂ᵢ·ũᵢ₊₁⋯ũ_(N−1) is R_(N−1), so that ĉ_(N−1) = g^R_(N−1) · h^(∏ uᵢ)
    r_bar = sum(r) % q
    r_u = sum(a * b for a, b in zip(r, u, strict=True)) % q
    r4 = [sum(witness.randomness[i][k] * u_tilde[i] for i in range(n)) % q for k in range(w)]
    return ShuffleProof(
        challenge=c,
        commitments=tuple(commitments),
        chain=tuple(chain),
        s1=(w1 + c * r_bar) % q,
        s2=(w2 + c * big_r) % q,
        s3=(w3 + c * r_u) % q,
        s4=tuple((w4[k] + c * r4[k]) % q for k in range(w)),
        s_hat=tuple((w_hat[i] + c * r_hat[i]) % q for i in range(n)),
        s_prime=tuple((w_prime[i] + c * u_tilde[i]) % q for i in range(n)),
    )


def exponentiations(n: int, w: int) -> dict[str, dict[str, int]]:
    """How many exponentiations `shuffle` + `prove_shuffle` ("prove") and `check_shuffle`
    ("verify") compute for n rows of w ciphertexts, by kind: "g" (`pow_g`, fixed base), "key"
    (`ek.pow_k`, the election key), "h" (powers of the generator h, `power_of`) and "other"
    (variable bases: ciphertexts, commitments, chain, the hᵢ). The benchmark times exactly
    these, one by one, as the floor (`verivote.bench.mix`).

    prove: re-encryption g^r′, K^r′ per ciphertext; commitments g^rⱼ; chain g^Rᵢ·h^Uᵢ and
    t̂ᵢ the same shape; t₁, t₂, t₃ one power of g each, t₃ also hᵢ^ω′ᵢ; t₄,ₖ g^(−ω₄,ₖ),
    K^(−ω₄,ₖ) and α′ᵢₖ^ω′ᵢ, β′ᵢₖ^ω′ᵢ.
    verify: c̄^(−c), ĉ^(−c), h^(∏u) and h^s′₀ (in t̂₀); t₃ cᵢ^(−c·uᵢ) and hᵢ^s′ᵢ;
    t₄,ₖ inᵢₖ^(−c·uᵢ) and α′ᵢₖ^s′ᵢ for α and for β; t̂ᵢ ĉᵢ^(−c), ĉᵢ₋₁^s′ᵢ; and g^s₁,
    g^s₂, g^s₃, g^(−s₄,ₖ), K^(−s₄,ₖ), g^ŝᵢ."""
    return {
        "prove": {"g": n * w + 3 * n + 3 + w, "key": n * w + w, "h": 2 * n, "other": n + 2 * n * w},
        "verify": {"g": 3 + w + n, "key": w, "h": 2, "other": 1 + 4 * n + 4 * n * w},
    }


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
    """Shapes, scalars in [0, q) and the key in the group; the membership of the ciphertexts,
    commitments and chain is checked chunk by chunk in `_check_task`."""
    n = len(rows)
    if n < 1 or len(outputs) != n:
        return False
    w = len(rows[0])
    if w < 1:
        return False
    for row in (*rows, *outputs):
        if not isinstance(row, Sequence) or len(row) != w:
            return False
        if not all(isinstance(ct, Ciphertext) for ct in row):
            return False
    return _proof_well_formed(ek, n, w, proof)


def _proof_well_formed(ek: ElectionKey[Any], n: int, w: int, proof: ShuffleProof) -> bool:
    """The proof's shapes for n rows of w ciphertexts, its scalars in [0, q), the key in the
    group."""
    q = ek.group.q
    if n < 1 or w < 1:
        return False
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
    return _all_members(ek.group, [ek.key])


def check_shuffle(
    ek: ElectionKey[E],
    context: bytes,
    rows: Sequence[Row[E]],
    outputs: Sequence[Row[E]],
    proof: ShuffleProof,
    *,
    jobs: int | None = 1,
    executor: Executor | None = None,
) -> bool:
    """CheckShuffleProof (Haenni et al.'s CheckProof; CHVote, mixing), for rows.

    First every shape, scalar and element is checked (the key, every α and β of the inputs and
    outputs, the commitments and the chain must be group elements; every scalar in [0, q));
    then, with ũ unknown to the verifier,

        c̄ = ∏cⱼ / ∏hᵢ,   ĉ = ĉ_(N−1) / h^(∏uᵢ),   c̃ = ∏cᵢ^uᵢ,   ẽₖ = ∏ᵢ inᵢₖ^uᵢ
        t₁ = c̄^(−c)·g^s₁        t₂ = ĉ^(−c)·g^s₂        t₃ = c̃^(−c)·g^s₃·∏hᵢ^s′ᵢ
        t₄,ₖ = (ẽₖ,α^(−c)·g^(−s₄,ₖ)·∏ᵢ α′ᵢₖ^s′ᵢ ,  ẽₖ,β^(−c)·K^(−s₄,ₖ)·∏ᵢ β′ᵢₖ^s′ᵢ)
        t̂ᵢ = ĉᵢ^(−c)·g^ŝᵢ·ĉᵢ₋₁^s′ᵢ      (ĉ₋₁ = h)

    and the proof holds iff c = H(statement, ĉ, t) (module docstring). c̃^(−c) and ẽₖ^(−c)
    are computed as ∏cᵢ^(−c·uᵢ) and ∏ inᵢₖ^(−c·uᵢ) (the same elements, one exponentiation
    fewer each), in chunks of rows (`_check_task`), on a process pool with `jobs`/`executor`
    as in `shuffle`. Returns False for anything malformed; never raises on bad input."""
    try:
        if not _well_formed(ek, rows, outputs, proof):
            return False
        return _check(ek, context, rows, outputs, proof, jobs, executor)
    except (InvalidElement, ValueError, TypeError, AttributeError, IndexError, OverflowError):
        return False


def _check_task(
    ek: ElectionKey[E],
    minus_c: int,
    commitments_blob: bytes,
    chain_blob: bytes,
    hs_blob: bytes | tuple[int, int],
    u: list[int],
    s_prime: list[int],
    s_hat: list[int],
    in_blob: bytes | Source,
    out_blob: bytes | Source,
    block_u: list[int],
    block_s_prime: list[int],
    block_width: int,
) -> tuple[bytes, bytes, bytes] | None:
    """The verifier's work of a task. For its rows: membership of the commitments and chain
    elements (chain_blob starts with the element before the rows, h for the first, not
    checked here), the factors ∏cᵢ, ∏hᵢ and ∏cᵢ^(−c·uᵢ)·hᵢ^s′ᵢ, and the t̂ᵢ. For its block:
    membership of the input and output ciphertexts, and per column k the factors
    ∏ inᵢₖ^(−c·uᵢ)·α′ᵢₖ^s′ᵢ and the same in β. None if an element is not in the group.
    Rows held elsewhere (`HeldRows`) come as a `Source` the task reads, and their
    generators as the range (a, b) of rows, derived here (`generator`)."""
    g = ek.group
    q = g.q
    coms = _unpack(g, commitments_blob)
    chain = _unpack(g, chain_blob)
    ins = _unpack(g, _blob(g, in_blob, block_width))
    outs = _unpack(g, _blob(g, out_blob, block_width))
    if not _all_members(g, [*coms, *chain[1:], *ins, *outs]):
        return None
    if isinstance(hs_blob, tuple):
        hs = [_generator(g.name, i + 1) for i in range(*hs_blob)]
    else:
        hs = _unpack(g, hs_blob)
    cu = [minus_c * x % q for x in u]
    factors = [
        _prod(g, coms),
        _prod(g, hs),
        _multi_pow(g, [*zip(coms, cu, strict=True), *zip(hs, s_prime, strict=True)]),
    ]
    t_hat = [
        g.mul(g.pow_g(s_hat[i]), _multi_pow(g, [(chain[i + 1], minus_c), (chain[i], s_prime[i])]))
        for i in range(len(u))
    ]
    block_cu = [minus_c * x % q for x in block_u]
    t4 = [
        _multi_pow(g, [*zip(c_in, block_cu, strict=True), *zip(c_out, block_s_prime, strict=True)])
        for (in_a, in_b), (out_a, out_b) in zip(
            _columns(ins, block_width), _columns(outs, block_width), strict=True
        )
        for c_in, c_out in ((in_a, out_a), (in_b, out_b))
    ]
    return _pack(g, factors), _pack(g, t_hat), _pack(g, t4)


def _check(
    ek: ElectionKey[E],
    context: bytes,
    rows: Sequence[Row[E]],
    outputs: Sequence[Row[E]],
    proof: ShuffleProof,
    jobs: int | None,
    executor: Executor | None,
) -> bool:
    g = ek.group
    n = len(rows)
    w = len(rows[0])
    # packing first: a value that is no encodable element fails here, before any hashing
    blobs = _pack(g, proof.commitments), _pack(g, proof.chain)
    digest = _statement_digest(ek, context, rows, outputs, proof.commitments)
    _, hs = generators(g, n)
    with _runner(jobs, executor) as (run, parts):
        tasks = _tasks(g, n, w, parts)
        return _verify(
            ek, digest, proof, blobs, tasks, run,
            [(_pack(g, hs[a:b]), _pack_block(g, rows, block), _pack_block(g, outputs, block))
             for (a, b), block in tasks],
        )  # fmt: skip


def _verify(
    ek: ElectionKey[E],
    digest: bytes,
    proof: ShuffleProof,
    blobs: tuple[bytes, bytes],
    tasks: list[tuple[tuple[int, int], Block]],
    run: Runner,
    held: list[tuple[bytes | tuple[int, int], bytes | Source, bytes | Source]],
) -> bool:
    """CheckProof from the statement's digest on: the tasks' products (`_check_task`, each
    with its generators, input and output ciphertexts in `held`), combined here."""
    g = ek.group
    q = g.q
    n = len(proof.chain)
    w = len(proof.s4)
    c = proof.challenge
    minus_c = -c % q
    h = generator(g, 0)
    chain = proof.chain
    commitments_blob, chain_blob = blobs
    size = g.element_bytes
    u = _challenges_u(q, digest, n)
    u_prod = 1
    for ui in u:
        u_prod = u_prod * ui % q

    h_blob = _pack(g, [h])
    results = run(
        _check_task,
        [
            (
                ek,
                minus_c,
                commitments_blob[a * size : b * size],
                (h_blob if a == 0 else b"") + chain_blob[max(a - 1, 0) * size : b * size],
                hs_blob,
                u[a:b],
                list(proof.s_prime[a:b]),
                list(proof.s_hat[a:b]),
                in_blob,
                out_blob,
                u[block[0] : block[1]],
                list(proof.s_prime[block[0] : block[1]]),
                block[3] - block[2],
            )
            for ((a, b), block), (hs_blob, in_blob, out_blob) in zip(tasks, held, strict=True)
        ],
    )
    if any(result is None for result in results):
        return False
    factors = [_unpack(g, f) for f, _, _ in results]
    t_hat = [x for _, blob, _ in results for x in _unpack(g, blob)]
    t4_factors: list[list[E]] = [[] for _ in range(2 * w)]
    for (_, block), (_, _, blob) in zip(tasks, results, strict=True):
        for index, x in enumerate(_unpack(g, blob)):
            t4_factors[2 * block[2] + index].append(x)

    def combined(index: int) -> E:
        return _prod(g, [f[index] for f in factors])

    c_bar = g.div(combined(0), combined(1))
    c_hat = g.div(chain[-1], g.pow(h, u_prod))
    t1 = g.mul(g.pow(c_bar, minus_c), g.pow_g(proof.s1))
    t2 = g.mul(g.pow(c_hat, minus_c), g.pow_g(proof.s2))
    t3 = g.mul(combined(2), g.pow_g(proof.s3))
    t4 = [
        (
            g.mul(_prod(g, t4_factors[2 * k]), g.pow_g(-proof.s4[k])),
            g.mul(_prod(g, t4_factors[2 * k + 1]), ek.pow_k(-proof.s4[k])),
        )
        for k in range(w)
    ]
    return c == _final_challenge(g, digest, chain, (t1, t2, t3), t4, t_hat)


# --- rows held elsewhere ----------------------------------------------------------------------
# A national district's shuffle (Tehran's, about 21 million ciphertexts at the 2024 shape) is
# more than one process should parse: `check_held_shuffle` checks a shuffle whose rows stay in
# the caller's store, read part by part by the tasks themselves. The statement's digest d is
# still one SHA-256 over every row (the spec's hash is not cut in pieces): the tasks turn
# their parts into the exact bytes `_add_rows` would hash, and this process only feeds them
# to the hash, in order.

Source = tuple[Callable[[Group[Any], Any, int], bytes], Any, int]
"""Rows a task reads itself: (read, part, count). read(group, part, width) returns the
packed elements of the part's rows (α, β of each ciphertext, row after row, as `_pack_rows`)
or raises ValueError or TypeError; a module-level function, so that it reaches a worker by
its name. `count`: the rows the part must hold."""


@dataclass(frozen=True)
class HeldRows:
    """n rows of `width` ciphertexts in consecutive parts, `counts[i]` rows in `parts[i]`,
    read by tasks with `read` (`Source`)."""

    read: Callable[[Group[Any], Any, int], bytes]
    parts: Sequence[Any]
    counts: Sequence[int]
    width: int

    def sources(self) -> list[Source]:
        return [
            (self.read, part, count) for part, count in zip(self.parts, self.counts, strict=True)
        ]


def _blob(group: Group[Any], blob: bytes | Source, width: int) -> bytes:
    """Packed elements as given, or read from their `Source` (ValueError if it does not
    hold its count of rows of `width` ciphertexts)."""
    if isinstance(blob, bytes):
        return blob
    read, part, count = blob
    packed = read(group, part, width)
    if len(packed) != 2 * count * width * group.element_bytes:
        raise ValueError(f"a part of the rows does not hold {count} rows of {width} ciphertexts")
    return packed


def _feed_task(group: Group[Any], source: Source, width: int) -> bytes:
    """The bytes `_add_rows` hashes for the rows of `source` (without the sequence's header):
    per row its header, per ciphertext [enc(α), enc(β)]."""
    size = group.element_bytes
    packed = _blob(group, source, width)
    element = bytes_header(size)
    pair = sequence_header(2) + element
    row = sequence_header(width)
    parts: list[bytes | memoryview] = []
    view = memoryview(packed)
    for i in range(0, len(packed), 2 * size):
        if i % (2 * size * width) == 0:
            parts.append(row)
        parts += (pair, view[i : i + size], element, view[i + size : i + 2 * size])
    return b"".join(parts)


def _stream(
    executor: Executor | None, fn: Callable[..., Any], calls: Iterable[tuple[Any, ...]], window: int
) -> Iterator[Any]:
    """fn(*args) for each call, in order: here, or on `executor` with at most `window`
    calls submitted and not yet taken (their results are large)."""
    if executor is None:
        for args in calls:
            yield fn(*args)
        return
    pending: deque[Future[Any]] = deque()
    for args in calls:
        pending.append(executor.submit(fn, *args))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def check_held_shuffle(
    ek: ElectionKey[E],
    context: bytes,
    inputs: HeldRows,
    outputs: HeldRows,
    proof: ShuffleProof,
    *,
    executor: Executor | None = None,
    jobs: int = 1,
) -> bool:
    """`check_shuffle` for rows this process does not hold (`HeldRows`, both cut into parts
    of the same counts): the same statement, the same checks, with a task per part to feed
    the digest and a task per part for the products (every element's membership checked
    there), on `executor` (`jobs` wide), else here. `proof` may be read without membership
    checks (`shuffle_proof_from_json(…, checked=False)`). False for anything malformed,
    never raises on bad input (OSError from a `read` that cannot find its part aside)."""
    g = ek.group
    w = inputs.width
    try:
        n = sum(inputs.counts)
        if (
            list(outputs.counts) != list(inputs.counts)
            or outputs.width != w
            or any(type(k) is not int or k < 1 for k in inputs.counts)
            or not _proof_well_formed(ek, n, w, proof)
        ):
            return False
        blobs = _pack(g, proof.commitments), _pack(g, proof.chain)

        def add_side(hasher: ItemHasher, side: int) -> None:
            hasher.open_sequence(n)
            calls = ((g, source, w) for source in (inputs, outputs)[side].sources())
            for feed in _stream(executor, _feed_task, calls, 2 * max(1, jobs)):
                hasher.add_encoded(feed)

        digest = _digest(ek, context, n, w, add_side, proof.commitments)
        ranges = []
        start = 0
        for count in inputs.counts:
            ranges.append((start, start + count))
            start += count
        tasks = [((a, b), (a, b, 0, w)) for a, b in ranges]

        def run(fn: Callable[..., Any], calls: list[tuple[Any, ...]]) -> list[Any]:
            return list(_stream(executor, fn, calls, len(calls)))

        parts: list[tuple[bytes | tuple[int, int], bytes | Source, bytes | Source]] = [
            (r, i, o) for r, i, o in zip(ranges, inputs.sources(), outputs.sources(), strict=True)
        ]
        return _verify(ek, digest, proof, blobs, tasks, run, parts)
    except (InvalidElement, ValueError, TypeError, AttributeError, IndexError, OverflowError):
        return False


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


def shuffle_proof_from_json(
    group: Group[Any], doc: wire.Json, checked: bool = True
) -> ShuffleProof:
    """Decode a proof, validating every element and scalar; raises ValueError (InvalidElement
    is one) for anything malformed, never returns a half-checked proof. `checked=False`: the
    commitments and the chain are only read (`element_reader`), for `check_shuffle`, which
    checks their membership in its tasks."""
    element = element_reader(group, checked)
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
        commitments=tuple(element(x) for x in text_list("commitments")),
        chain=tuple(element(x) for x in text_list("chain")),
        s1=scalar("s1"),
        s2=scalar("s2"),
        s3=scalar("s3"),
        s4=tuple(wire.scalar_from_hex(group, x) for x in text_list("s4")),
        s_hat=tuple(wire.scalar_from_hex(group, x) for x in text_list("s_hat")),
        s_prime=tuple(wire.scalar_from_hex(group, x) for x in text_list("s_prime")),
    )
