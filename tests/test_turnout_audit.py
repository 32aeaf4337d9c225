"""The ghost-voter audit (issue 19, item 5): the draw is the consistent sampler's, reproducible
from the public seed; the bound on ghost check-ins is the exact hypergeometric upper confidence
bound (checked here against exact fractions by brute force), falls short of the true number in
at most 1 − confidence of audits, and the overall bound holds across districts; the findings
file is refused unless it fits the drawn sample row by row."""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verivote.audit.sampler import SeedError
from verivote.audit.turnout_audit import (
    FindingsError,
    NotAudited,
    audit_result,
    checkin_ticket,
    draw,
    ghost_bound,
    read_findings,
    turnout_bound,
)

SEED = "3141 5926 5358 9793 2384"
OTHER_SEED = "2718 2818 2845 9045 2353"


def pseudonym(i: int) -> str:
    return hashlib.sha256(f"voter {i}".encode()).hexdigest()


def published(sizes: dict[str, dict[str, int]]) -> dict[str, list[tuple[str, str]]]:
    """Check-ins per district: district → station → how many, each voter a fresh pseudonym."""
    out: dict[str, list[tuple[str, str]]] = {}
    i = 0
    for district, stations in sizes.items():
        rows = out.setdefault(district, [])
        for station, count in stations.items():
            for _ in range(count):
                rows.append((station, pseudonym(i)))
                i += 1
    return out


CHECKINS = published({"tabriz": {"tabriz-001": 120, "tabriz-002": 80},
                      "karaj": {"karaj-001": 60, "karaj-002": 30}})  # fmt: skip


def exact_cdf(population: int, ghosts: int, sample: int, found: int) -> Fraction:
    """P(X ≤ found), X hypergeometric, as an exact fraction of counted samples."""
    ways = sum(math.comb(ghosts, k) * math.comb(population - ghosts, sample - k)
               for k in range(found + 1))  # fmt: skip
    return Fraction(ways, math.comb(population, sample))


def exact_pmf(population: int, ghosts: int, sample: int, found: int) -> Fraction:
    """P(X = found), X hypergeometric."""
    ways = math.comb(ghosts, found) * math.comb(population - ghosts, sample - found)
    return Fraction(ways, math.comb(population, sample))


def brute_bound(population: int, sample: int, found: int, confidence: Fraction) -> int:
    """The definition read literally: the largest G of all with P(X ≤ found | G) > 1 − c."""
    return max(g for g in range(population + 1)
               if exact_cdf(population, g, sample, found) > 1 - confidence)  # fmt: skip


def bisected_bound(population: int, sample: int, found: int, confidence: Fraction) -> int:
    """The same with exact fractions, by bisection (the CDF falls as G grows): for N too large
    to try every G."""
    low, high = found, population - (sample - found)
    while low < high:
        mid = (low + high + 1) // 2
        if exact_cdf(population, mid, sample, found) > 1 - confidence:
            low = mid
        else:
            high = mid - 1
    return low


# --- the bound -----------------------------------------------------------------------------


def test_none_found_among_100_of_1000_bounds_the_ghosts_at_28() -> None:
    # 28 is the exact figure: P(no ghost among 100 | 28 ghosts) = C(972,100)/C(1000,100) is
    # above 5 %, with 29 ghosts it is below. The rule of three (Hanley and Lippman-Hand, "If
    # nothing goes wrong, is everything all right?", JAMA 249 (1983) 1743) gives 3/n of the
    # population, 30, for draws with replacement; without replacement the bound is tighter.
    assert exact_cdf(1000, 28, 100, 0) > Fraction(1, 20) >= exact_cdf(1000, 29, 100, 0)
    assert brute_bound(1000, 100, 0, Fraction(19, 20)) == 28
    assert ghost_bound(1000, 100, 0, 0.95) == ghost_bound(1000, 100, 0) == 28
    assert ghost_bound(1000, 100, 0) < 3 * 1000 // 100


