"""``patrol inspect``, ``patrol inspections``, ``patrol inspection`` and ``patrol checklist``.

Everything goes through the collector's HTTP API. Texts (check names, recommendations, checklist
rows) come in Chinese and English; the customer's language is the default, ``--lang`` picks one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from collector.cli.client import ApiClient, ApiError
from collector.cli.output import Format, console, emit, err_console
from collector.cli.units import fmt_number, fmt_quantity
from inspections.log_rules import counts_text

ACTIVE = ("queued", "running")
STATUS_STYLE = {"ok": "green", "warning": "yellow", "critical": "red", "unknown": "magenta",
                "completed": "green", "failed": "red", "cancelled": "yellow", "missed": "yellow",
                "running": "cyan", "queued": "cyan"}
STATUS_TEXT = {
    "zh": {"ok": "正常", "warning": "警告", "critical": "严重", "unknown": "未知", "completed": "已完成",
           "failed": "失败", "cancelled": "已取消", "missed": "已错过", "running": "进行中", "queued": "排队中"},
    "en": {"ok": "ok", "warning": "warning", "critical": "critical", "unknown": "unknown"},
}
LABELS = {
    "zh": {"host": "主机", "score": "健康分", "status": "状态", "customer_score": "客户健康分", "evidence": "依据",
           "recommendation": "建议", "reason": "原因", "observed": "观测值", "threshold": "阈值", "no_problems":
           "所有检查项均正常。", "window": "巡检周期", "note": "说明", "run": "第 {id} 次巡检", "colon": "：",
           "totals": "严重 {critical} 项，警告 {warning} 项，未知 {unknown} 项；耗时 {seconds} 秒",
           "run_status": "第 {id} 次巡检：{status}"},
    "en": {"host": "host", "score": "score", "status": "status", "customer_score": "customer score",
           "evidence": "evidence", "recommendation": "recommendation", "reason": "reason", "observed": "observed",
           "threshold": "threshold", "no_problems": "Every check is ok.", "window": "window", "note": "note",
           "run": "run {id}", "colon": ": ",
           "totals": "{critical} critical, {warning} warning, {unknown} unknown findings; took {seconds} s",
           "run_status": "run {id}: {status}"},
}
BANDS = {"zh": ((90, "良好"), (70, "关注"), (0, "风险")), "en": ((90, "healthy"), (70, "attention"), (0, "at risk"))}


def band(score: int | None, lang: str) -> str:
    if score is None:
        return "—"
    return next(name for floor, name in BANDS[lang] if score >= floor)


def _text(value: Any, lang: str) -> str:
    if isinstance(value, dict):
        return str(value.get(lang) or value.get("en") or next(iter(value.values()), ""))
    return "" if value is None else str(value)


def _styled(status: str, lang: str | None = None) -> str:
    label = STATUS_TEXT[lang].get(status, status) if lang else status
    return f"[{STATUS_STYLE.get(status, 'white')}]{escape(label)}[/]"


def _when(iso: str | None) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC") if iso else "—"


def _lang(run: dict[str, Any], choice: str | None) -> str:
    lang = choice or run.get("language") or "en"
    if lang not in LABELS:
        raise typer.BadParameter(f"--lang must be zh or en, not {lang!r}")
    return lang


# -- starting and waiting ------------------------------------------------------------------------


def start_run(client: ApiClient, customer: str, profile: str | None, hosts: list[str] | None,
              trigger: str = "manual", period: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"customer": customer, "trigger": trigger}
    if period:
        body["period"] = period
    if profile:
        body["profile"] = profile
    if hosts:
        body["hosts"] = hosts
    run: dict[str, Any] = client.post("/api/v1/inspections", json=body)
    return run


def wait_for_run(client: ApiClient, run_id: int, show_progress: bool = True, timeout: float | None = None,
                 interval: float = 0.5) -> dict[str, Any]:
    """Poll the run until it is no longer queued or running; a rich progress bar shows hosts done."""
    deadline = None if timeout is None else time.monotonic() + timeout

    def poll() -> dict[str, Any]:
        run: dict[str, Any] = client.get(f"/api/v1/inspections/{run_id}", findings="none")
        return run

    run = poll()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("hosts"), TimeElapsedColumn(), console=console, transient=True,
                  disable=not show_progress) as bar:
        task = bar.add_task(f"inspection {run_id} ({run['profile']}, {run['customer_id']})",
                            total=run["progress"]["total"] or None)
        while run["status"] in ACTIVE:
            if deadline is not None and time.monotonic() > deadline:
                raise ApiError(f"inspection {run_id} still {run['status']} after {timeout:.0f} s; "
                               f"follow it with 'patrol inspection {run_id}'")
            bar.update(task, completed=run["progress"]["done"], total=run["progress"]["total"] or None)
            time.sleep(interval)
            run = poll()
        bar.update(task, completed=run["progress"]["done"], total=run["progress"]["total"] or None)
    return run


# -- printing ------------------------------------------------------------------------------------


def print_summary(run: dict[str, Any], lang: str | None = None) -> None:
    """Per host: score and ok/warning/critical/unknown counts; then the customer's score."""
    lang = _lang(run, lang)
    words = LABELS[lang]
    profile = _text(run.get("profile_name"), lang) or run["profile"]
    title = (f"{profile} — {run.get('customer_name', run['customer_id'])}"
             f" ({words['run'].format(id=run['id'])}, {_when(run.get('since'))} → {_when(run.get('until'))})")
    table = Table(title=title, header_style="bold")
    table.add_column(words["host"])
    table.add_column(words["score"], justify="right")
    table.add_column(words["status"])
    for status in ("ok", "warning", "critical", "unknown"):
        table.add_column(STATUS_TEXT[lang][status], justify="right")
    for h in run.get("hosts", []):
        c = h["counts"]
        table.add_row(escape(h["hostname"]), str(h["score"]), f"{_styled(h['status'], lang)}",
                      str(c.get("ok", 0)), _count(c, "warning"), _count(c, "critical"), _count(c, "unknown"))
    console.print(table)
    if run["status"] != "completed":
        console.print(words["run_status"].format(id=run["id"], status=_styled(run["status"], lang))
                      + f" {escape(run.get('error') or '')}")
        return
    score = run.get("customer_score")
    counts = run["counts"]
    totals = words["totals"].format(critical=counts.get("critical", 0), warning=counts.get("warning", 0),
                                    unknown=counts.get("unknown", 0), seconds=fmt_number(run.get("duration_s")))
    console.print(f"[bold]{words['customer_score']}{words['colon']}{score if score is not None else '—'}[/] "
                  f"({band(score, lang)}) — {totals}")


