"""Paper ballots as PDF (issue 18, item 1, "Paper"): what the ballot-marking device prints.

The printed ballot is what a voter reads and checks before dropping it into the box, and what
a scanner later reads back as a cast vote record (CVR) for the risk-limiting audit. One page
shows, in the voter's language (Persian, `fa`, right to left; or English, `en`): the election,
the district, the polling station, "votes for N of S seats", one line per seat holding a chosen
candidate's code, name and faction in the order the voter marked them, every seat left empty
printed as "—" (so nothing can be added by hand), and the ballot's tracking code as text, in
groups of four digits, and as a QR code, with a line saying that the code finds the ballot on
the public bulletin board.

Library choices:

- `fpdf2`, a maintained pure-Python PDF writer, with `uharfbuzz` (HarfBuzz, the shaping engine
  of the browsers) for its text shaping: Persian letters take their joined forms and a Persian
  line runs right to left, Latin names and hex digits inside it keeping their own order
  (fpdf2 applies the Unicode bidirectional algorithm). The QR code is `segno`'s matrix (the
  library the website's receipt uses, `verivote.web.site.qr`) drawn as vector squares.
- The font is DejaVu Sans (and DejaVu Sans Mono for the tracking code), which has the Arabic
  script's glyphs and Persian's own letters and digits (پ چ ژ گ ک ی, ۰–۹), taken from the
  `matplotlib` wheel (mpl-data/fonts/ttf), a dependency of verivote: so printing works after a
  plain `pip install`, with no internet at run time and no system package. Debian's
  fonts-dejavu-core (/usr/share/fonts/truetype/dejavu) is the fallback.

The output is deterministic: the PDF's creation date is fixed and fpdf2 derives the file id
from the content, so the same ballot prints the same bytes (with the same font files).
"""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Literal

import segno
from fpdf import FPDF

from verivote.model.manifest import Candidate, District, Station

Language = Literal["fa", "en"]
LANGUAGES: tuple[Language, ...] = ("fa", "en")

CREATED = datetime(2024, 1, 1, tzinfo=UTC)
"""The creation date every printed PDF carries: a fixed date, so output is deterministic."""

FONT_FILES = {
    "sans": "DejaVuSans.ttf",
    "sans-bold": "DejaVuSans-Bold.ttf",
    "mono": "DejaVuSansMono.ttf",
    "mono-bold": "DejaVuSansMono-Bold.ttf",
}
DEBIAN_FONTS = Path("/usr/share/fonts/truetype/dejavu")

A5 = (148.0, 210.0)
A4 = (210.0, 297.0)
A5_MOST_SEATS = 12
"""Ballots of districts with more seats than this are printed on A4, others on A5 (mm)."""

LABELS: dict[Language, dict[str, str]] = {
    "en": {
        "ballot": "Ballot paper",
        "district": "Constituency",
        "station": "Polling station",
        "votes_for": "Votes for {n} of {seats} seats",
        "votes_for_one": "Votes for {n} of 1 seat",
        "row": "#",
        "code": "Code",
        "candidate": "Candidate (faction)",
        "tracking_code": "Tracking code",
        "check": "With this tracking code anyone can find this ballot on the public bulletin "
        "board and check that it was counted as cast. It does not show how you voted.",
        "qr": "The QR code holds the tracking code only.",
        "empty": "A seat not chosen is printed as —: nothing can be added to this ballot.",
        "serial": "Serial",
    },
    "fa": {
        "ballot": "برگ رأی",
        "district": "حوزه انتخابیه",
        "station": "شعبه اخذ رأی",
        "votes_for": "رأی به {n} نامزد از {seats} کرسی",
        "votes_for_one": "رأی به {n} نامزد از ۱ کرسی",
        "row": "ردیف",
        "code": "کد",
        "candidate": "نامزد (جناح)",
        "tracking_code": "کد رهگیری",
        "check": "با این کد رهگیری هر کس می‌تواند این رأی را در تابلوی اعلانات عمومی بیابد و "
        "بررسی کند که همان‌گونه که ثبت شد شمرده شده است. این کد نشان نمی‌دهد به چه کسی رأی "
        "داده‌اید.",
        "qr": "این کد QR فقط کد رهگیری را در بر دارد.",
        "empty": "هر کرسی که انتخاب نشده با — چاپ شده است: چیزی نمی‌توان به این برگ افزود.",
        "serial": "شماره برگ",
    },
}
"""The printed labels: the ballot's own small table (wording as on the website's messages)."""

EMPTY = "—"
_PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class PaperError(ValueError):
    """A ballot that cannot be printed: the message says what is wrong, in one line."""


@dataclass(frozen=True)
class PaperBallot:
    """One ballot to print: the candidate codes in the order marked, its tracking code."""

    choices: tuple[str, ...]
    tracking_code: str
    serial: str | None = None


