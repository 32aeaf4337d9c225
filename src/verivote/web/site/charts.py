"""Charts as inline SVG: the geometry is computed here, the markup is `templates/chart.svg`.

A horizontal bar chart fits both uses on the site (candidates' votes, turnout by district):
names of any length read well on the side, and a vertical marker line shows the law's
threshold. In a right-to-left page the chart is mirrored: names on the right, bars growing to
the left. Only the x coordinates are mirrored: text anchors are logical ("start" is where a
line of text begins: the left in English, the right in Persian), and the SVG's text takes the
page's direction (`BarChart.direction`), so that a Persian label with digits and a percent
sign reads in the right order.

Colours and fonts come from the site's stylesheet through classes: the pages' Content Security
Policy allows no inline styles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Anchor = Literal["start", "end"]

WIDTH = 720.0
LABEL_WIDTH = 230.0
VALUE_WIDTH = 120.0
ROW = 32.0
BAR = 20.0
TOP = 30.0
"""Room above the first bar for the marker's label."""
BOTTOM = 8.0
GAP = 8.0


@dataclass(frozen=True)
class Row:
    """One bar to draw: its label, its value (and the value as text), and its CSS class."""

    label: str
    value: float
    value_text: str
    kind: str


@dataclass(frozen=True)
class Bar:
    label: str
    value_text: str
    kind: str
    x: float
    y: float
    width: float
    height: float
    text_y: float
    label_x: float
    label_anchor: Anchor
    value_x: float
    value_anchor: Anchor


@dataclass(frozen=True)
class Marker:
    """A vertical line across the bars at a value, with its label above them."""

    label: str
    x: float
    y1: float
    y2: float
    label_y: float
    label_anchor: Anchor


@dataclass(frozen=True)
class BarChart:
    title: str
    direction: Literal["ltr", "rtl"]
    width: float
    height: float
    bars: tuple[Bar, ...]
    marker: Marker | None


def bar_chart(
    title: str,
    rows: Sequence[Row],
    rtl: bool,
    marker: tuple[float, str] | None = None,
) -> BarChart:
    """The layout of a horizontal bar chart of `rows`, top to bottom, with an optional marker
    line at a value (the threshold). Bars share one scale, from zero to the largest of the
    values and the marker, so that a bar that crosses the line has reached it."""
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    largest = max([r.value for r in rows] + [marker[0] if marker else 0.0, 0.0])
    scale = span / largest if largest > 0 else 0.0

    def place(x: float, width: float) -> float:
        """The left edge of a box [x, x + width] in the drawing, mirrored in RTL."""
        return WIDTH - x - width if rtl else x

    bars = []
    for i, row in enumerate(rows):
        y = TOP + i * ROW
        length = max(row.value, 0.0) * scale
        bar_x = place(LABEL_WIDTH, length)
        # The label sits against the bars' baseline edge, the value just past the bar's end.
        # The label ends against the bars' base, the value starts just past the bar's end.
        label_x = WIDTH - LABEL_WIDTH + GAP if rtl else LABEL_WIDTH - GAP
        value_x = bar_x - GAP if rtl else bar_x + length + GAP
        bars.append(Bar(
            label=row.label, value_text=row.value_text, kind=row.kind,
            x=round(bar_x, 2), y=y, width=round(length, 2), height=BAR,
            text_y=y + BAR * 0.75, label_x=label_x, label_anchor="end",
            value_x=round(value_x, 2), value_anchor="start",
        ))  # fmt: skip
    height = TOP + len(rows) * ROW + BOTTOM
    line = None
    if marker is not None and scale > 0:
        x = place(LABEL_WIDTH + marker[0] * scale, 0.0)
        line = Marker(
            label=marker[1], x=round(x, 2), y1=TOP - 6, y2=height - BOTTOM + 2, label_y=TOP - 12,
            # The label runs from the line over the bars, where there is room.
            label_anchor="start",
        )  # fmt: skip
    return BarChart(title, "rtl" if rtl else "ltr", WIDTH, height, tuple(bars), line)
