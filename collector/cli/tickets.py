"""``patrol tickets``, ``patrol ticket ID`` and ticket actions, ``patrol maintenance``, ``patrol sla``,
``patrol notifications``.

``patrol ticket 42`` shows a ticket: fields, SLA clocks (remaining, paused, breached), the forecast
behind a predictive ticket (ETA, band and the series) and the timeline. Actions:
``patrol ticket ack|assign|note|move|classify|resolve|verify|close|reopen|closure|rate|plan|register 42 …``
and ``patrol ticket new`` for a manual ticket.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from typer.core import TyperGroup

from collector.cli import ticket_policy
from collector.cli.output import Format, console, emit

_BLOCKS = "▁▂▃▄▅▆▇█"
_STATUS_STYLE = {"breached": "red", "met_late": "red", "paused": "yellow", "running": "green", "met": "cyan",
                 "stopped": "dim"}
_SEVERITY_STYLE = {"L1": "bold red", "L2": "red", "L3": "yellow", "L4": "cyan"}
Fmt = Annotated[Format, typer.Option("--format", "-f")]
Note = Annotated[str, typer.Option("--note", "-n", help="recorded on the timeline")]


class _ShowByDefault(TyperGroup):
    """``patrol ticket 42`` means ``patrol ticket show 42``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # Any: typer vendors click's Context
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


