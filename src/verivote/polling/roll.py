"""The voter roll: reading it from CSV, one row at a time, and deciding who may vote (issue 7).

A roll row is `national_code,birth_date,district[,minority]`:

- the national code (کد ملی) has 10 digits, the last a check digit: with weights 10, 9, …, 2 on
  the first nine digits, s = Σ wᵢdᵢ mod 11 and the check digit is s if s < 2, else 11 − s.
  Codes of one repeated digit (0000000000, 1111111111, …) pass that test but are not issued,
  and are refused;
- the birth date is an ISO date (YYYY-MM-DD, Gregorian);
- a voter is eligible who is 18 or older on polling day (born on or before the same day 18
  years earlier; someone born on 29 February comes of age on 1 March in a common year);
- the district must be one of the manifest's; the optional minority group one of the five
  minority seats.

`read_roll` streams: it never holds the file in memory, so a national roll of 61 million rows
can be imported, and it reports every rejected row with its line number and reason.
"""

from __future__ import annotations

import csv
import datetime
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from verivote.model.manifest import MINORITIES

COLUMNS = ("national_code", "birth_date", "district")


def check_digit(nine: str) -> str:
    """The check digit of the first nine digits of a national code."""
    s = sum(int(d) * w for d, w in zip(nine, range(10, 1, -1), strict=True)) % 11
    return str(s if s < 2 else 11 - s)


def national_code_valid(code: str) -> bool:
    """Whether `code` is a well-formed national code (see the module docstring)."""
    if len(code) != 10 or not code.isascii() or not code.isdigit() or len(set(code)) == 1:
        return False
    return code[9] == check_digit(code[:9])


def coming_of_age(polling_day: datetime.date) -> datetime.date:
    """The latest birth date of a voter who is 18 on `polling_day`."""
    try:
        return polling_day.replace(year=polling_day.year - 18)
    except ValueError:  # polling day on 29 February: 18 years earlier has none
        return polling_day.replace(year=polling_day.year - 18, day=28)


@dataclass(frozen=True, slots=True)
class Voter:
    national_code: str
    birth_date: datetime.date
    district: str
    minority: str | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    reason: str


@dataclass
class RollReport:
    """What an import accepted and refused, and why."""

    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    examples: list[Rejection] = field(default_factory=list)

    def note(self, item: Voter | Rejection, keep: int = 20) -> None:
        if isinstance(item, Voter):
            self.accepted += 1
            return
        self.rejected[item.reason.split(":")[0]] += 1
        if len(self.examples) < keep:
            self.examples.append(item)


def read_roll(
    lines: Iterable[str], polling_day: datetime.date, districts: Iterable[str]
) -> Iterator[Voter | Rejection]:
    """Every row of a roll CSV, as an eligible Voter or a Rejection naming its line.

    A national code that appears twice is refused the second time (the first stays).
    """
    known = set(districts)
    latest_birth = coming_of_age(polling_day)
    seen: set[str] = set()
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None or tuple(h.strip().lower() for h in header[:3]) != COLUMNS:
        yield Rejection(1, "bad header: expected national_code,birth_date,district[,minority]")
        return
    for row in reader:
        line = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) not in (3, 4):
            yield Rejection(line, f"wrong number of fields: {len(row)}, expected 3 or 4")
            continue
        code, born, district = (c.strip() for c in row[:3])
        minority = row[3].strip() if len(row) == 4 and row[3].strip() else None
        if not national_code_valid(code):
            yield Rejection(line, "invalid national code")
            continue
        try:
            birth = datetime.date.fromisoformat(born)
        except ValueError:
            yield Rejection(line, f"invalid birth date: {born!r} is not YYYY-MM-DD")
            continue
        if birth > latest_birth:
            yield Rejection(line, "not eligible: under 18 on polling day")
            continue
        if district not in known:
            yield Rejection(line, f"unknown district: {district!r}")
            continue
        if minority is not None and minority not in MINORITIES:
            yield Rejection(line, f"unknown minority group: {minority!r}")
            continue
        if code in seen:
            yield Rejection(line, "duplicate national code")
            continue
        seen.add(code)
        yield Voter(code, birth, district, minority)
