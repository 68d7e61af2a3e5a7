"""Module and function sizes (issue 20): no module over 300 lines, no function over 40,
outside declarative tables. Prints what is over and exits 1 when anything is.

    python scripts/sizes.py [--max-module 300] [--max-function 40]
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("domain", "projections", "adapters", "scripts")
# Declarative tables: data laid out one entry a line, where length is the data's.
TABLES: dict[str, str] = {
    # Its event classes are stored formats, one declaration each (26 of them); what the
    # aggregate does is under a third of the module.
    "domain/patient.py": "the Patient's event classes",
    "adapters/synthetic_faults.py:troublemakers": "a list literal of bad lines, one case a line",
}


def oversized(max_module: int, max_function: int) -> list[str]:
    problems = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            text = path.read_text()
            lines = len(text.splitlines())
            if lines > max_module and rel not in TABLES:
                problems.append(f"{rel}: {lines} lines (at most {max_module})")
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    length = (node.end_lineno or node.lineno) - node.lineno + 1
                    if length > max_function and f"{rel}:{node.name}" not in TABLES:
                        problems.append(f"{rel}:{node.lineno} {node.name}: {length} lines (at most {max_function})")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-module", type=int, default=300)
    parser.add_argument("--max-function", type=int, default=40)
    args = parser.parse_args()
    problems = oversized(args.max_module, args.max_function)
    print("\n".join(problems) if problems else "every module and function is within its size")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
