"""Written ballots (issue 16, item 1): the codes as written, encrypted in w elements, with one
proof of knowledge of the randomness bound to the ballot's full context."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import pytest

from tests.manifests import small_manifest_data
from verivote.crypto import wire
from verivote.crypto.ballot import BallotError, check_ballot, encrypt_ballot
from verivote.crypto.elgamal import Ciphertext, ElectionKey
from verivote.crypto.encoding import decode_codes, encode_codes
from verivote.crypto.groups import get_group
from verivote.crypto.hashing import election_base_hash, encode_items
from verivote.crypto.proofs import Nonces
from verivote.crypto.written import (
    canonical_written,
    check_any_ballot,
    check_written,
    check_written_opened,
    encrypt_for_station,
    encrypt_written,
    written_ciphertexts,
    written_opening_problem,
    written_width,
)
from verivote.model.ballots import Ballot
from verivote.model.canonical import canonical_json
from verivote.model.manifest import Manifest, parse_manifest
from verivote.rules.majlis import tally_majlis

Setup = tuple[Manifest, ElectionKey[Any], bytes, int]


def mixnet_manifest(group: str = "ristretto255") -> Manifest:
    """The small manifest with Tabriz counted by mixnet (armenians-south stays homomorphic)."""
    data = small_manifest_data(group)
    data["districts"][0]["mode"] = "mixnet"
    return parse_manifest(data)


def make_setup(group_name: str) -> Setup:
    manifest = mixnet_manifest(group_name)
    group = get_group(group_name)
    s = Nonces(group, b"written key").__call__()
    key = ElectionKey(group, group.pow_g(s))
    return manifest, key, election_base_hash(manifest.canonical()), s


@pytest.fixture(scope="module")
def setup() -> Setup:
    return make_setup("ristretto255")


def decrypt_written(setup: Setup, ballot: dict[str, Any]) -> list[str]:
    _, key, _, s = setup
    g = key.group
    cts = written_ciphertexts(g, ballot)
    return decode_codes(g, [g.div(ct.beta, g.pow(ct.alpha, s)) for ct in cts])


@pytest.mark.parametrize("group_name", ["ristretto255", "eg4096"])
def test_codes_as_written_check_decrypt_and_open(group_name: str) -> None:
    setup = make_setup(group_name)
    manifest, key, base, _ = setup
    # Repeats, a stranger and a code with a leading zero are all written as they are.
    codes = ["1104", "1104", "0077"]
    ballot, opened = encrypt_written(manifest, key, base, "tabriz-001", codes)
    cts = check_written(manifest, key, base, json.loads(canonical_json(ballot)))
    assert len(cts) == written_width(key.group, manifest.district("tabriz"))
    assert decrypt_written(setup, ballot) == codes
    assert opened.choices == tuple(codes)
    assert check_written_opened(key, ballot, codes, opened.nonces)
    assert not check_written_opened(key, ballot, ["1104", "1104"], opened.nonces)
    assert not check_written_opened(key, ballot, codes, (*opened.nonces[::-1], 1))
    hexes = [key.group.encode_scalar(r).hex() for r in opened.nonces]
    assert written_opening_problem(manifest, key, ballot, codes, hexes) is None
    assert written_opening_problem(manifest, key, ballot, ["1101"], hexes) is not None


def test_an_empty_ballot_is_a_ballot(setup: Setup) -> None:
    manifest, key, base, _ = setup
    ballot, _ = encrypt_written(manifest, key, base, "tabriz-002", [])
    check_written(manifest, key, base, ballot)
    assert decrypt_written(setup, ballot) == []


def test_width_follows_seats_and_the_longest_code(setup: Setup) -> None:
    manifest, key, _, _ = setup
    assert written_width(key.group, manifest.district("tabriz")) == 1
    assert written_width(get_group("eg4096"), manifest.district("tabriz")) == 2


@pytest.mark.parametrize(
    ("codes", "reason"),
    [
        (["1101", "1102", "1103", "1104"], "4 codes written for 3 seats"),
        (["12a4"], "a candidate code is 1 to 8 decimal digits"),
        ([""], "a candidate code is 1 to 8 decimal digits"),
        ("1101", "a list of codes, not one string"),
    ],
)
def test_impossible_ballots_are_refused_before_encryption(
    setup: Setup, codes: Any, reason: str
) -> None:
    manifest, key, base, _ = setup
    with pytest.raises(BallotError, match=reason):
        encrypt_written(manifest, key, base, "tabriz-001", codes)


def test_codes_too_long_for_the_width_are_refused() -> None:
    # eg4096 holds 24 bits per element: 3 codes of 4 digits need 2, three of 8 digits more.
    manifest, key, base, _ = make_setup("eg4096")
    with pytest.raises(BallotError, match=r"does not fit.*width is 2"):
        encrypt_written(manifest, key, base, "tabriz-001", ["12345678", "12345678", "1"])


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        (["1104", "1101"], ["1101", "1104"]),  # the order of the names means nothing
        (["1103", "1103"], ["1103"]),  # a repeat counts once
        (["9999", "1102", "0077"], ["1102"]),  # codes of no candidate are ignored
        (["9", "9"], []),  # nothing left: a blank ballot
        ([], []),
    ],
)
def test_a_station_device_encrypts_the_canonical_form(
    setup: Setup, written: list[str], canonical: list[str]
) -> None:
    """README, "Privacy": an honest device encrypts the distinct candidate codes in increasing
    order, the same ballot for the count (majlis-2024) with no free marks."""
    manifest, key, base, _ = setup
    tabriz = manifest.district("tabriz")
    codes = [c.code for c in tabriz.candidates]
    assert canonical_written(tabriz, written) == canonical
    ballot, opened = encrypt_for_station(manifest, key, base, "tabriz-001", written)
    check_written(manifest, key, base, ballot)
    assert decrypt_written(setup, ballot) == canonical
    assert list(opened.choices) == canonical
    law = tally_majlis([Ballot(tuple(written))], codes, tabriz.seats)
    assert tally_majlis([Ballot(tuple(canonical))], codes, tabriz.seats) == law
    # A device that encrypts the codes as written (`encrypt_written`) makes a ballot still
    # counted by the law: the same count once decrypted.
    raw, _ = encrypt_written(manifest, key, base, "tabriz-001", written)
    check_written(manifest, key, base, raw)
    assert decrypt_written(setup, raw) == written
    assert tally_majlis([Ballot(tuple(decrypt_written(setup, raw)))], codes, 3) == law


@pytest.mark.parametrize(
    ("codes", "reason"),
    [
        (["1101", "1102", "1103", "1104"], "^4 codes written for 3 seats: a ballot of district"),
        (["1101", "???"], r"^code 2 of the ballot is '\?\?\?': a candidate code is 1 to 8"),
        (["123456789"], "^code 1 of the ballot is '123456789'"),
        ("1101", "^a written ballot is a list of codes, not one string$"),
    ],
)
def test_a_station_device_refuses_what_is_no_ballot(setup: Setup, codes: Any, reason: str) -> None:
    manifest, key, base, _ = setup
    with pytest.raises(BallotError, match=reason) as refused:
        encrypt_for_station(manifest, key, base, "tabriz-001", codes)
    assert "\n" not in str(refused.value)


def test_the_mode_decides_the_path(setup: Setup) -> None:
    manifest, key, base, _ = setup
    written, _ = encrypt_for_station(manifest, key, base, "tabriz-001", ["1101"])
    marked, _ = encrypt_for_station(manifest, key, base, "isfahan-arm-1", ["2201"])
    assert "written" in written
    assert "selections" in marked
    check_any_ballot(manifest, key, base, written)
    check_any_ballot(manifest, key, base, marked)
    with pytest.raises(BallotError, match="counted by mixnet"):
        encrypt_ballot(manifest, key, base, "tabriz-001", ["1101"])
    with pytest.raises(BallotError, match="counted homomorphically"):
        encrypt_written(manifest, key, base, "isfahan-arm-1", ["2201"])
    # A marked ballot made before the district switched mode is refused, and the converse.
    plain = parse_manifest(small_manifest_data())
    old_base = election_base_hash(plain.canonical())
    old, _ = encrypt_ballot(plain, key, old_base, "tabriz-001", ["1101"])
    old["election"] = base.hex()
    with pytest.raises(BallotError, match="counted by mixnet"):
        check_ballot(manifest, key, base, old)
    with pytest.raises(BallotError, match="not counted by mixnet"):
        check_written(plain, key, base, written)


# --- known answers ---------------------------------------------------------------------------

KAT_NONCE = "5a" * 32
KAT_RISTRETTO = {
    "ciphertexts": [
        {
            "alpha": "5612aae2612741db262f6b69272239ebfe2429609ab881cdccfd9677ddc52b2f",
            "beta": "30bf90e9f2ca62701d8d3f8f3589bb5a848fc708132d9376a5f50ab596e2772a",
        }
    ],
    "proof": {
        "challenge": "098e307e0cea861e4c9663cb6598f76c9d8d01994c350f885d2f1a74b047f471",
        "responses": ["08130c90f5e5a3ea08413d4f48a562b4ea26aa6a6b308fdd655ef6242a7b805c"],
    },
}
# SHA-256 of the canonical JSON of the eg4096 ballot (too long to list).
KAT_EG4096 = "eeda5230d8a07d645f27d58dcbfc2ce595f917a40808b84f32d0dd56f2b77ccd"


@pytest.mark.parametrize("group_name", ["ristretto255", "eg4096"])
def test_known_answer(group_name: str) -> None:
    """Fixed key, Nonces and nonce give fixed bytes: any change to the hash inputs, the
    encoding or the wire form shows up here (and must change the format version). The
    challenge is also recomputed here from the hash inputs the module docstring lists."""
    manifest, key, base, _ = make_setup(group_name)
    g = key.group
    codes = ["1105", "9", "1105"]
    ballot, opened = encrypt_written(
        manifest, key, base, "tabriz-003", codes, Nonces(g, b"written known answer"), KAT_NONCE
    )
    check_written(manifest, key, base, ballot)
    if group_name == "ristretto255":
        assert ballot["written"] == KAT_RISTRETTO
    else:
        assert hashlib.sha256(canonical_json(ballot)).hexdigest() == KAT_EG4096
    # By hand: r₁…r_w are the first w draws, u₁…u_w the next w.
    w = written_width(g, manifest.district("tabriz"))
    draws = Nonces(g, b"written known answer")
    rs = [draws() for _ in range(w)]
    us = [draws() for _ in range(w)]
    assert list(opened.nonces) == rs
    elements = encode_codes(g, codes, w)
    cts = [(g.pow_g(r), g.mul(m, key.pow_k(r))) for m, r in zip(elements, rs, strict=True)]
    data = encode_items(
        "written",
        [
            [base, "tabriz", "tabriz-003", bytes.fromhex(KAT_NONCE)],
            g.name,
            g.encode(key.key),
            [[g.encode(a), g.encode(b)] for a, b in cts],
            [g.encode(g.pow_g(u)) for u in us],
        ],
    )
    c = int.from_bytes(hashlib.sha512(data).digest(), "big") % g.q
    proof = ballot["written"]["proof"]
    assert proof["challenge"] == g.encode_scalar(c).hex()
    assert proof["responses"] == [
        g.encode_scalar((u - c * r) % g.q).hex() for u, r in zip(us, rs, strict=True)
    ]
    assert [wire.ciphertext_from_json(g, ct) for ct in ballot["written"]["ciphertexts"]] == [
        Ciphertext(a, b) for a, b in cts
    ]


# --- refusals -------------------------------------------------------------------------------


def _mul_first(setup: Setup, b: dict[str, Any], part: str) -> None:
    _, key, _, _ = setup
    g = key.group
    ct = b["written"]["ciphertexts"][0]
    ct[part] = wire.element_hex(g, g.mul(wire.element_from_hex(g, ct[part]), g.pow_g(5)))


def _rerandomise(setup: Setup, b: dict[str, Any]) -> None:
    _, key, _, _ = setup
    g = key.group
    cts = b["written"]["ciphertexts"]
    for i, doc in enumerate(cts):
        ct = wire.ciphertext_from_json(g, doc)
        s = 1000 + i
        cts[i] = wire.ciphertext_to_json(
            g, Ciphertext(g.mul(ct.alpha, g.pow_g(s)), g.mul(ct.beta, key.pow_k(s)))
        )


def _copy_to_station(b: dict[str, Any]) -> None:
    b["station"] = "tabriz-002"


def _other_nonce(b: dict[str, Any]) -> None:
    b["nonce"] = "00" * 32


def _swap_columns(b: dict[str, Any]) -> None:
    w = b["written"]
    w["ciphertexts"].reverse()
    w["proof"]["responses"].reverse()


@pytest.fixture(scope="module")
def eg_setup() -> Setup:
    # eg4096 makes the Tabriz ballot 2 elements wide, so swapping columns means something.
    return make_setup("eg4096")


TAMPERS = [
    "copied to another station", "re-randomised", "alpha mauled", "beta mauled",
    "another nonce", "columns swapped",
]  # fmt: skip


@pytest.mark.parametrize("name", TAMPERS)
def test_a_ballot_moved_rerandomised_mauled_renonced_or_swapped_is_refused(
    eg_setup: Setup, name: str
) -> None:
    manifest, key, base, _ = eg_setup
    ballot, _ = encrypt_written(manifest, key, base, "tabriz-001", ["1101", "1102", "7"])
    check_written(manifest, key, base, ballot)
    assert len(ballot["written"]["ciphertexts"]) == 2
    tampers = {
        "copied to another station": _copy_to_station,
        "re-randomised": lambda b: _rerandomise(eg_setup, b),
        "alpha mauled": lambda b: _mul_first(eg_setup, b, "alpha"),
        "beta mauled": lambda b: _mul_first(eg_setup, b, "beta"),
        "another nonce": _other_nonce,
        "columns swapped": _swap_columns,
    }
    tampers[name](ballot)
    with pytest.raises(BallotError, match="does not verify"):
        check_written(manifest, key, base, ballot)


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda b: b.__setitem__("election", "00" * 32), "another election"),
        (lambda b: b.__setitem__("district", "armenians-south"), "not the district of station"),
        (lambda b: b.__setitem__("station", "nowhere"), "not in the manifest"),
        (lambda b: b.__setitem__("station", 7), "not a string"),
        (lambda b: b.__setitem__("nonce", "AB" * 32), "64 lowercase hex"),
        (lambda b: b.__setitem__("extra", 1), "keys are not exactly"),
        (lambda b: b.pop("nonce"), "keys are not exactly"),
        (lambda b: b.__setitem__("written", []), "not an object of ciphertexts and proof"),
        (lambda b: b["written"]["ciphertexts"].append(b["written"]["ciphertexts"][0]),
         "has 1 ciphertexts and 1 responses, not 2 and 1"),
        (lambda b: b["written"]["ciphertexts"].__setitem__(0, "x"), "not a list of objects"),
        (lambda b: b["written"]["ciphertexts"][0].__setitem__("alpha", "00" * 31 + "01"),
         "not a group element"),
        (lambda b: b["written"]["ciphertexts"][0].__setitem__("beta", 5), "malformed"),
        (lambda b: b["written"]["proof"].__setitem__("challenge", "ff" * 32), "malformed"),
        (lambda b: b["written"]["proof"].__setitem__("responses", "ab"), "list of responses"),
        (lambda b: b["written"]["proof"].pop("challenge"), "not an object of challenge"),
    ],
)  # fmt: skip
def test_a_malformed_written_ballot_is_refused_with_a_reason(
    setup: Setup, tamper: Any, reason: str
) -> None:
    manifest, key, base, _ = setup
    ballot, _ = encrypt_written(manifest, key, base, "tabriz-001", ["1101"])
    tamper(ballot)
    with pytest.raises(BallotError, match=reason):
        check_written(manifest, key, base, ballot)


# --- costs (the figures of MIXNET_ABOVE's and crypto/written.py's docstrings) ---------------


def _district_manifest(candidates: int, seats: int, mode: str) -> Manifest:
    return parse_manifest(
        {
            "election_id": "costs", "name": "Costs", "date": "2024-03-01",
            "factions": [{"id": "a", "name": "A"}],
            "districts": [{
                "id": "d", "name": "D", "seats": seats, "mode": mode,
                "candidates": [{"code": str(1000 + i), "name": f"c{i}"}
                               for i in range(candidates)],
            }],
            "stations": [{"id": "s", "name": "S", "district": "d"}],
        }
    )  # fmt: skip


def _best(f: Any, reps: int) -> float:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def test_costs_behind_mixnet_above(setup: Setup) -> None:
    """The per-ballot checking cost of both paths (`MIXNET_ABOVE`'s docstring)."""
    _, key, _, _ = setup
    marked = {}
    for n in (10, 30):
        m = _district_manifest(n, 5, "homomorphic")
        base = election_base_hash(m.canonical())
        choice = [c.code for c in m.districts[0].candidates[:5]]
        b = json.loads(canonical_json(encrypt_ballot(m, key, base, "s", choice)[0]))
        marked[n] = _best(lambda m=m, base=base, b=b: check_ballot(m, key, base, b), 3)
    m = _district_manifest(31, 5, "mixnet")
    base = election_base_hash(m.canonical())
    b, _ = encrypt_written(m, key, base, "s", [c.code for c in m.districts[0].candidates[:5]])
    written = _best(lambda: check_written(m, key, base, b), 10)
    per_candidate = (marked[30] - marked[10]) / 20
    print(
        f"\nhomomorphic check: 10 candidates {marked[10] * 1e3:.1f} ms, 30 candidates "
        f"{marked[30] * 1e3:.1f} ms ({per_candidate * 1e3:.2f} ms per candidate); "
        f"written check (1 element): {written * 1e3:.2f} ms"
    )
    assert written < marked[10]


def test_tehran_ballot_costs(setup: Setup) -> None:
    """One Tehran-shaped written ballot (30 codes of 4 digits out of 3,545): its JSON size,
    encryption and check time, against the homomorphic path's 2.78 MB / 0.9 s / 1.6 s."""
    _, key, _, _ = setup
    m = _district_manifest(3545, 30, "mixnet")
    base = election_base_hash(m.canonical())
    codes = [c.code for c in m.districts[0].candidates[::118]][:30]
    ballot, _ = encrypt_written(m, key, base, "s", codes)
    body = canonical_json(ballot)
    doc = json.loads(body)
    encrypt_s = _best(lambda: encrypt_written(m, key, base, "s", codes), 10)
    check_s = _best(lambda: check_written(m, key, base, doc), 10)
    print(
        f"\nTehran written ballot: {len(doc['written']['ciphertexts'])} elements, "
        f"{len(body)} bytes of JSON, encrypt {encrypt_s * 1e3:.2f} ms, "
        f"check {check_s * 1e3:.2f} ms ({1.6 / check_s:,.0f}× faster than 1.6 s)"
    )
    assert len(doc["written"]["ciphertexts"]) == 2
    assert len(body) < 1000
    assert check_s < 0.0016  # the goal: ≥ 1,000× faster than 1.6 s
