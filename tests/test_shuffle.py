"""The verifiable shuffle of rows (`verivote.crypto.shuffle`, issue 16 item 2): honest shuffles
verify, every kind of cheating mixer is caught, and a known answer pins the hashing and the
wire format."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.crypto_helpers import keypair
from verivote.crypto import wire
from verivote.crypto.elgamal import Ciphertext, ElectionKey, encrypt_element, reencrypt
from verivote.crypto.groups import get_group
from verivote.crypto.hashing import ItemHasher
from verivote.crypto.proofs import Nonces
from verivote.crypto.shuffle import (
    ShuffleProof,
    ShuffleWitness,
    _add_rows,
    check_shuffle,
    generator,
    generators,
    prove_shuffle,
    shuffle,
    shuffle_pool,
    shuffle_proof_from_json,
    shuffle_proof_to_json,
)

CONTEXT = b"election 1 / district 7 / mixer 2 of 3"
Rows = list[tuple[Ciphertext[Any], ...]]


def make_rows(ek: ElectionKey[Any], n: int, w: int, rand: Any = None) -> Rows:
    """n rows of w encryptions of distinct plaintexts g^(10·i + k + 1)."""
    g = ek.group
    nonce = rand or g.random_scalar
    return [
        tuple(encrypt_element(ek, g.pow_g(10 * i + k + 1), nonce()) for k in range(w))
        for i in range(n)
    ]


def honest(
    group_name: str, n: int, w: int
) -> tuple[ElectionKey[Any], Rows, Rows, ShuffleWitness, ShuffleProof]:
    _, _, ek = keypair(group_name)
    rows = make_rows(ek, n, w)
    outputs, witness = shuffle(ek, rows)
    proof = prove_shuffle(ek, CONTEXT, rows, outputs, witness)
    return ek, rows, list(outputs), witness, proof


# --- honest shuffles ------------------------------------------------------------------------


@pytest.mark.parametrize("w", [1, 2])
@pytest.mark.parametrize("n", [1, 2, 7])
def test_honest_shuffle_verifies_ristretto255(n: int, w: int) -> None:
    ek, rows, outputs, witness, proof = honest("ristretto255", n, w)
    assert check_shuffle(ek, CONTEXT, rows, outputs, proof)
    assert sorted(witness.permutation) == list(range(n))
    # and it is a shuffle: decrypted outputs are the inputs' plaintexts, rows kept whole
    assert len(outputs) == n
    assert all(len(row) == w for row in outputs)


@pytest.mark.parametrize("w", [1, 2])
def test_honest_shuffle_verifies_eg4096(w: int) -> None:
    ek, rows, outputs, _, proof = honest("eg4096", 3, w)
    assert check_shuffle(ek, CONTEXT, rows, outputs, proof)
    assert not check_shuffle(ek, CONTEXT + b"!", rows, outputs, proof)


def test_outputs_decrypt_to_the_permuted_inputs() -> None:
    group, s, ek = keypair("ristretto255")
    rows = make_rows(ek, 5, 2)
    outputs, witness = shuffle(ek, rows)

    def plain(ct: Ciphertext[Any]) -> Any:
        return group.div(ct.beta, group.pow(ct.alpha, s))

    for i, j in enumerate(witness.permutation):
        assert [plain(ct) for ct in outputs[i]] == [plain(ct) for ct in rows[j]]
        assert outputs[i] != rows[j]  # re-encrypted, not copied


def test_generators_are_fixed_distinct_and_in_the_group() -> None:
    for name in ("ristretto255", "eg4096"):
        group = get_group(name)
        h, hs = generators(group, 4)
        values = [h, *hs, group.generator(), group.identity()]
        assert len({group.encode(x) for x in values}) == len(values)
        assert all(group.decode(group.encode(x)) == x for x in (h, *hs))
        assert generator(group, 3) == hs[2]
    assert generator(get_group("ristretto255"), 0).hex() == (
        "60a75b8767be3d3ef26e357da4676b341bea049161a300339d610ef783e7f277"
    )


# --- cheating mixers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def case() -> tuple[ElectionKey[Any], Rows, Rows, ShuffleWitness, ShuffleProof]:
    return honest("ristretto255", 5, 2)


def test_the_fixture_verifies(case: Any) -> None:
    ek, rows, outputs, _, proof = case
    assert check_shuffle(ek, CONTEXT, rows, outputs, proof)


def test_a_replaced_row_is_caught(case: Any) -> None:
    ek, rows, outputs, _, proof = case
    doctored = list(outputs)
    doctored[2] = tuple(encrypt_element(ek, ek.group.pow_g(999), 5) for _ in range(2))
    assert not check_shuffle(ek, CONTEXT, rows, doctored, proof)


def test_a_dropped_row_is_caught(case: Any) -> None:
    ek, rows, outputs, _, proof = case
    assert not check_shuffle(ek, CONTEXT, rows, outputs[:-1], proof)
    assert not check_shuffle(ek, CONTEXT, rows, outputs[1:], proof)


def test_a_duplicated_row_is_caught(case: Any) -> None:
    ek, rows, outputs, _, proof = case
    doctored = list(outputs)
    doctored[3] = doctored[1]
    assert not check_shuffle(ek, CONTEXT, rows, doctored, proof)
    doctored = list(outputs)
    doctored[3] = tuple(reencrypt(ek, ct, 77) for ct in outputs[1])
    assert not check_shuffle(ek, CONTEXT, rows, doctored, proof)


def test_outputs_permuted_after_proving_are_caught(case: Any) -> None:
    ek, rows, outputs, _, proof = case
    doctored = list(outputs)
    doctored[0], doctored[1] = doctored[1], doctored[0]
    assert not check_shuffle(ek, CONTEXT, rows, doctored, proof)
    # the columns of a row swapped: rows must move whole
    doctored = list(outputs)
    doctored[0] = (outputs[0][1], outputs[0][0])
    assert not check_shuffle(ek, CONTEXT, rows, doctored, proof)


def test_inputs_changed_after_proving_are_caught(case: Any) -> None:
    ek, rows, outputs, _, proof = case
    assert not check_shuffle(ek, CONTEXT, rows[::-1], outputs, proof)


def test_another_context_is_caught(case: Any) -> None:
    ek, rows, outputs, _, proof = case
    assert not check_shuffle(ek, b"election 1 / district 7 / mixer 3 of 3", rows, outputs, proof)
    assert not check_shuffle(ek, b"", rows, outputs, proof)


def test_another_key_is_caught(case: Any) -> None:
    _, rows, outputs, _, proof = case
    _, _, other = keypair("ristretto255")
    assert not check_shuffle(other, CONTEXT, rows, outputs, proof)


@pytest.mark.parametrize(
    "field", ["challenge", "s1", "s2", "s3", "s4", "s_hat", "s_prime", "commitments", "chain"]
)
def test_a_tampered_proof_is_caught(case: Any, field: str) -> None:
    ek, rows, outputs, _, proof = case
    group = ek.group
    value = getattr(proof, field)
    if field in ("commitments", "chain"):
        changed: Any = (group.mul(value[0], group.generator()), *value[1:])
    elif isinstance(value, tuple):
        changed = (*value[:-1], (value[-1] + 1) % group.q)
    else:
        changed = (value + 1) % group.q
    assert not check_shuffle(
        ek, CONTEXT, rows, outputs, dataclasses.replace(proof, **{field: changed})
    )


def test_malformed_input_is_refused_without_raising(case: Any) -> None:
    ek, rows, outputs, _, proof = case
    q = ek.group.q
    bad_point = b"\xff" * 32
    assert not check_shuffle(ek, CONTEXT, rows, outputs, dataclasses.replace(proof, s1=q))
    assert not check_shuffle(ek, CONTEXT, rows, outputs, dataclasses.replace(proof, s2=-1))
    assert not check_shuffle(
        ek,
        CONTEXT,
        rows,
        outputs,
        dataclasses.replace(proof, s3=True),
    )
    assert not check_shuffle(ek, CONTEXT, rows, outputs, dataclasses.replace(proof, s4=(1,)))
    assert not check_shuffle(
        ek, CONTEXT, rows, outputs, dataclasses.replace(proof, s_hat=proof.s_hat[:-1])
    )
    assert not check_shuffle(
        ek,
        CONTEXT,
        rows,
        outputs,
        dataclasses.replace(proof, chain=(*proof.chain[:-1], bad_point)),
    )
    assert not check_shuffle(
        ek,
        CONTEXT,
        rows,
        outputs,
        dataclasses.replace(proof, commitments=(bad_point, *proof.commitments[1:])),
    )
    doctored = list(outputs)
    doctored[0] = (Ciphertext(bad_point, outputs[0][0].beta), outputs[0][1])
    assert not check_shuffle(ek, CONTEXT, rows, doctored, proof)
    assert not check_shuffle(ek, CONTEXT, [row[:1] for row in rows], outputs, proof)
    assert not check_shuffle(ek, CONTEXT, [], [], proof)
    assert not check_shuffle(ek, CONTEXT, rows, [*outputs[:-1], ()], proof)
    assert not check_shuffle(ek, CONTEXT, rows, outputs, "proof")  # type: ignore[arg-type]
    assert not check_shuffle(ElectionKey(ek.group, bytes(32)), CONTEXT, rows, outputs, proof)


def test_the_wire_form_round_trips_and_validates(case: Any) -> None:
    ek, rows, outputs, _, proof = case
    group = ek.group
    doc = shuffle_proof_to_json(group, proof)
    assert shuffle_proof_from_json(group, doc) == proof
    assert check_shuffle(ek, CONTEXT, rows, outputs, shuffle_proof_from_json(group, doc))
    with pytest.raises(ValueError, match="below"):
        shuffle_proof_from_json(group, {**doc, "s1": "ff" * 32})
    with pytest.raises(ValueError, match="canonical"):
        shuffle_proof_from_json(group, {**doc, "chain": ["ff" * 32, *doc["chain"][1:]]})
    with pytest.raises(ValueError, match="fields"):
        shuffle_proof_from_json(group, {**doc, "extra": "00"})
    with pytest.raises(ValueError, match="list"):
        shuffle_proof_from_json(group, {**doc, "s_hat": "00"})


def test_the_prover_refuses_a_witness_of_the_wrong_shape(case: Any) -> None:
    ek, rows, outputs, witness, _ = case
    with pytest.raises(ValueError, match="witness"):
        prove_shuffle(
            ek, CONTEXT, rows, outputs, dataclasses.replace(witness, permutation=(0, 1, 2, 3, 9))
        )
    with pytest.raises(ValueError, match="shape"):
        prove_shuffle(ek, CONTEXT, rows, outputs[:-1], witness)


# --- a shuffle that is no permutation never verifies ---------------------------------------

_EK = keypair("ristretto255", secret=1234567)[2]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 6),
    w=st.integers(1, 2),
    seed=st.binary(min_size=8, max_size=8),
    target=st.integers(0, 5),
    source=st.integers(0, 5),
    relabel=st.booleans(),
)
def test_a_non_permutation_never_verifies(
    n: int, w: int, seed: bytes, target: int, source: int, relabel: bool
) -> None:
    """Output row j is replaced by a re-encryption of input row ψ(m) for some m ≠ j (so one
    input is there twice and ψ(j) is gone), and the honest prover code is run on a doctored
    witness: either ψ itself with row j's nonces set to the forgery's (the witness's relation
    fails for row j), or ψ′ = ψ with ψ′(j) = ψ(m) (the relation holds for every row, but ψ′
    is no permutation). With one row there is no other input to copy: the row is replaced by
    an encryption of another plaintext."""
    ek = _EK
    group = ek.group
    rand = Nonces(group, seed)
    rows = make_rows(ek, n, w, rand)
    outputs, witness = shuffle(ek, rows, rand)
    j = target % n
    nonces = tuple(rand() for _ in range(w))
    perm = list(witness.permutation)
    if n == 1:
        forged = tuple(encrypt_element(ek, group.pow_g(4242), r) for r in nonces)
    else:
        m = (j + 1 + source % (n - 1)) % n
        assert m != j
        forged = tuple(reencrypt(ek, ct, r) for ct, r in zip(rows[perm[m]], nonces, strict=True))
        if relabel:
            perm[j] = perm[m]
    doctored_outputs = list(outputs)
    doctored_outputs[j] = forged
    randomness = list(witness.randomness)
    randomness[j] = nonces
    doctored = ShuffleWitness(tuple(perm), tuple(randomness))
    proof = prove_shuffle(ek, CONTEXT, rows, doctored_outputs, doctored, nonce=rand)
    assert not check_shuffle(ek, CONTEXT, rows, doctored_outputs, proof)
    # the honest proof of the honest shuffle does not transfer either
    honest_proof = prove_shuffle(ek, CONTEXT, rows, outputs, witness, nonce=rand)
    assert check_shuffle(ek, CONTEXT, rows, outputs, honest_proof)
    assert not check_shuffle(ek, CONTEXT, rows, doctored_outputs, honest_proof)


# --- known answer -----------------------------------------------------------------------------

KNOWN_ANSWER: dict[str, Any] = {
    "key": "0a5a93e9f99ecc86393f01d51e139da43172b3219b3efd48654c0a2990c1b141",
    "permutation": [1, 2, 0],
    "outputs": [
        [
            {
                "alpha": "6e101dac34e00d9f0da01233e1fee512bb588b53bf2929ff7f0854990b72b768",
                "beta": "28215597ecaca407146519f21b6b488a3c546f3dee8740dda39552addad66b4f",
            }
        ],
        [
            {
                "alpha": "d05e20cb1c27628dc87482fc2815605106b3bc78fcf80cfd8a99b2133ee5447e",
                "beta": "16310eb3452296c60d8dc15c49704130066c76227742292b5cf3d9942b845762",
            }
        ],
        [
            {
                "alpha": "86eac916226ec84b6efb8afceba347fee5faa89fad60efc8f07b7a77e7722e02",
                "beta": "64521bd2fae4242c94ffad3c51a280350c3ac86ad0917c8ea51561cbfe88047e",
            }
        ],
    ],
    "proof": {
        "challenge": "06650bdd57b14c0177ee38c189f0d39dd947353dea7948ae9f815c98c346c6be",
        "commitments": [
            "fa2c264dfeffda93726978f7c411b9ed13651e0da0112616c78ac6bf6dfe683b",
            "b4677e36c1f048e76ce0028401c62d93b9c0bd51c49012f6d2bd6da66b3aca3d",
            "8c56a4f8333e65ebce2b93951bc3f87c584c65f12c62a0fd1f511f2fdcd83675",
        ],
        "chain": [
            "c245b89087af8097c4492cc74d04575ad58bc2dd1384588779617fd815c53363",
            "cc69ee077bee27a398d029ba7f05661125b22157d255eaea38f2bd51753a124e",
            "66935f8bb9806fbf8f53ce9a0f761b315e3510c5f15ee430a23f37748fb88c34",
        ],
        "s1": "04a55a76d9f592e4966729fc4f552a36cfdbaf86cbf669bf84a7cabed2196f4c",
        "s2": "0375963277be506d00ac0777d2e79c7fc203e5e19952d1ba2bd4d82658df545c",
        "s3": "00e57bd5cad0158a3acb94900701e7f0a1f12f52e26cf631ce705eb1130ca6a6",
        "s4": ["07d62b25d792dd186d246ec232a358a9d647c8590d5afbad1975dc6993aca384"],
        "s_hat": [
            "04d4d4c6296468147810672dc3119c77a33a00c64c3d2fa52335abed97eb00b8",
            "0b905a163a551a0e192dabe2cd5c7bb746d2b280b678c81ecf5299ceff9de842",
            "08942aba40e1b72761647d687287918718be3e7bf9e903cb517dd6b7b680bf03",
        ],
        "s_prime": [
            "0d07e4d0e6ae4ea29dfced3b1734e11d0b7c7b5f893162421f62f8fa70ad406f",
            "08d0b705c77971849717d27432dcde82b5f968854ba44c0c2b85c339a2706ce5",
            "09e3c878986c445cb138948d604876b6fa6afa232b9afaa65766670ada895af7",
        ],
    },
}


def known_answer() -> dict[str, Any]:
    """N = 3, w = 1 on ristretto255, every random scalar from a seeded `Nonces`."""
    group = get_group("ristretto255")
    rand = Nonces(group, b"verivote shuffle known answer 2")
    ek = ElectionKey(group, group.pow_g(rand()))
    rows = [(encrypt_element(ek, group.pow_g(m), rand()),) for m in (1, 2, 3)]
    outputs, witness = shuffle(ek, rows, rand)
    proof = prove_shuffle(ek, b"known answer context", rows, outputs, witness, nonce=rand)
    assert check_shuffle(ek, b"known answer context", rows, outputs, proof)
    return {
        "key": wire.element_hex(group, ek.key),
        "permutation": list(witness.permutation),
        "outputs": [[wire.ciphertext_to_json(group, ct) for ct in row] for row in outputs],
        "proof": shuffle_proof_to_json(group, proof),
    }


def test_known_answer() -> None:
    assert known_answer() == KNOWN_ANSWER


# --- the process pool -----------------------------------------------------------------------


@pytest.mark.parametrize(("group_name", "n", "w"), [("ristretto255", 7, 2), ("eg4096", 3, 4)])
def test_the_pool_gives_the_serial_results(group_name: str, n: int, w: int) -> None:
    """Seeded: a shuffle and a proof made on a pool are those made without one; proofs made
    either way verify either way, and the pool's check agrees with the serial one on bad
    proofs and bad outputs. eg4096 with 4 columns on 2 processes takes the split by columns."""
    _, _, ek = keypair(group_name)
    rows = make_rows(ek, n, w)
    seed = b"pool versus serial"
    with shuffle_pool(ek, 2) as pool:
        serial_out, serial_wit = shuffle(ek, rows, Nonces(ek.group, seed))
        pool_out, pool_wit = shuffle(ek, rows, Nonces(ek.group, seed), jobs=2, executor=pool)
        assert (pool_out, pool_wit) == (serial_out, serial_wit)
        serial = prove_shuffle(ek, CONTEXT, rows, serial_out, serial_wit, Nonces(ek.group, seed))
        pooled = prove_shuffle(
            ek, CONTEXT, rows, serial_out, serial_wit, Nonces(ek.group, seed), jobs=2,
            executor=pool,
        )  # fmt: skip
        assert pooled == serial
        fresh = prove_shuffle(ek, CONTEXT, rows, serial_out, serial_wit, jobs=2, executor=pool)
        for proof in (serial, fresh):
            assert check_shuffle(ek, CONTEXT, rows, serial_out, proof)
            assert check_shuffle(ek, CONTEXT, rows, serial_out, proof, jobs=2, executor=pool)
        bad_proof = dataclasses.replace(serial, s_prime=(*serial.s_prime[:-1], 1))
        swapped = [serial_out[1], serial_out[0], *serial_out[2:]]
        bad_point = list(serial_out)
        bad_point[-1] = (
            Ciphertext(ek.group.identity(), serial_out[-1][0].beta),
            *serial_out[-1][1:],
        )
        for outputs, proof in ((serial_out, bad_proof), (swapped, serial), (bad_point, serial)):
            assert not check_shuffle(ek, CONTEXT, rows, outputs, proof)
            assert not check_shuffle(ek, CONTEXT, rows, outputs, proof, jobs=2, executor=pool)
    # and a pool made for the call, then shut down
    assert check_shuffle(ek, CONTEXT, rows, serial_out, serial, jobs=2)
    assert not check_shuffle(ek, CONTEXT, rows, serial_out, bad_proof, jobs=2)


def test_the_exponentiation_count_is_what_the_code_computes() -> None:
    """`exponentiations` (the benchmark's floor) against the powers the code really takes,
    counted by wrapping the group's operations (serial path, ristretto255)."""
    from verivote.crypto.shuffle import exponentiations

    group, _, ek = keypair("ristretto255")
    n, w = 5, 3
    rows = make_rows(ek, n, w)
    counted = {"g": 0, "key": 0, "h": 0, "other": 0}
    h = generator(group, 0)
    real_pow, real_pow_g, real_pow_k = group.pow, group.pow_g, ek.pow_k

    inside_key: list[bool] = []

    def pow_(a: Any, k: int) -> Any:
        if not inside_key:  # ristretto255's pow_k is a pow: counted once, as "key"
            counted["h" if a == h else "other"] += 1
        return real_pow(a, k)

    def pow_g(k: int) -> Any:
        counted["g"] += 1
        return real_pow_g(k)

    def pow_k(k: int) -> Any:
        counted["key"] += 1
        inside_key.append(True)
        try:
            return real_pow_k(k)
        finally:
            inside_key.pop()

    object.__setattr__(ek, "pow_k", pow_k)
    group.pow, group.pow_g = pow_, pow_g  # type: ignore[method-assign]
    try:
        outputs, witness = shuffle(ek, rows)
        proof = prove_shuffle(ek, CONTEXT, rows, outputs, witness)
        proved = dict(counted)
        counted.update(dict.fromkeys(counted, 0))
        assert check_shuffle(ek, CONTEXT, rows, outputs, proof)
    finally:
        del group.pow, group.pow_g
        object.__setattr__(ek, "pow_k", real_pow_k)
    assert {"prove": proved, "verify": counted} == exponentiations(n, w)


@settings(max_examples=40, deadline=None)
@given(
    shape=st.lists(st.integers(1, 3), min_size=1, max_size=5),
    lengths=st.lists(st.sampled_from([32, 32, 32, 31, 33, 0]), min_size=30, max_size=30),
)
def test_the_rows_are_hashed_as_their_items(shape: list[int], lengths: list[int]) -> None:
    """The statement hashes each row's encodings joined from fixed headers; the digest is the
    item-by-item encoding's, also when a value has another length than the group's."""
    group = get_group("ristretto255")
    sizes = iter(lengths)
    rows = [
        tuple(Ciphertext(bytes([7]) * next(sizes), bytes([9]) * next(sizes)) for _ in range(w))
        for w in shape
    ]
    fast = ItemHasher("t")
    _add_rows(fast, group, rows)
    items = ItemHasher("t")
    items.open_sequence(len(rows))
    for row in rows:
        items.add([[ct.alpha, ct.beta] for ct in row])
    assert fast.digest() == items.digest()
