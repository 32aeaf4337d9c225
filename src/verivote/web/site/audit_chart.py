"""The audit page's plot (issue 18, item 2): each assertion's measured risk after each round, on
a log scale from 1 down, with the risk limit as a horizontal line. Inline SVG whose geometry is
computed here and whose markup is `templates/risk_chart.svg`, as `charts` does for the bar
charts: colours come from the stylesheet through classes (the pages' CSP allows no inline
style), and in a right-to-left page the x coordinates are mirrored (round 1 on the right, the
risk axis on the right) while text anchors stay logical.

A risk of 0, or below 10^FLOOR, is drawn on the floor of the plot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from verivote.web.site.i18n import Language

Anchor = Literal["start", "middle", "end"]

WIDTH = 720.0
AXIS = 76.0
"""Room on the start side for the risk axis's labels."""
END = 124.0
"""Room on the end side for the risk limit's label, past the plot."""
PAD = 24.0
"""Room inside the plot before the first and after the last round."""
TOP = 34.0
"""Room above the plot for the axis's title."""
PLOT = 280.0
BOTTOM = 48.0
"""Room below the plot for the rounds' numbers and the axis's title."""
FLOOR = -12
MAX_TICKS = 7
SERIES_CLASSES = 8
"""Colours the stylesheet gives the series (`series-0` …), in turn."""
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


@dataclass(frozen=True)
class SeriesInput:
    """An assertion's risks after rounds 1, 2, … (None where a round did not measure it)."""

    id: str
    label: str
    risks: Sequence[float | None]


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    title: str


@dataclass(frozen=True)
class Series:
    id: str
    label: str
    kind: str
    """Its CSS class: `series-<n>`."""
    points: tuple[Point, ...]
    path: str
    """The polyline's points ("x,y x,y …")."""


@dataclass(frozen=True)
class Tick:
    text: str
    x: float
    y: float
    anchor: Anchor


@dataclass(frozen=True)
class Line:
    x1: float
    x2: float
    y: float
    label: str
    label_x: float
    label_y: float
    label_anchor: Anchor


@dataclass(frozen=True)
class RiskChart:
    title: str
    direction: Literal["ltr", "rtl"]
    width: float
    height: float
    plot_x: float
    plot_y: float
    plot_width: float
    plot_height: float
    grid: tuple[Line, ...]
    """A horizontal line at each of the risk axis's ticks, labelled."""
    rounds: tuple[Tick, ...]
    limit: Line
    series: tuple[Series, ...]
    risk_axis: Tick
    round_axis: Tick


def decade_text(lang: Language, k: int) -> str:
    """10^k (k ≤ 0) as the axis shows it: 1, 0.1, … 0.0001, then 10⁻⁵ …"""
    if k >= -4:
        return lang.number(10.0**k, -k)
    return lang.digits("10") + "⁻" + str(-k).translate(_SUPERSCRIPT)


def risk_text(lang: Language, risk: float) -> str:
    """A measured risk in a few significant digits (0.0437, 0.000012, 1)."""
    if risk <= 0:
        return lang.number(0)
    if risk >= 0.1:
        return lang.number(risk, 3)
    places = min(12, 2 - math.floor(math.log10(risk)))
    return lang.number(risk, places)


def risk_chart(
    lang: Language,
    title: str,
    series: Sequence[SeriesInput],
    rounds: int,
    risk_limit: float,
    labels: tuple[str, str, str],
) -> RiskChart:
    """The plot of `series` over rounds 1 … `rounds` (at least 1). `labels`: the risk axis's
    title, the round axis's title, the risk limit line's label."""
    rtl = lang.direction == "rtl"
    measured = [r for s in series for r in s.risks if r is not None and r > 0]
    smallest = min([risk_limit, *measured])
    low = max(FLOOR, min(-1, math.floor(math.log10(smallest))))
    step = max(1, math.ceil(-low / (MAX_TICKS - 1)))
    low = -step * math.ceil(-low / step)  # the floor on a tick
    left, right = AXIS, WIDTH - END
    first, last = left + PAD, right - PAD

    def mirror(x: float) -> float:
        return round(WIDTH - x if rtl else x, 2)

    def x_of(n: int) -> float:
        """Round n's x (1-based), before mirroring."""
        if rounds == 1:
            return (first + last) / 2
        return first + (n - 1) * (last - first) / (rounds - 1)

    def y_of(risk: float) -> float:
        exponent = math.log10(risk) if risk > 0 else low
        return round(TOP + min(1.0, max(0.0, exponent / low)) * PLOT, 2)

    label_x = mirror(left - 8)
    grid = tuple(
        Line(mirror(left), mirror(right), y_of(10.0**k), decade_text(lang, k), label_x,
             y_of(10.0**k) + 4, "end")
        for k in range(0, low - 1, -step)
    )  # fmt: skip
    ticks = tuple(
        Tick(lang.number(n), mirror(x_of(n)), TOP + PLOT + 20, "middle")
        for n in range(1, rounds + 1)
    )
    limit_y = y_of(risk_limit)
    limit = Line(mirror(left), mirror(right), limit_y, labels[2], mirror(right + 6),
                 limit_y + 4, "start")  # fmt: skip
    drawn = []
    for i, s in enumerate(series):
        points = tuple(
            Point(mirror(x_of(n)), y_of(r), f"{s.label}: {risk_text(lang, r)} "
                  f"({lang.t('audit_chart_round', round=lang.number(n))})")
            for n, r in enumerate(s.risks[:rounds], start=1) if r is not None
        )  # fmt: skip
        drawn.append(Series(s.id, s.label, f"series-{i % SERIES_CLASSES}", points,
                            " ".join(f"{p.x},{p.y}" for p in points)))  # fmt: skip
    height = TOP + PLOT + BOTTOM
    return RiskChart(
        title=title, direction="rtl" if rtl else "ltr", width=WIDTH, height=height,
        plot_x=min(mirror(left), mirror(right)), plot_y=TOP, plot_width=right - left,
        plot_height=PLOT, grid=grid, rounds=ticks, limit=limit, series=tuple(drawn),
        risk_axis=Tick(labels[0], mirror(left), TOP - 14, "start"),
        round_axis=Tick(labels[1], WIDTH / 2, height - 6, "middle"),
    )  # fmt: skip
