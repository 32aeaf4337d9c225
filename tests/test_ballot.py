"""Encrypted ballots: one 0/1 proof per candidate, a contest proof of at most S marks,
rotation of the printed order per station, Benaloh challenges."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.manifests import small_manifest_data
from verivote.crypto import wire
from verivote.crypto.ballot import (
    BallotError,
    ballot_order,
    check_ballot,
    check_opened,
    encrypt_ballot,
)
from verivote.crypto.elgamal import ElectionKey
from verivote.crypto.groups import get_group
from verivote.crypto.hashing import election_base_hash
from verivote.model.manifest import Manifest, parse_manifest


@pytest.fixture(scope="module")
def setup() -> tuple[Manifest, ElectionKey[Any], bytes]:
    manifest = parse_manifest(small_manifest_data())
    group = get_group(manifest.group)
    ek = ElectionKey(group, group.pow_g(group.random_scalar()))
    return manifest, ek, election_base_hash(manifest.canonical())


def test_an_honest_ballot_checks_and_opens(setup: tuple[Manifest, ElectionKey[Any], bytes]) -> None:
    manifest, ek, h = setup
    ballot, opened = encrypt_ballot(manifest, ek, h, "tabriz-002", ["1104", "1101"])
    assert len(check_ballot(manifest, ek, h, ballot)) == 5 + 1  # and the blank flag
    assert opened.choices == ("1101", "1104")
    assert check_opened(ek, ballot, opened.choices, opened.nonces)
    assert not check_opened(ek, ballot, ("1101",), opened.nonces)


def test_fewer_names_than_seats_and_a_blank_ballot_are_valid(
    setup: tuple[Manifest, ElectionKey[Any], bytes],
) -> None:
    manifest, ek, h = setup
    for choices in (["1103"], []):
        ballot, _ = encrypt_ballot(manifest, ek, h, "tabriz-001", choices)
        check_ballot(manifest, ek, h, ballot)


@pytest.mark.parametrize(
    ("choices", "message"),
    [(["1101", "1102", "1103", "1104"], "4 names for 3 seats"), (["2201"], "not a candidate"),
     (["1101", "1101"], "chosen twice")],
)  # fmt: skip
def test_impossible_choices_are_refused_before_encryption(
    setup: tuple[Manifest, ElectionKey[Any], bytes], choices: list[str], message: str
) -> None:
    manifest, ek, h = setup
    with pytest.raises(BallotError, match=message):
        encrypt_ballot(manifest, ek, h, "tabriz-001", choices)


def test_a_ballot_for_more_than_s_candidates_cannot_pass_the_contest_proof(
    setup: tuple[Manifest, ElectionKey[Any], bytes],
) -> None:
    manifest, ek, h = setup
    # Splice a 1 from another ballot into a ballot that already has 3 marks: every selection
    # proof still verifies, but the contest now holds 4 marks.
    full, _ = encrypt_ballot(manifest, ek, h, "tabriz-001", ["1101", "1102", "1103"])
    # (the same nonce, or the spliced proof would not even verify under the ballot's context)
    other, _ = encrypt_ballot(manifest, ek, h, "tabriz-001", ["1104"], nonce=full["nonce"])
    forged = copy.deepcopy(full)
    forged["selections"][3] = other["selections"][3]
    with pytest.raises(BallotError, match="contest proof"):
        check_ballot(manifest, ek, h, forged)


def tamper_election(b: dict[str, Any]) -> None:
    b["election"] = "00" * 32


def tamper_district(b: dict[str, Any]) -> None:
    b["district"] = "armenians-south"


def tamper_station(b: dict[str, Any]) -> None:
    b["station"] = "isfahan-arm-1"


def tamper_proof(b: dict[str, Any]) -> None:
    group = get_group()
    c = wire.scalar_from_hex(group, b["selections"][1]["proof"]["challenges"][0])
    b["selections"][1]["proof"]["challenges"][0] = wire.scalar_hex(group, (c + 1) % group.q)


def tamper_element(b: dict[str, Any]) -> None:
    b["selections"][0]["ciphertext"]["alpha"] = "ff" * 32


def tamper_order(b: dict[str, Any]) -> None:
    b["selections"].reverse()


@pytest.mark.parametrize(
    ("tamper", "message"),
    [(tamper_election, "another election"), (tamper_district, "not the district"),
     (tamper_station, "not the district"), (tamper_proof, "does not verify"),
     (tamper_element, "not a group element"), (tamper_order, "in order")],
)  # fmt: skip
def test_a_tampered_ballot_is_refused_with_a_reason(
    setup: tuple[Manifest, ElectionKey[Any], bytes], tamper: Any, message: str
) -> None:
    manifest, ek, h = setup
    ballot, _ = encrypt_ballot(manifest, ek, h, "tabriz-001", ["1102"])
    tamper(ballot)
    with pytest.raises(BallotError, match=message):
        check_ballot(manifest, ek, h, ballot)


def test_the_printed_order_is_rotated_per_station(
    setup: tuple[Manifest, ElectionKey[Any], bytes],
) -> None:
    manifest, _, h = setup
    district = manifest.district("tabriz")
    orders = {
        tuple(c.code for c in ballot_order(h, district, s.id))
        for s in manifest.stations
        if s.district == "tabriz"
    }
    assert all(sorted(o) == sorted(c.code for c in district.candidates) for o in orders)
    # Rotations of one list: the cyclic order is kept, the first name varies by station.
    firsts = {o[0] for o in orders}
    assert len(orders) == len(firsts)
    many = {ballot_order(h, district, f"station-{i}")[0].code for i in range(40)}
    assert many == {c.code for c in district.candidates}


def test_the_blank_flag_is_set_exactly_when_the_ballot_has_no_mark(
    setup: tuple[Manifest, ElectionKey[Any], bytes],
) -> None:
    manifest, ek, h = setup
    marked, _ = encrypt_ballot(manifest, ek, h, "tabriz-001", ["1101"])
    blank, opened = encrypt_ballot(manifest, ek, h, "tabriz-001", [], nonce=marked["nonce"])
    cts = check_ballot(manifest, ek, h, blank)
    assert check_opened(ek, blank, [], opened.nonces)
    assert len(cts) == 6
    # Swapping flags between a marked and a blank ballot breaks their contest proofs.
    for ballot, other in ((marked, blank), (blank, marked)):
        forged = copy.deepcopy(ballot)
        forged["blank"] = other["blank"]
        with pytest.raises(BallotError, match=r"contest proof|blank-flag proof"):
            check_ballot(manifest, ek, h, forged)


@pytest.mark.parametrize("part", ["proof", "ciphertext"])
def test_a_ballot_whose_parts_are_not_objects_is_refused_not_crashed(
    setup: tuple[Manifest, ElectionKey[Any], bytes], part: str
) -> None:
    manifest, ek, h = setup
    ballot, _ = encrypt_ballot(manifest, ek, h, "tabriz-001", ["1101"])
    ballot["selections"][0][part] = "not an object"
    with pytest.raises(BallotError, match=f"a {part} is not an object"):
        check_ballot(manifest, ek, h, ballot)


def test_every_proof_is_bound_to_the_station_and_the_nonce(
    setup: tuple[Manifest, ElectionKey[Any], bytes],
) -> None:
    """Issue 14, item 5: the same ciphertexts and proofs under another station of the same
    district, or under another nonce, no longer verify."""
    manifest, ek, h = setup
    nonce = "5a" * 32
    ballot, _ = encrypt_ballot(manifest, ek, h, "tabriz-001", ["1101"], nonce=nonce)
    assert ballot["nonce"] == nonce
    check_ballot(manifest, ek, h, ballot)
    moved = dict(ballot, station="tabriz-002")
    with pytest.raises(BallotError, match="proof of candidate 1101 does not verify"):
        check_ballot(manifest, ek, h, moved)
    renamed = dict(ballot, nonce="5b" * 32)
    with pytest.raises(BallotError, match="does not verify"):
        check_ballot(manifest, ek, h, renamed)
    fresh, _ = encrypt_ballot(manifest, ek, h, "tabriz-001", ["1101"])
    assert fresh["nonce"] != nonce
    assert len(fresh["nonce"]) == 64


@pytest.mark.parametrize(
    "nonce", ["5A" * 32, "5a" * 31, "5a" * 33, "", 7, None, "zz" * 32, " " + "5a" * 31 + "5"]
)
def test_a_nonce_is_exactly_64_lowercase_hex_digits(
    setup: tuple[Manifest, ElectionKey[Any], bytes], nonce: Any
) -> None:
    manifest, ek, h = setup
    ballot, _ = encrypt_ballot(manifest, ek, h, "tabriz-001", ["1101"])
    ballot["nonce"] = nonce
    with pytest.raises(BallotError, match="nonce"):
        check_ballot(manifest, ek, h, ballot)
    if isinstance(nonce, str):
        with pytest.raises(BallotError, match="nonce"):
            encrypt_ballot(manifest, ek, h, "tabriz-001", ["1101"], nonce=nonce)


@pytest.mark.parametrize("change", ["extra", "missing", "extra-in-selection", "extra-in-ct"])
def test_a_ballot_has_exactly_its_fields(
    setup: tuple[Manifest, ElectionKey[Any], bytes], change: str
) -> None:
    manifest, ek, h = setup
    ballot, _ = encrypt_ballot(manifest, ek, h, "tabriz-001", ["1101"])
    if change == "extra":
        ballot["comment"] = "hello"
    elif change == "missing":
        del ballot["nonce"]
    elif change == "extra-in-selection":
        ballot["selections"][0]["note"] = 1
    else:
        ballot["blank"]["ciphertext"]["gamma"] = "00"
    with pytest.raises(BallotError, match=r"not exactly|not objects|not an object"):
        check_ballot(manifest, ek, h, ballot)
