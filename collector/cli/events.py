"""``patrol events``: a host's log events, or counts per rule."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from collector.cli.output import Format, emit


def register(app: typer.Typer, client_factory: Any) -> None:
    @app.command("events")
    def events(host: Annotated[str, typer.Argument(help="host id or hostname")],
               rule: Annotated[str | None, typer.Option(help="only this rule id")] = None,
               since: Annotated[str, typer.Option(help="duration (1d) or ISO time")] = "1d",
               counts: Annotated[bool, typer.Option("--counts", help="counts per rule instead of events")] = False,
               limit: Annotated[int, typer.Option(help="at most this many events")] = 200,
               fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table) -> None:
        """Log events matched by the agent's rules on one host."""
        client = client_factory()
        if counts:
            data = client.get(f"/api/v1/hosts/{host}/events/counts", since=since)
            emit(data["counts"], ["rule", "severity", "events", "suppressed", "total"], fmt,
                 title=f"log events per rule on {data['hostname']} since {since}")
            return
        data = client.get(f"/api/v1/hosts/{host}/events", rule=rule, since=since, limit=limit)
        rows = [{**e, "fields": ",".join(f"{k}={v}" for k, v in e["fields"].items())} for e in data["events"]]
        emit(rows, ["ts", "rule", "severity", "fields", "line"], fmt,
             title=f"{len(rows)} events on {data['hostname']} since {since}")
