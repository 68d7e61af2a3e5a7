"""Charts drawn on the server as inline SVG, for every page that has one: the geometry here,
the drawing in templates/_chart.html (one macro). There is no chart library and no script,
and the pages' CSP allows no inline style, so colours are SVG attributes. Each chart is an
image with a title for screen readers; the pages put its numbers in a table beside it.

Two shapes: horizontal bars (one a label, longest first: refusals by reason) and columns per
month, stacked (the parts of a whole: revenue by program) or side by side (quantities to
compare: billable against claimed against paid).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

WIDTH = 640
INK = "#1b1f24"
LEFT, RIGHT, TOP, BASE = 64.0, 632.0, 22.0, 170.0  # the plot area of a column chart
LONGEST = 300  # a horizontal bar's most, leaving room for its count and note on the right
# Distinct hues, each at least 3:1 against white (WCAG 1.4.11, non-text contrast).
PROGRAM_FILLS = {"CCM": "#0b5cad", "PCM": "#17663a", "APCM": "#8a4b00", "RPM": "#6f2da8", "RTM": "#a11d1d",
                 "BHI": "#00727d", "COCM": "#5c5c00", "CPM": "#b0306b", "TCM": "#4a525c", "other": INK}  # fmt: skip

Number = int | Decimal


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    fill: str


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    anchor: str = "start"
    size: int = 12


@dataclass(frozen=True)
class Group:
    """One bar or column: its parts, its labels, a tooltip, and data attributes tests and
    scripts can read (`data-<name>`)."""

    css: str
    title: str
    data: tuple[tuple[str, str], ...]
    rects: tuple[Rect, ...]
    texts: tuple[Text, ...]


@dataclass(frozen=True)
class Series:
    name: str
    fill: str


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    height: int
    groups: list[Group]
    axis: list[Text] = field(default_factory=list)
    baseline: float | None = None  # y of the columns' foot, drawn as a line
    legend: list[tuple[Rect, Text]] = field(default_factory=list)
    width: int = WIDTH


@dataclass(frozen=True)
class Bar:
    """A horizontal bar's input."""

    label: str
    value: int
    fill: str
    css: str
    data: tuple[tuple[str, str], ...] = ()
    note: str = ""  # after the count, and in the tooltip


@dataclass(frozen=True)
class Column:
    """A column's input: one value per series, in the series' order."""

    key: str
    label: str
    values: tuple[Number, ...]
    css: str
    data: tuple[tuple[str, str], ...] = ()


def bars(chart_id: str, title: str, items: Sequence[Bar]) -> Chart:
    """One bar a row, 30 units apart, the labels right-aligned before them."""
    most = max((b.value for b in items), default=0) or 1
    groups = []
    for i, b in enumerate(items):
        y, width = 8 + 30 * i, round(LONGEST * b.value / most, 1)
        said = f"{b.value}" + (f" {b.note}" if b.note else "")
        texts = (Text(206, y + 16, b.label, "end", 13), Text(220 + width, y + 16, said, size=13))
        groups.append(Group(b.css, f"{b.label}: {said}", b.data, (Rect(214, y, max(width, 2), 22, b.fill),), texts))
    return Chart(chart_id, title, 16 + 30 * max(len(items), 1), groups)


def money(value: Number) -> str:
    return f"${value:,.0f}"


def columns(chart_id: str, title: str, items: Sequence[Column], series: Sequence[Series], *, stacked: bool,
            show: Callable[[Number], str] = money) -> Chart:  # fmt: skip
    """Columns over the plot area, scaled to the tallest; a legend under the month labels."""
    most = max((sum(c.values) if stacked else max(c.values, default=0) for c in items), default=0) or 1
    slot = (RIGHT - LEFT) / max(len(items), 1)
    width = round(slot * 0.68, 1)
    groups = [_column(c, LEFT + i * slot + (slot - width) / 2, width, series, most, stacked, show)
              for i, c in enumerate(items)]  # fmt: skip
    axis = [Text(LEFT - 6, TOP + 4, show(most), "end", 11), Text(LEFT - 6, BASE, show(0), "end", 11)]
    return Chart(chart_id, title, 222, groups, axis, BASE, legend(series, 212))


def _column(c: Column, x: float, width: float, series: Sequence[Series], most: Number, stacked: bool,
            show: Callable[[Number], str]) -> Group:  # fmt: skip
    rects, foot = [], BASE
    part = width / (1 if stacked else max(len(series), 1))
    for j, (s, value) in enumerate(zip(series, c.values, strict=True)):
        height = round((BASE - TOP) * float(value) / float(most), 1)
        if stacked:
            foot -= height
            rects.append(Rect(round(x, 1), round(foot, 1), width, height, s.fill))
        else:
            rects.append(Rect(round(x + j * part, 1), round(BASE - height, 1), round(part, 1), height, s.fill))
    texts = [Text(round(x + width / 2, 1), BASE + 18, c.label, "middle", 11)]
    total = sum(c.values)
    if stacked and total:
        texts.append(Text(round(x + width / 2, 1), round(foot - 4, 1), show(total), "middle", 11))
    said = "; ".join(f"{s.name} {show(v)}" for s, v in zip(series, c.values, strict=True))
    return Group(c.css, f"{c.label}: {said}", c.data, tuple(r for r in rects if r.height > 0), tuple(texts))


def legend(series: Sequence[Series], y: float) -> list[tuple[Rect, Text]]:
    """A swatch and a name per series, left to right."""
    out, x = [], LEFT
    for s in series:
        out.append((Rect(x, y - 10, 12, 12, s.fill), Text(x + 17, y, s.name, size=12)))
        x += 34 + 7 * len(s.name)
    return out
