"""A throwaway PostgreSQL 15 primary and its streaming hot standby, for replica tests.

Built with Debian's cluster tools (pg_createcluster, pg_ctlcluster, pg_basebackup -R, run as
the `postgres` user through runuser, so the tests run as root), on free loopback ports, with
trust authentication on 127.0.0.1 only; a module-scoped fixture around `standby_pair()` gives
a test module its pair (see tests/integration/test_replica.py). The clusters have names of
their own (`cl_primary_<random>`, `cl_standby_<random>`) and are dropped when the block ends,
whatever happened in it; the cluster on port 5432 and its configuration are never touched.
Without the tools, or without root, the test is skipped with the reason; under CI=true or
CARELANE_REQUIRE_PG=1 it fails instead (as tests/conftest.py does for a missing server).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

VERSION = "15"
BIN = Path(f"/usr/lib/postgresql/{VERSION}/bin")
TOOLS = ("pg_createcluster", "pg_ctlcluster", "pg_dropcluster", "runuser")
REQUIRED = os.environ.get("CI", "").lower() == "true" or os.environ.get("CARELANE_REQUIRE_PG") == "1"
SEARCH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin", "/sbin"])  # runuser is in sbin
STEP_TIMEOUT = 30.0  # seconds for any one tool run (cluster start included)
DATABASE = "carelane"
HBA = """\
# Written by tests/pg_standby.py: trust on the loopback only, for a throwaway cluster.
local all all trust
host all all 127.0.0.1/32 trust
local replication all trust
host replication all 127.0.0.1/32 trust
"""
# fsync off: the clusters are thrown away, and a crash of the test machine loses nothing.
# Commits stay synchronous: wait_for_catch_up reads pg_current_wal_lsn(), which an
# asynchronous commit may not have reached yet.
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "full_page_writes": "off",
    "shared_buffers": "16MB",
    "max_connections": "40",
    "wal_level": "replica",
    "max_wal_senders": "4",
    "hot_standby": "on",
    "ssl": "off",
}


def missing() -> str | None:
    """Why a pair cannot be built here, or None."""
    if os.geteuid() != 0:
        return "replica tests run as root (they create clusters as the postgres user through runuser)"
    absent = [tool for tool in TOOLS if shutil.which(tool, path=SEARCH) is None]
    absent += [str(BIN / tool) for tool in ("pg_basebackup", "postgres") if not (BIN / tool).exists()]
    if absent:
        return (f"tools missing for a replica pair: {', '.join(absent)} "
                f"(Debian's postgresql-{VERSION}, postgresql-common and util-linux)")  # fmt: skip
    return None


def _tool(name: str) -> str:
    return shutil.which(name, path=SEARCH) or name


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _run(*args: str, as_root: bool = False) -> str:
    """A tool run as the postgres user (pg_createcluster and pg_dropcluster as root, as
    Debian means them to be: they make and remove root-owned directories, and hand the
    cluster to postgres); its own output on failure."""
    command = [_tool(args[0]), *args[1:]]
    command = command if as_root else [_tool("runuser"), "-u", "postgres", "--", *command]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=STEP_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as e:
        raise RuntimeError(f"{' '.join(args)}: no answer in {STEP_TIMEOUT:.0f} s") from e
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {done.returncode}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def _create(name: str, port: int) -> Path:
    """A new cluster (not started) with trust on the loopback; returns its data directory."""
    _run("pg_createcluster", "--quiet", "--user", "postgres", "-p", str(port), VERSION, name,
         "--", "--no-sync", as_root=True)  # fmt: skip
    config = Path("/etc/postgresql") / VERSION / name
    (config / "pg_hba.conf").write_text(HBA)
    # Debian's postgresql.conf reads conf.d last, so these settings win.
    (config / "conf.d" / "carelane-test.conf").write_text("".join(f"{k} = {v}\n" for k, v in SETTINGS.items()))
    return Path("/var/lib/postgresql") / VERSION / name


def _start(name: str) -> None:
    _run("pg_ctlcluster", "--skip-systemctl-redirect", VERSION, name, "start")


def _drop(name: str) -> None:
    """Stop and remove a cluster of ours; quiet when it was never made. pg_dropcluster
    leaves the conf.d file it did not write: the directory goes with it."""
    config = Path("/etc/postgresql") / VERSION / name
    if config.exists():
        with contextlib.suppress(RuntimeError):
            _run("pg_dropcluster", "--stop", VERSION, name, as_root=True)
        shutil.rmtree(config, ignore_errors=True)


def url(port: int, database: str = DATABASE) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/{database}"


def _connect(target: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(target, autocommit=True, connect_timeout=5)


def _make_standby(name: str, port: int, primary_port: int) -> None:
    """A standby cluster: its configuration from pg_createcluster, its data from a base
    backup of the primary with -R (standby.signal and primary_conninfo)."""
    data = _create(name, port)
    for item in data.iterdir():  # emptied, not removed: its parent is root's
        shutil.rmtree(item) if item.is_dir() else item.unlink()
    _run(str(BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary_port), "-U", "postgres",
         "-D", str(data), "-R", "-X", "stream", "-c", "fast", "--no-sync")  # fmt: skip
    _start(name)


@contextlib.contextmanager
def standby_pair() -> Iterator[tuple[str, str]]:
    """(primary_url, standby_url) of a new primary and its streaming hot standby; both
    clusters are dropped on exit. The database `carelane` is made on the primary before the
    standby is copied from it."""
    problem = missing()
    if problem is not None:
        (pytest.fail if REQUIRED else pytest.skip)(problem)
    tag = uuid.uuid4().hex[:8]
    primary, standby = f"cl_primary_{tag}", f"cl_standby_{tag}"
    try:
        primary_port = free_port()
        _create(primary, primary_port)
        _start(primary)
        with _connect(url(primary_port, "postgres")) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        standby_port = free_port()
        _make_standby(standby, standby_port, primary_port)
        yield url(primary_port), url(standby_port)
    finally:
        _drop(standby)
        _drop(primary)


def wait_for_catch_up(primary_url: str, standby_url: str, timeout: float = 20.0) -> None:
    """Wait until the standby has replayed the primary's WAL up to where it stands now."""
    with _connect(primary_url) as conn:
        row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    assert row is not None
    target = str(row[0])
    deadline = time.monotonic() + timeout
    with _connect(standby_url) as conn:
        while True:
            found = conn.execute(
                "SELECT pg_last_wal_replay_lsn()::text, pg_wal_lsn_diff(pg_last_wal_replay_lsn(), %s::pg_lsn) >= 0",
                (target,),
            ).fetchone()
            assert found is not None
            if found[1]:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"standby replayed to {found[0]}, primary is at {target}, after {timeout} s")
            time.sleep(0.05)
