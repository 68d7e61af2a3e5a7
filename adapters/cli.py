"""The `carelane` command line (interface.md section 3). The commands live in
adapters/commands, one module per group; importing them registers them on `main`."""

from __future__ import annotations

from adapters.commands import feeds, hl7, ingesting, integrity, pace, reading, revenue, tools
from adapters.commands.base import main

COMMANDS = (feeds, hl7, ingesting, integrity, pace, reading, revenue, tools)  # imported for their registrations

__all__ = ["main"]

if __name__ == "__main__":
    main()
