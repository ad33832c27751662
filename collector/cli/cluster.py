"""``patrol cluster``: the collectors sharing this store, their heartbeats and the leader."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from collector.cli.fleet import ago
from collector.cli.output import Format, console, emit

COLUMNS = ["id", "leader", "alive", "hostname", "pid", "listen", "api", "version", "sessions", "started",
           "heartbeat"]


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


def register(app: typer.Typer, client_factory: Any) -> None:
    @app.command("cluster")
    def cluster(fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table) -> None:
        """The collectors of the group: alive or not, which one runs the scheduled work."""
        data = client_factory().get("/api/v1/cluster")
        rows = [{**m, "started": _iso(m["started_ms"]), "heartbeat": _iso(m["heartbeat_ms"])}
                for m in data["members"]]
        if fmt is not Format.table:
            emit(rows, COLUMNS, fmt)
            return
        table = Table(title=f"{sum(r['alive'] for r in rows)} of {len(rows)} collectors alive "
                            f"(lease TTL {data['lease_ttl_s']:g} s)", header_style="bold")
        for col in ("collector", "role", "state", "host", "gRPC", "API", "agents", "heartbeat", "version"):
            table.add_column(col, no_wrap=True)
        for r in rows:
            me = " (this one)" if r["id"] == data["collector_id"] else ""
            table.add_row(r["id"] + me, "[bold]leader[/]" if r["leader"] else "member",
                          "[green]alive[/]" if r["alive"] else "[red]gone[/]", f"{r['hostname']}:{r['pid']}",
                          r["listen"], r["api"], str(r["sessions"]), ago(r["heartbeat"]), r["version"])
        console.print(table)
