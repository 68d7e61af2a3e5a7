"""The `carelane` command line (interface.md section 3). The commands live in
adapters/commands, one module per group; importing them registers them on `main`."""

from __future__ import annotations

from adapters.commands import (
    close,
    eligible,
    feeds,
    hl7,
    ingesting,
    integrity,
    pace,
    practices,
    reading,
    revenue,
    self_audit,
    tools,
)
from adapters.commands.base import main

# Imported for their registrations on `main`.
COMMANDS = (close, eligible, feeds, hl7, ingesting, integrity, pace, practices, reading, revenue, self_audit, tools)

__all__ = ["main"]

if __name__ == "__main__":
    main()
