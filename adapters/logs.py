"""structlog, configured once: JSON lines on stderr, with PHI kept out of every line."""

from __future__ import annotations

import hashlib
import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

# Keys that carry protected health information. A patient id is kept only as a short hash,
# enough to correlate lines of one patient without naming them.
PHI_KEYS = frozenset({"birth_date", "medicare_id", "name", "first_name", "last_name", "dob", "address", "phone"})
HASHED_KEYS = frozenset({"patient_id", "patient"})


def scrub_phi(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Processor: drop PHI fields and hash patient ids, at any depth of dict values."""
    return _scrub(event_dict)


def _scrub(mapping: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(mapping):
        value = mapping[key]
        if key in PHI_KEYS:
            mapping[key] = "[redacted]"
        elif key in HASHED_KEYS and value is not None:
            mapping[key] = "p:" + hashlib.sha256(str(value).encode()).hexdigest()[:12]
        elif isinstance(value, dict):
            mapping[key] = _scrub(dict(value))
    return mapping


def configure(level: str = "WARNING", stream: TextIO | None = None) -> None:
    """Configure structlog for the process. Safe to call again (tests do)."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            scrub_phi,
            structlog.processors.dict_tracebacks,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
