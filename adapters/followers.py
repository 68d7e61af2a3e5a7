"""Projection followers per practice, each a process of its own (`carelane project
--all-practices [--follow]`): practices are independent, so their views are brought up to
date side by side, and a practice's follower can move to another machine with its store."""

from __future__ import annotations

import signal
import subprocess
import sys
from typing import Any

import click

from adapters.tenants import Catalog


def run_all(catalog: Catalog | None, home: str | None, *, follow: bool, rebuild: bool) -> int:
    """Start `carelane --practice P project` for every practice and wait for them all; a
    stop signal is passed on to each. The exit code is the worst of theirs."""
    if catalog is None or not catalog.tenants():
        raise click.ClickException("no practices here: `carelane project` works on this one store")
    procs = {t.practice_id: _start(home, t.practice_id, follow, rebuild) for t in catalog.tenants()}
    click.echo(f"{len(procs)} practices: {', '.join(procs)}", err=True)

    def stop(*_: Any) -> None:
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    worst = 0
    for practice, proc in procs.items():
        code = proc.wait()
        if code != 0:
            click.echo(f"practice {practice}: exit {code}", err=True)
        worst = max(worst, code)
    return worst


def _start(home: str | None, practice: str, follow: bool, rebuild: bool) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "adapters.cli", *(["--db", home] if home else []), "--practice", practice]
    command += ["project", *(["--follow"] if follow else []), *(["--rebuild"] if rebuild else [])]
    return subprocess.Popen(command)