def digits(text: str, language: Language) -> str:
    """`text` with its digits as the language writes them (Persian digits for `fa`)."""
    return text.translate(_PERSIAN_DIGITS) if language == "fa" else text


def normal_tracking_code(code: str) -> str:
    """The tracking code as 64 lower-case hex digits (spaces and dashes dropped), or
    PaperError."""
    normal = re.sub(r"[\s-]", "", code).lower()
    if not _HEX64.match(normal):
        raise PaperError(f"tracking code {code!r} is not 64 hex digits (0-9, a-f)")
    return normal


def direction_of(text: str) -> Literal["rtl", "ltr"]:
    """A piece of text runs right to left if it holds any right-to-left letter (Persian), else
    left to right, whatever the ballot's language: a name or label in the other script keeps
    its own reading order. (fpdf2 splits a Persian word at a zero-width non-joiner inside a
    left-to-right paragraph, so text with Persian in it is always laid out right to left.)"""
    rtl = any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in text)
    return "rtl" if rtl else "ltr"


def grouped(code: str) -> list[str]:
    """The 64 digits of a tracking code in groups of four, for reading."""
    return [code[i : i + 4] for i in range(0, len(code), 4)]


def chosen_candidates(district: District, choices: Sequence[str]) -> list[Candidate]:
    """The candidates of `district` with the codes `choices`, in that order; PaperError when
    a code is not of the district, repeats, or the codes are more than the seats."""
    by_code = {c.code: c for c in district.candidates}
    if len(choices) > district.seats:
        raise PaperError(
            f"{len(choices)} choices but district {district.id} has {district.seats} seat(s)"
        )
    seen: set[str] = set()
    out: list[Candidate] = []
    for code in choices:
        if code not in by_code:
            raise PaperError(f"{code!r} is not the code of a candidate of district {district.id}")
        if code in seen:
            raise PaperError(f"candidate {code} is chosen twice")
        seen.add(code)
        out.append(by_code[code])
    return out


def font_dir() -> Path:
    """The folder of the DejaVu fonts: matplotlib's wheel, else Debian's fonts-dejavu-core."""
    spec = importlib.util.find_spec("matplotlib")
    places = [
        Path(p) / "mpl-data" / "fonts" / "ttf"
        for p in (spec and spec.submodule_search_locations) or []
    ]
    for place in [*places, DEBIAN_FONTS]:
        if all((place / name).is_file() for name in FONT_FILES.values()):
            return place
    raise PaperError(
        "no DejaVu fonts to print with: install matplotlib (pip) or Debian's fonts-dejavu-core"
    )


@cache
def _font_paths() -> dict[str, Path]:
    where = font_dir()
    return {key: where / name for key, name in FONT_FILES.items()}


def paper_ballot_pdf(
    election_name: str,
    district: District,
    station: Station,
    choices: Sequence[str],
    tracking_code: str,
    language: Language = "fa",
    serial: str | None = None,
    *,
    factions: Mapping[str, str] | None = None,
) -> bytes:
    """One paper ballot as a one-page PDF. `choices` are candidate codes in the order the
    voter marked them; `factions` maps faction ids to the names printed (else the ids)."""
    ballot = PaperBallot(tuple(choices), tracking_code, serial)
    return paper_ballots_pdf(
        election_name, district, station, [ballot], language, factions=factions
    )


def paper_ballots_pdf(
    election_name: str,
    district: District,
    station: Station,
    ballots: Sequence[PaperBallot],
    language: Language = "fa",
    *,
    factions: Mapping[str, str] | None = None,
) -> bytes:
    """Many ballots of one station in one PDF, a page each, in the order given."""
    if language not in LANGUAGES:
        raise PaperError(f"language {language!r} is not one of {', '.join(LANGUAGES)}")
    if station.district != district.id:
        raise PaperError(f"station {station.id} is not in district {district.id}")
    if not ballots:
        raise PaperError("no ballots to print")
    pages = [
        (chosen_candidates(district, b.choices), normal_tracking_code(b.tracking_code), b.serial)
        for b in ballots
    ]
    printer = _Printer(language, A5 if district.seats <= A5_MOST_SEATS else A4)
    for candidates, code, serial in pages:
        printer.ballot(election_name, district, station, candidates, code, serial, factions or {})
    return printer.output()


