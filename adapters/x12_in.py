"""X12 files coming back, read with pyx12: validated against their implementation guide
(999 X231A1, 277CA X214, 835 X221A1), then walked segment by segment with the loop each
segment belongs to. What a file means for the ledger is adapters.receiving's business."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from adapters.x12 import validate, without_values

KINDS = {("999", "005010X231A1"): "999", ("277", "005010X214"): "277CA", ("835", "005010X221A1"): "835"}


class Unreadable(Exception):
    """Not an X12 file this ledger takes, or one that fails its implementation guide."""


class Seg(NamedTuple):
    loop: str  # pyx12's path of the segment, e.g. /ISA_LOOP/GS_LOOP/ST_LOOP/DETAIL/2000/2100/CLP
    id: str
    values: tuple[str, ...]  # elements 1..n; "" where empty
    line: int

    def get(self, n: int) -> str:
        return self.values[n - 1] if 0 < n <= len(self.values) else ""

    def part(self, n: int, k: int, sep: str = ":") -> str:
        parts = self.get(n).split(sep)
        return parts[k - 1] if 0 < k <= len(parts) else ""


@dataclass
class Interchange:
    kind: str  # 999, 277CA or 835
    control: str  # ISA13
    segments: list[Seg] = field(default_factory=list)


def read(text: str) -> Interchange:
    """The interchange's segments, once pyx12 finds no error in it."""
    if not text.lstrip().startswith("ISA"):
        raise Unreadable("not an X12 file (it does not start with an ISA segment)")
    problems = [without_values(p, text) for p in validate(text, incoming=True)]  # pyx12 quotes values: PHI
    if problems:
        shown = "; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
        raise Unreadable(f"the file fails X12 validation: {shown}")
    read = segments(text)
    st = next((s for s in read if s.id == "ST"), None)
    gs = next((s for s in read if s.id == "GS"), None)
    isa = read[0]
    kind = None if st is None or gs is None else KINDS.get((st.get(1), gs.get(8)))
    if kind is None:
        found = "no ST segment" if st is None else f"ST*{st.get(1)} ({gs.get(8) if gs else '?'})"
        raise Unreadable(f"not a 999, 277CA or 835 file: it holds {found}")
    return Interchange(kind, isa.get(13), read)


def segments(text: str) -> list[Seg]:
    import pyx12.error_handler
    import pyx12.params
    import pyx12.x12context

    logging.getLogger("pyx12").setLevel(logging.CRITICAL)
    out = []
    head = text.lstrip()
    component = head[104] if len(head) > 105 else ":"  # ISA16: the fixed-width ISA's last element
    reader = pyx12.x12context.X12ContextReader(
        pyx12.params.params(), pyx12.error_handler.errh_null(), io.StringIO(text)
    )
    with reader:
        for n, node in enumerate(reader.iter_segments(), start=1):
            seg = node.seg_data
            seg_id = seg.get_seg_id() or ""
            values = tuple(seg.get_value(f"{seg_id}{i:02d}") or "" for i in range(1, len(seg) + 1))
            if component != ":":  # composites read as ':'-joined, whatever the file's ISA16 is
                values = tuple(v.replace(component, ":") for v in values)
            out.append(Seg(node.cur_path, seg_id, values, n))
    return out


def amount(text: str) -> Decimal:
    try:
        return Decimal(text) if text else Decimal(0)
    except InvalidOperation:
        raise Unreadable(f"not an amount: {text[:20]}") from None


def day(text: str) -> date | None:
    try:
        return datetime.strptime(text, "%Y%m%d").date() if text else None
    except ValueError:
        return None
