"""The tamper suite: every kind of edit an outsider or an insider with write access could make
to the store, each tried on random targets (fixed seed, bounded count) on SQLite and
PostgreSQL, and each found by the check the README names for it (`verify`, or `verify
--digest` for a history rewritten with a recomputed chain)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from adapters import chain
from adapters.store import parse
from domain.ledger import Ledger
from tests.factories import one_of_each
from tests.integration.test_insider import column, events, recompute
from tests.integration.test_integrity import run_sql, run_sql_many

TRIALS = 3  # per kind and store: bounded, and enough to vary the target
Row = tuple[Any, ...]


class Store:
    def __init__(self, url: str, ledger: Ledger) -> None:
        self.url, self.ledger, self.pos = url, ledger, column(url)
        self.sqlite = parse(url).kind == "sqlite"

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        return run_sql(self.url, statement.replace("{pos}", self.pos), params)

    def snapshot(self) -> tuple[list[Row], list[Row], list[Row]]:
        return (
            events(self.url),
            self.sql("SELECT position, hash FROM {schema}.carelane_chain ORDER BY 1"),
            self.sql("SELECT version, since FROM {schema}.carelane_chain_meta"),
        )

    def restore(self, saved: tuple[list[Row], list[Row], list[Row]]) -> None:
        """The store as it was before a trial, in one transaction."""
        rows, links, meta = saved
        insert = ("INSERT INTO {schema}.stored_events ({pos}, originator_id, originator_version, topic, state) "
                  "VALUES (%s, %s, %s, %s, %s)").replace("{pos}", self.pos)  # fmt: skip
        run_sql_many(self.url, [
            ("DELETE FROM {schema}.stored_events", ()),
            *((insert, (r[0], r[1], r[2], r[3], bytes(r[4]))) for r in rows),
            ("DELETE FROM {schema}.carelane_chain", ()),
            *(("INSERT INTO {schema}.carelane_chain VALUES (%s, %s)", (p, bytes(d))) for p, d in links),
            ("DELETE FROM {schema}.carelane_chain_meta", ()),
            *(("INSERT INTO {schema}.carelane_chain_meta VALUES (%s, %s)", (v, since)) for v, since in meta),
        ])  # fmt: skip

    def insert(self, row: Row) -> None:
        self.sql("INSERT INTO {schema}.stored_events ({pos}, originator_id, originator_version, topic, state) "
                 "VALUES (%s, %s, %s, %s, %s)", (row[0], row[1], row[2], row[3], bytes(row[4])))  # fmt: skip

    def set(self, position: int, field: str, value: Any) -> None:
        self.sql(f"UPDATE {{schema}}.stored_events SET {field} = %s WHERE {{pos}} = %s", (value, position))


Mutation = Callable[[Store, random.Random, chain.Digest], None]


def flip_byte(s: Store, rng: random.Random, _: chain.Digest) -> None:
    position, *_, state = rng.choice(events(s.url))
    body = bytearray(state)
    body[rng.randrange(len(body))] ^= 1 << rng.randrange(8)
    s.set(position, "state", bytes(body))


def change_topic(s: Store, rng: random.Random, _: chain.Digest) -> None:
    position, _, _, topic, _ = rng.choice(events(s.url))
    s.set(position, "topic", topic.replace(".v1", ".v2"))


def change_version(s: Store, rng: random.Random, _: chain.Digest) -> None:
    position, _, version, *_ = rng.choice(events(s.url))
    s.set(position, "originator_version", version + 1000)


def delete_event(s: Store, rng: random.Random, _: chain.Digest) -> None:
    s.sql("DELETE FROM {schema}.stored_events WHERE {pos} = %s", (rng.choice(events(s.url))[0],))


def delete_stream(s: Store, rng: random.Random, _: chain.Digest) -> None:
    oid = rng.choice(events(s.url))[1]
    gone = [r[0] for r in events(s.url) if r[1] == oid]
    s.sql("DELETE FROM {schema}.stored_events WHERE originator_id = %s", (oid,))
    for position in gone:
        s.sql("DELETE FROM {schema}.carelane_chain WHERE position = %s", (position,))


def insert_event(s: Store, rng: random.Random, _: chain.Digest) -> None:
    row = rng.choice(events(s.url))
    s.insert((max(r[0] for r in events(s.url)) + 1, row[1], row[2] + 500, row[3], row[4]))


def delete_chain_row(s: Store, rng: random.Random, _: chain.Digest) -> None:
    s.sql("DELETE FROM {schema}.carelane_chain WHERE position = %s", (rng.choice(events(s.url))[0],))


def edit_chain_row(s: Store, rng: random.Random, _: chain.Digest) -> None:
    s.sql("UPDATE {schema}.carelane_chain SET hash = %s WHERE position = %s",
          (rng.randbytes(32), rng.choice(events(s.url))[0]))  # fmt: skip


def swap_states(s: Store, rng: random.Random, _: chain.Digest) -> None:
    rows = events(s.url)
    a, b = rng.sample([r for r in rows if r[4] != rows[0][4]], 2)
    s.set(a[0], "state", bytes(b[4]))
    s.set(b[0], "state", bytes(a[4]))


def move_bytes_between_fields(s: Store, rng: random.Random, _: chain.Digest) -> None:
    position, _, _, topic, state = rng.choice(events(s.url))
    cut = rng.randrange(1, 8)
    s.set(position, "topic", topic + bytes(state)[:cut].decode("latin-1"))
    s.set(position, "state", bytes(state)[cut:])


def respell_aggregate_id(s: Store, rng: random.Random, _: chain.Digest) -> None:
    position, oid, *_ = rng.choice(events(s.url))
    s.set(position, "originator_id", oid.upper() if s.sqlite else oid)
    if not s.sqlite:  # PostgreSQL's uuid type has one spelling: move the event to another stream instead
        s.set(position, "originator_id", "00000000-0000-0000-0000-000000000001")


def state_as_text(s: Store, rng: random.Random, _: chain.Digest) -> None:
    """The same bytes stored as text (SQLite keeps a column's values in any type); PostgreSQL's
    bytea holds bytes only, so there the state is re-encoded with a byte-order mark."""
    position, *_, state = rng.choice(events(s.url))
    s.set(position, "state", bytes(state).decode("latin-1") if s.sqlite else b"\xef\xbb\xbf" + bytes(state))


def rewrite_and_recompute(s: Store, rng: random.Random, kept: chain.Digest) -> None:
    position, *_, state = rng.choice([r for r in events(s.url) if r[0] <= kept.position])
    s.set(position, "state", bytes(state).replace(b"2026", b"2025", 1) + b" ")
    recompute(s.url)


def delete_at_digest_and_recompute(s: Store, rng: random.Random, kept: chain.Digest) -> None:
    s.sql("DELETE FROM {schema}.stored_events WHERE {pos} = %s", (kept.position,))
    recompute(s.url)


def move_past_old_tip_and_recompute(s: Store, rng: random.Random, kept: chain.Digest) -> None:
    rows = [r for r in events(s.url) if r[0] >= rng.randrange(2, kept.position)]
    s.sql("DELETE FROM {schema}.stored_events WHERE {pos} >= %s", (rows[0][0],))
    top = max(r[0] for r in [*events(s.url), (kept.position,)])
    for n, row in enumerate(rows, start=1):
        s.insert((top + n, *row[1:]))
    recompute(s.url)


def truncate_and_recompute(s: Store, rng: random.Random, kept: chain.Digest) -> None:
    s.sql("DELETE FROM {schema}.stored_events WHERE {pos} >= %s", (rng.randrange(2, kept.position + 1),))
    recompute(s.url)


def edit_after_the_digest(s: Store, rng: random.Random, kept: chain.Digest) -> None:
    position, *_, state = rng.choice([r for r in events(s.url) if r[0] > kept.position])
    s.set(position, "state", bytes(state) + b" ")


OUTSIDE: list[Mutation] = [flip_byte, change_topic, change_version, delete_event, delete_stream, insert_event,
                           delete_chain_row, edit_chain_row, swap_states, move_bytes_between_fields,
                           respell_aggregate_id, state_as_text]  # fmt: skip
INSIDER: list[Mutation] = [rewrite_and_recompute, delete_at_digest_and_recompute, move_past_old_tip_and_recompute,
                           truncate_and_recompute, edit_after_the_digest]  # fmt: skip


def test_every_mutation_kind_is_found(ledger: Ledger, store_url: str) -> None:
    """Each kind, TRIALS times on random targets: `verify` finds the outside edits, `verify
    --digest` the insider rewrites with a recomputed chain (and the edits after a digest)."""
    facts = one_of_each()
    for fact in facts[: len(facts) - 8]:
        ledger.record(fact)
    kept = chain.tip(ledger.recorder, b"k")
    for fact in facts[len(facts) - 8 :]:
        ledger.record(fact)
    store, rng = Store(store_url, ledger), random.Random(2026)
    saved = store.snapshot()
    found: dict[str, int] = {}
    for mutate in OUTSIDE + INSIDER:
        found[mutate.__name__] = 0
        for _ in range(TRIALS):
            mutate(store, rng, kept)
            broken = chain.verify(ledger.recorder, kept if mutate in INSIDER else None)
            found[mutate.__name__] += broken is not None
            store.restore(saved)
            assert chain.verify(ledger.recorder, kept) is None
    assert found == dict.fromkeys(found, TRIALS), found