class _Printer:
    """Draws ballots on pages of one size. Horizontal positions are measured from the start
    of a line (the left in English, the right in Persian) and mirrored for right to left."""

    MARGIN = 10.0

    def __init__(self, language: Language, size: tuple[float, float]) -> None:
        self.language = language
        self.rtl = language == "fa"
        self.labels = LABELS[language]
        self.width, self.height = size
        self.inner = self.width - 2 * self.MARGIN
        pdf = FPDF(orientation="P", unit="mm", format=size)
        pdf.set_creation_date(CREATED)
        pdf.set_title("Paper ballot")
        pdf.set_creator("verivote")
        pdf.set_auto_page_break(False)
        pdf.set_margins(self.MARGIN, self.MARGIN, self.MARGIN)
        pdf.c_margin = 1.0
        for key, path in _font_paths().items():
            family, _, bold = key.partition("-")
            pdf.add_font(family, "B" if bold else "", str(path))
        self.pdf = pdf

    def _shape(self, text: str) -> None:
        """Shape `text` next in its own direction (`direction_of`)."""
        self.pdf.set_text_shaping(True, direction=direction_of(text))

    def output(self) -> bytes:
        return bytes(self.pdf.output())

    def _x(self, start: float, w: float) -> float:
        """The page's x of a box `w` wide that begins `start` from the line's start."""
        return self.MARGIN + (self.inner - start - w if self.rtl else start)

    def _align(self, align: str) -> str:
        if align == "C":
            return "C"
        return (
            ("R" if align == "start" else "L") if self.rtl else ("L" if align == "start" else "R")
        )

    def _font(self, family: str, size: float, bold: bool = False) -> None:
        self.pdf.set_font(family, "B" if bold else "", size)

    def _fit(self, text: str, w: float, family: str, size: float, bold: bool = False) -> str:
        """Sets the largest font size down to 70% of `size` at which `text` fits `w`, and
        returns the text, shortened with "…" if it still does not fit."""
        room = w - 2 * self.pdf.c_margin
        smallest = size * 0.7
        while True:
            self._font(family, size, bold)
            if self.pdf.get_string_width(text) <= room or size <= smallest:
                break
            size -= 0.5
        if self.pdf.get_string_width(text) <= room:
            return text
        while text and self.pdf.get_string_width(text + "…") > room:
            text = text[:-1]
        return text.rstrip() + "…"

    def _cell(
        self,
        start: float,
        y: float,
        w: float,
        h: float,
        text: str,
        *,
        size: float,
        family: str = "sans",
        bold: bool = False,
        align: str = "start",
    ) -> None:
        self._shape(text)
        text = self._fit(text, w, family, size, bold)
        self.pdf.set_xy(self._x(start, w), y)
        self.pdf.cell(w, h, text, align=self._align(align))

    def _paragraph(
        self, y: float, start: float, w: float, h: float, text: str, size: float
    ) -> float:
        """Wrapped text; returns the y below it."""
        self._shape(text)
        self._font("sans", size)
        self.pdf.set_xy(self._x(start, w), y)
        self.pdf.multi_cell(w, h, text, align=self._align("start"), new_x="LEFT", new_y="NEXT")
        return self.pdf.get_y()

    def _rule(self, y: float, weight: float = 0.3) -> None:
        self.pdf.set_line_width(weight)
        self.pdf.line(self.MARGIN, y, self.width - self.MARGIN, y)

    def ballot(
        self,
        election_name: str,
        district: District,
        station: Station,
        candidates: list[Candidate],
        code: str,
        serial: str | None,
        factions: Mapping[str, str],
    ) -> None:
        t = self.labels
        pdf = self.pdf
        pdf.add_page()
        big = self.width > A5[0]
        y = self.MARGIN
        # the election, centred, on as many lines as it needs
        self._shape(election_name)
        self._font("sans", 14 if big else 12.5, bold=True)
        pdf.set_xy(self.MARGIN, y)
        pdf.multi_cell(self.inner, 6.5, election_name, align="C", new_x="LMARGIN", new_y="NEXT")
        y = pdf.get_y()
        self._cell(0, y, self.inner, 5.5, t["ballot"], size=10, align="C")
        y += 7
        self._rule(y)
        y += 2
        label_w = 34.0 if big else 30.0
        station_text = f"{station.name} ({station.id})"
        for label, value in ((t["district"], district.name), (t["station"], station_text)):
            self._cell(0, y, label_w, 6.5, label, size=10, bold=True)
            self._cell(label_w, y, self.inner - label_w, 6.5, value, size=11)
            y += 6.5
        y += 1.5
        seats = district.seats
        votes = t["votes_for_one" if seats == 1 else "votes_for"].format(
            n=len(candidates), seats=seats
        )
        self._cell(0, y, self.inner, 7, digits(votes, self.language), size=12, bold=True)
        y += 8.5

        # the tracking code block at the foot, then the table in the room left between
        qr_side = 40.0 if big else 34.0
        foot = self.height - self.MARGIN - 5.0  # the serial's line
        qr_top = foot - 2.0 - qr_side
        self._table(y, qr_top - 4.0, district, candidates, factions)
        self._rule(qr_top - 2.0)
        self._tracking(qr_top, qr_side, code)
        if serial is not None:
            self._cell(0, foot, self.inner, 5, f"{t['serial']}: {serial}", size=8, align="end")

    def _table(
        self,
        top: float,
        bottom: float,
        district: District,
        candidates: list[Candidate],
        factions: Mapping[str, str],
    ) -> None:
        t = self.labels
        header_h = 6.0
        note_h = 4.5
        room = bottom - top - header_h - note_h
        seats = district.seats
        columns = 1
        while (seats + columns - 1) // columns * 5.0 > room:
            columns += 1
        rows = (seats + columns - 1) // columns
        row_h = min(8.0, room / rows)
        size = min(11.5, row_h * 1.7)
        gap = 4.0
        col_w = (self.inner - gap * (columns - 1)) / columns
        num_w = 11.0 if self.rtl else 8.0
        code_w = 4.0 + 2.2 * max(district.longest_code, 4) * size / 10
        name_w = col_w - num_w - code_w
        self.pdf.set_line_width(0.15)
        for column in range(columns):
            start = column * (col_w + gap)
            self._cell(start, top, num_w, header_h, t["row"], size=8, bold=True)
            self._cell(start + num_w, top, code_w, header_h, t["code"], size=8, bold=True)
            self._cell(
                start + num_w + code_w, top, name_w, header_h, t["candidate"], size=8, bold=True
            )
            self.pdf.set_line_width(0.3)
            y = top + header_h
            self.pdf.line(self._x(start, col_w), y, self._x(start, col_w) + col_w, y)
        self.pdf.set_line_width(0.15)
        for seat in range(seats):
            column, row = divmod(seat, rows)
            start = column * (col_w + gap)
            y = top + header_h + row * row_h
            number = digits(str(seat + 1), self.language)
            self._cell(start, y, num_w, row_h, number, size=size * 0.9)
            if seat < len(candidates):
                c = candidates[seat]
                faction = factions.get(c.faction, c.faction) if c.faction else None
                name = f"{c.name} ({faction})" if faction else c.name
                self._cell(
                    start + num_w,
                    y,
                    code_w,
                    row_h,
                    digits(c.code, self.language),
                    size=size,
                    bold=True,
                )
                self._cell(start + num_w + code_w, y, name_w, row_h, name, size=size)
            else:
                self._cell(start + num_w, y, code_w, row_h, EMPTY, size=size)
                self._cell(start + num_w + code_w, y, name_w, row_h, EMPTY, size=size)
            x = self._x(start, col_w)
            self.pdf.line(x, y + row_h, x + col_w, y + row_h)
        self._cell(
            0, top + header_h + rows * row_h + 0.5, self.inner, note_h - 0.5, t["empty"], size=7
        )

    def _tracking(self, top: float, side: float, code: str) -> None:
        t = self.labels
        self._qr(self._x(self.inner - side, side), top, side, code)
        w = self.inner - side - 4.0
        self._cell(0, top, w, 6, t["tracking_code"], size=10, bold=True)
        # 16 groups of four on two lines, left to right whatever the language; the first four
        # groups (what the website's tracker accepts alone) in bold
        self._shape(code)
        groups = grouped(code)
        size = 10.0 if self.width > A5[0] else 9.5
        self._font("mono", size)
        group_w = self.pdf.get_string_width("0000 ")
        line_w = group_w * 8
        y = top + 6.5
        for line in range(2):
            x0 = self._x(0, w) + ((w - line_w) if self.rtl else 0)
            for i in range(8):
                index = line * 8 + i
                self._font("mono", size, bold=index < 4)
                self.pdf.set_xy(x0 + i * group_w, y)
                self.pdf.cell(group_w, 5, groups[index] + " ", align="L")
            y += 5.2
        y += 1.5
        y = self._paragraph(y, 0, w, 3.6, t["check"], 7.5)
        self._paragraph(y + 0.8, 0, w, 3.6, t["qr"], 7.5)

    def _qr(self, x: float, y: float, side: float, code: str) -> None:
        """The tracking code as a QR code (error correction M, as on the website's receipt)
        whose symbol with its quiet zone of four modules fills the square `side` wide."""
        qr = segno.make(code, error="m", micro=False)
        modules = qr.symbol_size(scale=1, border=4)[0]
        unit = side / modules
        self.pdf.set_fill_color(0, 0, 0)
        for r, row in enumerate(qr.matrix):
            c = 0
            while c < len(row):
                if not row[c]:
                    c += 1
                    continue
                run = c
                while run < len(row) and row[run]:
                    run += 1
                self.pdf.rect(x + (4 + c) * unit, y + (4 + r) * unit, (run - c) * unit, unit, "F")
                c = run
