"""Synthetic Majlis-style ballots: factions publish slates and most voters follow one.

The model, chosen to exercise every normalisation rule of `majlis-2024`: each voter picks a
faction by its popularity and writes up to S names, mostly from that faction's slate, some
from anywhere (by each candidate's personal appeal); a few ballots carry a name twice, a name
that is not a candidate, or are left blank. Every draw comes from `random.Random(seed)`, so the
same arguments always give the same ballots.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from verivote.model.ballots import Ballot

FACTIONS = ("Principlists", "Reformists", "Moderates", "Independents", "New Generation")


@dataclass(frozen=True)
class District:
    """A synthetic district: its seats, candidates and each candidate's faction."""

    name: str
    seats: int
    candidates: tuple[str, ...]
    faction: dict[str, str]


def make_district(name: str, seats: int, n_candidates: int, rng: random.Random) -> District:
    """Candidates named `<district>-<number>`, spread over the factions."""
    cands = tuple(f"{name}-{i:04d}" for i in range(1, n_candidates + 1))
    faction = {c: FACTIONS[rng.randrange(len(FACTIONS))] for c in cands}
    return District(name, seats, cands, faction)


def iter_ballots(
    district: District,
    voters: int,
    rng: random.Random,
    slate_loyalty: float = 0.7,
    blank_rate: float = 0.02,
    noise_rate: float = 0.03,
) -> Iterator[Ballot]:
    """Yield one ballot per voter of `district` (see the module docstring)."""
    cands = district.candidates
    # Personal appeal is heavy-tailed, as in real districts: a few names draw most votes.
    appeal = [rng.paretovariate(1.3) for _ in cands]
    cum_appeal = list(itertools.accumulate(appeal))
    slates = {f: [c for c in cands if district.faction[c] == f] for f in FACTIONS}
    for f, members in slates.items():
        members.sort(key=lambda c: -appeal[cands.index(c)])
        del members[district.seats :]
        slates[f] = members
    popularity = [rng.uniform(0.5, 3.0) for _ in FACTIONS]
    seats = district.seats
    for _ in range(voters):
        if rng.random() < blank_rate:
            yield Ballot(())
            continue
        size = seats if rng.random() < 0.6 else rng.randint(1, seats)
        faction = rng.choices(FACTIONS, weights=popularity)[0]
        slate = slates[faction]
        names: list[str] = []
        if slate and rng.random() < slate_loyalty:
            names = slate[:size]
        while len(names) < size:
            names.append(rng.choices(cands, cum_weights=cum_appeal)[0])
        if rng.random() < noise_rate:
            names.insert(rng.randrange(len(names) + 1), rng.choice(("???", names[0], "Write-in")))
        yield Ballot(tuple(names))


def random_block_ballots(
    candidates: Sequence[str], names_per_ballot: int, count: int, rng: random.Random
) -> list[Ballot]:
    """`count` ballots of `names_per_ballot` names drawn (with repeats) by skewed appeal.

    The benchmark's workload: Tehran 2024 had 30 seats and 3,545 candidates.
    """
    cum = list(itertools.accumulate(rng.paretovariate(1.3) for _ in candidates))
    pick = rng.choices
    return [
        Ballot(tuple(pick(candidates, cum_weights=cum, k=names_per_ballot))) for _ in range(count)
    ]
