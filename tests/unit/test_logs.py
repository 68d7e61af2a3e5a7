"""Logs are JSON lines with no PHI: birth dates and Medicare ids never reach a log line."""

from __future__ import annotations

import io
import json

import structlog

from adapters import logs


def test_phi_is_dropped_and_patient_ids_hashed() -> None:
    """The scrubber redacts PHI keys and hashes patient ids, at any depth."""
    stream = io.StringIO()
    logs.configure("INFO", stream)
    structlog.get_logger("t").info(
        "fact.recorded", patient_id="P1", birth_date="1948-05-17", extra={"medicare_id": "1EG4-TE5-MK72"}
    )
    logs.configure("WARNING")
    line = stream.getvalue().strip()
    record = json.loads(line)
    assert "1948-05-17" not in line and "1EG4" not in line and '"P1"' not in line
    assert record["patient_id"].startswith("p:") and record["event"] == "fact.recorded"
    assert record["level"] == "info" and "timestamp" in record


def test_level_filters_lines() -> None:
    """Below the configured level nothing is written."""
    stream = io.StringIO()
    logs.configure("WARNING", stream)
    structlog.get_logger("t").info("quiet")
    structlog.get_logger("t").warning("loud")
    logs.configure("WARNING")
    assert [json.loads(x)["event"] for x in stream.getvalue().splitlines()] == ["loud"]
