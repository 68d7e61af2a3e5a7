"""Every rule of rules.md is cited where the code enforces it and shown by a test that names it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "docs" / "rules.md"  # a copy of ../shared/rules.md, checked below
SHARED = ROOT.parent / "shared" / "rules.md"
ID = re.compile(r"^\| ((?:G|L)-\d{2}|P-[A-Z]+-\d) \|", re.MULTILINE)


def rule_ids() -> list[str]:
    return ID.findall(RULES.read_text())


def test_the_copy_of_rules_md_matches_the_shared_one() -> None:
    """docs/rules.md is the shared rules.md, so ids cannot drift from the source."""
    if SHARED.exists():
        assert RULES.read_text() == SHARED.read_text()
    assert len(rule_ids()) >= 39


def test_every_rule_id_has_a_test_naming_it() -> None:
    """A test docstring names each rule id of rules.md."""
    text = ""
    for path in (ROOT / "tests").rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                text += (ast.get_docstring(node) or "") + "\n"
    missing = [rule for rule in rule_ids() if not re.search(rf"\b{re.escape(rule)}\b", text)]
    assert not missing, f"rules with no test naming them: {missing}"


def test_every_rule_id_is_cited_in_the_code_that_enforces_it() -> None:
    """The domain code cites each rule id where it enforces it."""
    text = "\n".join(p.read_text() for p in (ROOT / "domain").rglob("*.py"))
    missing = [rule for rule in rule_ids() if not re.search(rf"\b{re.escape(rule)}\b", text)]
    assert not missing, f"rules not cited in domain/: {missing}"
