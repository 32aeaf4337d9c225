"""A ghost-voter audit of the published check-ins (issue 19, item 5).

Each polling station publishes on the bulletin board the pseudonyms of the voters it checked
in. A station that checks in absent voters ("ghosts") can stuff a ballot for each. The audit
draws, per district, a simple random sample of the published check-ins from a public seed; an
audit board looks up each drawn check-in on the station's paper sign-in sheet and records a
finding, `signed` (the voter signed) or `missing` (nobody signed: a ghost). From the findings
follows an upper confidence bound on the number of ghost check-ins, per district and overall.

The draw is the consistent sampling of `verivote.audit.sampler` (SHA-256 ticket numbers as in
Rivest, "Consistent Sampling with Replacement", arXiv:1808.10016, 2018, and in SHANGRLA and
Arlo), with its public dice seed. Each check-in's ticket is

    ticket = SHA-256(seed ",checkin," district "," station "," pseudonym), big-endian

(districts and stations are identifiers without commas and the pseudonym comes last, so the
written-down input names one check-in only; the word `checkin` keeps these tickets apart from
the paper ballots' tickets under the same seed). The sample of n is the n check-ins of the
district with the smallest tickets: without replacement, and sample(n) is part of
sample(n + k).

The bound is the exact one-sided upper confidence bound of a hypergeometric proportion, the
inversion of the exact test (any textbook; Wendell and Schmee, "Exact inference for
proportions from a stratified finite population", JASA 91 (1996) 825–830, for one stratum):
with N check-ins of which n were drawn and x found to be ghosts, the bound at confidence
1 − α is the largest G with P(X ≤ x | N, G, n) > α, X hypergeometric. The bound over all
districts is the sum of the districts' bounds each taken at confidence 1 − α/D (Bonferroni),
D the districts whose bound is uncertain (some but not all of their check-ins drawn): the
chance that any of these bounds falls short is at most α, so the sum falls short with at most
that chance. This is conservative (an exact stratified bound such as Wendell and Schmee's can
be tighter), and simple enough for anyone to recompute.
"""

from __future__ import annotations

import csv
import hashlib
import heapq
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from verivote.audit.sampler import parse_seed
from verivote.board.roll_commitment import PSEUDONYM
from verivote.model.manifest import IDENT

Finding = Literal["signed", "missing"]
"""What the audit board found on the sign-in sheet: `missing` means a ghost check-in."""

FINDINGS: tuple[Finding, ...] = ("signed", "missing")

CheckIn = tuple[str, str]
"""A published check-in within its district: (station, pseudonym)."""

Key = tuple[str, str, str]
"""A check-in named across districts: (district, station, pseudonym)."""

HEADER = ("district", "station", "pseudonym", "finding")
"""The findings CSV's header row."""

DEFAULT_CONFIDENCE = 0.95

_IDENT = re.compile(IDENT)


class FindingsError(ValueError):
    """A findings file that does not fit the drawn sample."""


class NotAudited(FindingsError):
    """Drawn check-ins without a finding yet: no bound until every one is entered."""

    def __init__(self, missing: Sequence[Key]) -> None:
        self.missing = list(missing)
        shown = ", ".join(f"{d}/{s}/{p[:12]}…" for d, s, p in self.missing[:5])
        more = f" and {len(self.missing) - 5} more" if len(self.missing) > 5 else ""
        super().__init__(
            f"{len(self.missing)} drawn check-in(s) have no finding yet (not audited): "
            f"{shown}{more}; enter a finding for every drawn check-in before a bound is given"
        )


@dataclass(frozen=True)
class DistrictBound:
    """One district's audit: `bound` holds at the audit's confidence on its own;
    `simultaneous_bound` holds together with every other district's (Bonferroni), and the
    overall bound is their sum."""

    district: str
    population: int
    sample: int
    found: int
    bound: int
    simultaneous_bound: int


