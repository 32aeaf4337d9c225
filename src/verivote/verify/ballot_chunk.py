"""The costly part of the `ballots` and `challenged` checks, for one chunk of ballot entries:
every ballot's proofs (`check_ballot`, or a batch for eg4096), every challenged ballot's
opening (`check_opened`), and the chunk's share of the tally's sums. Pure: a chunk's result
depends on the chunk alone, so chunks run in any order on any process."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from verivote.board.lines import LineRef, read_refs
from verivote.crypto.ballot import BallotError
from verivote.crypto.elgamal import ElectionKey
from verivote.crypto.group import Group
from verivote.crypto.groups import get_group
from verivote.crypto.written import any_opening_problem, check_any_ballot, is_written, written_width
from verivote.model.manifest import Manifest
from verivote.verify.ballot_batch import batch_accepts
from verivote.verify.ballot_facts import entry_facts, fact_problems
from verivote.verify.check_participation import Placed, Polls, place_ballots
from verivote.verify.clashes import pack
from verivote.verify.context import homomorphic_layout
from verivote.verify.sums import (
    DistrictSum,
    Encoded,
    Pair,
    Row,
    Sums,
    countable,
    encode_row,
    encode_sums,
    rows_digest,
    written_row,
)


@dataclass(frozen=True)
class Setup:
    """What every chunk needs: the election, its key (None: proofs cannot be checked), the
    tally's cutoff (cast ballots below it are summed; None: no tally to compare with) and
    the stations' polls (None: the ballots' places are not checked here)."""

    manifest: Manifest
    base_hash: bytes
    key: ElectionKey[Any] | None
    cutoff: int | None
    polls: Polls | None = None

    def widths(self, group: Group[Any]) -> dict[str, int]:
        """Each mixnet district's written-ballot width."""
        return {d.id: written_width(group, d) for d in self.manifest.mixnet_districts()}


@dataclass
class ChunkResult:
    """What the main process needs of a chunk (issue 17: nothing for each of its ballots but
    12 bytes a key in `keys`): entries refused (bad proof, bad opening), cast entries the
    tally cannot count, the sums of the counted ones, each by board index."""

    refused: list[tuple[int, str]] = field(default_factory=list)
    uncountable: list[tuple[int, str]] = field(default_factory=list)
    sums: Encoded = field(default_factory=dict)
    ballots: int = 0
    first: int = -1
    """The chunk's first board index (its segments' place in board order)."""
    flagged: list[tuple[int, str]] = field(default_factory=list)
    """Entries whose fields, or tracking code (a challenged ballot's id), are wrong
    (`ballot_facts.fact_problems`)."""
    keys: list[bytes] = field(default_factory=list)
    """The keys of the ballots' digests and nonces, by bucket (`verivote.verify.clashes`)."""
    segments: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    """Per mixnet district, its cast written ballots below the cutoff in the chunk: (how
    many, `sums.rows_digest` of their mix-input rows in board order)."""
    placed: Placed | None = None
    """The ballots out of place and the cast ballots per station (`Setup.polls`)."""


def opening_problem(manifest: Manifest, key: ElectionKey[Any], doc: dict[str, Any]) -> str | None:
    """Why a challenged ballot's revealed choices (codes as written, for a written ballot)
    and nonces do not open it, or None."""
    return any_opening_problem(manifest, key, doc["ballot"], doc.get("choices"), doc.get("nonces"))


def _proofs(
    setup: Setup, docs: Sequence[tuple[int, dict[str, Any]]]
) -> tuple[list[tuple[int, str]], dict[int, list[Pair]]]:
    """(entries refused with the reason, ciphertexts of the accepted ballots by index)."""
    key = setup.key
    assert key is not None
    refused: list[tuple[int, str]] = []
    accepted: dict[int, list[Pair]] = {}
    ballots = [doc.get("ballot") for _, doc in docs]
    batched: list[list[Pair] | None] = [None] * len(docs)
    if key.group.name == "eg4096" and len(docs) > 1:
        batched = batch_accepts(setup.manifest, key, setup.base_hash, ballots)
    for (index, doc), ballot, pairs in zip(docs, ballots, batched, strict=True):
        if not isinstance(ballot, dict):
            refused.append((index, "the entry holds no ballot"))
            continue
        if pairs is None:
            try:
                cts = check_any_ballot(setup.manifest, key, setup.base_hash, ballot)
            except BallotError as exc:
                refused.append((index, str(exc)))
                continue
            except (AttributeError, KeyError, TypeError, ValueError) as exc:
                # check_ballot lets some malformed shapes through as these (a proof that is
                # not an object, say); a malformed ballot is refused all the same.
                refused.append((index, f"the ballot is malformed ({exc!r})"))
                continue
            pairs = [(c.alpha, c.beta) for c in cts]
        accepted[index] = pairs
        if doc.get("type") == "ballot-challenged":
            try:
                problem = opening_problem(setup.manifest, key, doc)
            except (AttributeError, KeyError, TypeError, ValueError) as exc:
                problem = f"the opening is malformed ({exc!r})"
            if problem is not None:
                refused.append((index, problem))
    return refused, accepted


def check_chunk(setup: Setup, chunk: Sequence[tuple[int, LineRef | bytes]]) -> ChunkResult:
    """Check the ballot entries (board index, entry or its place in the record) of one
    chunk."""
    raws = read_refs([ref for _, ref in chunk])
    docs = [(index, json.loads(raw)) for (index, _), raw in zip(chunk, raws, strict=True)]
    group = get_group(setup.manifest.group)
    result = ChunkResult(ballots=len(docs), first=docs[0][0] if docs else -1)
    facts = [(index, entry_facts(setup.base_hash, doc)) for index, doc in docs]
    for (index, doc), (_, found) in zip(docs, facts, strict=True):
        result.flagged.extend((index, p) for p in fact_problems(doc.get("type"), found))
    result.keys = pack(facts)
    if setup.polls is not None:
        result.placed = place_ballots(
            setup.polls,
            (
                (index, found.station, doc.get("type") != "ballot-challenged")
                for (index, doc), (_, found) in zip(docs, facts, strict=True)
            ),
        )
    accepted: dict[int, list[Pair]] = {}
    if setup.key is not None:
        result.refused, accepted = _proofs(setup, docs)
    if setup.cutoff is None:
        return result
    layout = homomorphic_layout(setup.manifest)
    mixnet = {d.id for d in setup.manifest.mixnet_districts()}
    election = setup.base_hash.hex()
    sums: Sums = {}
    rows: dict[str, list[Row]] = {}
    for index, doc in docs:
        if doc.get("type") != "ballot-cast" or index >= setup.cutoff:
            continue
        ballot = doc.get("ballot")
        pairs = accepted.get(index)
        if is_written(ballot) or (isinstance(ballot, dict) and ballot.get("district") in mixnet):
            try:
                row = (
                    encode_row(group, pairs)
                    if pairs is not None
                    else written_row(group, setup.widths(group), election, ballot)
                )
            except ValueError as exc:
                result.uncountable.append((index, str(exc)))
                continue
            assert isinstance(ballot, dict)
            rows.setdefault(ballot["district"], []).append(row)
            continue
        if pairs is None:
            try:
                pairs = countable(group, layout, election, ballot)
            except ValueError as exc:
                result.uncountable.append((index, str(exc)))
                continue
        assert isinstance(ballot, dict)
        sums.setdefault(ballot["district"], DistrictSum()).add(group, pairs)
    result.sums = encode_sums(group, sums)
    result.segments = {d: rows_digest(r) for d, r in rows.items()}
    return result