def _count(counts: dict[str, int], status: str) -> str:
    n = counts.get(status, 0)
    return f"[{STATUS_STYLE[status]}]{n}[/]" if n else "0"


def _threshold(f: dict[str, Any]) -> str:
    t = f["threshold"]
    op = "≥" if t["direction"] == "above" else "<"
    parts = [f"{name} {op} {fmt_number(t[name], 2)}" for name in ("warn", "crit") if t.get(name) is not None]
    return ", ".join(parts) or "—"


def _evidence(e: dict[str, Any], lang: str) -> str:
    series = ", ".join(s["name"] + ("{" + ",".join(f"{k}={v}" for k, v in s["labels"].items()) + "}"
                                    if s.get("labels") else "") for s in e.get("series", []))
    parts = [e["source"]]
    if series:
        parts.append(series)
    if e.get("counts"):
        parts.append(counts_text([(str(rule), int(n)) for rule, n in e["counts"]], lang))
    elif e.get("rules"):
        parts.append("rules " + ", ".join(e["rules"]))
    if e.get("aggregation"):
        parts.append(e["aggregation"] + (f" of bucket {e['rollup']}" if e.get("rollup") else ""))
    if e.get("since") and e.get("until"):
        parts.append(f"{_when(e['since'])} → {_when(e['until'])}")
    if e.get("points") is not None:
        parts.append(f"{e['points']} buckets")
    if e.get("latest_ts"):
        parts.append(f"newest {_when(e['latest_ts'])}")
    return "; ".join(parts)


def print_findings(run: dict[str, Any], lang: str | None = None) -> None:
    """Every finding that is not ok, per host, with its evidence and recommendation."""
    lang = _lang(run, lang)
    words = LABELS[lang]
    by_host: dict[str, list[dict[str, Any]]] = {}
    for f in run.get("findings", []):
        by_host.setdefault(f["host_id"], []).append(f)
    names = {h["host_id"]: h for h in run.get("hosts", [])}
    if not by_host and run["status"] == "completed":
        console.print(words["no_problems"])
    for host_id, items in by_host.items():
        h = names.get(host_id, {"hostname": host_id, "score": None})
        console.rule(f"{escape(h['hostname'])} — {words['score']} {h.get('score', '—')}")
        for f in items:
            subject = f" [{escape(f['subject'])}]" if f["subject"] else ""
            observed = fmt_quantity(f["observed"], f["unit"])
            console.print(f"{_styled(f['status'], lang)} [bold]{escape(_text(f['name'], lang))}[/]{escape(subject)}"
                          f"  {words['observed']} {escape(observed)}; {words['threshold']} {escape(_threshold(f))}"
                          f"  [dim]({f['check_id']}, {f['severity']})[/]")
            if f.get("unknown_reason"):
                console.print(f"    {words['reason']}: {escape(f['unknown_reason'])}")
            if f.get("note"):
                console.print(f"    {words['note']}: {escape(_text(f['note'], lang))}")
            console.print(f"    [dim]{words['evidence']}: {escape(_evidence(f['evidence'], lang))}[/]")
            console.print(f"    {words['recommendation']}: {escape(_text(f['recommendation'], lang))}")


