"""``patrol quarantine``: batches the store refused, held raw: list, export, retry."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Annotated, Any

import typer

from collector.cli.output import Format, console, emit


def register(app: typer.Typer, client_factory: Any) -> None:
    group = typer.Typer(help="Batches the store refused for good, kept raw with the reason.", no_args_is_help=True)
    app.add_typer(group, name="quarantine")

    @group.command("list")
    def list_entries(host: Annotated[str | None, typer.Option(help="only this host id")] = None,
                     fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table) -> None:
        """Every held batch: agent, spool epoch and seq, when, why, and its size."""
        entries = client_factory().get("/api/v1/quarantine", host=host)["entries"]
        emit(entries, ["id", "host_id", "epoch", "seq", "kind", "received_ms", "bytes", "reason"], fmt,
             title=f"{len(entries)} batches in the quarantine")

    @group.command("export")
    def export(entry_id: Annotated[int, typer.Argument(help="entry id (see 'patrol quarantine list')")],
               path: Annotated[Path, typer.Argument(help="file to write the raw patrol.v1.AgentMessage bytes to")]
               ) -> None:
        """Write an entry's raw bytes to a file, as the agent sent them."""
        entry = client_factory().get(f"/api/v1/quarantine/{entry_id}")
        data = base64.b64decode(entry["payload_base64"])
        path.write_bytes(data)
        console.print(f"wrote {len(data)} bytes of {entry['kind']} seq={entry['seq']} from {entry['host_id']} "
                      f"to {path}")

    @group.command("retry")
    def retry(entry_id: Annotated[int, typer.Argument(help="entry id (see 'patrol quarantine list')")]) -> None:
        """Commit an entry again; it leaves the quarantine once the store takes it."""
        result = client_factory().post(f"/api/v1/quarantine/{entry_id}/retry")
        console.print(f"entry {entry_id}: {result['outcome']}")
        if result["outcome"] != "accepted":
            raise typer.Exit(1)
