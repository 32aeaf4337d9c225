"""How often the forensics catch known tampering (issue 18, item 3): detection power and
false-positive rate by simulation.

    python -m verivote.audit.forensics_power [TRIALS]

prints the power table (Markdown) for 1 %, 5 % and 10 % of stations tampered.

The synthetic elections (`simulate`): a station-level model drawn from `verivote.sim`. Each
district is `sim.ballots.make_district`; the share of ballots naming each candidate is measured
on `sample_ballots` ballots of `sim.ballots.iter_ballots` with the demo's `VOTER_MODEL`
(normalised as a station device does: the district's candidates, each once, at most S). Each
station then gets a list of voters (log-normal around `registered_median`), a turnout drawn
from Beta(κm, κ(1 − m)) around its district's mean m (drawn uniformly in `turnout_range`),
ballots Binomial(registered, turnout), check-ins a few more than ballots, and each candidate's
votes Binomial(ballots, share × g) where g ~ Gamma(k, 1/k) is the station's own lean (one seat:
multinomial). Binomials with a mean and a complement of at least 20 are drawn by the normal
approximation, rounded; smaller ones exactly.

Tampering, at a share f of all stations drawn at random (at least one station):
- `stuffing` (Klimek et al.'s "incremental fraud", PNAS 2012): a share `stuffing_share` of the
  station's non-voters get a ballot for the district's leading candidate, and are checked in
  (the stuffer signs absent voters in, so that the form adds up): turnout rises.
- `transfer`: a share `transfer_share` of the runner-up's votes go to the leading candidate
  (never above the station's ballots); turnout unchanged.

Detection, per trial (the same clean election for every kind and f, then tampered):
- a test "detects" when its p-value is below α = 5 %; the `verdict` column counts the trials
  whose report's verdict names a test (p-value below α / 5 for one of the five tests of
  `forensics_report.VERDICT_TESTS`, Bonferroni);
- `recall` is the mean share of the tampered stations that the report flags (for any reason),
  `false flags` the mean share of the untouched stations it flags.
The clean row (f = 0) gives each test's false-positive rate.
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from verivote.audit.forensics_report import TESTS, analyse, leader
from verivote.audit.stations import StationCount

FRACTIONS = (0.01, 0.05, 0.10)
KINDS = ("stuffing", "transfer")
ALPHA = 0.05


@dataclass(frozen=True)
class Model:
    """The shape of a synthetic election (see the module docstring)."""

    districts: tuple[tuple[int, int], ...] = ((1, 8), (1, 10), (2, 14), (3, 20), (5, 30))
    """(seats, candidates) of each district."""
    stations_per_district: int = 100
    registered_median: float = 1000.0
    registered_sigma: float = 0.35
    turnout_range: tuple[float, float] = (0.35, 0.70)
    turnout_concentration: float = 60.0
    """κ of the stations' Beta turnout: a standard deviation of about 0.06."""
    lean_shape: float = 25.0
    """k of the stations' Gamma lean: a coefficient of variation of 0.2."""
    sample_ballots: int = 600
    stuffing_share: float = 0.3
    transfer_share: float = 0.5


@dataclass(frozen=True)
class PowerRow:
    """One row of the power table: how often each test rejected at α, the verdict, and the
    station-level recall and false flags, over `trials` elections."""

    kind: str
    fraction: float
    trials: int
    rejects: dict[str, float]
    verdict: float
    recall: float
    false_flags: float

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "fraction": self.fraction, "trials": self.trials,
                "rejects": self.rejects, "verdict": self.verdict, "recall": self.recall,
                "false_flags": self.false_flags}  # fmt: skip


def binomial(n: int, p: float, rng: random.Random) -> int:
    """A Binomial(n, p) draw: exact (by geometric waiting times) when n·min(p, 1 − p) < 20,
    else the normal approximation rounded and clamped to [0, n]."""
    if n <= 0 or p <= 0:
        return 0
    if p >= 1:
        return n
    if p > 0.5:
        return n - binomial(n, 1 - p, rng)
    if n * p < 20:
        log_q = math.log1p(-p)
        k = 0
        position = 0
        while True:  # the gaps between successes are geometric
            position += int(math.log(1.0 - rng.random()) / log_q) + 1
            if position > n:
                return k
            k += 1
    draw = round(rng.gauss(n * p, math.sqrt(n * p * (1 - p))))
    return max(0, min(n, draw))


def _voter_model() -> dict[str, float]:
    from verivote.sim.election import VOTER_MODEL

    return dict(VOTER_MODEL)


