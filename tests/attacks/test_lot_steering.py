"""Attack (issue 14, item 4): whoever runs the count steers the lot.

Before the fix the lot's seed came from a checkpoint the authority made after the decrypted
tallies were published, and the verifier accepted any checkpoint size up to the count's own
position: the authority could append entries, sign checkpoint after checkpoint and keep the
seed whose draw suited it. Now the seed is H("lot-seed", origin, size, root, lot element) with
size fixed by the record (the tally entry's index + 1) and the lot element a threshold
decryption of the guardians' encrypted contributions made before the tally
(`verivote.election.lot`): no one alone knows it before the tally is fixed, no one can choose
another board size, and no one can forge, cancel or add late a guardian's contribution.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.manifests import small_manifest_data
from tests.sealing_helpers import authority_key
from tests.store_fixtures import BACKENDS, backend_database
from tests.verify_fixtures import (
    ROUND1,
    VerifyElection,
    _cast_all,
    copy_record,
    decrypt_present,
    read_entries,
    resign,
    roll_code,
    write_entries,
)
from verivote.board.merkle import MerkleLog
from verivote.crypto import wire
from verivote.crypto.ceremony import KeyShare, public_share
from verivote.crypto.elgamal import Ciphertext, encrypt_element
from verivote.crypto.groups import get_group
from verivote.crypto.keyfile import read_key_share
from verivote.crypto.lot import CONTRIBUTION_TYPE, contribution_context
from verivote.crypto.proofs import prove_schnorr
from verivote.election.count import run_count
from verivote.election.lot import (
    check_contribution,
    contribute_lot,
    make_contribution,
    publish_contribution,
)
from verivote.election.polls import close_polls
from verivote.election.publishing import create_signers, make_checkpoint, origin
from verivote.election.service import (
    ElectionContext,
    ElectionError,
    hold_ceremony,
    init_election,
    load_context,
)
from verivote.election.tally import run_tally
from verivote.model.canonical import canonical_json
from verivote.model.manifest import parse_manifest
from verivote.rules.districts import count_districts, lot_seed
from verivote.sim.election import contribute_all
from verivote.store import Store, make_engine, migrate
from verivote.store.roll import import_voters
from verivote.verify import verify_record


def _index(docs: list[dict[str, Any]], entry_type: str) -> int:
    return next(i for i, d in enumerate(docs) if d["type"] == entry_type)


def _seed(origin_name: str, size: int, root: bytes, decrypted: dict[str, Any]) -> bytes:
    """The seed the attacker publishes for a board of `size` entries: the prescribed formula
    with every input but the size left as it is."""
    return lot_seed(origin_name, size, root, bytes.fromhex(decrypted["lot"]))


def test_a_count_seeded_from_any_other_checkpoint_fails_verification(
    verify_election: VerifyElection, tmp_path: Path
) -> None:
    """The authority recounts with the seed of another board size (every size from the
    tally to the count), the results redrawn accordingly and the record re-signed: the
    verifier must refuse every one of them."""
    docs = read_entries(verify_election.round1)
    tally, count_at = _index(docs, "tally"), _index(docs, "count")
    decrypted = docs[_index(docs, "decrypted-tally")]
    manifest = parse_manifest(docs[0]["manifest"])
    log = MerkleLog()
    for doc in docs:
        log.append_entry(canonical_json(doc))
    prescribed = docs[count_at]["checkpoint_size"]
    others = [s for s in range(tally - 1, count_at + 1) if s != prescribed]
    assert others
    accepted = []
    for size in others:
        record = copy_record(verify_election.round1, tmp_path / f"record-{size}")
        forged = [dict(d) for d in docs]
        seed = _seed(origin(manifest.election_id), size, log.root(size), decrypted)
        results = count_districts(manifest, decrypted, seed)
        forged[count_at] = {
            **docs[count_at],
            "seed": seed.hex(),
            "checkpoint_size": size,
            "districts": {d: r.to_json_dict() for d, r in results.items()},
        }
        write_entries(record, forged)
        resign(record, verify_election.keys1)
        report = verify_record(record, jobs=1)
        assert report.check("board").passed is True
        if report.valid:
            accepted.append(size)
        shutil.rmtree(record)
    assert accepted == [], f"counts seeded from board sizes {accepted} were accepted"


def _election_to_decrypted(directory: Path) -> tuple[Path, Path, str]:
    """A small election on SQLite run up to its decrypted tally; (database, keys, id)."""
    database = directory / "election.db"
    engine = make_engine(f"sqlite:///{database}")
    migrate(engine)
    store = Store(engine)
    manifest = parse_manifest(small_manifest_data(), "test manifest")
    keys = directory / "keys"
    create_signers(keys, manifest)
    init_election(store, manifest)
    ctx = load_context(store, manifest.election_id)
    hold_ceremony(store, ctx, 5, 3, keys)
    ctx = load_context(store, manifest.election_id)
    contribute_all(store, ctx, keys, 5)
    import_voters(engine, ctx.election_id, [
        (roll_code(ctx.manifest.station(station).district, n),
         ctx.manifest.station(station).district, None)
        for n, (station, _) in enumerate(ROUND1)
    ])  # fmt: skip
    _cast_all(store, ctx, ROUND1, roll=True)
    decrypt_present(store, ctx, keys)
    engine.dispose()
    return database, keys, manifest.election_id


def _count_after(database: Path, copy: Path, keys: Path, election_id: str, extra: int) -> str:
    """On a copy of the database: append `extra` entries and sign a checkpoint after each,
    as an authority trying board states would, then count; the count's seed."""
    shutil.copy(database, copy)
    engine = make_engine(f"sqlite:///{copy}")
    store = Store(engine)
    ctx = load_context(store, election_id)
    for n in range(extra):
        entry = {"type": "notice", "election": ctx.base_hash.hex(), "text": f"try {n}"}
        store.append_entry(election_id, canonical_json(entry), "notice")
        make_checkpoint(store, ctx, keys)
    seed: str = run_count(store, ctx)["seed"]
    engine.dispose()
    return seed


