"""The workbench's chart geometry (adapters.web.charts): bars and columns in proportion to
their values, stacked parts that add up to the column, side-by-side parts that do not overlap,
and nothing drawn for a zero."""

from __future__ import annotations

from decimal import Decimal

from adapters.web import charts
from adapters.web.render import ENV

SERIES = [charts.Series("a", "#0b5cad"), charts.Series("b", "#a11d1d")]


def test_bars_are_in_proportion_and_the_longest_spans_the_most() -> None:
    """A bar twice the count is twice as long; every bar keeps its data and tooltip."""
    chart = charts.bars("c", "t", [charts.Bar("X", 4, "#000", "x", (("reason", "X"),), "note"),
                                   charts.Bar("Y", 2, "#000", "y")])  # fmt: skip
    long, short = (g.rects[0] for g in chart.groups)
    assert long.width == charts.LONGEST and short.width == charts.LONGEST / 2
    assert chart.groups[0].title == "X: 4 note" and chart.groups[0].data == (("reason", "X"),)
    assert short.y - long.y == 30 and chart.height == 16 + 60


def test_stacked_columns_add_up_and_the_tallest_fills_the_plot() -> None:
    """Parts stack from the foot without gaps; a zero part draws nothing; money in dollars."""
    items = [charts.Column("m1", "M1", (Decimal("30"), Decimal("10")), "col"),
             charts.Column("m2", "M2", (Decimal("0"), Decimal("20")), "col")]  # fmt: skip
    chart = charts.columns("c", "t", items, SERIES, stacked=True)
    first, second = chart.groups
    foot, top = first.rects
    assert foot.y + foot.height == charts.BASE and top.y + top.height == foot.y
    assert foot.height + top.height == charts.BASE - charts.TOP  # the tallest column fills the plot
    assert len(second.rects) == 1 and second.rects[0].height == (charts.BASE - charts.TOP) / 2
    assert [t.text for t in first.texts] == ["M1", "$40"] and first.title == "M1: a $30; b $10"
    assert [name.text for _, name in chart.legend] == ["a", "b"]


def test_side_by_side_columns_do_not_overlap() -> None:
    chart = charts.columns("c", "t", [charts.Column("m", "M", (5, 10), "col")], SERIES, stacked=False, show=str)
    left, right = chart.groups[0].rects
    assert left.x + left.width <= right.x and right.height == charts.BASE - charts.TOP
    assert left.height == right.height / 2 and chart.axis[0].text == "10"


def test_the_macro_draws_a_titled_image_with_the_data_attributes() -> None:
    """One <svg role="img"> named by its title; each group's class, then its data attributes."""
    bar = charts.Bar("X", 1, "#a11d1d", "reason-bar double", (("reason", "X"), ("count", "1")))
    chart = charts.bars("reason-chart", "Refusals <by> reason", [bar])
    svg = ENV.from_string('{% import "_chart.html" as chart %}{{ chart.svg(c) }}').render(c=chart)
    assert '<svg id="reason-chart"' in svg and 'role="img" aria-labelledby="reason-chart-title"' in svg
    assert '<title id="reason-chart-title">Refusals &lt;by&gt; reason</title>' in svg
    assert '<g class="reason-bar double" data-reason="X" data-count="1">' in svg and 'fill="#a11d1d"' in svg