@dataclass(frozen=True)
class TurnoutAudit:
    """The audit's result: the districts in order, the totals, and the upper bound on all
    ghost check-ins at `confidence` (each district's share taken at `district_confidence`)."""

    confidence: float
    district_confidence: float
    districts: tuple[DistrictBound, ...]
    population: int
    sample: int
    found: int
    bound: int


def checkin_ticket(seed: str, district: str, station: str, pseudonym: str) -> int:
    """The check-in's ticket number (see the module docstring); `seed` as `parse_seed`
    returns it."""
    text = f"{seed},checkin,{district},{station},{pseudonym}"
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest(), "big")


def draw(
    checkins: Mapping[str, Iterable[CheckIn]], seed: str, per_district: int
) -> dict[str, list[CheckIn]]:
    """Each district's sample: its `per_district` check-ins of smallest ticket (all of them if
    it has fewer), as a pull list sorted by station then pseudonym; districts in order."""
    if per_district < 0:
        raise ValueError("a sample size is not negative")
    seed = parse_seed(seed)
    return {d: _draw_district(seed, d, checkins[d], per_district)[1] for d in sorted(checkins)}


def ghost_bound(
    population: int, sample: int, found: int, confidence: float | Fraction = DEFAULT_CONFIDENCE
) -> int:
    """The exact upper confidence bound on the ghosts G among `population` check-ins, `found`
    of them in a simple random sample of `sample` drawn without replacement: the largest G
    with P(X ≤ found | population, G, sample) > 1 − confidence (see the module docstring).
    A full count gives `found`; an empty sample gives `population`."""
    if not 0 <= found <= sample <= population:
        raise ValueError(f"need 0 ≤ found ≤ sample ≤ population, not {found}, {sample}, "
                         f"{population}")  # fmt: skip
    return _upper(population, sample, found, 1 - _confidence(confidence))


def turnout_bound(
    counts: Mapping[str, tuple[int, int, int]], confidence: float | Fraction = DEFAULT_CONFIDENCE
) -> TurnoutAudit:
    """The bounds of every district and overall, from each district's (population, sample,
    found)."""
    alpha = 1 - _confidence(confidence)
    for district, (population, sample, found) in counts.items():
        if not 0 <= found <= sample <= population:
            raise ValueError(f"district {district}: need 0 ≤ found ≤ sample ≤ population, "
                             f"not {found}, {sample}, {population}")  # fmt: skip
    # A district fully drawn, or not drawn at all, has a bound that cannot fall short: only
    # the others share α.
    uncertain = sum(1 for p, s, _ in counts.values() if 0 < s < p)
    shared = alpha / max(uncertain, 1)
    districts = tuple(
        DistrictBound(d, p, s, f, _upper(p, s, f, alpha), _upper(p, s, f, shared))
        for d, (p, s, f) in sorted(counts.items())
    )
    return TurnoutAudit(
        confidence=float(1 - alpha),
        district_confidence=float(1 - shared),
        districts=districts,
        population=sum(d.population for d in districts),
        sample=sum(d.sample for d in districts),
        found=sum(d.found for d in districts),
        bound=sum(d.simultaneous_bound for d in districts),
    )