def naming_shares(seats: int, candidates: int, rng: random.Random, ballots: int) -> list[float]:
    """The share of ballots naming each candidate of a `verivote.sim` district, measured on
    `ballots` of its synthetic ballots."""
    from verivote.sim.ballots import iter_ballots, make_district

    district = make_district("d", seats, candidates, rng)
    index = {c: i for i, c in enumerate(district.candidates)}
    named = [0] * candidates
    model = _voter_model()
    loyalty, tail = model["slate_loyalty"], model["appeal_tail"]
    for ballot in iter_ballots(district, ballots, rng, slate_loyalty=loyalty, appeal_tail=tail):
        kept: list[int] = []
        for name in ballot.names():
            i = index.get(name)
            if i is not None and i not in kept:
                kept.append(i)
        for i in kept[:seats]:
            named[i] += 1
    return [n / ballots for n in named]


def simulate(rng: random.Random, model: Model = Model()) -> list[StationCount]:
    """A clean synthetic election's station counts (see the module docstring)."""
    out = []
    for d, (seats, n_cand) in enumerate(model.districts, 1):
        shares = naming_shares(seats, n_cand, rng, model.sample_ballots)
        codes = [f"{d}{i:03d}" for i in range(1, n_cand + 1)]
        mean = rng.uniform(*model.turnout_range)
        kappa = model.turnout_concentration
        for s in range(1, model.stations_per_district + 1):
            registered = max(50, round(rng.lognormvariate(math.log(model.registered_median),
                                                          model.registered_sigma)))  # fmt: skip
            ballots = binomial(registered, rng.betavariate(kappa * mean, kappa * (1 - mean)), rng)
            checked_in = ballots + binomial(ballots, 0.003, rng)
            lean = [q * rng.gammavariate(model.lean_shape, 1 / model.lean_shape) for q in shares]
            if seats == 1:
                votes = _multinomial(ballots, lean, sum(shares), rng)
            else:
                votes = [binomial(ballots, min(1.0, w), rng) for w in lean]
            out.append(StationCount(f"d{d}-{s:04d}", f"d{d}", registered, checked_in, ballots,
                                    dict(zip(codes, votes, strict=True))))  # fmt: skip
    return out


def _multinomial(n: int, weights: Sequence[float], total: float, rng: random.Random) -> list[int]:
    """n ballots over the candidates in proportion to `weights`, scaled so that together they
    take the share `total` of the ballots (the rest blank or void)."""
    scale = min(1.0, total) / sum(weights) if sum(weights) > 0 else 0.0
    left = n
    mass = 1.0
    out = []
    for w in weights:
        p = w * scale
        k = binomial(left, min(1.0, p / mass), rng) if mass > 0 else 0
        out.append(k)
        left -= k
        mass -= p
    return out


def _leaders(counts: Sequence[StationCount]) -> dict[str, tuple[str | None, str | None]]:
    """Each district's leading candidate and runner-up."""
    by: dict[str, list[StationCount]] = {}
    for c in counts:
        by.setdefault(c.district, []).append(c)
    out = {}
    for d, stations in by.items():
        first = leader(stations)
        rest = [replace(c, votes={k: v for k, v in c.votes.items() if k != first})
                for c in stations]  # fmt: skip
        out[d] = (first, leader(rest))
    return out


def tamper(
    counts: Sequence[StationCount],
    kind: str,
    stations: Iterable[str],
    model: Model = Model(),
) -> list[StationCount]:
    """The counts with `stations` tampered by `kind` ("stuffing" or "transfer")."""
    if kind not in KINDS:
        raise ValueError(f"no tampering of kind {kind!r}: {', '.join(KINDS)}")
    chosen = set(stations)
    leaders = _leaders(counts)
    out = []
    for c in counts:
        first, second = leaders[c.district]
        if c.station not in chosen or first is None:
            out.append(c)
            continue
        votes = dict(c.votes)
        if kind == "stuffing":
            k = round(model.stuffing_share * max(0, (c.registered or 0) - c.ballots))
            votes[first] = votes.get(first, 0) + k
            out.append(replace(c, checked_in=c.checked_in + k, ballots=c.ballots + k,
                               votes=votes))  # fmt: skip
        else:
            room = c.ballots - votes.get(first, 0)
            moved = min(room, round(model.transfer_share * votes.get(second or "", 0)))
            if second is not None and moved > 0:
                votes[second] -= moved
                votes[first] = votes.get(first, 0) + moved
            out.append(replace(c, votes=votes))
    return out