def test_a_probability_exactly_at_one_minus_confidence_is_not_enough() -> None:
    # One of 20 drawn, no ghost: with G ghosts P(X = 0) = (20 − G)/20, exactly 5 % at G = 19;
    # the bound needs more than 5 %, so it is 18 (floating point alone would be a coin toss).
    assert exact_cdf(20, 19, 1, 0) == Fraction(1, 20)
    assert ghost_bound(20, 1, 0, 0.95) == ghost_bound(20, 1, 0, Fraction(19, 20)) == 18


CONFIDENCES = [Fraction(c, 1000) for c in (500, 800, 900, 950, 990, 999)]


@settings(max_examples=150, deadline=None)
@given(st.data(), st.sampled_from(CONFIDENCES))
def test_the_bound_is_the_definition_computed_by_brute_force(
    data: st.DataObject, confidence: Fraction
) -> None:
    population = data.draw(st.integers(0, 40))
    sample = data.draw(st.integers(0, population))
    found = data.draw(st.integers(0, sample))
    expected = brute_bound(population, sample, found, confidence)
    assert ghost_bound(population, sample, found, confidence) == expected
    assert ghost_bound(population, sample, found, float(confidence)) == expected


@pytest.mark.parametrize(
    ("population", "sample", "found", "confidence"),
    [(5_000, 200, 0, Fraction(19, 20)), (5_000, 200, 7, Fraction(99, 100)),
     (20_000, 400, 3, Fraction(19, 20)), (100_000, 300, 1, Fraction(9995, 10000)),
     (3_000, 2_500, 40, Fraction(19, 20)), (100_000, 150, 150, Fraction(19, 20))],
)  # fmt: skip
def test_the_bound_for_large_districts_is_the_exact_one(
    population: int, sample: int, found: int, confidence: Fraction
) -> None:
    expected = bisected_bound(population, sample, found, confidence)
    assert ghost_bound(population, sample, found, confidence) == expected


def test_a_million_check_ins_are_bounded_quickly() -> None:
    # Each bound takes a bisection of about twenty steps, each a short sum of terms.
    for found in (0, 3, 50, 400):
        bound = ghost_bound(1_000_000, 2_000, found, 0.999)
        assert found <= bound <= 1_000_000 - (2_000 - found)
    # About 1 in 1,000 found: the bound sits a little above the point estimate of 1,000.
    assert 1_000 < ghost_bound(1_000_000, 200_000, 200) < 1_300


@settings(max_examples=200, deadline=None)
@given(st.data(), st.floats(0.5, 0.999), st.floats(0.5, 0.999))
def test_the_bound_lies_between_what_was_seen_and_grows_with_ghosts_and_confidence(
    data: st.DataObject, c1: float, c2: float
) -> None:
    population = data.draw(st.integers(0, 1_000_000))
    sample = data.draw(st.integers(0, min(population, 5_000)))
    found = data.draw(st.integers(0, sample))
    bound = ghost_bound(population, sample, found, c1)
    # At least the ghosts found; at most everything but the signed check-ins found.
    assert found <= bound <= population - (sample - found)
    if found < sample:
        assert ghost_bound(population, sample, found + 1, c1) >= bound
    low, high = sorted((c1, c2))
    assert ghost_bound(population, sample, found, low) <= ghost_bound(population, sample, found,
                                                                     high)  # fmt: skip


@given(st.integers(0, 10**6), st.data())
def test_a_full_count_gives_the_ghosts_found_and_no_sample_gives_everything(
    population: int, data: st.DataObject
) -> None:
    found = data.draw(st.integers(0, population))
    assert ghost_bound(population, population, found) == found
    assert ghost_bound(population, 0, 0) == population


