"""Check `turnout` (issue 19; README, "Provable turnout"): the committed roll and the stations'
published check-ins hold to each other, from the record alone.

In an election whose manifest declares `polling.turnout`:

- one `pseudonym-ceremony` transcript that verifies, for a key of its own (its context is not
  the election's base hash, so the pseudonym key is never the election key);
- one `roll-size` entry, before the `roll-commitment`, and both before any polls open; the
  commitment's size and per-district counts are the size's (the guardians evaluated at most
  that many pseudonyms, so the roll cannot have grown after it);
- the record's `roll.txt`: well-formed (district, pseudonym) leaves of districts of the
  manifest, strictly sorted, no pseudonym twice on the whole roll, their counts and RFC 6962
  root those of the commitment (read as a stream: the root is folded from the perfect
  subtrees, never from the list of leaf hashes);
- every `checkins` entry: a station of the manifest, an hour, its pseudonyms sorted, each on the
  roll of the station's district, none checked in twice in the whole election (at two
  stations, or in two districts);
- per station: as many pseudonyms as its closing statement's `checked_in`, and no more cast
  ballots than pseudonyms.

An election without `polling.turnout` has nothing to check here (the check passes, 0 items).
"""

from __future__ import annotations

import hashlib
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from verivote.board.merkle import leaf_hash, node_hash
from verivote.board.roll_commitment import LEAF_LINE, PSEUDONYM, ROLL_FILE
from verivote.crypto.ceremony import CeremonyTranscript, verify_transcript
from verivote.verify.check_participation import Placed
from verivote.verify.context import Election
from verivote.verify.loader import Board, Doc
from verivote.verify.report import Check
from verivote.verify.turnout_index import (
    Fingerprinter,
    RollIndex,
    column,
    exact_repeats,
    repeated,
    view,
)


def streamed_root(hashes: Iterator[bytes]) -> tuple[bytes, int]:
    """The RFC 6962 Merkle tree hash of a stream of leaf hashes, and their number, in
    O(log n) memory: the perfect subtrees are merged as leaves arrive, then folded from the
    right, which is the tree MTH's largest-power-of-two split computes."""
    stack: list[tuple[int, bytes]] = []
    n = 0
    for h in hashes:
        n += 1
        size, node = 1, h
        while stack and stack[-1][0] == size:
            left = stack.pop()[1]
            size, node = size * 2, node_hash(left, node)
        stack.append((size, node))
    if not stack:
        return hashlib.sha256(b"").digest(), 0  # RFC 6962: the hash of an empty tree
    node = stack[-1][1]
    for _, left in reversed(stack[:-1]):
        node = node_hash(left, node)
    return node, n


def _read_roll(
    path: Path, districts: list[str], fingerprint: Fingerprinter, check: Check
) -> tuple[array[int], Counter[str], str, int]:
    """The roll's fingerprints and district numbers, its counts, root (hex) and size, read
    as a stream (each leaf's full pseudonym is dropped once fingerprinted)."""
    number_of = {d: n for n, d in enumerate(districts)}
    packed = column()
    counts: Counter[str] = Counter()
    problems = 0

    def hashes() -> Iterator[bytes]:
        nonlocal problems
        previous = b""
        with path.open("rb") as fh:
            for number, line in enumerate(fh, start=1):
                raw = line.rstrip(b"\n")
                match = LEAF_LINE.match(raw)
                if match is None or match.group(1).decode() not in number_of:
                    problems += 1
                    if problems <= 10:
                        check.fail(None, f"{ROLL_FILE} line {number}: not a leaf of a district")
                    yield leaf_hash(raw)
                    continue
                if raw <= previous:
                    problems += 1
                    if problems <= 10:
                        check.fail(None, f"{ROLL_FILE} line {number}: leaves not strictly sorted")
                previous = raw
                district = match.group(1).decode()
                packed.append(fingerprint(match.group(2).decode(), number_of[district]))
                counts[district] += 1
                yield leaf_hash(raw)

    found, size = streamed_root(hashes())
    return packed, counts, found.hex(), size