def read_findings(
    lines: Iterable[str], drawn: Mapping[str, Sequence[CheckIn]]
) -> dict[Key, Finding]:
    """The audit board's findings from CSV lines (header `district,station,pseudonym,finding`),
    for the sample `draw` returned. Every row is checked; a check-in that was not drawn, or
    entered twice, is refused; a drawn check-in without a row raises NotAudited."""
    wanted = {(d, s, p) for d, sample in drawn.items() for s, p in sample}
    reader = csv.reader(lines)
    header = next(reader, None)
    if header:
        header[0] = header[0].removeprefix("\ufeff")  # a spreadsheet's byte-order mark
    if header is None or tuple(c.strip() for c in header) != HEADER:
        raise FindingsError(f"line 1: the header is {','.join(HEADER)}")
    findings: dict[Key, Finding] = {}
    lines_of: dict[Key, int] = {}
    for row in reader:
        line = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(HEADER):
            raise FindingsError(f"line {line}: {len(row)} fields, not {len(HEADER)}")
        district, station, pseudonym, finding = (c.strip() for c in row)
        key = (district, station, pseudonym)
        problem = _name_problem(district, station, pseudonym)
        if problem:
            raise FindingsError(f"line {line}: {problem}")
        if finding not in FINDINGS:
            raise FindingsError(f"line {line}: the finding is signed or missing, not {finding!r}")
        if key not in wanted:
            raise FindingsError(f"line {line}: {district}/{station}/{pseudonym} was not drawn; "
                                "only drawn check-ins are audited")  # fmt: skip
        if key in findings:
            raise FindingsError(f"line {line}: {district}/{station}/{pseudonym} was already "
                                f"entered on line {lines_of[key]}")  # fmt: skip
        findings[key] = "signed" if finding == "signed" else "missing"
        lines_of[key] = line
    missing = sorted(wanted - findings.keys())
    if missing:
        raise NotAudited(missing)
    return findings


def audit_result(
    checkins: Mapping[str, Iterable[CheckIn]],
    seed: str,
    per_district: int,
    findings: Mapping[Key, Finding],
    confidence: float | Fraction = DEFAULT_CONFIDENCE,
) -> TurnoutAudit:
    """The audit from the published check-ins, the public seed, the sample size per district
    and the findings of every drawn check-in (as `read_findings` returns them)."""
    if per_district < 0:
        raise ValueError("a sample size is not negative")
    seed = parse_seed(seed)
    counts: dict[str, tuple[int, int, int]] = {}
    wanted: set[Key] = set()
    for d in sorted(checkins):
        population, sample = _draw_district(seed, d, checkins[d], per_district)
        keys = [(d, s, p) for s, p in sample]
        wanted.update(keys)
        found = sum(1 for key in keys if findings.get(key) == "missing")
        counts[d] = (population, len(sample), found)
    extra = sorted(findings.keys() - wanted)
    if extra:
        d, s, p = extra[0]
        raise FindingsError(f"{len(extra)} finding(s) for check-ins that were not drawn, "
                            f"the first {d}/{s}/{p}")  # fmt: skip
    missing = sorted(wanted - findings.keys())
    if missing:
        raise NotAudited(missing)
    for (d, s, p), finding in sorted(findings.items()):
        if finding not in FINDINGS:
            raise FindingsError(f"{d}/{s}/{p}: the finding is signed or missing, not "
                                f"{finding!r}")  # fmt: skip
    return turnout_bound(counts, confidence)


def _draw_district(
    seed: str, district: str, checkins: Iterable[CheckIn], n: int
) -> tuple[int, list[CheckIn]]:
    """How many check-ins the district published, and its sample of n as a pull list. Each
    check-in is checked for form and for being published once (a repeat would be counted
    twice in the population and could be drawn twice)."""
    seen: set[CheckIn] = set()

    def tickets() -> Iterable[tuple[int, str, str]]:
        for station, pseudonym in checkins:
            problem = _name_problem(district, station, pseudonym)
            if problem:
                raise ValueError(f"district {district}: {problem}")
            if (station, pseudonym) in seen:
                raise ValueError(f"{district}/{station}/{pseudonym} is published twice")
            seen.add((station, pseudonym))
            yield checkin_ticket(seed, district, station, pseudonym), station, pseudonym

    drawn = heapq.nsmallest(n, tickets())
    return len(seen), sorted((station, pseudonym) for _, station, pseudonym in drawn)


def _name_problem(district: str, station: str, pseudonym: str) -> str | None:
    # The ticket's input is unambiguous only while districts and stations have no commas.
    if not _IDENT.match(district):
        return f"{district!r} is not a district identifier"
    if not _IDENT.match(station):
        return f"{station!r} is not a station identifier"
    if not PSEUDONYM.match(pseudonym):
        return f"the pseudonym {pseudonym!r} is not 64 lowercase hex digits"
    return None