def test_the_bound_falls_short_in_at_most_one_minus_confidence_of_samples_exactly() -> None:
    # Every possible number of ghosts among 60 check-ins, 15 drawn: the chance, summed over
    # the outcomes of the draw, that the bound is below the truth.
    population, sample = 60, 15
    for confidence in (Fraction(4, 5), Fraction(19, 20)):
        bounds = [ghost_bound(population, sample, x, confidence) for x in range(sample + 1)]
        for ghosts in range(population + 1):
            short = sum(exact_pmf(population, ghosts, sample, x)
                        for x in range(sample + 1) if bounds[x] < ghosts)  # fmt: skip
            assert short <= 1 - confidence


def test_in_simulated_audits_the_bound_falls_short_at_most_one_minus_confidence_of_times() -> None:
    rng = random.Random(19)
    population, ghosts, sample, runs = 2_000, 40, 150, 2_000
    is_ghost = [True] * ghosts + [False] * (population - ghosts)
    for confidence, alpha in ((0.95, 0.05), (0.8, 0.2)):
        short = 0
        for _ in range(runs):
            found = sum(rng.sample(is_ghost, sample))
            short += ghost_bound(population, sample, found, confidence) < ghosts
        slack = 3 * math.sqrt(alpha * (1 - alpha) / runs)  # three standard errors
        assert short / runs <= alpha + slack
        # And close to the exact chance of falling short (4.3 % and 18.5 % here: the bound is
        # exact, not wildly conservative; the counts are whole, so the chance is not α itself).
        worst = max(x for x in range(sample + 1)
                    if ghost_bound(population, sample, x, confidence) < ghosts)  # fmt: skip
        exact = exact_cdf(population, ghosts, sample, worst)
        assert exact <= alpha
        assert abs(short / runs - float(exact)) <= slack


@pytest.mark.parametrize(("population", "sample", "found"), [(10, 11, 0), (10, 5, 6), (-1, 0, 0)])
def test_impossible_counts_are_refused(population: int, sample: int, found: int) -> None:
    with pytest.raises(ValueError, match="found ≤ sample ≤ population"):
        ghost_bound(population, sample, found)


@pytest.mark.parametrize("confidence", [0.0, 1.0, 1.5, -0.1, float("nan")])
def test_a_confidence_is_strictly_between_zero_and_one(confidence: float) -> None:
    with pytest.raises(ValueError, match="confidence"):
        ghost_bound(100, 10, 0, confidence)


# --- the overall bound ---------------------------------------------------------------------


def test_the_overall_bound_sums_the_districts_each_at_a_bonferroni_share() -> None:
    counts = {"a": (5_000, 100, 0), "b": (3_000, 100, 2), "c": (800, 100, 1),
              "full": (50, 50, 3), "none": (0, 0, 0)}  # fmt: skip
    result = turnout_bound(counts, 0.95)
    # Three districts are uncertain; the fully counted and the empty ones cannot fall short.
    share = Fraction(1, 20) / 3
    assert result.district_confidence == float(1 - share)
    assert [d.district for d in result.districts] == ["a", "b", "c", "full", "none"]
    for d in result.districts:
        population, sample, found = counts[d.district]
        assert (d.population, d.sample, d.found) == (population, sample, found)
        assert d.bound == ghost_bound(population, sample, found, Fraction(19, 20))
        assert d.simultaneous_bound == ghost_bound(population, sample, found, 1 - share)
        assert d.simultaneous_bound >= d.bound
    by_name = {d.district: d for d in result.districts}
    assert by_name["full"].simultaneous_bound == 3
    assert by_name["none"].simultaneous_bound == 0
    assert result.bound == sum(d.simultaneous_bound for d in result.districts)
    assert (result.population, result.sample, result.found) == (8_850, 350, 6)
    assert result.confidence == 0.95


def test_with_one_uncertain_district_the_overall_bound_is_its_own() -> None:
    result = turnout_bound({"a": (1_000, 100, 0), "b": (40, 40, 2)})
    assert result.district_confidence == 0.95
    assert result.bound == 28 + 2


