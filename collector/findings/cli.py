"""``patrol findings memo|fix|records RUN``: the maintenance memo and record of an inspection run.

``patrol findings memo 12`` lists the run's problems left for follow-up tickets (系统维护备忘录), each
with its number and ticket; ``patrol findings fix 12 3 --symptom … --analysis … --steps …`` records
problem 3 as fixed on the spot (系统维护记录表) and closes its ticket.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.table import Table

from collector.cli.output import Format, console, emit
from collector.cli.units import fmt_quantity

HELP = "Maintenance memo and record of an inspection run (系统维护备忘录 / 系统维护记录表)."
Fmt = Annotated[Format, typer.Option("--format", "-f")]
_MEMO_COLUMNS = ["number", "hostname", "check_id", "subject", "status", "observed", "unit", "ticket_id",
                 "ticket_state", "ticket_severity"]
_RECORD_COLUMNS = ["id", "host_id", "check_id", "subject", "symptom", "analysis", "steps", "recorded_by",
                   "recorded_at", "ticket_id"]


def _name(item: dict[str, Any], lang: str) -> str:
    name = item.get("name") or {}
    return str(name.get(lang) or name.get("en") or item["check_id"])


def print_memo(run_id: int, items: list[dict[str, Any]], lang: str) -> None:
    if not items:
        console.print(f"Run {run_id}: nothing left for follow-up; every problem is fixed or below the ticket policy.")
        return
    table = Table(title=f"maintenance memo (系统维护备忘录) of inspection run {run_id}", header_style="bold")
    for col in ("no.", "host", "item", "status", "measured", "follow-up ticket"):
        table.add_column(col, overflow="fold")
    for m in items:
        what = _name(m, lang) + (f" {m['subject']}" if m["subject"] and m["number"] is not None else "")
        ticket = (f"#{m['ticket_id']} {m['ticket_severity']} {m['ticket_state']}" if m["ticket_id"] else
                  "none (silenced by a maintenance window, or ticketing is off)")
        table.add_row(str(m["number"]) if m["number"] is not None else "checklist", m["hostname"] or "—", what,
                      m["status"], fmt_quantity(m["observed"], m["unit"]), ticket)
    console.print(table)
    console.print(f"Record a problem fixed on the spot: patrol findings fix {run_id} NO --symptom … --analysis … "
                  "--steps …")


def register(app: typer.Typer, client_factory: Callable[[], Any]) -> None:
    group = typer.Typer(help=HELP, no_args_is_help=True)
    app.add_typer(group, name="findings")

    @group.command("memo")
    def memo(run_id: int, lang: Annotated[str, typer.Option(help="zh or en")] = "en", fmt: Fmt = Format.table) -> None:
        """Problems of the run left for follow-up tickets, with their numbers and tickets."""
        items = client_factory().get(f"/api/v1/inspections/{run_id}/memo")
        if fmt is not Format.table:
            emit(items, _MEMO_COLUMNS, fmt)
            return
        print_memo(run_id, items, lang)

    @group.command("fix")
    def fix(run_id: int,
            finding: Annotated[str, typer.Argument(help="its number in the memo, or HOST:CHECK[:SUBJECT]")],
            symptom: Annotated[str, typer.Option(help="问题的现象: what was seen")],
            analysis: Annotated[str, typer.Option(help="分析: why it happened")],
            steps: Annotated[str, typer.Option(help="排除步骤: what was done")],
            fmt: Fmt = Format.table) -> None:
        """Record a problem as fixed on the spot; its open ticket is resolved with this record."""
        r = client_factory().post(f"/api/v1/inspections/{run_id}/fixes", json={
            "finding": finding, "symptom": symptom, "analysis": analysis, "steps": steps})
        if fmt is not Format.table:
            emit([r], _RECORD_COLUMNS, fmt)
            return
        closed = f"; ticket #{r['ticket_id']} resolved with it" if r["ticket_id"] else ""
        console.print(f"maintenance record {r['id']} stored for {r['check_id']} {r['subject']}".rstrip() + closed)

    @group.command("records")
    def records_cmd(run_id: int, fmt: Fmt = Format.table) -> None:
        """The run's maintenance record: problems fixed on the spot."""
        emit(client_factory().get(f"/api/v1/inspections/{run_id}/fixes"), _RECORD_COLUMNS, fmt,
             title=f"maintenance record (系统维护记录表) of inspection run {run_id}")