def when(iso: Any, tz: str = "UTC") -> str:
    if iso in (None, ""):
        return "—"
    t = datetime.fromtimestamp(float(iso), tz=UTC) if isinstance(iso, int | float) else datetime.fromisoformat(iso)
    return t.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def span(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    neg, s = seconds < 0, int(abs(seconds))
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m = rem // 60
    text = f"{d}d {h}h" if d else (f"{h}h {m:02d}m" if h else f"{m}m")
    return f"-{text}" if neg else text


def sparkline(values: list[float], width: int = 60) -> str:
    if not values:
        return ""
    if len(values) > width:
        step = len(values) / width
        values = [values[int(i * step)] for i in range(width - 1)] + [values[-1]]
    lo, hi = min(values), max(values)
    if hi == lo:
        return _BLOCKS[3] * len(values)
    return "".join(_BLOCKS[int((v - lo) / (hi - lo) * (len(_BLOCKS) - 1))] for v in values)


def host_label(t: dict[str, Any]) -> str:
    """The ticket's host as a person reads it: its hostname, with the agent id to tell it apart."""
    if not t.get("host_id"):
        return "—"
    return f"{t['hostname']} ({t['host_id']})" if t.get("hostname") else str(t["host_id"])


def print_ticket(t: dict[str, Any], show_series: bool = False) -> None:
    tz = t.get("timezone") or "UTC"
    sev = t["severity"]
    console.print(f"[bold]#{t['id']}[/] [{_SEVERITY_STYLE.get(sev, '')}]{sev} {t['severity_zh']}[/] "
                  f"[bold]{t['title']}[/]")
    flags = [x for x, on in (("[magenta]flapping[/]", t["flapping"]), ("[green]condition clear[/]", not t["firing"]
                                                                       and t["state"] not in ("archived", "surveyed")))
             if on]
    console.print(f"state [bold]{t['state']}[/] ({t['state_zh']})  customer {t['customer_name']} ({t['customer_id']})"
                  f"  host {host_label(t)}  source {t['source']}  assignee {t['assignee'] or '—'}  "
                  f"occurrences {t['occurrences']}  escalation level {t['escalation_level']}  " + " ".join(flags))
    console.print(f"created {when(t['created_at'], tz)}  updated {when(t['updated_at'], tz)}  ({tz})  "
                  f"SLA profile {t['profile']['name']} ({t['profile']['window']})"
                  + (f"  repeat of #{t['repeat_of']}" if t.get("repeat_of") else ""))
    reg = {k: v for k, v in t["registration"].items() if v}
    if reg:
        table = Table(show_header=False, box=None, title="registration 登记", title_justify="left")
        for k, v in reg.items():
            table.add_row(k, when(v, tz) if k == "occurred_at" else str(v))
        console.print(table)
    cls = {k: v for k, v in t["classification"].items() if v}
    if cls:
        console.print("classification: " + ", ".join(f"{k}={v}" for k, v in cls.items()))
    _print_clocks(t, tz)
    if t.get("forecast"):
        _print_forecast(t["forecast"], tz, show_series)
    if t.get("closure"):
        c = t["closure"]
        console.print(f"[bold]closure[/] cause: {c['cause']} | solution: {c['solution']} | prevention: "
                      f"{c.get('prevention') or '—'} | short-term: {c.get('short_term') or '—'} | long-term: "
                      f"{c.get('long_term') or '—'}")
    if t.get("satisfaction"):
        s = t["satisfaction"]
        console.print(f"[bold]satisfaction[/] attitude {s['attitude']:g} quality {s['quality']:g} resolution "
                      f"{s['resolution']:g} (scale {s['scale']}) → {s['overall_percent']:g} %")
    _print_timeline(t, tz)
    console.print(f"next: {', '.join(t['allowed']) or 'nothing (final state)'}")


def _print_clocks(t: dict[str, Any], tz: str) -> None:
    if not t["clocks"]:
        return
    table = Table(title="SLA clocks", title_justify="left", header_style="bold")
    for col in ("clock", "target", "elapsed", "remaining", "deadline", "status"):
        table.add_column(col)
    for c in t["clocks"]:
        style = _STATUS_STYLE.get(c["status"], "")
        table.add_row(c["clock"], span(c["target_s"]) if c["target_s"] is not None else "case by case",
                      span(c["elapsed_s"]), span(c["remaining_s"]), when(c["deadline"], tz),
                      f"[{style}]{c['status']}[/]" if style else c["status"])
    console.print(table)


def _print_forecast(f: dict[str, Any], tz: str, show_series: bool) -> None:
    labels = ",".join(f"{k}={v}" for k, v in (f.get("labels") or {}).items())
    name = (f.get("display") or {}).get("en") or f.get("series")
    console.print(f"[bold]forecast[/] {name} ({f.get('series')}{'{' + labels + '}' if labels else ''}) reaches "
                  f"{f.get('limit')} ({f.get('direction')}) at [bold]{when(f.get('eta'), tz)}[/] "
                  f"(band {when(f.get('eta_low'), tz)} … {when(f.get('eta_high'), tz)})")
    slope = f.get("slope_per_day")
    console.print(f"  trend {slope:+.3g}/day" if isinstance(slope, int | float) else "  trend —",
                  f" level {f.get('level'):.4g}" if isinstance(f.get("level"), int | float) else "",
                  f" fitted on {f.get('n_points')} points" if f.get("n_points") else "",
                  f"  {f.get('reason')}" if f.get("reason") else "")
    pts = f.get("points") or []
    if pts:
        vals = [p[1] for p in pts]
        console.print(f"  series {when(pts[0][0], tz)} → {when(pts[-1][0], tz)}: {sparkline(vals)}  "
                      f"min {min(vals):.4g} max {max(vals):.4g} last {vals[-1]:.4g} ({len(pts)} points)")
        if show_series:
            table = Table(header_style="bold")
            table.add_column("time")
            table.add_column("value", justify="right")
            for ts, v in pts:
                table.add_row(when(ts, tz), f"{v:.6g}")
            console.print(table)


def _print_timeline(t: dict[str, Any], tz: str) -> None:
    table = Table(title="timeline", title_justify="left", header_style="bold")
    for col in ("when", "who", "what", "details"):
        table.add_column(col, overflow="fold")
    for e in t["timeline"]:
        d = e["details"]
        text = d.get("text") or d.get("note") or ", ".join(f"{k}={v}" for k, v in d.items()
                                                           if k not in ("text", "note") and v not in (None, ""))
        table.add_row(when(e["at"], tz), e["actor"], e["action"], str(text)[:300])
    console.print(table)


TICKET_COLUMNS = ["id", "severity", "state", "customer_id", "host_id", "hostname", "source", "title", "assignee",
                  "occurrences", "created_at", "eta"]


def print_tickets(rows: list[dict[str, Any]], title: str | None = None) -> None:
    table = Table(title=title or f"{len(rows)} tickets", header_style="bold")
    for col in ("#", "sev", "state", "customer", "host", "source", "title", "assignee", "n", "created", "ETA"):
        table.add_column(col, overflow="fold")
    for r in rows:
        sev = r["severity"]
        flag = " [magenta]~[/]" if r["flapping"] else ""
        table.add_row(str(r["id"]), f"[{_SEVERITY_STYLE.get(sev, '')}]{sev}[/]", r["state"] + flag,
                      r["customer_id"], r.get("hostname") or r["host_id"] or "—", r["source"], r["title"],
                      r["assignee"] or "—", str(r["occurrences"]), when(r["created_at"]), when(r["eta"]))
    console.print(table)


KNOWLEDGE_COLUMNS = ["count", "problem", "cause", "solution", "prevention", "hosts", "last_at", "ticket_ids"]


def print_knowledge(rows: list[dict[str, Any]], query: str = "") -> None:
    if not rows:
        console.print(f"no resolved problem matches {query!r}" if query else "no resolved problem yet")
        return
    table = Table(title=f"常见问题及解决方案 — {len(rows)} problems" + (f" matching {query!r}" if query else ""),
                  show_lines=True)
    for column in ("n", "problem", "cause", "solution", "prevention", "hosts", "last"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(str(r["count"]), r["problem"], r["cause"], r["solution"], r["prevention"],
                      ", ".join(r["hosts"]), when(r["last_at"]))
    console.print(table)


def register(app: typer.Typer, client_factory: Callable[[], Any]) -> None:
    ticket = typer.Typer(cls=_ShowByDefault, help="One ticket: patrol ticket ID, or an action on it.",
                         no_args_is_help=True)
    app.add_typer(ticket, name="ticket")

    def show(result: dict[str, Any], fmt: Format = Format.table) -> None:
        if fmt is Format.table:
            print_ticket(result)
        else:
            emit([result], list(result.keys()), fmt)

    # A group that lists tickets when no subcommand follows: ``patrol tickets --all``, ``patrol tickets policy``.
    tickets_app = typer.Typer(invoke_without_command=True)
    tickets_app.add_typer(ticket_policy.app, name="policy")
    app.add_typer(tickets_app, name="tickets")

    @tickets_app.callback()
    def tickets(ctx: typer.Context, customer: Annotated[str | None, typer.Option(help="only this customer")] = None,
                state: Annotated[str | None, typer.Option(help="only this state (registered … surveyed)")] = None,
                host: Annotated[str | None, typer.Option(help="only this host id")] = None,
                all_: Annotated[bool, typer.Option("--all", help="also resolved and closed tickets")] = False,
                limit: int = 200, fmt: Fmt = Format.table) -> None:
        """Tickets, newest first (open ones unless --all or --state); 'patrol tickets policy' reviews a policy."""
        if ctx.invoked_subcommand is not None:
            return
        rows = client_factory().get("/api/v1/tickets", customer=customer, state=state, host=host,
                                    open=not all_ and state is None, limit=limit)
        if fmt is not Format.table:
            emit(rows, TICKET_COLUMNS, fmt)
            return
        print_tickets(rows)

    @tickets_app.command("knowledge")
    def knowledge(query: Annotated[str, typer.Argument(help="words that must all appear, e.g. 'raid battery'")] = "",
                  customer: Annotated[str | None, typer.Option(help="only this customer's tickets")] = None,
                  limit: int = 20, fmt: Fmt = Format.table) -> None:
        """常见问题及解决方案: how resolved problems were solved, most frequent first."""
        rows = client_factory().get("/api/v1/knowledge", q=query, customer=customer, limit=limit)
        if fmt is not Format.table:
            emit(rows, KNOWLEDGE_COLUMNS, fmt)
            return
        print_knowledge(rows, query)

    @ticket.command("show")
    def show_cmd(ticket_id: int, fmt: Fmt = Format.table,
                 series: Annotated[bool, typer.Option("--series", help="list the forecast's series")] = False
                 ) -> None:
        """Details, SLA clocks, forecast and timeline of a ticket."""
        t = client_factory().get(f"/api/v1/tickets/{ticket_id}")
        if fmt is Format.table:
            print_ticket(t, series)
        else:
            emit([t], list(t.keys()), fmt)

    def act(ticket_id: int, action: str, body: dict[str, Any], fmt: Format) -> None:
        show(client_factory().post(f"/api/v1/tickets/{ticket_id}/{action}", json=body), fmt)

    @ticket.command("ack")
    def ack(ticket_id: int, note: Note = "", fmt: Fmt = Format.table) -> None:
        """Respond to a ticket (stops the response clock; you become the assignee if there is none)."""
        act(ticket_id, "ack", {"note": note}, fmt)

    @ticket.command("assign")
    def assign(ticket_id: int, engineer: str, note: Note = "", fmt: Fmt = Format.table) -> None:
        """Assign a ticket to an engineer."""
        act(ticket_id, "assign", {"assignee": engineer, "note": note}, fmt)

    @ticket.command("note")
    def note_cmd(ticket_id: int, text: str, fmt: Fmt = Format.table) -> None:
        """Add a note to the timeline."""
        act(ticket_id, "note", {"text": text}, fmt)

    @ticket.command("move")
    def move(ticket_id: int, state: str, note: Note = "", fmt: Fmt = Format.table) -> None:
        """Move to a state: diagnosing, remote, on_site, workaround, …"""
        act(ticket_id, "transition", {"state": state, "note": note}, fmt)

    @ticket.command("classify")
    def classify(ticket_id: int,
                 fault_type: Annotated[str | None, typer.Option(help="hardware | software | network")] = None,
                 cause: Annotated[str | None, typer.Option(help="software_defect | config_error | "
                                                                "hardware_problem")] = None,
                 maintenance_type: Annotated[str | None, typer.Option(
                     help="corrective | adaptive | perfective")] = None,
                 billing: Annotated[str | None, typer.Option(help="paid | free")] = None,
                 severity: Annotated[str | None, typer.Option(help="L1 … L4")] = None,
                 on_site: Annotated[bool | None, typer.Option("--on-site/--no-on-site",
                                                              help="an on-site visit is required")] = None,
                 fmt: Fmt = Format.table) -> None:
        """Classify a ticket (fault type, cause, maintenance type, billing, severity)."""
        act(ticket_id, "classify", {"fault_type": fault_type, "cause": cause, "maintenance_type": maintenance_type,
                                    "billing": billing, "severity": severity, "on_site_required": on_site}, fmt)

    @ticket.command("resolve")
    def resolve(ticket_id: int, note: Note = "",
                cause: Annotated[str | None, typer.Option(help="closure: 问题原因")] = None,
                solution: Annotated[str | None, typer.Option(help="closure: 解决方案")] = None,
                prevention: Annotated[str, typer.Option(help="closure: 预防措施")] = "",
                fmt: Fmt = Format.table) -> None:
        """Resolve a ticket, optionally with its closure record."""
        body: dict[str, Any] = {"note": note}
        if cause or solution:
            body["closure"] = {"cause": cause or "", "solution": solution or "", "prevention": prevention}
        act(ticket_id, "resolve", body, fmt)

    @ticket.command("verify")
    def verify(ticket_id: int, note: Note = "", fmt: Fmt = Format.table) -> None:
        """Record that the customer verified the fix."""
        act(ticket_id, "verify", {"note": note}, fmt)

    @ticket.command("close")
    def close(ticket_id: int, note: Note = "", fmt: Fmt = Format.table) -> None:
        """Archive a resolved ticket (needs the closure record)."""
        act(ticket_id, "close", {"note": note}, fmt)

    @ticket.command("reopen")
    def reopen(ticket_id: int, reason: Annotated[str, typer.Option("--reason", "-r")] = "",
               fmt: Fmt = Format.table) -> None:
        """Reopen a resolved or verified ticket."""
        act(ticket_id, "reopen", {"reason": reason}, fmt)

    @ticket.command("closure")
    def closure(ticket_id: int, cause: Annotated[str, typer.Option(help="问题原因")],
                solution: Annotated[str, typer.Option(help="解决方案")],
                prevention: Annotated[str, typer.Option(help="预防措施")] = "",
                short_term: Annotated[str, typer.Option(help="临时性措施")] = "",
                long_term: Annotated[str, typer.Option(help="长期性改进措施")] = "",
                fmt: Fmt = Format.table) -> None:
        """Record the closure: cause, solution, prevention, short- and long-term measures."""
        act(ticket_id, "closure", {"cause": cause, "solution": solution, "prevention": prevention,
                                   "short_term": short_term, "long_term": long_term}, fmt)

    @ticket.command("rate")
    def rate(ticket_id: int, attitude: Annotated[float, typer.Option(help="服务态度")],
             quality: Annotated[float, typer.Option(help="服务质量")],
             resolution: Annotated[float, typer.Option(help="故障解决水平")],
             scale: Annotated[str, typer.Option(help="5 (1–5) or percent (0–100)")] = "5",
             comment: str = "", by: Annotated[str, typer.Option(help="who rated (the customer contact)")] = "",
             fmt: Fmt = Format.table) -> None:
        """Record the customer's satisfaction rating."""
        act(ticket_id, "satisfaction", {"attitude": attitude, "quality": quality, "resolution": resolution,
                                        "scale": scale, "comment": comment, "rated_by": by}, fmt)

    @ticket.command("plan")
    def plan(ticket_id: int, text: str, fmt: Fmt = Format.table) -> None:
        """Record the written plan and schedule sent to the customer."""
        act(ticket_id, "plan", {"text": text}, fmt)

    @ticket.command("register")
    def register_cmd(ticket_id: int, unit: Annotated[str | None, typer.Option(help="用户单位名称")] = None,
                     address: str | None = None, phone: str | None = None, contact: str | None = None,
                     description: str | None = None,
                     handling: Annotated[str | None, typer.Option(help="处理情况")] = None,
                     occurred_at: Annotated[str | None, typer.Option(help="ISO time of occurrence")] = None,
                     environment: str | None = None,
                     steps: Annotated[str | None, typer.Option(help="steps to reproduce")] = None,
                     impact: Annotated[str | None, typer.Option(help="scope of impact")] = None,
                     fmt: Fmt = Format.table) -> None:
        """Fill in or correct the registration form (客户咨询/反馈登记表)."""
        body = {"customer_unit": unit, "address": address, "phone": phone, "contact": contact,
                "description": description, "handling_status": handling, "occurred_at": occurred_at,
                "environment": environment, "reproduction_steps": steps, "impact_scope": impact}
        act(ticket_id, "registration", {k: v for k, v in body.items() if v is not None}, fmt)

    @ticket.command("new")
    def new(customer: Annotated[str, typer.Option(help="customer id")],
            title: Annotated[str, typer.Option(help="the problem in a few words")],
            description: str = "", severity: Annotated[str, typer.Option(help="L1 … L4")] = "L3",
            host: Annotated[str | None, typer.Option(help="host id, when one host is concerned")] = None,
            reporter: Annotated[str | None, typer.Option(help="who asked, e.g. customer:张三")] = None,
            contact: str | None = None, phone: str | None = None,
            channel: Annotated[str, typer.Option(help="hotline, email, dingtalk, wecom, web")] = "hotline",
            steps: str | None = None, impact: str | None = None, environment: str | None = None,
            fmt: Fmt = Format.table) -> None:
        """Register a manual ticket (an engineer's or a customer's request)."""
        reg = {"contact": contact, "phone": phone, "channel": channel, "reproduction_steps": steps,
               "impact_scope": impact, "environment": environment}
        show(client_factory().post("/api/v1/tickets", json={
            "customer_id": customer, "title": title, "description": description, "severity": severity,
            "host_id": host, "reporter": reporter,
            "registration": {k: v for k, v in reg.items() if v is not None}}), fmt)

    maintenance = typer.Typer(help="Maintenance windows that silence tickets and notifications.",
                              no_args_is_help=True)
    app.add_typer(maintenance, name="maintenance")

    @maintenance.command("list")
    def mlist(fmt: Fmt = Format.table) -> None:
        """Configured and added windows (expired one-off windows are hidden)."""
        rows = client_factory().get("/api/v1/maintenance")
        emit(rows, ["id", "active_now", "description", "created_by"], fmt, title="maintenance windows")

    @maintenance.command("add")
    def madd(customer: str | None = None, host: str | None = None,
             check: Annotated[str | None, typer.Option(help="check id or glob, e.g. agent.offline")] = None,
             start: Annotated[str | None, typer.Option(help="one-off: ISO time with offset")] = None,
             end: Annotated[str | None, typer.Option(help="one-off: ISO time with offset")] = None,
             hours: Annotated[str | None, typer.Option(help="recurring: 02:00-04:00")] = None,
             days: Annotated[str | None, typer.Option(help="recurring: mon-fri, sat,sun")] = None,
             timezone: str | None = None, reason: str = "") -> None:
        """Add a one-off (--start/--end) or recurring (--hours [--days]) window."""
        w = client_factory().post("/api/v1/maintenance", json={
            "customer": customer, "host": host, "check": check, "start": start, "end": end, "hours": hours,
            "days": days, "timezone": timezone, "reason": reason})
        console.print(f"maintenance window #{w['id']}: {w['description']}")

    @maintenance.command("rm")
    def mrm(window_id: int) -> None:
        """Remove a window added with 'patrol maintenance add'."""
        client_factory().request("DELETE", f"/api/v1/maintenance/{window_id}")
        console.print(f"maintenance window #{window_id} removed")

    @app.command("sla")
    def sla(fmt: Fmt = Format.table) -> None:
        """SLA profiles: window, time zone, targets per severity, and their customers."""
        rows = client_factory().get("/api/v1/sla/profiles")
        if fmt is not Format.table:
            emit(rows, ["name", "window", "timezone", "warn_at", "customers", "description"], fmt)
            return
        table = Table(title="SLA profiles", header_style="bold")
        for col in ("profile", "window", "L1", "L2", "L3", "L4", "plan", "customers"):
            table.add_column(col, overflow="fold")
        for p in rows:
            def targets(sev: str, p: dict[str, Any] = p) -> str:
                t = p["targets_s"][sev]
                return " ".join(f"{k[:3]} {span(v)}" for k, v in t.items() if v is not None) or "case by case"
            plan = (f"after {span(p['plan_after_s'])}, due {span(p['plan_within_s'])}" if p["plan_after_s"] else "—")
            table.add_row(p["name"], p["window"], targets("L1"), targets("L2"), targets("L3"), targets("L4"), plan,
                          ", ".join(p["customers"]) or "—")
        console.print(table)

    @app.command("notifications")
    def notifications(status: Annotated[str | None, typer.Option(help="pending | sending | sent | failed")] = None,
                      limit: int = 50, fmt: Fmt = Format.table) -> None:
        """Recent notifications in the outbox and their delivery state."""
        rows = client_factory().get("/api/v1/notifications", status=status, limit=limit)
        emit(rows, ["id", "channel", "event", "ticket_id", "severity", "status", "attempts", "created_at",
                    "sent_at", "title", "last_error"], fmt, title="notifications")