def print_checklist(rows: list[dict[str, Any]], lang: str, run_id: int) -> None:
    table = Table(title=f"manual checklist of run {run_id}", header_style="bold")
    for col in ("row", "item", "result", "remark", "checked by", "at"):
        table.add_column(col)
    for r in rows:
        result = r["result"]
        shown = {"ok": "[green]ok[/]", "issue": "[red]issue[/]", "not_applicable": "[dim]n/a[/]"}.get(
            result or "", "[dim]—[/]")
        table.add_row(r["item_id"].removeprefix("manual."), escape(_text(r["title"], lang)), shown,
                      escape(r["remark"] or ""), escape(r["checked_by"] or ""), _when(r["checked_at"]))
    console.print(table)


# -- the demo ------------------------------------------------------------------------------------


def run_demo_inspection(app_url: str, token: str, customer: str, profile: str = "monthly",
                        show: bool = True, timeout: float = 600.0) -> int:
    """Run an inspection through the API, wait for it and (``show``) print its summary; returns the
    run id. Plain and synchronous, for ``patrol demo``."""
    client = ApiClient(app_url, token)
    run = start_run(client, customer, profile, None, trigger="api")
    done = wait_for_run(client, run["id"], show_progress=show, timeout=timeout)
    if show:
        print_summary(client.get(f"/api/v1/inspections/{done['id']}", findings="none"))
    return int(done["id"])


# -- commands ------------------------------------------------------------------------------------


def _split_hosts(hosts: str | None) -> list[str] | None:
    if not hosts:
        return None
    return [h.strip() for h in hosts.split(",") if h.strip()] or None


