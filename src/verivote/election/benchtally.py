"""The tally benchmark (`verivote bench tally`): how fast the encrypted tally, the guardians'
partial decryptions and the final combination run on a board of N real ciphertext ballots.

The election: one district of `candidates` candidates (3 seats), ristretto255 by default, a key
ceremony of 5 guardians with quorum 3, and no polls (the board is loaded wholesale). Its board
is LOADED IN BULK (`Store.bulk_append`) with synthetic "ballot-cast" entries whose selections
and blank flags are real ciphertexts under the election key, of random choices whose counts
are kept, encrypted in a process pool. The entries carry no proofs: the tally does not check
proofs (casting did), so their cost does not belong in this measurement; their tracking codes
are stand-ins too. After the tally, guardians 1–3 decrypt and the counts are combined, and the
result is checked against the kept counts, so the figures are of a tally that is right.
"""

from __future__ import annotations

import hashlib
import os
import random
import secrets
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from verivote.crypto import wire
from verivote.crypto.elgamal import ElectionKey, encrypt
from verivote.crypto.keyfile import read_key_share
from verivote.election.decryption import combine, decrypt_as_guardian
from verivote.election.lot import contribute_lot
from verivote.election.service import hold_ceremony, init_election, load_context
from verivote.election.tally import run_tally
from verivote.model.canonical import canonical_json
from verivote.model.manifest import parse_manifest
from verivote.store import Store, make_engine, migrate

SEATS = 3
STATIONS = 8
BLOCK = 500
"""Ballots per unit of work of the encryption pool."""

Block = tuple[list[bytes], dict[str, int], int]
_DEVICE: tuple[ElectionKey[Any], str, list[str], int] | None = None


def _init_device(key: ElectionKey[Any], election: str, codes: list[str], seed: int) -> None:
    global _DEVICE
    _DEVICE = (key, election, codes, seed)


def _ballot_block(start: int, count: int) -> Block:
    """Ballots start … start + count − 1 as board entries, with their counts per code and of
    blank ballots. The choices come from a seeded generator, the nonces from the OS."""
    assert _DEVICE is not None, "the worker was not initialised"
    key, election, codes, seed = _DEVICE
    group = key.group
    rng = random.Random(seed * 1_000_003 + start)
    votes = dict.fromkeys(codes, 0)
    blank = 0
    entries: list[bytes] = []
    for n in range(start, start + count):
        chosen = set(rng.sample(codes, rng.randint(0, min(SEATS, len(codes)))))
        for code in chosen:
            votes[code] += 1
        blank += not chosen
        selections = [
            {
                "candidate": code,
                "ciphertext": wire.ciphertext_to_json(
                    group, encrypt(key, int(code in chosen), group.random_scalar())
                ),
            }
            for code in codes
        ]
        flag = encrypt(key, int(not chosen), group.random_scalar())
        code = hashlib.sha256(b"bench-ballot %d" % n).hexdigest()
        ballot = {
            "type": "ballot",
            "election": election,
            "station": f"s{n % STATIONS}",
            "district": "d",
            "selections": selections,
            "blank": {"ciphertext": wire.ciphertext_to_json(group, flag)},
        }
        entries.append(
            canonical_json(
                {
                    "type": "ballot-cast",
                    "ballot": ballot,
                    "tracking_code": code,
                }
            )
        )
    return entries, votes, blank


def measure_tally(
    url: str,
    ballots: int = 100_000,
    candidates: int = 10,
    cores: int | None = None,
    group: str = "ristretto255",
) -> dict[str, Any]:
    """Build the benchmark's election in the database at `url` (a new election each time) and
    time each step on `cores` processes (default: every core)."""
    workers = cores or os.cpu_count() or 1
    engine = make_engine(url)
    migrate(engine)
    store = Store(engine)
    election_id = f"bench-tally-{secrets.token_hex(4)}"
    codes = [str(1000 + i) for i in range(candidates)]
    manifest = parse_manifest(
        {
            "election_id": election_id,
            "name": "tally benchmark",
            "date": "2024-03-01",
            "group": group,
            "districts": [
                {
                    "id": "d",
                    "name": "District",
                    "seats": min(SEATS, candidates),
                    "mode": "homomorphic",  # the path this benchmark measures, at any size
                    "candidates": [{"code": c, "name": f"Candidate {c}"} for c in codes],
                }
            ],
            "stations": [
                {"id": f"s{i}", "name": f"Station {i}", "district": "d"} for i in range(STATIONS)
            ],
        }
    )
    try:
        init_election(store, manifest)
        with tempfile.TemporaryDirectory() as keys:
            hold_ceremony(store, load_context(store, election_id), 5, 3, Path(keys))
            shares = [read_key_share(Path(keys) / f"guardian-{g}.key") for g in (1, 2, 3)]
        ctx = load_context(store, election_id)
        assert ctx.key is not None
        for share in shares:  # the lot needs a quorum's contributions before the tally
            contribute_lot(store, ctx, share)
        votes = dict.fromkeys(codes, 0)
        blank = 0

        def kept(block: Block) -> list[bytes]:
            nonlocal blank
            for code, n in block[1].items():
                votes[code] += n
            blank += block[2]
            return block[0]

        jobs = [(s, min(BLOCK, ballots - s)) for s in range(0, ballots, BLOCK)]
        init = (ctx.key, ctx.base_hash.hex(), codes, 1)
        t0 = time.perf_counter()
        if workers <= 1:
            _init_device(*init)
            stream: Iterator[bytes] = (e for j in jobs for e in kept(_ballot_block(*j)))
            store.bulk_append(election_id, stream, "ballot-cast")
        else:
            with ProcessPoolExecutor(workers, initializer=_init_device, initargs=init) as pool:
                blocks = pool.map(_ballot_block, *zip(*jobs, strict=True))
                store.bulk_append(election_id, (e for b in blocks for e in kept(b)), "ballot-cast")
        generate_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        run_tally(store, ctx, processes=workers)
        tally_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for share in shares:
            decrypt_as_guardian(store, ctx, share)
        decrypt_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = combine(store, ctx)["districts"]["d"]
        combine_s = time.perf_counter() - t0
        if result != {"ballots": ballots, "blank": blank, "votes": votes}:
            raise RuntimeError(f"the decrypted tally {result} is not the encrypted votes")
        backend = engine.dialect.name
    finally:
        engine.dispose()
    return {
        "backend": backend,
        "group": group,
        "ballots": ballots,
        "candidates": candidates,
        "cores": workers,
        "generate_seconds": round(generate_s, 3),
        "tally_seconds": round(tally_s, 3),
        "tally_ballots_per_second": round(ballots / tally_s, 1),
        "decrypt_seconds_3_guardians": round(decrypt_s, 3),
        "combine_seconds": round(combine_s, 3),
    }