def _confidence(confidence: float | Fraction) -> Fraction:
    """The confidence as an exact fraction: 0.95 is 19/20, as typed, not the nearest double."""
    try:
        exact = confidence if isinstance(confidence, Fraction) else Fraction(str(confidence))
    except ValueError:
        raise ValueError(f"the confidence is a number between 0 and 1, not {confidence}") from None
    if not 0 < exact < 1:
        raise ValueError(f"the confidence is strictly between 0 and 1, not {confidence}")
    return exact


def _upper(population: int, sample: int, found: int, alpha: Fraction) -> int:
    """The largest G with P(X ≤ found | population, G, sample) > alpha, by bisection: the
    probability falls as G grows (more ghosts, more found), G = found passes (X ≤ G), and
    beyond population − (sample − found) it is 0 (the sample's signed check-ins are no
    ghosts)."""
    low, high = found, population - (sample - found)
    while low < high:
        mid = (low + high + 1) // 2
        if _cdf_exceeds(population, mid, sample, found, alpha):
            low = mid
        else:
            high = mid - 1
    return low


def _cdf_exceeds(n_all: int, ghosts: int, n: int, x: int, alpha: Fraction) -> bool:
    """P(X ≤ x) > alpha for X hypergeometric (n_all items, `ghosts` of them marked, n drawn):
    in floating point, and exactly with integers when the two are too close to tell."""
    log_p = _log_cdf(n_all, ghosts, n, x)
    log_alpha = math.log(alpha.numerator) - math.log(alpha.denominator)
    # lgamma of numbers near n_all is off by a few units in its last place: allow a hundred
    # times that error before trusting the floating-point comparison.
    slack = 1e-9 + 1e-12 * math.lgamma(n_all + 1)
    if log_p - log_alpha > slack:
        return True
    if log_p - log_alpha < -slack:
        return False
    low = max(0, n - (n_all - ghosts))
    ways = sum(math.comb(ghosts, k) * math.comb(n_all - ghosts, n - k) for k in range(low, x + 1))
    return ways * alpha.denominator > alpha.numerator * math.comb(n_all, n)


def _log_comb(a: int, b: int) -> float:
    return math.lgamma(a + 1) - math.lgamma(b + 1) - math.lgamma(a - b + 1)


def _log_cdf(n_all: int, ghosts: int, n: int, x: int) -> float:
    """log P(X ≤ x), X hypergeometric. The terms of the distribution rise to its mode and
    fall after it (it is log-concave), so the side of x away from the mode is summed from x
    outwards, each term from the last by the ratio of binomials, until what is left is below
    the rounding error: ≤ x directly when x is below the mode, else 1 − P(X > x)."""
    low, high = max(0, n - (n_all - ghosts)), min(n, ghosts)
    if x < low:
        return -math.inf
    if x >= high:
        return 0.0
    mode = (n + 1) * (ghosts + 1) // (n_all + 2)
    below = x < mode
    k = x if below else x + 1
    log_first = _log_comb(ghosts, k) + _log_comb(n_all - ghosts, n - k) - _log_comb(n_all, n)
    total, term = 1.0, 1.0
    while (low < k) if below else (k < high):
        if below:  # t(k-1)/t(k)
            ratio = k * (n_all - ghosts - n + k) / ((ghosts - k + 1) * (n - k + 1))
            k -= 1
        else:  # t(k+1)/t(k)
            ratio = (ghosts - k) * (n - k) / ((k + 1) * (n_all - ghosts - n + k + 1))
            k += 1
        term *= ratio
        total += term
        # Past the mode the ratios only shrink, so what is left is at most a geometric series.
        if ratio < 1 and term * ratio / (1 - ratio) < 1e-17 * total:
            break
    log_tail = log_first + math.log(total)
    if below:
        return log_tail
    rest = math.exp(log_tail)
    return math.log1p(-rest) if rest < 1 else -math.inf
