"""The access log on both stores: appended in order with its chain, UPDATE and DELETE refused
by the database, and an edit past a dropped guard found by verify."""

from __future__ import annotations

import pytest

from adapters.access import AccessLog
from adapters.viewdb import open_views
from domain.ledger import Ledger
from tests.integration.test_integrity import run_sql


def test_the_access_log_is_append_only_and_chained(ledger: Ledger, store_url: str) -> None:
    log = AccessLog(open_views(ledger, store_url))
    assert log.record("k1", "auditor", "GET /audit/{patient_id:str}", ["P1"]) == 1
    assert log.record("k2", "biller", "GET /worklist", ["P1", "P2", "P1"]) == 2  # each patient once
    assert [(r.position, r.key_id, r.patient_id) for r in log.of()] == [
        (1, "k1", "P1"),
        (2, "k2", "P1"),
        (3, "k2", "P2"),
    ]
    assert [r.role for r in log.of("P1")] == ["auditor", "biller"] and log.verify() is None
    for statement in ("UPDATE {schema}.carelane_access SET patient_id = 'P9'", "DELETE FROM {schema}.carelane_access"):
        with pytest.raises(Exception, match="append-only"):
            run_sql(store_url, statement)
    if not store_url.startswith("sqlite"):
        with pytest.raises(Exception, match="append-only"):
            run_sql(store_url, "TRUNCATE {schema}.carelane_access")
    drop = ("DROP TRIGGER carelane_access_no_update" if store_url.startswith("sqlite")
            else "DROP TRIGGER carelane_access_append_only ON {schema}.carelane_access")  # fmt: skip
    run_sql(store_url, drop)
    run_sql(store_url, "UPDATE {schema}.carelane_access SET role = 'admin' WHERE position = 2")
    assert log.verify() == 2