def test_trying_board_states_after_the_tally_cannot_change_the_seed(tmp_path: Path) -> None:
    database, keys, election_id = _election_to_decrypted(tmp_path)
    seeds = {
        extra: _count_after(database, tmp_path / f"copy-{extra}.db", keys, election_id, extra)
        for extra in (0, 1, 2, 5)
    }
    assert len(set(seeds.values())) == 1, f"the seed depends on what came after: {seeds}"


# --- the contributions: nobody forges, cancels or adds one late ------------------------------


@contextmanager
def _open_election(directory: Path, backend: str) -> Iterator[tuple[Store, ElectionContext, Path]]:
    """A small election on `backend` whose key ceremony is held (5 guardians, quorum 3)."""
    with backend_database(backend, directory) as url:
        engine = make_engine(url)
        try:
            migrate(engine)
            store = Store(engine)
            manifest = parse_manifest(small_manifest_data(), "test manifest")
            keys = directory / "keys"
            create_signers(keys, manifest)
            init_election(store, manifest)
            hold_ceremony(store, load_context(store, manifest.election_id), 5, 3, keys)
            yield store, load_context(store, manifest.election_id), keys
        finally:
            engine.dispose()


def _contributions(store: Store, ctx: ElectionContext) -> list[dict[str, Any]]:
    return [json.loads(raw) for _, raw in store.entries_of_type(ctx.election_id, CONTRIBUTION_TYPE)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_contribution_forged_without_the_key_share_is_refused(
    tmp_path: Path, backend: str
) -> None:
    """The authority (no key share) contributes as guardian 2: with a share of its own making,
    its proof is of another public share; with guardian 2's public share it cannot prove."""
    with _open_election(tmp_path, backend) as (store, ctx, _):
        assert ctx.transcript is not None
        group = get_group(ctx.transcript.group)
        mine = group.random_scalar()
        fake = KeyShare(
            group.name, 2, mine, 5, 3, ctx.transcript.base_hash, ctx.transcript.joint_key
        )
        forged = make_contribution(group, ctx.base_hash, fake, group.pow_g(mine))
        assert check_contribution(group, ctx.transcript, ctx.base_hash, forged) is not None
        with pytest.raises(ElectionError, match="key share does not verify"):
            publish_contribution(store, ctx, forged)
        assert _contributions(store, ctx) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_contribution_that_cancels_another_is_refused(tmp_path: Path, backend: str) -> None:
    """Guardian 3, holding its key share, publishes the inverse of guardian 1's ciphertext
    times an encryption of an element of its choosing, so that the product is what it wants:
    it does not know that ciphertext's randomness and cannot prove it."""
    with _open_election(tmp_path, backend) as (store, ctx, keys):
        assert ctx.transcript is not None
        assert ctx.key is not None
        group = get_group(ctx.transcript.group)
        contribute_lot(store, ctx, read_key_share(keys / "guardian-1.key"))
        honest = wire.ciphertext_from_json(group, _contributions(store, ctx)[0]["ciphertext"])
        chosen = encrypt_element(ctx.key, group.pow_g(42), group.random_scalar())
        cancel = Ciphertext(
            group.mul(group.div(group.identity(), honest.alpha), chosen.alpha),
            group.mul(group.div(group.identity(), honest.beta), chosen.beta),
        )
        share3 = read_key_share(keys / "guardian-3.key")
        public3 = public_share(group, ctx.transcript, 3)
        template = make_contribution(group, ctx.base_hash, share3, public3)
        attacks = []
        # Its own key-share proof, for the cancelling ciphertext; the randomness proof it cannot
        # make: it reuses its honest one, or one for chosen's randomness, or guardian 1's.
        context = contribution_context(group, ctx.base_hash, 3, cancel, "key-share")
        key_proof = wire.schnorr_to_json(
            group, prove_schnorr(group, share3.secret, public3, context, None)
        )
        for randomness in (
            template["proofs"]["randomness"],
            _contributions(store, ctx)[0]["proofs"]["randomness"],
        ):
            attacks.append({
                **template,
                "ciphertext": wire.ciphertext_to_json(group, cancel),
                "proofs": {"randomness": randomness, "key_share": key_proof},
            })  # fmt: skip
        for doc in attacks:
            reason = check_contribution(group, ctx.transcript, ctx.base_hash, doc)
            assert reason == "the proof of knowledge of its randomness does not verify"
            with pytest.raises(ElectionError, match="randomness does not verify"):
                publish_contribution(store, ctx, doc)
        # And a copy of guardian 1's whole entry under guardian 3's name.
        copy = {**_contributions(store, ctx)[0], "guardian": 3}
        assert check_contribution(group, ctx.transcript, ctx.base_hash, copy) is not None
        assert [d["guardian"] for d in _contributions(store, ctx)] == [1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_second_contribution_and_one_after_the_tally_are_refused(
    tmp_path: Path, backend: str
) -> None:
    with _open_election(tmp_path, backend) as (store, ctx, keys):
        for g in (1, 2):
            contribute_lot(store, ctx, read_key_share(keys / f"guardian-{g}.key"))
        with pytest.raises(ElectionError, match="guardian 2 has already contributed"):
            contribute_lot(store, ctx, read_key_share(keys / "guardian-2.key"))
        close_polls(store, ctx, [s.id for s in ctx.manifest.stations])
        with pytest.raises(ElectionError, match="needs contributions from 3 guardians"):
            run_tally(store, ctx, processes=1)
        contribute_lot(store, ctx, read_key_share(keys / "guardian-3.key"))
        run_tally(store, ctx, processes=1, signer=authority_key(keys, ctx))
        with pytest.raises(ElectionError, match="the tally is already on the board"):
            contribute_lot(store, ctx, read_key_share(keys / "guardian-4.key"))
        assert [d["guardian"] for d in _contributions(store, ctx)] == [1, 2, 3]
