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


GIVEN_NAMES = (
    "Ali",
    "Mohammad",
    "Hossein",
    "Reza",
    "Mehdi",
    "Hamid",
    "Ahmad",
    "Mostafa",
    "Javad",
    "Saeed",
    "Hassan",
    "Mahmoud",
    "Abbas",
    "Morteza",
    "Zahra",
    "Fatemeh",
    "Maryam",
    "Elham",
    "Masoumeh",
    "Parvaneh",
    "Nasrin",
    "Laleh",
    "Soheila",
    "Tayebeh",
)
FAMILY_NAMES = (
    "Ahmadi",
    "Hosseini",
    "Karimi",
    "Rezaei",
    "Moradi",
    "Mohammadi",
    "Jafari",
    "Ebrahimi",
    "Rahimi",
    "Kazemi",
    "Sadeghi",
    "Hashemi",
    "Ghasemi",
    "Nouri",
    "Alavi",
    "Bagheri",
    "Tehrani",
    "Shirazi",
    "Esfahani",
    "Yazdani",
    "Mousavi",
    "Tabatabaei",
    "Zamani",
    "Naderi",
    "Kermani",
    "Rostami",
    "Salehi",
    "Akbari",
    "Shahbazi",
    "Golestani",
)


def candidate_names(n: int, rng: random.Random) -> tuple[str, ...]:
    """`n` distinct synthetic names, each after its ballot code (`1234 Ali Karimi`)."""
    pairs = [(g, f) for g in GIVEN_NAMES for f in FAMILY_NAMES]
    rng.shuffle(pairs)
    codes = rng.sample(range(1000, 10000), n)
    if n > len(pairs):
        return tuple(f"{code}" for code in codes)
    return tuple(f"{code} {g} {f}" for code, (g, f) in zip(codes, pairs, strict=False))


def make_district(name: str, seats: int, n_candidates: int, rng: random.Random) -> District:
    """A district of `n_candidates` synthetic candidates spread over the factions."""
    cands = candidate_names(n_candidates, rng)
    faction = {c: FACTIONS[rng.randrange(len(FACTIONS))] for c in cands}
    return District(name, seats, cands, faction)


def iter_ballots(
    district: District,
    voters: int,
    rng: random.Random,
    slate_loyalty: float = 0.7,
    blank_rate: float = 0.02,
    noise_rate: float = 0.03,
    appeal_tail: float = 1.3,
) -> Iterator[Ballot]:
    """Yield one ballot per voter of `district` (see the module docstring).

    `appeal_tail` is the Pareto index of personal appeal: smaller concentrates the vote on a
    few names, larger spreads it (and leaves more seats to a runoff).
    """
    cands = district.candidates
    # Personal appeal is heavy-tailed, as in real districts: a few names draw most votes.
    appeal = [rng.paretovariate(appeal_tail) for _ in cands]
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