def register(app: typer.Typer, client_factory: Callable[[], ApiClient]) -> None:
    @app.command("inspect")
    def inspect(
        customer: Annotated[str, typer.Argument(help="customer id")],
        profile: Annotated[str | None, typer.Option("--profile", "-p", help="monthly, daily or a profile YAML "
                                                    "path on the collector; default: the customer's")] = None,
        hosts: Annotated[str | None, typer.Option(help="only these hosts: ids or hostnames, comma-separated")] = None,
        period: Annotated[str | None, typer.Option(help="a monthly profile's calendar month (2026-11) in the "
                                                   "customer's time zone; default: this month so far")] = None,
        wait: Annotated[bool, typer.Option("--wait/--no-wait", help="wait and print the summary")] = True,
        lang: Annotated[str | None, typer.Option(help="zh or en; default: the customer's language")] = None,
        fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
    ) -> None:
        """Run an inspection now: shows progress, then a summary per host and the customer's score."""
        client = client_factory()
        run = start_run(client, customer, profile, _split_hosts(hosts), period=period)
        if not wait:
            console.print(f"inspection {run['id']} started ({run['profile']}, {run['progress']['total']} hosts); "
                          f"follow it with 'patrol inspection {run['id']}'")
            return
        wait_for_run(client, run["id"], show_progress=fmt is Format.table)
        full = client.get(f"/api/v1/inspections/{run['id']}", findings="none")
        if fmt is not Format.table:
            emit(_host_rows(full), ["run", "customer", "host", "score", "status", "ok", "warning", "critical",
                                    "unknown"], fmt)
            return
        print_summary(full, lang)
        if full["status"] == "completed":
            console.print(f"details: patrol inspection {full['id']}   checklist: patrol checklist {full['id']}")
        else:
            raise typer.Exit(1)

    @app.command("inspections")
    def inspections(
        customer: Annotated[str | None, typer.Argument(help="only this customer")] = None,
        status: Annotated[str | None, typer.Option(help="only runs in this status (completed, failed, …)")] = None,
        limit: Annotated[int, typer.Option(help="newest runs to show")] = 20,
        fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
    ) -> None:
        """Inspection runs, newest first."""
        rows = client_factory().get("/api/v1/inspections", customer=customer, status=status, limit=limit)
        flat = [{"id": r["id"], "customer": r["customer_id"], "profile": r["profile"], "trigger": r["trigger"],
                 "status": r["status"], "started": r["started"] or r["created"], "duration_s": r["duration_s"],
                 "hosts": r["progress"]["total"], "done": r["progress"]["done"],
                 "score": r["customer_score"], **{k: (r["counts"] or {}).get(k) for k in
                                                  ("critical", "warning", "unknown", "ok")},
                 "error": r["error"]} for r in rows]
        if fmt is not Format.table:
            emit(flat, list(flat[0].keys()) if flat else ["id"], fmt)
            return
        table = Table(title=f"{len(flat)} inspection runs", header_style="bold")
        for col in ("id", "customer", "profile", "trigger", "status", "started", "hosts", "score", "crit", "warn",
                    "unknown"):
            table.add_column(col, justify="right" if col in ("id", "hosts", "score", "crit", "warn", "unknown")
                             else "left")
        for r in flat:
            hosts_text = str(r["hosts"]) if r["status"] not in ACTIVE else f"{r['done']}/{r['hosts']}"
            table.add_row(str(r["id"]), escape(r["customer"]), r["profile"], r["trigger"], _styled(r["status"]),
                          _when(r["started"]), hosts_text, fmt_number(r["score"]),
                          _count(r, "critical") if r["critical"] is not None else "—",
                          _count(r, "warning") if r["warning"] is not None else "—",
                          _count(r, "unknown") if r["unknown"] is not None else "—")
        console.print(table)
        for r in flat:
            if r["error"]:
                err_console.print(f"run {r['id']}: {escape(r['error'])}")

    @app.command("inspection")
    def inspection(
        run_id: Annotated[int, typer.Argument(help="run id (see 'patrol inspections')")],
        lang: Annotated[str | None, typer.Option(help="zh or en; default: the customer's language")] = None,
        all_findings: Annotated[bool, typer.Option("--all", help="ok findings too")] = False,
        host: Annotated[str | None, typer.Option(help="only this host (id or hostname)")] = None,
        fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
    ) -> None:
        """One run: host scores and every finding that is not ok, with evidence and recommendation."""
        run = client_factory().get(f"/api/v1/inspections/{run_id}", findings="all" if all_findings else "problems",
                                   host=host)
        if fmt is Format.json:
            emit([run], [], fmt)
            return
        language = _lang(run, lang)
        if fmt is Format.csv:
            emit([{"run": run_id, "host": f["host_id"], "check": f["check_id"], "subject": f["subject"],
                   "status": f["status"], "observed": f["observed"], "unit": f["unit"],
                   "warn": f["threshold"]["warn"], "crit": f["threshold"]["crit"],
                   "name": _text(f["name"], language), "reason": f["unknown_reason"],
                   "recommendation": _text(f["recommendation"], language)} for f in run.get("findings", [])],
                 ["run", "host", "check", "subject", "status", "observed", "unit", "warn", "crit", "name", "reason",
                  "recommendation"], fmt)
            return
        print_summary(run, language)
        if run["status"] in ACTIVE:
            p = run["progress"]
            console.print(f"still {run['status']}: {p['done']}/{p['total']} hosts done")
            return
        print_findings(run, language)

    @app.command("checklist")
    def checklist(
        run_id: Annotated[int, typer.Argument(help="run id")],
        set_rows: Annotated[list[str] | None, typer.Option(
            "--set", help="ROW=RESULT with RESULT ok, issue or not_applicable (or 'clear'); repeatable")] = None,
        note: Annotated[str | None, typer.Option(help="remark stored with the rows set")] = None,
        lang: Annotated[str | None, typer.Option(help="zh or en; default: the customer's language")] = None,
        fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
    ) -> None:
        """The manual checklist of a run (items only a person can confirm); --set fills rows in."""
        client = client_factory()
        if set_rows:
            updates = []
            for item in set_rows:
                row, sep, result = item.partition("=")
                if not sep or not row or not result:
                    raise typer.BadParameter(f"--set {item!r}: write ROW=RESULT, e.g. --set cabling=ok")
                updates.append({"item_id": row.strip(), "result": None if result == "clear" else result.strip(),
                                "remark": note})
            rows = client.request("PUT", f"/api/v1/inspections/{run_id}/checklist", json={"rows": updates})
        elif note is not None:
            raise typer.BadParameter("--note needs --set ROW=RESULT to say which rows it belongs to")
        else:
            rows = client.get(f"/api/v1/inspections/{run_id}/checklist")
        if fmt is not Format.table:
            emit(rows, ["item_id", "category", "result", "remark", "checked_by", "checked_at"], fmt)
            return
        if lang is not None and lang not in LABELS:
            raise typer.BadParameter(f"--lang must be zh or en, not {lang!r}")
        language = lang or client.get(f"/api/v1/inspections/{run_id}", findings="none").get("language", "en")
        print_checklist(rows, language if language in LABELS else "en", run_id)


def _host_rows(run: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"run": run["id"], "customer": run["customer_id"], "host": h["hostname"], "score": h["score"],
             "status": h["status"], **{k: h["counts"].get(k, 0) for k in ("ok", "warning", "critical", "unknown")}}
            for h in run.get("hosts", [])]