def test_the_overall_bound_holds_together_in_simulated_audits() -> None:
    rng = random.Random(5)
    districts = {"a": (800, 40, 80), "b": (1_200, 40, 30), "c": (500, 40, 0)}  # N, n, ghosts
    runs, short = 1_000, 0
    truth = sum(g for _, _, g in districts.values())
    for _ in range(runs):
        counts = {}
        for name, (population, sample, ghosts) in districts.items():
            drawn = rng.sample(range(population), sample)
            counts[name] = (population, sample, sum(1 for i in drawn if i < ghosts))
        short += turnout_bound(counts, 0.9).bound < truth
    assert short / runs <= 0.1


# --- the draw ------------------------------------------------------------------------------


def test_a_ticket_is_the_sha256_of_the_written_down_input() -> None:
    p = pseudonym(1)
    text = f"31415926535897932384,checkin,tabriz,tabriz-001,{p}".encode()
    expected = int.from_bytes(hashlib.sha256(text).digest(), "big")
    assert checkin_ticket("31415926535897932384", "tabriz", "tabriz-001", p) == expected


def test_the_sample_is_the_check_ins_of_smallest_ticket_as_a_pull_list() -> None:
    drawn = draw(CHECKINS, SEED, 25)
    assert list(drawn) == ["karaj", "tabriz"]
    for district, rows in CHECKINS.items():
        by_ticket = sorted(rows, key=lambda r: checkin_ticket(SEED.replace(" ", ""), district, *r))
        assert drawn[district] == sorted(by_ticket[:25])
        assert drawn[district] == sorted(drawn[district])  # by station, then pseudonym


def test_the_same_seed_draws_the_same_sample_and_another_seed_another() -> None:
    assert draw(CHECKINS, SEED, 20) == draw(CHECKINS, SEED.replace(" ", ""), 20)
    reordered = {d: list(reversed(rows)) for d, rows in reversed(CHECKINS.items())}
    assert draw(reordered, SEED, 20) == draw(CHECKINS, SEED, 20)
    assert draw(CHECKINS, SEED, 20) != draw(CHECKINS, OTHER_SEED, 20)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 250), st.integers(0, 50))
def test_each_district_gets_its_sample_size_of_distinct_check_ins_and_more_keeps_them(
    n: int, more: int
) -> None:
    small, large = draw(CHECKINS, SEED, n), draw(CHECKINS, SEED, n + more)
    for district, rows in CHECKINS.items():
        assert len(small[district]) == len(set(small[district])) == min(n, len(rows))
        assert set(small[district]) <= set(rows)
        assert set(small[district]) <= set(large[district])


def test_the_draw_is_close_to_uniform_over_the_check_ins() -> None:
    # 200 seeds, 20 of tabriz's 200 check-ins each: tabriz-001 holds 60 % of them.
    drawn = [draw({"tabriz": CHECKINS["tabriz"]}, f"{k:020d}", 20)["tabriz"] for k in range(200)]
    share = sum(s == "tabriz-001" for rows in drawn for s, _ in rows) / (200 * 20)
    assert abs(share - 0.6) < 0.03


def test_the_draw_refuses_a_bad_seed_a_repeated_check_in_and_bad_names() -> None:
    with pytest.raises(SeedError):
        draw(CHECKINS, "1234", 10)
    with pytest.raises(ValueError, match="not negative"):
        draw(CHECKINS, SEED, -1)
    with pytest.raises(ValueError, match="published twice"):
        draw({"a": [("s1", pseudonym(1)), ("s1", pseudonym(1))]}, SEED, 1)
    with pytest.raises(ValueError, match="station identifier"):
        draw({"a": [("s,1", pseudonym(1))]}, SEED, 1)
    with pytest.raises(ValueError, match="64 lowercase hex"):
        draw({"a": [("s1", pseudonym(1).upper())]}, SEED, 1)


# --- the findings --------------------------------------------------------------------------


