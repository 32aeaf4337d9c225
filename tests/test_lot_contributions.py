"""The threshold-encrypted lot (issue 14, item 4; `verivote.crypto.lot`): contributions verify
when honest and fail on any change; any quorum of guardians opens the same lot, which is the
product of the contributed elements; the verifier refuses a lot element or a share of the lot
that is not the guardians'."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.verify_fixtures import (
    VerifyElection,
    copy_record,
    public,
    read_entries,
    resign,
    write_entries,
)
from verivote.board.merkle import MerkleLog
from verivote.crypto import wire
from verivote.crypto.ceremony import CeremonyOutcome, public_share, run_ceremony
from verivote.crypto.elgamal import add
from verivote.crypto.groups import get_group
from verivote.crypto.hashing import hash_items
from verivote.crypto.lot import (
    LotError,
    check_contribution,
    check_lot_decryption,
    combine_lot,
    contribution_ciphertext,
    counted_contributions,
    lot_product,
    make_contribution,
    make_lot_decryption,
    publics_of,
)
from verivote.crypto.threshold import QuorumError, lagrange_coefficient
from verivote.model.canonical import canonical_json
from verivote.model.manifest import parse_manifest
from verivote.rules.districts import count_districts, lot_seed
from verivote.verify import verify_record

GROUPS = [
    pytest.param("ristretto255", 15, id="ristretto255"),
    pytest.param("eg4096", 2, id="eg4096", marks=pytest.mark.slow),
]
SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
BASE = hash_items("test", "lot election")


def _ceremony(name: str, n: int, k: int) -> tuple[Any, CeremonyOutcome, dict[int, Any]]:
    group = get_group(name)
    outcome = run_ceremony(group, n, k, BASE)
    return group, outcome, publics_of(group, outcome.transcript)


def _secret(group: Any, outcome: CeremonyOutcome) -> int:
    """The joint secret, interpolated from a quorum of shares (tests only)."""
    present = sorted(outcome.shares)[: outcome.transcript.quorum]
    return (
        sum(lagrange_coefficient(group.q, g, present) * outcome.shares[g].secret for g in present)
        % group.q
    )


@pytest.mark.parametrize(("name", "examples"), GROUPS)
def test_any_quorum_opens_the_product_of_the_contributions(name: str, examples: int) -> None:
    @settings(max_examples=examples, **SETTINGS)
    @given(n=st.integers(min_value=1, max_value=4), data=st.data())
    def check(n: int, data: st.DataObject) -> None:
        k = data.draw(st.integers(min_value=1, max_value=n))
        group, outcome, publics = _ceremony(name, n, k)
        t = outcome.transcript
        contributors = data.draw(
            st.lists(st.integers(1, n), min_size=k, max_size=n, unique=True), "contributors"
        )
        docs = [make_contribution(group, BASE, outcome.shares[g], publics[g]) for g in contributors]
        for doc in docs:
            assert check_contribution(group, t, BASE, doc) is None
        lot = lot_product(group, t, BASE, docs)
        # The lot is the product of the contributed elements: each decrypts to its own.
        s = _secret(group, outcome)
        elements = [
            group.div(c.beta, group.pow(c.alpha, s))
            for c in (contribution_ciphertext(group, d) for d in docs)
        ]
        expected = group.prod(elements)
        decrypters = data.draw(
            st.lists(st.integers(1, n), min_size=k, max_size=n, unique=True), "decrypters"
        )
        shares = {}
        for g in decrypters:
            doc = make_lot_decryption(group, BASE, outcome.shares[g], publics[g], lot)
            problem, value = check_lot_decryption(group, BASE, publics, lot, doc)
            assert problem is None
            shares[g] = value
        assert combine_lot(group, k, lot, shares) == expected
        if k > 1:
            fewer = dict(list(shares.items())[: k - 1])
            with pytest.raises(QuorumError):
                combine_lot(group, k, lot, fewer)
            with pytest.raises(LotError, match=f"needs contributions from {k} guardians"):
                lot_product(group, t, BASE, docs[: k - 1])

    check()


def _changed(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {**doc}
    node = out
    for key in path[:-1]:
        node[key] = {**node[key]}
        node = node[key]
    node[path[-1]] = value
    return out


@pytest.mark.parametrize(("name", "examples"), GROUPS)
def test_any_change_to_a_contribution_is_refused(name: str, examples: int) -> None:
    group, outcome, publics = _ceremony(name, 3, 2)
    t = outcome.transcript
    doc = make_contribution(group, BASE, outcome.shares[1], publics[1])
    other = make_contribution(group, BASE, outcome.shares[2], publics[2])
    g = wire.element_hex(group, group.generator())
    one = wire.element_hex(group, group.identity())
    changes = [
        (("guardian",), 2),
        (("guardian",), 4),
        (("guardian",), True),
        (("election",), "00" * 32),
        (("ciphertext", "alpha"), g),
        (("ciphertext", "beta"), g),
        (("ciphertext", "alpha"), one),
        (("ciphertext", "beta"), "zz"),
        (("proofs", "randomness"), doc["proofs"]["key_share"]),
        (("proofs", "key_share"), doc["proofs"]["randomness"]),
        (("proofs", "key_share"), other["proofs"]["key_share"]),
        (("proofs",), {}),
    ]
    for path, value in changes:
        assert check_contribution(group, t, BASE, _changed(doc, path, value)) is not None, path
    # The same contribution made for another election is not this one's.
    assert check_contribution(group, t, hash_items("test", "another"), doc) is not None
    assert check_contribution(group, t, BASE, doc) is None


def test_only_each_guardians_first_valid_contribution_counts() -> None:
    group, outcome, publics = _ceremony("ristretto255", 3, 2)
    t = outcome.transcript
    first = make_contribution(group, BASE, outcome.shares[1], publics[1])
    again = make_contribution(group, BASE, outcome.shares[1], publics[1])
    bad = _changed(make_contribution(group, BASE, outcome.shares[2], publics[2]), ("guardian",), 3)
    counted = counted_contributions(group, t, BASE, [first, {"type": "ballot-cast"}, again, bad])
    assert counted == {1: contribution_ciphertext(group, first)}
    third = make_contribution(group, BASE, outcome.shares[3], publics[3])
    both = [contribution_ciphertext(group, d) for d in (first, third)]
    assert lot_product(group, t, BASE, [first, again, bad, third]) == add(group, both)


def test_a_share_of_the_lot_with_a_wrong_secret_is_refused() -> None:
    group, outcome, publics = _ceremony("ristretto255", 3, 2)
    t = outcome.transcript
    docs = [make_contribution(group, BASE, outcome.shares[g], publics[g]) for g in (1, 2)]
    lot = lot_product(group, t, BASE, docs)
    good = make_lot_decryption(group, BASE, outcome.shares[1], publics[1], lot)
    assert check_lot_decryption(group, BASE, publics, lot, good)[0] is None
    assert check_lot_decryption(group, BASE, publics, lot, {**good, "guardian": 2})[0] is not None
    other = make_lot_decryption(group, BASE, outcome.shares[2], publics[2], lot)
    assert check_lot_decryption(group, BASE, publics, lot, {**good, "share": other["share"]})[0]
    with pytest.raises(LotError, match="does not match its public share"):
        make_lot_decryption(group, BASE, outcome.shares[1], publics[2], lot)
    assert public_share(group, t, 1) == publics[1]


# --- the verifier --------------------------------------------------------------------------


def _index(docs: list[dict[str, Any]], entry_type: str) -> int:
    return next(i for i, d in enumerate(docs) if d["type"] == entry_type)


def test_the_verifier_refuses_a_lot_element_that_is_not_the_guardians(
    verify_election: VerifyElection, tmp_path: Path
) -> None:
    """The authority publishes a lot element of its choosing and counts with it, consistently
    (the seed and the draws follow from it): the lot check fails, alone."""
    record = copy_record(verify_election.round1, tmp_path / "record")
    pub = public(record)
    group = pub.key.group
    docs = read_entries(record)
    decrypted = docs[_index(docs, "decrypted-tally")]
    decrypted["lot"] = wire.element_hex(group, group.pow_g(7))
    count_at, tally = _index(docs, "count"), _index(docs, "tally")
    count = docs[count_at]
    log = MerkleLog()
    for doc in docs[: tally + 1]:
        log.append_entry(canonical_json(doc))
    seed = lot_seed(
        f"verivote/{pub.manifest.election_id}",
        tally + 1,
        log.root(),
        bytes.fromhex(decrypted["lot"]),
    )
    manifest = parse_manifest(docs[0]["manifest"])
    results = count_districts(manifest, decrypted, seed)
    count["seed"] = seed.hex()
    count["districts"] = {d: r.to_json_dict() for d, r in results.items()}
    write_entries(record, docs)
    resign(record, verify_election.keys1)
    report = verify_record(record, jobs=1)
    assert report.failed() == ["lot"]
    assert (
        "not what the guardians' shares of the lot give" in report.check("lot").failures[0].reason
    )


def test_the_verifier_refuses_a_forged_share_of_the_lot(
    verify_election: VerifyElection, tmp_path: Path
) -> None:
    record = copy_record(verify_election.round1, tmp_path / "record")
    group = public(record).key.group
    docs = read_entries(record)
    shares = [i for i, d in enumerate(docs) if d["type"] == "lot-decryption"]
    assert len(shares) == 4  # guardian 4 is absent
    docs[shares[0]]["share"] = wire.element_hex(group, group.pow_g(3))
    write_entries(record, docs)
    resign(record, verify_election.keys1)
    report = verify_record(record, jobs=1)
    assert "lot" in report.failed()
    assert any("does not verify" in f.reason for f in report.check("lot").failures)


def test_the_verifier_refuses_a_forged_contribution(
    verify_election: VerifyElection, tmp_path: Path
) -> None:
    record = copy_record(verify_election.round1, tmp_path / "record")
    docs = read_entries(record)
    first = _index(docs, "lot-contribution")
    docs[first]["guardian"] = 5 if docs[first]["guardian"] != 5 else 4
    write_entries(record, docs)
    resign(record, verify_election.keys1)
    report = verify_record(record, jobs=1)
    assert "lot" in report.failed()
    assert report.check("lot").failures[0].entry == first