def _detections(summary: dict[str, Any], tampered: set[str], n: int) -> tuple[Any, ...]:
    tests = summary["tests"]
    rejects = {t: tests[t]["p_value"] < ALPHA for t in TESTS}
    verdict = bool(summary["verdict"])
    flagged = {f["station"] for f in summary["flagged"]}
    recall = len(flagged & tampered) / len(tampered) if tampered else math.nan
    false = len(flagged - tampered) / (n - len(tampered))
    return rejects, verdict, recall, false


def power_table(
    trials: int = 200,
    fractions: Sequence[float] = FRACTIONS,
    kinds: Sequence[str] = KINDS,
    seed: int = 2024,
    model: Model = Model(),
) -> list[PowerRow]:
    """The clean row, then each kind at each fraction, over `trials` seeded elections."""
    cells: list[tuple[str, float]] = [("clean", 0.0)] + [(k, f) for k in kinds for f in fractions]
    tallies: dict[tuple[str, float], list[tuple[Any, ...]]] = {cell: [] for cell in cells}
    for trial in range(trials):
        clean = simulate(random.Random(f"forensics-power/{seed}/{trial}"), model)
        ids = [c.station for c in clean]
        for kind, fraction in cells:
            if kind == "clean":
                counts, chosen = clean, set()
            else:
                pick = random.Random(f"forensics-power/{seed}/{trial}/{kind}/{fraction}")
                chosen = set(pick.sample(ids, max(1, round(fraction * len(ids)))))
                counts = tamper(clean, kind, chosen, model)
            tallies[kind, fraction].append(_detections(analyse(counts), chosen, len(ids)))
    rows = []
    for (kind, fraction), found in tallies.items():
        rows.append(PowerRow(
            kind, fraction, trials,
            {t: sum(f[0][t] for f in found) / trials for t in TESTS},
            sum(f[1] for f in found) / trials,
            math.nan if kind == "clean" else sum(f[2] for f in found) / trials,
            sum(f[3] for f in found) / trials,
        ))  # fmt: skip
    return rows


SHORT = {
    "last_digit": "last digit",
    "second_digit": "2nd digit",
    "turnout_outliers": "turnout outl.",
    "share_outliers": "share outl.",
    "turnout_share_correlation": "corr.",
    "identical_counts": "identical",
}


def format_table(rows: Sequence[PowerRow]) -> str:
    """The power table as Markdown: the share of trials each test rejected at α = 5 %."""
    head = ["tampering", "stations", *(SHORT[t] for t in TESTS), "verdict", "recall", "false flags"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r.kind, "—" if r.kind == "clean" else f"{r.fraction:.0%}"]
        cells += [f"{r.rejects[t]:.2f}" for t in TESTS]
        cells += [f"{r.verdict:.2f}", "—" if math.isnan(r.recall) else f"{r.recall:.2f}",
                  f"{r.false_flags:.3f}"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fingerprints(folder: Path, seed: int = 2012, fraction: float = 0.1) -> list[Path]:
    """The fingerprint of one clean simulated election and of the same election with ballots
    stuffed at `fraction` of its stations, as SVG files in `folder` (the README's pictures).
    The stuffing here is heavy (80 % of each chosen station's non-voters), as in the elections
    Klimek et al. show, so that the smear towards (100 %, 100 %) is plain to see."""
    from verivote.audit.forensics_report import analyse, fingerprint_svg

    rng = random.Random(seed)
    clean = simulate(rng)
    chosen = rng.sample([c.station for c in clean], round(fraction * len(clean)))
    heavy = replace(Model(), stuffing_share=0.8)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    stuffed = tamper(clean, "stuffing", chosen, heavy)
    for name, counts in (("clean", clean), ("stuffed", stuffed)):
        path = folder / f"fingerprint-{name}.svg"
        path.write_text(fingerprint_svg(analyse(counts)), encoding="utf-8")
        out.append(path)
    return out


def main(argv: Sequence[str]) -> int:
    if argv[:1] == ["--fingerprints"] and len(argv) == 2:
        for path in fingerprints(Path(argv[1])):
            print(f"wrote {path}")
        return 0
    trials = int(argv[0]) if argv else 200
    model = Model()
    rows = power_table(trials, model=model)
    stations = len(model.districts) * model.stations_per_district
    print(f"{trials} trials, {stations} stations in {len(model.districts)} districts; "
          f"stuffing {model.stuffing_share:.0%} of non-voters, transfer "
          f"{model.transfer_share:.0%} of the runner-up's votes; alpha {ALPHA}")  # fmt: skip
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
