"""Attack (issue 14, item 2): the guardians as a decryption oracle.

The operator, who controls the server and the board, publishes as the "tally" the ciphertexts of
ONE voter's ballot and asks the guardians to decrypt it. Version written first, against the code
before issue 14: the guardians decrypt through `verivote decrypt --key`, the only way they had.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.manifests import small_manifest_data
from verivote.crypto.ballot import encrypt_ballot
from verivote.election.polls import close_polls, open_polls
from verivote.election.service import cast, hold_ceremony, init_election, load_context
from verivote.election.tally import TALLY_TYPE
from verivote.model.canonical import canonical_json
from verivote.model.manifest import parse_manifest
from verivote.store import Store, make_engine, migrate

E = "test-2024"


def test_a_forged_one_ballot_tally_is_refused_by_every_guardian(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'e.db'}"
    engine = make_engine(url)
    migrate(engine)
    store = Store(engine)
    manifest = parse_manifest(small_manifest_data())
    init_election(store, manifest)
    hold_ceremony(store, load_context(store, E), 3, 2, tmp_path / "keys")
    ctx = load_context(store, E)
    assert ctx.key is not None
    open_polls(store, ctx, ["tabriz-001"])
    victim, _ = encrypt_ballot(manifest, ctx.key, ctx.base_hash, "tabriz-001", ["1103"])
    cast(store, ctx, victim)
    for choices in (["1101"], ["1102"]):
        cast(store, ctx, encrypt_ballot(manifest, ctx.key, ctx.base_hash, "tabriz-001", choices)[0])
    close_polls(store, ctx, ["tabriz-001"])
    # The forged tally: the victim's ballot alone as Tabriz's "tally".
    one = {"ballots": 1, "blank": victim["blank"]["ciphertext"],
           "candidates": {s["candidate"]: s["ciphertext"] for s in victim["selections"]}}  # fmt: skip
    empty = {"alpha": "00" * 32, "beta": "00" * 32}
    forged = {
        "type": TALLY_TYPE, "election": ctx.base_hash.hex(), "cutoff": store.entry_count(E),
        "districts": {"tabriz": one, "armenians-south": {
            "ballots": 0, "blank": empty, "candidates": {"2201": empty, "2202": empty}}},
    }  # fmt: skip
    store.append_entry(E, canonical_json(forged), TALLY_TYPE)
    before = store.entry_count(E)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for g in (1, 2, 3):
        done = subprocess.run(
            [sys.executable, "-m", "verivote", "decrypt", "--key",
             str(tmp_path / "keys" / f"guardian-{g}.key"), "--db", url],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        assert done.returncode == 1, f"guardian {g} decrypted the forged tally: {done.stderr}"
        assert len(done.stderr.strip().splitlines()) == 1
    assert store.entry_count(E) == before, "partial decryptions of the forged tally published"
    assert json.loads(store.entries(E, before - 1)[0])["type"] == TALLY_TYPE
