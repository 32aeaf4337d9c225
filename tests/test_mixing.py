"""The mix path of issue 16 (election/mixing.py, crypto/rows.py): shuffle entries and their
checks, partial decryptions of the last mix, the combination, decoding and the count by the
law; on the store (SQLite and PostgreSQL): the server's checks of a shuffle, the race for a
position, closing the mix and the decrypted tally's mixnet district."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.crypto_helpers import keypair
from tests.mix_fixtures import (
    BALLOTS,
    CODES,
    MIXED,
    MIXERS,
    SEATS,
    mix_manifest_data,
    publish_mix_input,
    written_rows,
)
from tests.sealing_helpers import authority_key
from tests.store_fixtures import BACKENDS, backend_database
from verivote.crypto import wire
from verivote.crypto.ceremony import public_share, run_ceremony
from verivote.crypto.elgamal import ElectionKey, encrypt_element
from verivote.crypto.encoding import EncodingError, decode_codes
from verivote.crypto.group import InvalidElement
from verivote.crypto.groups import get_group
from verivote.crypto.keyfile import read_key_share
from verivote.crypto.rows import entry_hash, rows_from_json, rows_to_json
from verivote.crypto.threshold import QuorumError
from verivote.election.guardians import Refused
from verivote.election.mixing import (
    MixError,
    accept_mix_partial,
    accept_shuffle,
    check_mix_partial,
    check_shuffle_entry,
    close_mix,
    combine_mix,
    combine_rows,
    count_ballots,
    decode_rows,
    decrypt_mix_as_guardian,
    final_rows,
    make_shuffle_entry,
    mix_as,
    mix_partial_entry,
    mix_state,
)
from verivote.election.service import (
    ElectionContext,
    ElectionError,
    hold_ceremony,
    init_election,
    load_context,
)
from verivote.model.ballots import Ballot
from verivote.model.canonical import canonical_json
from verivote.model.manifest import parse_manifest
from verivote.rules.majlis import tally_majlis
from verivote.store import Store, make_engine, migrate

MANIFEST = parse_manifest(mix_manifest_data())
BASE = b"\x07" * 32


def expected_counts(ballots: list[list[str]]) -> dict[str, Any]:
    t = tally_majlis([Ballot(tuple(b)) for b in ballots], CODES, SEATS)
    return {"ballots": len(ballots), "blank": t.void, "votes": {c: t.votes[c] for c in CODES}}


# --- rows JSON -----------------------------------------------------------------------------------


def test_rows_round_trip_and_refuse_malformed() -> None:
    group, _, ek = keypair()
    rows = written_rows(ek, BALLOTS, 2)
    doc = rows_to_json(group, rows)
    assert rows_from_json(group, doc, 2) == rows
    with pytest.raises(ValueError, match="row 0 is not a list of 1"):
        rows_from_json(group, doc, 1)
    bad = json.loads(json.dumps(doc))
    bad[3][1][0] = "ff" * 32  # not a ristretto255 encoding
    with pytest.raises(ValueError, match="row 3 holds an element that is not in the group"):
        rows_from_json(group, bad, 2)
    bad[3][1][0] = "not hex"
    with pytest.raises(ValueError, match="row 3 holds a malformed element"):
        rows_from_json(group, bad, 2)
    with pytest.raises(ValueError, match="must be a list"):
        rows_from_json(group, {"rows": doc}, 2)


# --- shuffles (pure) ------------------------------------------------------------------------------


def _input_entry(ek: Any, ballots: list[list[str]], w: int = 1) -> tuple[bytes, list[Any]]:
    rows = written_rows(ek, ballots, w)
    doc = {"type": "mix-input", "election": BASE.hex(), "district": MIXED, "cutoff": 9,
           "width": w, "rows": rows_to_json(ek.group, rows)}  # fmt: skip
    return canonical_json(doc), rows


def test_a_shuffle_entry_checks_and_chains() -> None:
    _, _, ek = keypair()
    first, rows = _input_entry(ek, BALLOTS)
    doc = make_shuffle_entry(ek, BASE, MIXED, "principlists", 1, first, rows)
    assert doc["previous"] == entry_hash(first)
    assert doc["position"] == 1
    out = check_shuffle_entry(ek, BASE, doc, first, rows, MANIFEST)
    assert len(out) == len(rows)
    assert out != rows
    second = make_shuffle_entry(ek, BASE, MIXED, "reformists", 2, canonical_json(doc), out)
    check_shuffle_entry(ek, BASE, second, canonical_json(doc), out, MANIFEST)


def _changed(doc: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**json.loads(json.dumps(doc)), **fields}


def test_every_wrong_shuffle_entry_is_refused() -> None:
    _, _, ek = keypair()
    first, rows = _input_entry(ek, BALLOTS)
    doc = make_shuffle_entry(ek, BASE, MIXED, "principlists", 1, first, rows)
    other, other_rows = _input_entry(ek, BALLOTS)
    foreign = make_shuffle_entry(ek, BASE, MIXED, "principlists", 1, other, other_rows)
    out = doc["rows"]
    replaced = [*out[:2], rows_to_json(ek.group, written_rows(ek, [["3001"]], 1))[0], *out[3:]]
    cases = {
        "its shuffle proof does not verify": [
            _changed(doc, rows=replaced),  # a row replaced
            _changed(doc, rows=[*out[:3], out[3], *out[3:-1]]),  # one duplicated over another
            _changed(doc, proof=foreign["proof"]),  # a proof from another input
        ],
        "it has 6 rows; its input has 7": [_changed(doc, rows=out[:-1])],  # a row dropped
        "it has 8 rows; its input has 7": [_changed(doc, rows=[*out, out[0]])],
        "its position is 2, the chain's next is 1": [_changed(doc, position=2)],
        "previous hash": [_changed(doc, previous=entry_hash(other))],
        "not a mixer": [_changed(doc, mixer="strangers")],
        "another election": [_changed(doc, election="00" * 32)],
        "not a mixnet district": [_changed(doc, district="tabriz")],
        "proof is malformed": [_changed(doc, proof={"challenge": "00"})],
        "rows are malformed": [_changed(doc, rows=[[["00", "11"]]] * 7)],
    }
    for reason, docs in cases.items():
        for bad in docs:
            with pytest.raises(MixError, match=reason):
                check_shuffle_entry(ek, BASE, bad, first, rows, MANIFEST)


# --- decryption and count (pure) ------------------------------------------------------------------


def _undecodable_element() -> bytes:
    """A ristretto255 element that is `encode_codes` of no ballot, whatever the key: chunk 0
    under the first counter > 0 that gives a valid encoding (s = 2·counter). Chunk 0's own
    encoding is counter 0, the identity (the empty ballot), so the decoder's re-embedding
    check refuses this one."""
    group = get_group("ristretto255")
    for counter in range(1, 256):
        try:
            element: bytes = group.decode((counter << 1).to_bytes(32, "little"))
        except InvalidElement:
            continue
        with pytest.raises(EncodingError):
            decode_codes(group, [element])
        return element
    raise AssertionError("no valid encoding of chunk 0 under a later counter")


def test_partials_of_a_quorum_decrypt_decode_and_count() -> None:
    """A quorum's partial decryptions of the rows combine, decode and count; a row that is no
    encoded ballot decodes to None (void, issue 16, item 3).

    The void row is an encryption under the election key of an element built to be
    undecodable (`_undecodable_element`), so it decrypts to that element under every key. It
    used to be the fixed ciphertext (g^5, g^11), whose plaintext g^11·(g^5)^(−x) is a uniformly
    random element under the fresh key x of each run, and a random ristretto255 element
    decodes as a valid written ballot (here of width 1) with probability

        P = 2^245 / ℓ · (1 − ε) ≈ 2^−7 = 1/128   (ℓ = 2^252 + 2774…8493, the group order)

    so the test failed about once in 128 runs (e.g. with a "ballot" of 15 codes). Derivation
    (`verivote.crypto.encoding`): decoding accepts exactly the elements `_ristretto_embed`
    produces, one per chunk below 2^245 (the embedding is injective: s = chunk·2⁹ + counter·2
    carries the chunk in its bits; a chunk without an encoding in 256 counters has probability
    < 2^−106), hence 2^245 of the ℓ elements: the only redundancy is the first-valid-counter
    rule and s < 2^254, 252 − 245 = 7 bits. The ballot integer X = chunk is then
    refused by `codes_of_integer` only if none of its codes has the header's length D: X's
    payload (242 bits) is 9 to 73 codes, each of length D with probability 10^D/N_D ≥ 0.9,
    so ε = 1.5·10^−10 (computed exactly: over all 2^245 chunks, those whose base-N_D digits
    are all shorter than D). Measured: 1,526 of 200,000 random elements decode (1/131). A row
    of w elements decodes by chance with probability ≈ 2^−7w (w = 2 for Tehran: 2^−14).
    """
    group = get_group("ristretto255")
    outcome = run_ceremony(group, 5, 3, BASE)
    t = outcome.transcript
    ek = ElectionKey(group, group.decode(bytes.fromhex(t.joint_key)))
    void = _undecodable_element()
    garbage = encrypt_element(ek, void, group.random_scalar())  # decrypts to no encoded ballot
    rows = [*written_rows(ek, BALLOTS, 1), (garbage,)]
    shares = {}
    for share in outcome.shares.values():
        if share.guardian in (2, 4, 5):
            public = public_share(group, t, share.guardian)
            doc = mix_partial_entry(group, BASE, share, public, MIXED, 500, rows)
            shares[share.guardian] = check_mix_partial(group, BASE, public, doc, rows)
            wrong = json.loads(json.dumps(doc))
            wrong["shares"][3][0]["share"] = wire.element_hex(group, group.pow_g(3))
            with pytest.raises(MixError, match="row 503, ciphertext 0 does not verify"):
                check_mix_partial(group, BASE, public, wrong, rows)
            moved = mix_partial_entry(group, BASE, share, public, MIXED, 0, rows)
            with pytest.raises(MixError, match="does not verify"):  # the labels bind the row
                check_mix_partial(group, BASE, public, {**moved, "start": 500}, rows)
    plaintexts = combine_rows(group, 3, rows, shares)
    assert list(plaintexts[-1]) == [void]
    ballots = decode_rows(group, plaintexts)
    assert ballots == [*BALLOTS, None]
    counts = count_ballots(ballots, CODES, SEATS)
    assert counts == expected_counts([*BALLOTS, []])
    assert counts["blank"] == 3
    assert counts["votes"]["3001"] == 4
    assert counts["votes"]["3006"] == 1
    assert counts["votes"]["3007"] == 0  # the fifth name of a ballot of four seats


# --- on the store ------------------------------------------------------------------------------


@dataclass
class MixElection:
    store: Store
    keys: Path

    @property
    def ctx(self) -> ElectionContext:
        return load_context(self.store, MANIFEST.election_id)


@pytest.fixture(params=BACKENDS)
def mixed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MixElection]:
    """An election with a key (5 guardians, quorum 3) and BALLOTS in its mix-input."""
    with backend_database(request.param, tmp_path) as url:
        engine = make_engine(url)
        migrate(engine)
        store = Store(engine)
        init_election(store, MANIFEST)
        hold_ceremony(store, load_context(store, MANIFEST.election_id), 5, 3, tmp_path / "keys")
        publish_mix_input(store, load_context(store, MANIFEST.election_id), BALLOTS)
        yield MixElection(store, tmp_path / "keys")
        engine.dispose()


def test_mix_close_decrypt_and_count_on_the_store(mixed: MixElection) -> None:
    store, ctx = mixed.store, mixed.ctx
    with pytest.raises(ElectionError, match="tehran has 0 of 3 shuffles"):
        close_mix(store, ctx)
    for mixer in MIXERS:
        assert len(mix_as(store, ctx, mixer)) == 1
        assert mix_as(store, ctx, mixer) == []  # it has mixed every district
    state = mix_state(store, ctx)
    assert state.districts[MIXED].mixers == MIXERS
    closed = close_mix(store, ctx)
    assert closed["districts"] == {
        MIXED: {"shuffles": 3, "last": entry_hash(state.districts[MIXED].last_entry)}
    }
    assert close_mix(store, ctx) == closed  # once
    with pytest.raises(QuorumError, match="needs 3 guardians with every batch; complete: none"):
        combine_mix(store, ctx)
    for g in (1, 3, 5):
        share = read_key_share(mixed.keys / f"guardian-{g}.key")
        assert decrypt_mix_as_guardian(store, ctx, share) == 1
        assert decrypt_mix_as_guardian(store, ctx, share) == 0  # resumes: nothing left
    counts = combine_mix(store, ctx)
    assert counts == {MIXED: expected_counts(BALLOTS)}
    (published,) = [
        json.loads(e) for _, e in store.entries_of_type(ctx.election_id, "mix-decryption")
    ]
    assert published["guardians"] == [1, 3, 5]
    assert sorted(map(str, published["ballots"])) == sorted(map(str, BALLOTS))
    assert combine_mix(store, ctx) == counts
    assert len(store.entries_of_type(ctx.election_id, "mix-decryption")) == 1


def test_the_server_refuses_wrong_shuffles(mixed: MixElection) -> None:
    store, ctx = mixed.store, mixed.ctx
    assert ctx.key is not None
    state = mix_state(store, ctx).districts[MIXED]
    rows = final_rows_of(ctx, state.input_entry)
    doc = make_shuffle_entry(
        ctx.key, ctx.base_hash, MIXED, "reformists", 1, state.input_entry, rows
    )
    with pytest.raises(Refused, match="not a mixer") as exc:
        accept_shuffle(store, ctx, "strangers", doc)
    assert exc.value.status == 403
    with pytest.raises(Refused, match="names mixer 'reformists'"):
        accept_shuffle(store, ctx, "principlists", doc)
    with pytest.raises(Refused, match="exactly the fields"):
        accept_shuffle(store, ctx, "reformists", {**doc, "extra": 1})
    with pytest.raises(Refused, match="the next shuffle of tehran is 1"):
        accept_shuffle(store, ctx, "reformists", {**doc, "position": 2})
    bad = {**doc, "rows": doc["rows"][:-1]}
    with pytest.raises(Refused, match="shuffle refused: it has 6 rows") as exc:
        accept_shuffle(store, ctx, "reformists", bad)
    assert exc.value.status == 422
    index = accept_shuffle(store, ctx, "reformists", doc)
    assert store.entries(ctx.election_id, index, index + 1) == [canonical_json(doc)]
    with pytest.raises(Refused, match="already mixed"):
        accept_shuffle(store, ctx, "reformists", doc)
    mix_as(store, ctx, "principlists")
    mix_as(store, ctx, "independents")
    close_mix(store, ctx)
    with pytest.raises(Refused, match="the mix is closed"):
        accept_shuffle(store, ctx, "independents", {**doc, "mixer": "independents"})


def test_the_mix_state_reads_each_entry_once_per_store(mixed: MixElection) -> None:
    """Every shuffle accepted reads the mix's state: reading every mix entry each time made a
    national mix quadratic. A store object reads an entry's contents once; another store
    object on the same database (another process) reads them again and agrees."""
    store, ctx = mixed.store, mixed.ctx
    for mixer in MIXERS:
        mix_as(store, ctx, mixer)
    reads: list[int] = []

    class Counting(Store):
        def entry(self, election_id: str, index: int, log: str = "") -> bytes:
            reads.append(index)
            return super().entry(election_id, index, log)

    counting = Counting(store.engine)
    first = mix_state(counting, ctx)
    assert len(reads) == 1 + len(MIXERS)  # the mix-input and each shuffle, parsed once
    again = mix_state(counting, ctx)
    assert len(reads) == 1 + len(MIXERS)
    assert again.districts[MIXED].shuffles == first.districts[MIXED].shuffles
    assert again.districts[MIXED].mixers == MIXERS
    assert mix_state(store, ctx).districts[MIXED].rows == len(BALLOTS)


def final_rows_of(ctx: ElectionContext, entry: bytes) -> list[Any]:
    assert ctx.key is not None
    doc = json.loads(entry)
    return rows_from_json(ctx.key.group, doc["rows"], len(doc["rows"][0]))


def test_two_mixers_racing_for_one_position_get_one_shuffle(mixed: MixElection) -> None:
    store, ctx = mixed.store, mixed.ctx
    assert ctx.key is not None
    first = mix_state(store, ctx).districts[MIXED].input_entry
    rows = final_rows_of(ctx, first)
    docs = {m: make_shuffle_entry(ctx.key, ctx.base_hash, MIXED, m, 1, first, rows) for m in MIXERS}
    barrier = threading.Barrier(len(MIXERS))
    results: dict[str, str] = {}

    def race(mixer: str) -> None:
        barrier.wait(timeout=30)
        try:
            accept_shuffle(store, ctx, mixer, docs[mixer])
            results[mixer] = "ok"
        except Refused as exc:
            results[mixer] = f"{exc.status}"

    threads = [threading.Thread(target=race, args=(m,)) for m in MIXERS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()) == ["409", "409", "ok"], results
    assert len(store.entries_of_type(ctx.election_id, "shuffle")) == 1


def test_guardians_decrypt_only_a_closed_mix_and_the_server_checks_them(
    mixed: MixElection,
) -> None:
    store, ctx = mixed.store, mixed.ctx
    share = read_key_share(mixed.keys / "guardian-2.key")
    with pytest.raises(ElectionError, match="the mix is not closed yet"):
        decrypt_mix_as_guardian(store, ctx, share)
    for mixer in MIXERS:
        mix_as(store, ctx, mixer)
    close_mix(store, ctx)
    assert ctx.transcript is not None
    group = get_group(ctx.transcript.group)
    rows = final_rows(store, ctx)[MIXED]
    public = public_share(group, ctx.transcript, 2)
    doc = mix_partial_entry(group, ctx.base_hash, share, public, MIXED, 0, rows)
    with pytest.raises(Refused, match="names guardian 2, not 3"):
        accept_mix_partial(store, ctx, 3, doc)
    with pytest.raises(Refused, match="start 500 is not the start"):
        accept_mix_partial(store, ctx, 2, {**doc, "start": 500})
    wrong = json.loads(json.dumps(doc))
    wrong["shares"][0][0]["share"] = wire.element_hex(group, group.pow_g(3))
    with pytest.raises(Refused, match="row 0, ciphertext 0 does not verify"):
        accept_mix_partial(store, ctx, 2, wrong)
    accept_mix_partial(store, ctx, 2, doc)
    with pytest.raises(Refused, match="already decrypted"):
        accept_mix_partial(store, ctx, 2, doc)
    assert decrypt_mix_as_guardian(store, ctx, share) == 0


# --- the in-process flow, the decrypted tally and the authority's commands ------------------------


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from verivote.cli.app import run

    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_decrypted_tally_holds_the_mixnet_district(
    backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Tally, the in-process mixers (`InProcessParties.mix`), the guardians' decryptions of
    the tally and of the mix, and `decryption.combine`: the mixnet district's counts are the
    law's count of the written ballots, the homomorphic district's are unchanged; `verivote
    mix status/close` report and refuse as they should."""
    from verivote.crypto.ballot import encrypt_ballot
    from verivote.election.decryption import combine
    from verivote.election.polls import close_polls, open_polls
    from verivote.election.tally import run_tally
    from verivote.sim.election import InProcessParties

    with backend_database(backend, tmp_path) as url:
        engine = make_engine(url)
        migrate(engine)
        store = Store(engine)
        init_election(store, MANIFEST)
        parties = InProcessParties(tmp_path)
        keys = tmp_path / "keys"
        parties.ceremony(store, load_context(store, MANIFEST.election_id), keys)
        ctx = load_context(store, MANIFEST.election_id)
        assert ctx.key is not None
        open_polls(store, ctx, ["tabriz-001"])
        from verivote.election.service import cast

        for choices in (["1101", "1102"], ["1101"], []):
            ballot, _ = encrypt_ballot(MANIFEST, ctx.key, ctx.base_hash, "tabriz-001", choices)
            cast(store, ctx, ballot)
        close_polls(store, ctx, ["tabriz-001"])
        # TODO(merge "written"): run_tally publishes the mix-input of the cast written ballots.
        publish_mix_input(store, ctx, BALLOTS)
        run_tally(store, ctx, processes=1, signer=authority_key(keys, ctx))
        db = ["--db", url, "--election", MANIFEST.election_id]
        code, out, err = _cli(capsys, "mix", "close", *db)
        assert code != 0
        assert "tehran has 0 of 3 shuffles" in err
        assert "Traceback" not in err
        steps: list[str] = []
        parties.mix(store, ctx, keys, lambda step, _done, _total: steps.append(step))
        assert steps[-1] == "mixing"
        code, out, _ = _cli(capsys, "mix", "status", *db, "--json")
        assert code == 0
        status = json.loads(out)
        assert status["closed"] is True
        assert status["districts"][MIXED]["shuffled_by"] == MIXERS
        assert status["districts"][MIXED]["waiting_for"] == []
        code, out, _ = _cli(capsys, "mix", "close", *db, "--json")  # already closed: as it was
        assert code == 0
        assert json.loads(out)["districts"][MIXED]["shuffles"] == 3
        parties.decrypt(store, ctx, keys, [1, 2, 3], lambda *_: None)
        parties.decrypt_mix(store, ctx, [1, 2, 3], lambda *_: None)
        code, out, _ = _cli(capsys, "mix", "status", *db)
        assert code == 0
        assert "guardian 3: 1/1" in out
        decrypted = combine(store, ctx)
        assert decrypted["districts"][MIXED] == expected_counts(BALLOTS)
        assert decrypted["districts"]["tabriz"]["votes"]["1101"] == 2
        assert decrypted["districts"]["tabriz"]["blank"] == 1
        engine.dispose()