def _roll_pseudonyms(path: Path) -> Iterator[str]:
    with path.open("rb") as fh:
        for line in fh:
            match = LEAF_LINE.match(line.rstrip(b"\n"))
            if match is not None:
                yield match.group(2).decode()


def check_roll(
    path: Path, districts: list[str], commit: Mapping[str, Any], check: Check, at: int | None
) -> tuple[RollIndex, Fingerprinter]:
    """The published roll (`path`, `roll.txt`) against its commitment (`commit`: size, counts,
    root; failures at entry `at`): leaves well formed and strictly sorted, their number,
    counts and root the commitment's, no pseudonym twice. Returns its index for look-ups."""
    fingerprint = Fingerprinter(len(districts))
    packed, counts, root, leaves = _read_roll(path, districts, fingerprint, check)
    if leaves != commit.get("size"):
        check.fail(at, f"{ROLL_FILE} has {leaves} leaves, the commitment says {commit.get('size')}")
    if dict(sorted(counts.items())) != commit.get("counts"):
        check.fail(at, f"the districts' counts of {ROLL_FILE} are not the commitment's")
    if root != commit.get("root"):
        check.fail(at, f"the Merkle root of {ROLL_FILE}'s leaves is not the commitment's")
    roll = RollIndex(packed, fingerprint)
    for p, n in sorted(exact_repeats(roll.repeats(), _roll_pseudonyms(path), fingerprint).items())[
        :10
    ]:
        check.fail(at, f"{p} is on the roll {'twice' if n == 2 else f'{n} times'}")
    return roll, fingerprint


def check_lists(
    roll: RollIndex,
    fingerprint: Fingerprinter,
    districts: list[str],
    stations: Mapping[str, str],
    base_hash: str,
    lists: Callable[[], Iterable[tuple[int, Doc]]],
    check: Check,
) -> Counter[str]:
    """The published check-in lists (`lists()`: (entry index, entry), read once, and again
    only where something failed) against the roll: stations of the manifest, hours, sorted
    pseudonyms, each on its station's district's roll, none twice in the election. Returns
    the pseudonyms published per station."""
    number_of = {d: n for n, d in enumerate(districts)}
    checked = column()
    where = array("q")  # the entry of each check-in
    per_station: Counter[str] = Counter()
    for index, doc in lists():
        station = doc.get("station")
        pseudonyms = doc.get("pseudonyms")
        hour = doc.get("hour")
        if not isinstance(station, str) or station not in stations:
            check.fail(index, f"check-ins of {station!r}, not a station of the manifest")
            continue
        if doc.get("election") != base_hash:
            check.fail(index, f"{station}: check-ins of another election")
        if isinstance(hour, bool) or not isinstance(hour, int) or not 0 <= hour <= 23:
            check.fail(index, f"{station}: hour {hour!r} is not an hour of the day")
        if not isinstance(pseudonyms, list) or not all(
            isinstance(p, str) and PSEUDONYM.match(p) for p in pseudonyms
        ):
            check.fail(index, f"{station}: its check-ins are not a list of pseudonyms")
            continue
        if pseudonyms != sorted(pseudonyms):
            check.fail(index, f"{station}: its check-ins are not sorted (check-in order shows)")
        for p in pseudonyms:
            checked.append(fingerprint(p, number_of[stations[station]]))
            where.append(index)
        per_station[station] += len(pseudonyms)
    check.items = len(checked)
    prints = view(checked)
    found = roll.labels_of(prints)
    wanted = roll.labels(prints)
    wrong = np.nonzero(found != wanted)[0]
    named: dict[int, list[tuple[int, int]]] = {}  # entry → (fingerprint, district found)
    for n in wrong[:20].tolist():
        named.setdefault(int(where[n]), []).append((int(prints[n]), int(found[n])))
    for index, doc in lists() if named else ():  # read again only to name what failed
        for printed, place_of in named.get(index, ()):
            station = str(doc["station"])
            district = stations[station]
            p = next(x for x in doc["pseudonyms"]
                     if fingerprint(x, districts.index(district)) == printed)  # fmt: skip
            place = "on no roll" if place_of < 0 else f"on the roll of {districts[place_of]}"
            check.fail(index, f"{station}: {p} checked in, {place}, not of {district}")
    if len(wrong) > 20:
        check.fail(None, f"{len(wrong)} check-ins in all are not on their district's roll")
    candidates = repeated(fingerprint.unlabelled(prints))
    if candidates:
        at: dict[str, list[tuple[str, int]]] = {}
        for index, doc in lists():
            for p in doc.get("pseudonyms") or ():
                if isinstance(p, str) and fingerprint(p) in candidates:
                    at.setdefault(p, []).append((str(doc.get("station")), index))
        for p, places in sorted(at.items()):
            for (first, _), (again, index) in pairwise(places):
                check.fail(index, f"{p} checked in at {first} and again at {again}: "
                                  "one voter checked in twice")  # fmt: skip
    return per_station


