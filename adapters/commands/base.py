"""What every command shares: the `carelane` group, its settings and option parsers."""

from __future__ import annotations

import os
import pwd
import re
import sqlite3
from collections.abc import Callable, Iterable
from datetime import date, datetime

import click
import psycopg
from eventsourcing.persistence import PersistenceError

from adapters import fees as fee_file, logs, tenancy
from adapters.access import AccessLog
from adapters.store import StoreError, open_ledger, parse, redact, store_url
from adapters.tenancy import Resolved
from adapters.tenants import Catalog, TenantError
from adapters.viewdb import open_views
from domain import facts
from domain.catalog import DEFAULT_FEES, FeeSchedule
from domain.ledger import Ledger
from projections.runner import ViewDB


class Settings:
    """The store a command works on: `--db` (the home store), and with several practices
    the one `--practice` names (adapters.tenants)."""

    def __init__(self, home: str | None, practice: str | None = None, command: str | None = None) -> None:
        self.home, self.practice, self.command = home, practice, command
        self._resolved: Resolved | None = None

    @property
    def resolved(self) -> Resolved:
        if self._resolved is None:
            try:
                self._resolved = tenancy.resolve(self.home, self.practice)
            except (TenantError, StoreError) as e:
                raise click.ClickException(str(e)) from None
        return self._resolved

    @property
    def db(self) -> str | None:
        """The practice's store URL; with no catalog, `--db` as given (None: the default)."""
        resolved = self.resolved
        return self.home if resolved.practice_id is None else resolved.url

    def catalog(self, *, create: bool = False) -> Catalog | None:
        """The home store's tenant catalog; None when there is none and `create` is false."""
        try:
            catalog = Catalog.open(self.home, create=create)
        except StoreError as e:
            raise click.ClickException(str(e)) from None
        if catalog is not None:
            _closed_with_command(catalog.close)
        return catalog

    def ledger(self) -> Ledger:
        if self.command in READS:
            missing(self.db)
        try:
            ledger = open_ledger(self.db)
            _closed_with_command(ledger.close)
            tenancy.attach(ledger, self.resolved)
        except StoreError as e:
            raise click.ClickException(str(e)) from None
        except PersistenceError as e:  # the store answered, but not as asked (locked, gone)
            raise click.ClickException(f"{redact(store_url(self.db))}: the store could not be opened ({e})") from None
        return ledger

    def views(self, ledger: Ledger) -> ViewDB:
        """The practice's views, closed when the command ends."""
        db = open_views(ledger, self.db)
        _closed_with_command(db.close)
        return db

    def read(self, ledger: Ledger, patients: Iterable[str]) -> None:
        """Log that this command showed these patients' records, as a read over HTTP is
        logged (HIPAA audit controls): under the operating-system user, role `cli`."""
        if getattr(ledger.recorder, "read_only", False):  # a replica: the primary's log is not writable here
            click.echo("note: this read is not in the access log (a read-only replica)", err=True)
            return
        try:
            AccessLog(self.views(ledger)).record(f"cli:{_user()}", "cli", f"carelane {self.command}", patients)
        except (sqlite3.Error, psycopg.Error) as e:  # nothing shown that the log does not hold
            raise click.ClickException(f"the access log could not be written ({e}); nothing was shown") from None


def _user() -> str:
    """The process's own user, from the system, not from $USER or $LOGNAME (which anyone can
    set to blame another user for a read)."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:  # no passwd entry (a container's bare uid)
        return f"uid {os.geteuid()}"


def _closed_with_command(close: Callable[[], None]) -> None:
    """Connections closed when the command returns, not when the collector finds them: a
    command run in-process (tests, a supervisor) must not hold PostgreSQL connections."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.find_root().call_on_close(close)


# Commands that only read: on a store that does not exist they say so, never create it.
READS = frozenset({"worklist", "report", "refusals", "events", "audit", "verify", "digest", "access", "backup",
                   "denials", "eligible", "forecast", "pace", "self-audit"})  # fmt: skip


def missing(url: str | None) -> None:
    """One line, and no store made, when a read names a store that is not there."""
    store = parse(store_url(url))
    if store.kind == "sqlite" and store.sqlite_path and not os.path.exists(store.sqlite_path):
        raise click.ClickException(f"{store.sqlite_path}: no such store (record facts first, or give --db)")


GLOBAL_OPTIONS = ("--db", "--practice", "--log-level")


def hoisted(args: list[str]) -> list[str]:
    """The arguments with `--db`, `--practice` and `--log-level` moved before the command
    when they were given after it (`carelane worklist --month M --db URL`)."""
    front: list[str] = []
    after: list[str] = []
    command_seen, i = False, 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            after += args[i:]
            break
        takes_value = arg in GLOBAL_OPTIONS
        if takes_value or arg.split("=", 1)[0] in GLOBAL_OPTIONS:
            front += args[i : i + (2 if takes_value else 1)]
            i += 2 if takes_value else 1
            continue
        if not arg.startswith("-") and not command_seen:
            command_seen = True
        (after if command_seen else front).append(arg)
        i += 1
    return front + after


class CarelaneGroup(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoisted(args))


@click.group(cls=CarelaneGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", metavar="URL", help="Store URL (default $CARELANE_DB or sqlite:///carelane.db).")
@click.option(
    "--practice", envvar="CARELANE_PRACTICE", metavar="ID", help="The practice, where the ledger serves several."
)
@click.option(
    "--log-level",
    envvar="CARELANE_LOG_LEVEL",
    default="WARNING",
    show_default=True,
    help="JSON logs on stderr at this level.",
)
@click.pass_context
def main(ctx: click.Context, db: str | None, practice: str | None, log_level: str) -> None:
    """Carelane: the compliance ledger for Medicare care-management billing."""
    if (
        ctx.invoked_subcommand == "serve"
        and ctx.get_parameter_source("log_level") is click.core.ParameterSource.DEFAULT
    ):
        log_level = "INFO"  # a server logs each request line by default (access log)
    logs.configure(log_level)
    os.environ["CARELANE_LOG_LEVEL"] = log_level  # worker processes log at the same level
    ctx.obj = Settings(db, practice, ctx.invoked_subcommand)


def month_param(_: click.Context, __: click.Parameter, value: str) -> str:
    if not re.fullmatch(facts.MONTH_PATTERN, value):
        raise click.BadParameter(f"expected YYYY-MM, got {value!r}")
    return value


def fee_schedule(path: str | None) -> FeeSchedule:
    if path is None:
        return DEFAULT_FEES
    try:
        return fee_file.load(path)
    except fee_file.FeeFileError as e:
        raise click.ClickException(str(e)) from None


def parse_instant(text: str | None, option: str) -> datetime | None:
    """An ISO 8601 instant with its offset; a bad one is named by `option`."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"expected an ISO 8601 instant, got {text!r}", param_hint=option) from None
    if value.tzinfo is None:
        raise click.BadParameter("the instant needs an offset, e.g. 2026-04-01T09:00:00-04:00", param_hint=option)
    return value


def parse_day(text: str | None, *, start: bool) -> str | None:
    """A date, or a month meaning its first (start) or last day; a bad one is named by its
    option (--from when `start`, --to otherwise)."""
    if text is None:
        return None
    if re.fullmatch(r"\d{4}-\d{2}", text):
        from domain.month import month_bounds

        first, last = month_bounds(text)
        return (first if start else last).isoformat()
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise click.BadParameter(
            f"expected YYYY-MM-DD or YYYY-MM, got {text!r}", param_hint="--from" if start else "--to"
        ) from None
