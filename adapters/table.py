"""Tables for the terminal, at most 80 columns wide (rich): numbers to the right, long
cells wrapped at spaces within their column rather than running off the screen."""

from __future__ import annotations

import io
from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.table import Table

WIDTH = 80
SHORT = 20  # a cell this long or shorter is a code, an id or an amount: never broken


def render(headers: Sequence[str], rows: Sequence[Sequence[object]], title: str = "") -> str:
    cells = [["" if c is None else str(c) for c in row] for row in rows]
    numeric = [bool(cells) and all(_is_number(r[i]) for r in cells if r[i]) for i in range(len(headers))]
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False, highlight=False)
    for i, (header, is_number) in enumerate(zip(headers, numeric, strict=True)):
        longest = max((len(r[i]) for r in cells), default=0)
        # Codes, ids and amounts stay whole; only long text wraps (at spaces) to fit.
        short = longest <= SHORT
        table.add_column(str(header), justify="right" if is_number else "left", overflow="fold", no_wrap=short,
                         min_width=min(longest, SHORT) if short else None)  # fmt: skip
    for row in cells:
        table.add_row(*row)
    out = io.StringIO()
    console = Console(file=out, width=WIDTH, color_system=None, highlight=False, emoji=False, markup=False)
    if title:
        console.print(title, soft_wrap=False, markup=False)
    console.print(table, markup=False)
    return "\n".join(line.rstrip() for line in out.getvalue().rstrip("\n").splitlines())


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", "").replace("$", ""))
    except ValueError:
        return False
    return True
