"""`carelane listen-hl7`: the MLLP listener for a hospital's ADT feed (interface.md section 3)."""

from __future__ import annotations

import click

from adapters.commands.base import Settings, main
from adapters.feeds import mappings as feed_mappings, mllp


@main.command("listen-hl7")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=2575, show_default=True, type=click.IntRange(0, 65535), help="TCP port (0: any free port)."
)
@click.option("--mappings", "mappings_file", metavar="FILE", help="JSON overriding the code mappings (PV1-2, PV1-36).")
@click.pass_obj
def listen_hl7(settings: Settings, host: str, port: int, mappings_file: str | None) -> None:
    """Listen for HL7 v2 ADT messages over MLLP; each is acknowledged (AA, AE or AR with the
    reason) only after its facts are recorded or refused. One line per message, no PHI."""
    try:
        chosen = feed_mappings.load(mappings_file)
    except feed_mappings.MappingError as e:
        raise click.ClickException(str(e)) from None
    ledger = settings.ledger()
    listener = mllp.Listener(
        ledger, zone=ledger.policy.zone, mappings=chosen, on_answer=lambda answer: click.echo(answer.line())
    )
    try:
        mllp.run(listener, host, port, lambda h, p: click.echo(f"listening for HL7 v2 over MLLP on {h}:{p}"))
    except OSError as e:
        raise click.ClickException(f"cannot listen on {host}:{port} ({e.strerror or e})") from None
    finally:
        ledger.close()
    click.echo(f"stopped after {listener.received} messages")