def findings_csv(drawn: dict[str, list[tuple[str, str]]], ghosts: set[str]) -> list[str]:
    lines = ["district,station,pseudonym,finding\n"]
    for district, rows in drawn.items():
        for station, p in rows:
            lines.append(f"{district},{station},{p},{'missing' if p in ghosts else 'signed'}\n")
    return lines


def test_findings_are_read_for_every_drawn_check_in_and_give_the_audit() -> None:
    drawn = draw(CHECKINS, SEED, 30)
    ghosts = {drawn["tabriz"][0][1], drawn["tabriz"][5][1], drawn["karaj"][2][1]}
    findings = read_findings(findings_csv(drawn, ghosts), drawn)
    assert len(findings) == 60
    assert {k[2] for k, f in findings.items() if f == "missing"} == ghosts
    result = audit_result(CHECKINS, SEED, 30, findings)
    assert [(d.district, d.population, d.sample, d.found) for d in result.districts] == [
        ("karaj", 90, 30, 1), ("tabriz", 200, 30, 2)]  # fmt: skip
    assert result.bound == turnout_bound({"karaj": (90, 30, 1), "tabriz": (200, 30, 2)}).bound


def test_a_spreadsheets_byte_order_mark_crlf_spaces_and_blank_lines_are_accepted() -> None:
    drawn = draw(CHECKINS, SEED, 3)
    lines = ["\ufeffdistrict, station, pseudonym, finding\r\n", "\r\n"]
    lines += [line.replace(",", " , ").replace("\n", "\r\n") for line in
              findings_csv(drawn, set())[1:]]  # fmt: skip
    assert len(read_findings(lines, drawn)) == 6


def test_drawn_check_ins_without_a_finding_are_not_audited_yet() -> None:
    drawn = draw(CHECKINS, SEED, 10)
    lines = findings_csv(drawn, set())
    with pytest.raises(NotAudited, match=r"^3 drawn check-in\(s\) have no finding") as caught:
        read_findings(lines[:-3], drawn)
    assert len(caught.value.missing) == 3
    findings = read_findings(lines, drawn)
    partial = dict(list(findings.items())[:-1])
    with pytest.raises(NotAudited, match=r"^1 drawn"):
        audit_result(CHECKINS, SEED, 10, partial)


@pytest.mark.parametrize(
    ("change", "message"),
    [(lambda rows: ["district,station,voter,finding\n", *rows[1:]], "line 1: the header"),
     (lambda rows: [*rows[:3], rows[3].replace("signed", "present"), *rows[4:]],
      "line 4: the finding is signed or missing"),
     (lambda rows: [*rows[:2], rows[2].rstrip("\n") + ",extra\n", *rows[3:]], "line 3: 5 fields"),
     (lambda rows: [*rows, rows[5]], "line 22: .* already entered on line 6"),
     (lambda rows: [*rows[:-1], f"karaj,karaj-001,{'0' * 64},signed\n"],
      "line 21: .* was not drawn"),
     (lambda rows: [*rows[:-1], rows[-1].replace("tabriz,", "tab riz,", 1)],
      "line 21: 'tab riz' is not a district"),
     (lambda rows: [], "line 1: the header")],
)  # fmt: skip
def test_a_bad_row_is_refused_naming_its_line(
    change: Callable[[list[str]], list[str]], message: str
) -> None:
    drawn = draw(CHECKINS, SEED, 10)
    rows = findings_csv(drawn, set())
    with pytest.raises(FindingsError, match=message):
        read_findings(change(rows), drawn)


def test_the_audit_refuses_findings_for_check_ins_it_did_not_draw() -> None:
    drawn = draw(CHECKINS, SEED, 10)
    findings = read_findings(findings_csv(drawn, set()), drawn)
    # The same findings against a smaller sample: ten of them were never drawn.
    with pytest.raises(FindingsError, match=r"^10 finding"):
        audit_result(CHECKINS, SEED, 5, findings)
