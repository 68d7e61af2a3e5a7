"""The command line's tables where people read them: `carelane worklist`, `report`,
`refusals`, `practices list` and `keys list` run inside a tmux session 80 and then 120
columns wide, over the demo practice's ledger, and no line of what they print is wider than
the terminal. The pane is captured with its wrapped lines joined again (`capture-pane -J`),
so a line the terminal had to wrap counts at its full width. The tmux server is a private
one (its own socket) and is stopped after."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

TMUX = shutil.which("tmux")
if TMUX is None:
    pytest.skip("needs tmux to check the tables at 80 and 120 columns (apt-get install tmux)", allow_module_level=True)

HEIGHT = 50
WAIT = 120  # seconds for one command to print its table


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """`carelane demo` on a small practice: its store and the last month it filled."""
    folder = tmp_path_factory.mktemp("terminal")
    done = subprocess.run([sys.executable, "-m", "adapters.cli", "demo", "--patients", "12"], cwd=folder,
                          capture_output=True, text=True, timeout=300, check=True)  # fmt: skip
    months = re.findall(r"\b\d{4}-\d{2}\b", done.stdout.splitlines()[0])  # "... months 2026-10, 2026-11, ..."
    assert months, done.stdout[:500]
    return f"sqlite:///{folder / 'carelane-demo.db'}", months[-1]


@pytest.fixture
def tmux() -> Iterator[list[str]]:
    """tmux on a socket of this test's own, its server killed afterwards."""
    base = [str(TMUX), "-L", f"carelane-test-{uuid.uuid4().hex[:12]}", "-f", "/dev/null"]
    yield base
    subprocess.run([*base, "kill-server"], capture_output=True, timeout=20)


def in_tmux(tmux: list[str], width: int, command: list[str]) -> list[str]:
    """What `command` prints in a terminal `width` columns wide, one logical line an item."""
    signal = f"done-{uuid.uuid4().hex[:8]}"
    script = f"{shlex.join(command)}; {shlex.join([*tmux, 'wait-for', '-S', signal])}; sleep {WAIT}"
    subprocess.run([*tmux, "new-session", "-d", "-s", signal, "-x", str(width), "-y", str(HEIGHT), "sh", "-c", script],
                   check=True, timeout=20)  # fmt: skip
    subprocess.run([*tmux, "wait-for", signal], check=True, timeout=WAIT)
    shown = subprocess.run([*tmux, "capture-pane", "-p", "-J", "-S", "-", "-E", "-", "-t", signal], check=True,
                           capture_output=True, text=True, timeout=20).stdout  # fmt: skip
    subprocess.run([*tmux, "kill-session", "-t", signal], capture_output=True, timeout=20)
    return shown.rstrip("\n").splitlines()


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("table", ["worklist", "report", "refusals", "practices", "keys"])
def test_no_table_line_is_wider_than_the_terminal(demo: tuple[str, str], tmux: list[str], width: int,
                                                   table: str) -> None:  # fmt: skip
    url, month = demo
    args = {"worklist": ["worklist", "--month", month], "report": ["report", "--month", month],
            "refusals": ["refusals"], "practices": ["practices", "list"], "keys": ["keys", "list"]}[table]  # fmt: skip
    lines = in_tmux(tmux, width, [sys.executable, "-m", "adapters.cli", "--db", url, *args])
    expected = {"worklist": "Worklist:", "report": "1234567893", "refusals": "DUPLICATE_CLAIM",
                "practices": "No practices added", "keys": "admin"}[table]  # fmt: skip
    assert any(expected in line for line in lines), "\n".join(lines[:20])  # the table is there, not an error
    assert not [line for line in lines if "Traceback" in line or line.startswith("Error")]
    wide = [(len(line), line) for line in lines if len(line) > width]
    assert not wide, f"{table} at {width} columns: {len(wide)} lines wider, the widest {max(wide)[0]}: {max(wide)[1]}"
    assert Path(url.removeprefix("sqlite:///")).exists()