def check_turnout(board: Board, election: Election, placed: Placed | None = None) -> Check:
    """See the module docstring."""
    check = Check("turnout")
    manifest = election.manifest
    if not manifest.polling.turnout:
        return check.close()
    stations = {s.id: s.district for s in manifest.stations}
    ceremonies = board.of_type("pseudonym-ceremony")
    if len(ceremonies) != 1:
        check.fail(None, f"{len(ceremonies)} pseudonym-ceremony entries, not one")
    for index, doc in ceremonies[:1]:
        try:
            transcript = CeremonyTranscript.model_validate(doc.get("transcript"))
        except ValidationError:
            check.fail(index, "the pseudonym key's transcript cannot be read")
        else:
            if transcript.base_hash == election.base_hash.hex():
                check.fail(
                    index,
                    "the pseudonym key's ceremony is bound to the election key's "
                    "context: it may be the election key",
                )
            for problem in verify_transcript(transcript)[:5]:
                check.fail(index, f"the pseudonym key's transcript: {problem}")
    sizes = board.of_type("roll-size")
    commitments = board.of_type("roll-commitment")
    if len(sizes) != 1 or len(commitments) != 1:
        check.fail(
            None,
            f"{len(sizes)} roll-size and {len(commitments)} roll-commitment "
            "entries, not one of each",
        )
        return check.close()
    (size_at, size), (commit_at, commit) = sizes[0], commitments[0]
    if commit_at < size_at:
        check.fail(commit_at, "the roll was committed before its size was published")
    opened = board.indices("polls-open")
    if opened and min(opened) < commit_at:
        check.fail(commit_at, "the roll was committed after polls opened")
    if commit.get("size") != size.get("size") or commit.get("counts") != size.get("counts"):
        check.fail(commit_at, "the roll commitment's size or counts are not the published size's")
    path = Path(board.directory) / ROLL_FILE
    if not path.is_file():
        check.fail(commit_at, f"the record has no {ROLL_FILE}: the committed roll is not published")
        return check.close()
    districts = [d.id for d in manifest.districts]
    roll, fingerprint = check_roll(path, districts, commit, check, commit_at)
    lists = lambda: board.of_type("checkins")  # noqa: E731  read twice, streamed each time
    per_station = check_lists(roll, fingerprint, districts, stations, election.base_hash.hex(),
                              lists, check)  # fmt: skip
    del roll
    cast = placed[1] if placed is not None else Counter[str]()
    for index, doc in board.of_type("polls-close"):
        station = doc.get("station")
        if not isinstance(station, str) or station not in stations:
            continue
        declared = doc.get("checked_in")
        if declared != per_station[station]:
            check.fail(
                index,
                f"{station}: the close says {declared!r} voters checked in, "
                f"{per_station[station]} pseudonyms are published",
            )
        if placed is not None and cast[station] > per_station[station]:
            check.fail(
                index,
                f"{station}: {cast[station]} ballots cast, more than its "
                f"{per_station[station]} published check-ins",
            )
    return check.close()
