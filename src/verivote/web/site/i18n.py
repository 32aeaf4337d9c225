"""The site's two languages: Persian (the default: right to left, Persian digits, the Solar
Hijri calendar) and English.

Every text a page shows comes from a message catalogue, one JSON file per language in
`messages/`, so that a translator edits data, not code. A message may hold `{name}`
placeholders; the values are formatted by the caller (numbers with `Language.number`) before
they are put in, so that a Persian sentence never shows an ASCII digit.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from functools import cache
from importlib import resources
from typing import Literal

Lang = Literal["fa", "en"]
LANGUAGES: tuple[Lang, ...] = ("fa", "en")
DEFAULT_LANGUAGE: Lang = "fa"

_PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"
_TO_PERSIAN = str.maketrans("0123456789", _PERSIAN_DIGITS)
# What a voter may type on a Persian or Arabic keyboard: both sets of digits become ASCII.
_TO_ASCII = str.maketrans(_PERSIAN_DIGITS + "٠١٢٣٤٥٦٧٨٩", "0123456789" * 2)
_PERSIAN_GROUP = "٬"  # U+066C ARABIC THOUSANDS SEPARATOR
_PERSIAN_DECIMAL = "٫"  # U+066B ARABIC DECIMAL SEPARATOR
_PERSIAN_PERCENT = "٪"  # U+066A ARABIC PERCENT SIGN
_SEPARATORS_FA = str.maketrans(",.", _PERSIAN_GROUP + _PERSIAN_DECIMAL)
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")

PERSIAN_MONTHS = (
    "فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور",
    "مهر", "آبان", "آذر", "دی", "بهمن", "اسفند",
)  # fmt: skip
GREGORIAN_MONTHS_FA = (
    "ژانویه", "فوریه", "مارس", "آوریل", "مه", "ژوئن",
    "ژوئیه", "اوت", "سپتامبر", "اکتبر", "نوامبر", "دسامبر",
)  # fmt: skip
ENGLISH_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip

# 1 Farvardin 1403 (Nowruz) fell on 20 March 2024: the anchor from which Solar Hijri years are
# counted here, forward and back, with the 33-year cycle of leap years. That arithmetic agrees
# with the astronomical calendar that Iran uses throughout 1300–1500 AP; outside those years
# the site shows the Gregorian date rather than risk a wrong one.
_ANCHOR_YEAR = 1403
_ANCHOR_DAY = datetime.date(2024, 3, 20)
_LEAP_REMAINDERS = frozenset({1, 5, 9, 13, 17, 22, 26, 30})
_JALALI_RANGE = range(1300, 1501)


def to_ascii_digits(text: str) -> str:
    """Persian and Arabic-Indic digits in `text` as ASCII digits."""
    return text.translate(_TO_ASCII)


def persian_digits(text: str) -> str:
    """ASCII digits in `text` as Persian digits."""
    return text.translate(_TO_PERSIAN)


def jalali_leap(year: int) -> bool:
    """Whether Solar Hijri `year` has 366 days (30 Esfand), by the 33-year cycle."""
    return year % 33 in _LEAP_REMAINDERS


def jalali_year_length(year: int) -> int:
    return 366 if jalali_leap(year) else 365


def to_jalali(day: datetime.date) -> tuple[int, int, int] | None:
    """The Solar Hijri (year, month 1–12, day) of a Gregorian date, or None outside the years
    this arithmetic is known to match (see `_ANCHOR_YEAR`)."""
    year, start = _ANCHOR_YEAR, _ANCHOR_DAY
    offset = (day - start).days
    while offset < 0:
        year -= 1
        offset += jalali_year_length(year)
        if year < _JALALI_RANGE.start:
            return None
    while offset >= jalali_year_length(year):
        offset -= jalali_year_length(year)
        year += 1
        if year >= _JALALI_RANGE.stop:
            return None
    # The first six months have 31 days, the next five 30, Esfand 29 (30 in a leap year).
    if offset < 6 * 31:
        return year, offset // 31 + 1, offset % 31 + 1
    offset -= 6 * 31
    return year, offset // 30 + 7, offset % 30 + 1


@cache
def catalogue(lang: Lang) -> dict[str, str]:
    """The messages of `lang` (read once from the package's `messages/<lang>.json`)."""
    text = (
        resources.files("verivote.web.site")
        .joinpath("messages", f"{lang}.json")
        .read_text(encoding="utf-8")
    )
    messages: dict[str, str] = json.loads(text)
    return messages


def placeholders(message: str) -> set[str]:
    """The `{name}` placeholders of a message."""
    return set(_PLACEHOLDER.findall(message))


@dataclass(frozen=True)
class Language:
    """One language as the templates use it: messages, direction, numbers and dates."""

    code: Lang
    messages: dict[str, str] = field(repr=False)

    @property
    def direction(self) -> Literal["rtl", "ltr"]:
        return "rtl" if self.code == "fa" else "ltr"

    @property
    def other(self) -> Lang:
        """The language the switch on every page offers."""
        return "en" if self.code == "fa" else "fa"

    def t(self, key: str, **values: object) -> str:
        """The message `key` with its placeholders filled (KeyError for an unknown key: a
        missing translation is a bug the tests catch, never a blank on a page)."""
        message = self.messages[key]
        if not values:
            return message
        return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), message)

    def digits(self, value: object) -> str:
        """`value` as text, its digits in this language's script."""
        text = str(value)
        return persian_digits(text) if self.code == "fa" else text

    def number(self, value: int | Decimal | Fraction | float, places: int = 0) -> str:
        """A number with grouped thousands and `places` decimals, in this language."""
        if isinstance(value, Fraction):
            amount = Decimal(value.numerator) / Decimal(value.denominator)
        else:
            amount = Decimal(str(value))
        quantum = Decimal(1).scaleb(-places)
        text = f"{amount.quantize(quantum, rounding=ROUND_HALF_EVEN):,.{places}f}"
        if self.code == "en":
            return text
        # "," and "." to the Persian separators in one pass, then the digits.
        swapped = text.translate(_SEPARATORS_FA)
        return persian_digits(swapped)

    def percent(self, share: Fraction | Decimal | float | None, places: int = 1) -> str:
        """A share (0–1) as a percentage: "20.0%" or "۲۰٫۰٪"; a dash when there is none."""
        if share is None:
            return "–"
        # A float through its shortest text, so that 0.2 is 1/5 and not its binary neighbour.
        value = (Fraction(str(share)) if isinstance(share, float) else Fraction(share)) * 100
        sign = _PERSIAN_PERCENT if self.code == "fa" else "%"
        return self.number(value, places) + sign

    def date(self, day: datetime.date) -> str:
        """A date as people of this language write it: the Solar Hijri calendar in Persian."""
        if self.code == "fa":
            jalali = to_jalali(day)
            if jalali is not None:
                year, month, dom = jalali
                return persian_digits(f"{dom} {PERSIAN_MONTHS[month - 1]} {year}")
            return persian_digits(f"{day.day} {GREGORIAN_MONTHS_FA[day.month - 1]} {day.year}")
        return f"{day.day} {ENGLISH_MONTHS[day.month - 1]} {day.year}"


def language(code: Lang) -> Language:
    return Language(code, catalogue(code))


def pick_language(query: str | None, cookie: str | None) -> tuple[Language, bool]:
    """The visitor's language: the `lang` query parameter, else the cookie, else Persian.
    The flag says whether the choice came from the query (and so should be remembered)."""
    for choice, from_query in ((query, True), (cookie, False)):
        if choice in LANGUAGES:
            return language(choice), from_query
    return language(DEFAULT_LANGUAGE), False
