"""``patrol jobs``: the collector's periodic jobs, their schedules, last runs and next runs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from collector.cli.fleet import ago
from collector.cli.output import Format, console, emit

COLUMNS = ["id", "name", "schedule", "leader_only", "last_started", "last_duration_s", "last_outcome", "last_error",
           "next_run"]
OUTCOME_STYLE = {"ok": "[green]ok[/]", "failed": "[red]failed[/]", "skipped": "[yellow]skipped[/]"}


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


def _until(iso: str | None) -> str:
    if not iso:
        return "not scheduled"
    s = int((datetime.fromisoformat(iso) - datetime.now(UTC)).total_seconds())
    if s <= 0:
        return "due now"
    for unit, width in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= width:
            return f"in {s // width}{unit}"
    return f"in {s}s"


def flat_rows(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for j in jobs:
        last = j["last_run"] or {}
        rows.append({"id": j["id"], "name": j["name"], "schedule": j["schedule"], "leader_only": j["leader_only"],
                     "last_started": _iso(last["started_ms"]) if last else None,
                     "last_duration_s": last.get("duration_s"), "last_outcome": last.get("outcome"),
                     "last_error": last.get("error"), "next_run": j["next_run"]})
    return rows


def register(app: typer.Typer, client_factory: Any) -> None:
    @app.command("jobs")
    def jobs(fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
             as_json: Annotated[bool, typer.Option("--json", help="same as --format json")] = False,
             run: Annotated[str | None, typer.Option(help="run this job now (admin token)")] = None) -> None:
        """Periodic jobs of the collector: schedule, last run, its duration and outcome, next run."""
        client = client_factory()
        if as_json:
            fmt = Format.json
        if run is not None:
            result = client.post(f"/api/v1/jobs/{run}/run")
            if fmt is not Format.table:
                emit([result], list(result), fmt)
                return
            error = f": {result['error']}" if result["error"] else ""
            console.print(f"{result['job_id']}: {OUTCOME_STYLE[result['outcome']]} in {result['duration_s']:.2f} s"
                          f"{error}")
            if result["outcome"] == "failed":
                raise typer.Exit(1)
            return
        data = client.get("/api/v1/jobs")
        rows = flat_rows(data["jobs"])
        if fmt is not Format.table:
            emit(rows, COLUMNS, fmt)
            return
        role = "leader" if data["leader"] else "member (leader-only jobs run on the leader)"
        table = Table(title=f"{len(rows)} jobs on {data['collector_id']}, {role}", header_style="bold")
        for col in ("job", "schedule", "last run", "took", "outcome", "next run"):
            # Long names and error messages wrap; the short columns never do.
            table.add_column(col, no_wrap=col not in ("job", "outcome"), min_width=8 if col == "outcome" else None)
        for r in rows:
            outcome = OUTCOME_STYLE.get(r["last_outcome"] or "", "-")
            if r["last_error"]:
                outcome += f"\n{r['last_error']}"
            took = "-" if r["last_duration_s"] is None else f"{r['last_duration_s']:.2f} s"
            table.add_row(f"{r['name']}\n[dim]{r['id']}[/]", r["schedule"], ago(r["last_started"]), took, outcome,
                          _until(r["next_run"]))
        console.print(table)
