"""The national shape of Iran's 2024 Majlis election (issue 17, item 5): 208 districts, 290
seats, about 15,200 candidates, 61.2 M voters on the roll, 59,000 polling stations, turnout
about 41 %, and that shape scaled to a fraction F of its voters for `verivote sim national`.

Figures (sources in the header of each data file, `verivote/sim/data/`):

- 61,172,298 eligible voters and 15,200 candidates for 290 seats (trend.az, 2024-03-01 and
  2024-03-04, quoting Iran's interior ministry); 208 constituencies (ifpnews.com, 2024-03-01);
  turnout 40.64 % (the official figure, as in Wikipedia's "2024 Iranian legislative
  election"), taken here as 41 %; "around 60,000 polling stations" (parstoday.ir and
  ilna.ir, 2024-02-29 and 2024-03-01), taken here as 59,000 (issue 17).
- Tehran: 30 seats and 3,545 candidates (issue 17); the other multi-seat districts and their
  seats as listed in Wikipedia's "Electoral districts of Iran" (`districts.csv`).
- The 31 provinces' populations of the 2016 census and their seats and districts
  (`provinces.csv`).

How the rest is apportioned (every split by largest remainders, so that totals are exact):

- **Minority seats.** Each is a national constituency; its electorate is its community's
  2016 census population times the national eligible share (61,172,298 / 79,926,270).
- **Electorate.** The rest of the 61,172,298 goes to the provinces in proportion to their
  2016 population, and within a province to its districts in proportion to their seats.
- **Districts of a province** not named in `districts.csv`: as many as the province has
  districts left, its seats left spread over them as evenly as can be (the first ones get
  one more), named "<province> district k".
- **Candidates.** Tehran's and the minority seats' as given; the rest of the 15,200 goes to
  the other districts in proportion to their electorate. Every district's counting mode then
  follows the manifest's rule (`verivote.model.manifest.MIXNET_ABOVE`).
- **Stations.** 59,000 in proportion to the electorate (at least one a district).

Scaling by F multiplies the voters who cast a ballot and the stations (each rounded, at least
MIN_BALLOTS and one station a district), never the districts, seats or candidates.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from verivote.model.manifest import Manifest
from verivote.sim.ballots import District, make_district
from verivote.sim.election import manifest_candidates, synthetic_manifest

ELECTORATE = 61_172_298
CANDIDATES = 15_200
SEATS = 290
DISTRICTS = 208
STATIONS = 59_000
TURNOUT = 0.41
CENSUS_2016 = 79_926_270
"""Iran's population in the 2016 census: the sum of provinces.csv's populations."""

MIN_BALLOTS = 2
"""Ballots of a district at least, at any scale: a district with none would leave its tally,
mix and count untried; two, so that a shuffle has something to permute."""


class ShapeError(ValueError):
    """The data files do not describe the national shape (a total that does not add up)."""


@dataclass(frozen=True)
class DistrictShape:
    """One district of the national shape at F = 1."""

    id: str
    name: str
    province: str | None
    seats: int
    candidates: int
    electorate: int
    stations: int
    minority: str | None = None

    def ballots(self, scale: float, turnout: float = TURNOUT) -> int:
        """Ballots cast in the district at scale F (at least MIN_BALLOTS)."""
        return max(MIN_BALLOTS, round(self.electorate * turnout * scale))

    def stations_at(self, scale: float) -> int:
        """Polling stations of the district at scale F: at least one, at most one a ballot."""
        return min(max(1, round(self.stations * scale)), self.ballots(scale))


def largest_remainder(total: int, weights: Sequence[float]) -> list[int]:
    """`total` split in proportion to `weights` (Hamilton's method): whole numbers that add
    up to `total`, each within one of its exact share."""
    if total < 0 or not weights or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError("largest_remainder needs a total ≥ 0 and weights ≥ 0, not all 0")
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    out = [int(x) for x in exact]
    left = total - sum(out)
    order = sorted(range(len(weights)), key=lambda i: (out[i] - exact[i], i))
    for i in order[:left]:
        out[i] += 1
    return out


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("verivote.sim").joinpath("data", name).read_text(encoding="utf-8")
    lines = (line for line in io.StringIO(text) if not line.startswith("#"))
    return list(csv.DictReader(lines))


@dataclass(frozen=True)
class _Province:
    id: str
    name: str
    population: int
    seats: int
    districts: int


def _provinces() -> list[_Province]:
    return [
        _Province(r["province"], r["name"], int(r["population_2016"]), int(r["seats"]),
                  int(r["districts"]))
        for r in _rows("provinces.csv")
    ]  # fmt: skip


def _province_districts(
    province: _Province, named: list[dict[str, str]]
) -> list[tuple[dict[str, str], int]]:
    """(row, seats) of each district of `province`: the named ones, then the others."""
    out = [(row, int(row["seats"])) for row in named]
    left = province.districts - len(named)
    seats_left = province.seats - sum(s for _, s in out)
    if left < 0 or seats_left < left or (left == 0 and seats_left):
        raise ShapeError(f"{province.id}: {province.seats} seats in {province.districts} "
                         f"districts cannot hold its named districts")  # fmt: skip
    for k in range(left):
        seats = seats_left // left + (k < seats_left % left)
        row = {"id": f"{province.id}-{k + 1}", "name": f"{province.name} district {k + 1}",
               "province": province.id, "candidates": "", "minority": ""}  # fmt: skip
        out.append((row, seats))
    return out


def national_shape() -> tuple[DistrictShape, ...]:
    """The 208 districts at F = 1 (module docstring), territorial ones by province, then the
    five minority seats."""
    provinces = _provinces()
    named = _rows("districts.csv")
    minorities = [r for r in named if r["minority"]]
    eligible = ELECTORATE / CENSUS_2016
    minority_electorate = [round(int(r["community"]) * eligible) for r in minorities]
    territorial = ELECTORATE - sum(minority_electorate)
    by_province = largest_remainder(territorial, [p.population for p in provinces])
    plan: list[tuple[dict[str, str], int, int]] = []  # (row, seats, electorate)
    for province, electorate in zip(provinces, by_province, strict=True):
        mine = [r for r in named if r["province"] == province.id]
        districts = _province_districts(province, mine)
        split = largest_remainder(electorate, [s for _, s in districts])
        plan += [(row, s, e) for (row, s), e in zip(districts, split, strict=True)]
    plan += [(r, int(r["seats"]), e) for r, e in zip(minorities, minority_electorate, strict=True)]
    fixed = sum(int(r["candidates"]) for r, _, _ in plan if r["candidates"])
    open_rows = [i for i, (r, _, _) in enumerate(plan) if not r["candidates"]]
    share = largest_remainder(CANDIDATES - fixed, [plan[i][2] for i in open_rows])
    candidates = dict(zip(open_rows, share, strict=True))
    stations = largest_remainder(STATIONS, [e for _, _, e in plan])
    return tuple(
        DistrictShape(
            id=row["id"], name=row["name"], province=row["province"] or None, seats=seats,
            candidates=candidates.get(i) or int(row["candidates"]), electorate=electorate,
            stations=max(1, stations[i]), minority=row["minority"] or None,
        )
        for i, (row, seats, electorate) in enumerate(plan)
    )  # fmt: skip


def national_manifest(
    shape: Sequence[DistrictShape], scale: float, seed: int, group: str = "ristretto255"
) -> tuple[Manifest, dict[str, District]]:
    """The manifest of the shape at scale F (its stations scaled, its candidates drawn from
    `seed`) and each district's voter model."""
    rng = random.Random(seed)
    models: dict[str, District] = {}
    districts: list[dict[str, Any]] = []
    stations: list[dict[str, str]] = []
    for d in shape:
        model = make_district(d.id, d.seats, d.candidates, rng)
        models[d.id] = model
        doc: dict[str, Any] = {"id": d.id, "name": d.name, "seats": d.seats,
                               "candidates": manifest_candidates(model)}  # fmt: skip
        if d.province is not None:
            doc["province"] = d.province
        if d.minority is not None:
            doc["minority"] = d.minority
        districts.append(doc)
        stations += [
            {"id": f"{d.id}-{i:05d}", "name": f"{d.name} station {i}", "district": d.id}
            for i in range(1, d.stations_at(scale) + 1)
        ]
    manifest = synthetic_manifest(
        f"national-{seed}",
        "Synthetic national Majlis election (the shape of 2024)",
        group,
        districts,
        stations,
        "national manifest",
    )
    return manifest, models


def check_totals(shape: Sequence[DistrictShape]) -> None:
    """ShapeError unless the shape has the published totals."""
    got = (len(shape), sum(d.seats for d in shape), sum(d.candidates for d in shape),
           sum(d.electorate for d in shape), sum(d.stations for d in shape))  # fmt: skip
    want = (DISTRICTS, SEATS, CANDIDATES, ELECTORATE, STATIONS)
    if got != want:
        raise ShapeError(f"the shape has (districts, seats, candidates, electorate, stations) "
                         f"{got}, not {want}")  # fmt: skip
