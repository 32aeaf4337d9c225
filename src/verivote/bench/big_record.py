"""Valid election records of one district with many ballots, cheaply, for measuring the
verifier's memory (issue 17: `verivote verify` on a 1-million-ballot district in at most 2 GB).

One manifest (district "d", 3 candidates, 1 seat, 8 stations, ristretto255) and one key
ceremony serve every record: the ballots are encrypted once, with their proofs, into a pool
file (`encrypt_pool`), and a record of N ballots (`make_record`) takes the pool's first N.
Each record is its own SQLite election: a copy of the pool's database, which holds the
manifest, the ceremony and the guardians' lot contributions, so that the ballots' key and base
hash are every record's. The ballots go on the board in bulk
(`Store.bulk_append`: their proofs were made by `encrypt_ballot` and are checked by the
verifier, not here), between the polls' opening and a closing statement that publishes each
station's count; then the tally, three guardians' decryptions, the count and the record, all
by the election package's own steps, so that the record verifies valid.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from itertools import islice
from pathlib import Path
from typing import Any

from verivote.crypto.ballot import encrypt_ballot
from verivote.crypto.elgamal import ElectionKey
from verivote.crypto.keyfile import read_key_share
from verivote.crypto.tracking import tracking_code
from verivote.election.count import run_count
from verivote.election.decryption import combine, decrypt_as_guardian
from verivote.election.district_logs import authority_signer
from verivote.election.lot import contribute_lot
from verivote.election.polls import open_polls
from verivote.election.publishing import create_signers
from verivote.election.report import publish
from verivote.election.service import cast_entry, hold_ceremony, init_election, load_context
from verivote.election.tally import run_tally
from verivote.model.canonical import canonical_json
from verivote.model.manifest import Manifest, parse_manifest
from verivote.store import Store, make_engine, migrate

STATIONS = 8
CODES = ("1001", "1002", "1003")
GUARDIANS = (1, 2, 3)
"""The quorum (3 of 5) that contributes to the lot and decrypts."""
BLOCK = 500

_DEVICE: tuple[Manifest, ElectionKey[Any], bytes] | None = None


def manifest() -> Manifest:
    return parse_manifest(
        {
            "election_id": "big-district",
            "name": "verifier memory benchmark",
            "date": "2024-03-01",
            "group": "ristretto255",
            "districts": [
                {
                    "id": "d",
                    "name": "District",
                    "seats": 1,
                    "mode": "homomorphic",
                    "candidates": [{"code": c, "name": f"Candidate {c}"} for c in CODES],
                }
            ],
            "stations": [
                {"id": f"s{i}", "name": f"Station {i}", "district": "d"} for i in range(STATIONS)
            ],
        }
    )


def station_of(n: int) -> str:
    """Ballot n's station: the pool's ballots go round the stations."""
    return f"s{n % STATIONS}"


def _choices(n: int) -> list[str]:
    return [] if n % 7 == 0 else [CODES[(n * n) % len(CODES)]]


def _init(man: Manifest, key: ElectionKey[Any], base_hash: bytes) -> None:
    global _DEVICE
    _DEVICE = (man, key, base_hash)


def _block(start: int, count: int) -> list[bytes]:
    assert _DEVICE is not None, "the worker was not initialised"
    man, key, base_hash = _DEVICE
    out = []
    for n in range(start, start + count):
        ballot, _ = encrypt_ballot(man, key, base_hash, station_of(n), _choices(n))
        body = canonical_json(ballot)
        out.append(cast_entry(body, tracking_code(base_hash, body)))
    return out


def _new_store(path: Path) -> Store:
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    return Store(engine)


def encrypt_pool(folder: Path, ballots: int, jobs: int) -> None:
    """The election with its ceremony and lot contributions in `folder`/pool.db (the
    guardians' shares in `folder`/keys) and `ballots` cast entries under its key in
    `folder`/ballots.jsonl."""
    folder.mkdir(parents=True, exist_ok=True)
    store = _new_store(folder / "pool.db")
    man = manifest()
    init_election(store, man)
    ctx = load_context(store, man.election_id)
    hold_ceremony(store, ctx, 5, 3, folder / "keys")
    ctx = load_context(store, man.election_id)
    assert ctx.key is not None
    for g in GUARDIANS:
        contribute_lot(store, ctx, read_key_share(folder / "keys" / f"guardian-{g}.key"))
    store.engine.dispose()
    blocks = [(s, min(BLOCK, ballots - s)) for s in range(0, ballots, BLOCK)]
    init = (man, ctx.key, ctx.base_hash)
    with (
        ProcessPoolExecutor(jobs, initializer=_init, initargs=init) as pool,
        (folder / "ballots.jsonl").open("wb") as out,
    ):
        for entries in pool.map(_block, *zip(*blocks, strict=True)):
            out.writelines(entry + b"\n" for entry in entries)


def _pool_entries(folder: Path, ballots: int) -> Iterator[bytes]:
    with (folder / "ballots.jsonl").open("rb") as lines:
        for line in islice(lines, ballots):
            yield line.rstrip(b"\n")


def make_record(folder: Path, ballots: int, destination: Path) -> Path:
    """The record of the pool's first `ballots` ballots at `destination`."""
    work = destination.with_name(destination.name + ".work")
    work.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(folder / "pool.db", work / "election.db")
    store = _new_store(work / "election.db")
    man = manifest()
    ctx = load_context(store, man.election_id)
    shares = [read_key_share(folder / "keys" / f"guardian-{g}.key") for g in GUARDIANS]
    stations = [s.id for s in man.stations]
    open_polls(store, ctx, stations)
    store.bulk_append(man.election_id, _pool_entries(folder, ballots), "ballot-cast", log="d")
    counts = Counter(station_of(n) for n in range(ballots))
    for station in stations:
        # The station's count from the pool: bulk_append writes no ballot rows to count.
        doc = {
            "type": "polls-close",
            "election": ctx.base_hash.hex(),
            "station": station,
            "ballots_cast": counts[station],
        }
        store.set_polls(man.election_id, station, "closed", canonical_json(doc), log="d")
    keys = work / "authority"
    create_signers(keys, man)
    # the district's log is sealed into the national log before the tally (its cutoff is
    # a place of the merged board)
    run_tally(store, ctx, processes=1, signer=authority_signer(keys))
    for share in shares:
        decrypt_as_guardian(store, ctx, share)
    combine(store, ctx)
    run_count(store, ctx)
    publish(store, ctx, keys, destination)
    store.engine.dispose()
    return destination


def main() -> None:  # pragma: no cover - a command-line helper
    import sys

    folder, what = Path(sys.argv[1]), sys.argv[2]
    if what == "pool":
        encrypt_pool(folder, int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 2)
    else:
        n = int(sys.argv[3])
        make_record(folder, n, folder / f"record-{n}")


if __name__ == "__main__":  # pragma: no cover
    main()
