"""Issue 20: no module over 300 lines and no function over 40, outside the declarative tables
scripts/sizes.py names (each with its reason)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "sizes.py"


def test_no_module_or_function_is_over_its_size() -> None:
    spec = importlib.util.spec_from_file_location("sizes", SCRIPT)
    assert spec is not None and spec.loader is not None
    sizes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sizes)
    assert sizes.oversized(300, 40) == []
    assert sizes.oversized(50, 5), "the check finds what is over (a limit of 5 lines must trip it)"
