"""A guardian's evaluations of the roll's pseudonyms (issue 19, item 1), as its own program
(`verivote guardian pseudonyms`).

The guardian holds a share kᵢ of the pseudonym key (DIR/pseudonym.key, from the key's own
ceremony). The authority publishes the roll's size on the board (`roll-size`) and serves the
roll's blinded elements in batches; for each batch the guardian answers Bⱼ^kᵢ with one batch
proof (`verivote.crypto.oprf.evaluate`). Before answering it checks:

- the server's roll size is the one the board's `roll-size` entry published, and that entry is
  this election's;
- every element decodes and is not the identity (`evaluate`);
- all it has ever evaluated for this election, this batch included, stays within the roll's
  size. Its ledger DIR/pseudonyms.json records each batch it answered by number and the
  SHA-256 of its elements, written before the answer is posted (a crash never lets it answer
  more than the roll); the same batch asked again is answered again (the same values: nothing
  new is given away), another batch under a number already answered is refused.

It never sees a national code: a blinded element is uniformly random.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from verivote.crypto.groups import get_group
from verivote.crypto.hashing import election_base_hash
from verivote.crypto.keyfile import read_key_share
from verivote.crypto.oprf import OprfError, evaluate
from verivote.parties.guardian import (
    PSEUDONYM_FILES,
    Client,
    log,
    read_json,
    refuse,
    write_json,
)
from verivote.polling.turnout import Answer, evaluation_context

LEDGER_FILE = "pseudonyms.json"
PAGE = 20


def _roll_size_on_board(client: Client, election_base: str) -> int:
    """The size the board's `roll-size` entry publishes (GuardianRefusal-free: ValueError)."""
    for raw in client.all_entries():
        if b'"type":"roll-size"' not in raw:
            continue
        doc = json.loads(raw)
        if doc.get("type") == "roll-size" and doc.get("election") == election_base:
            return int(doc["size"])
    raise ValueError("the board has no roll-size entry of this election")


def answer_batches(
    client: Client, folder: Path, progress: Callable[[int, int], None] | None = None
) -> int:
    """Answer every batch the server holds that this guardian has not answered; returns how
    many batches were answered now."""
    key_path = folder / PSEUDONYM_FILES["key"]
    if not key_path.is_file():
        raise refuse(folder, f"no pseudonym key share in {key_path}: run guardian ceremony first")
    share = read_key_share(key_path)
    group = get_group(share.group)
    public = group.pow_g(share.secret)
    context = bytes.fromhex(share.base_hash)
    first = client.get_json(f"/api/pseudonyms/batches?start=0&limit={PAGE}")
    base = election_base_hash(client.entries(0, 1)[0]).hex()
    if first.get("base_hash") != base:
        raise refuse(folder, "the server's election is not the board's manifest")
    try:
        size = _roll_size_on_board(client, base)
    except (ValueError, KeyError, TypeError) as exc:
        raise refuse(folder, f"cannot answer: {exc}") from None
    election = str(first["election"])
    ledger_path = folder / LEDGER_FILE
    ledger: dict[str, Any] = read_json(ledger_path) if ledger_path.is_file() else {}
    mine: dict[str, str] = ledger.setdefault(election, {})
    answered = 0
    start = 0
    while True:
        doc = client.get_json(f"/api/pseudonyms/batches?start={start}&limit={PAGE}")
        if int(doc["roll_size"]) != size:
            raise refuse(
                folder,
                f"the server says the roll has {doc['roll_size']} voters, the "
                f"board's roll-size entry {size}",
            )
        batches = doc["batches"]
        for item in batches:
            number = int(item["batch"])
            digest = hashlib.sha256(json.dumps(item["blinded"]).encode()).hexdigest()
            if str(number) in mine and mine[str(number)].split(":")[0] != digest:
                raise refuse(folder, f"batch {number} was answered before with other elements")
            if str(number) not in mine:
                spent = sum(int(v.split(":")[1]) for v in mine.values())
                if spent + len(item["blinded"]) > size:
                    raise refuse(
                        folder,
                        f"batch {number} would make {spent + len(item['blinded'])}"
                        f" evaluations, more than the roll's {size} voters",
                    )
            try:
                blinded = [group.decode(bytes.fromhex(b)) for b in item["blinded"]]
                evaluated, proof = evaluate(
                    group, share.secret, public, blinded, evaluation_context(context, number)
                )
            except (OprfError, ValueError) as exc:
                raise refuse(folder, f"batch {number} refused: {exc}") from None
            mine[str(number)] = f"{digest}:{len(blinded)}"
            write_json(ledger_path, ledger)  # before the answer leaves: the count is spent
            client.post_json(
                "/api/pseudonyms/answers",
                {"batch": number, **Answer(evaluated, proof).to_json(group)},
            )
            answered += 1
            if progress:
                progress(number + 1, int(doc["batches_total"]))
        if len(batches) < PAGE:
            break
        start = int(batches[-1]["batch"]) + 1
    log(
        folder,
        f"guardian {share.guardian}: answered {answered} batches of pseudonyms of {election}",
    )
    return answered
