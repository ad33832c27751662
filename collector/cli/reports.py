"""``patrol report monthly|quarterly CUSTOMER``, ``patrol reports`` and the archive commands.

``patrol report monthly acme --period 2026-10 --format pdf --lang zh -o acme-2026-10.pdf`` asks the
collector to generate the report (it is archived there, with its checksum), downloads it and checks
the SHA-256 of what arrived. ``--email`` also sends it to the customer's recipients.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx
import typer

from collector.cli.client import ApiClient, ApiError
from collector.cli.output import Format, console, emit, err_console
from collector.cli.units import fmt_bytes
from reports.periods import Period, ReportKind

GENERATE_TIMEOUT = 900.0  # a PDF of a very large fleet takes a while; the server bounds the work itself


class DocFormat(StrEnum):
    html = "html"
    pdf = "pdf"


class Lang(StrEnum):
    zh = "zh"
    en = "en"


# Option types (module level: typer resolves the annotations by name).
Period_ = Annotated[str | None, typer.Option("--period", "-p", help="2026-10 or 2026Q3; default: the last "
                                             "complete one")]
Fmt = Annotated[DocFormat, typer.Option("--format", "-f", help="html or pdf")]
LangOpt = Annotated[Lang | None, typer.Option("--lang", help="zh or en; default: the customer's language")]
Out = Annotated[Path | None, typer.Option("--output", "-o", help="file (or folder) to write")]
Force = Annotated[bool, typer.Option("--force", help="generate although no completed inspection covers the period "
                                                     "(the cover says so)")]
Email = Annotated[bool, typer.Option("--email", help="also e-mail it to the customer's recipients")]
To = Annotated[list[str] | None, typer.Option("--to", help="e-mail these addresses instead (repeatable)")]
Customer = Annotated[str | None, typer.Option("--customer", "-c")]
Kind = Annotated[str | None, typer.Option("--kind", help="monthly or quarterly")]
PeriodFilter = Annotated[str | None, typer.Option("--period", "-p")]
Limit = Annotated[int, typer.Option(help="at most this many")]
ListFmt = Annotated[Format, typer.Option("--format", "-f")]


def default_period(kind: ReportKind, now: datetime | None = None) -> str:
    """The last complete month or quarter (UTC calendar)."""
    now = now or datetime.now(tz=UTC)
    return str(Period.containing(kind, now, UTC).previous())


def download(client: ApiClient, path: str) -> tuple[bytes, dict[str, str]]:
    """A document from the API as bytes, its SHA-256 checked against ``X-Patrol-SHA256``."""
    headers = {"Authorization": f"Bearer {client.token}"} if client.token else {}
    try:
        r = httpx.get(f"{client.url}{path}", headers=headers, timeout=GENERATE_TIMEOUT)
    except httpx.ConnectError:
        raise ApiError(f"cannot reach the collector API at {client.url}: is patrol-collector running? "
                       "(set PATROL_URL or --url)") from None
    except httpx.TimeoutException:
        raise ApiError(f"the collector API at {client.url} did not send {path} in time") from None
    if r.status_code >= 400:
        try:
            detail = r.json().get("detail", r.text)
        except ValueError:
            detail = r.text
        raise ApiError(f"{r.status_code}: {detail}")
    expected = r.headers.get("x-patrol-sha256")
    actual = hashlib.sha256(r.content).hexdigest()
    if expected and expected != actual:
        raise ApiError(f"the download of {path} is damaged: SHA-256 {actual}, the collector says {expected}; "
                       "try again")
    return r.content, dict(r.headers)


def _write(data: bytes, output: Path | None, filename: str) -> Path:
    path = output or Path(filename)
    if path.is_dir():
        path = path / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def generate(client: ApiClient, kind: ReportKind, customer: str, period: str, fmt: str, lang: str | None,
             output: Path | None, email: bool, to: list[str] | None, force: bool = False) -> Path:
    body: dict[str, Any] = {"customer": customer, "kind": kind, "period": period, "formats": [fmt],
                            "deliver": email, "trigger": "manual", "force": force}
    if lang:
        body["language"] = lang
    if to:
        body["recipients"] = to
    with console.status(f"generating the {kind} report of {customer} for {period} ({fmt})…"):
        record = client.request("POST", "/api/v1/reports", json=body, timeout=GENERATE_TIMEOUT)
        data, _ = download(client, f"/api/v1/reports/{record['id']}/{fmt}")
    doc = next(d for d in record["documents"] if d["format"] == fmt)
    path = _write(data, output, doc["filename"])
    console.print(f"report {record['id']}: {path}  ({fmt_bytes(len(data))}, SHA-256 {doc['sha256']})")
    summary = record.get("summary") or {}
    if summary.get("partial"):
        err_console.print(f"[yellow]warning:[/] {period} is still running: the report covers it only up to now and "
                          "its cover says so; regenerate it once the period is over")
    if force and not summary.get("inspected", True):
        err_console.print(f"[yellow]warning:[/] no completed inspection covers {period}: the report holds no "
                          "inspection findings and its cover says so")
    delivery = record["delivery"]
    if email:
        style = "green" if delivery["status"] == "sent" else "yellow"
        console.print(f"e-mail: [{style}]{delivery['status']}[/] to {', '.join(delivery['recipients']) or '—'}"
                      + (f" — {delivery['error']}" if delivery.get("error") else ""))
    return path


def _wait_for_run(client: ApiClient, run_id: int, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run: dict[str, Any] = client.get(f"/api/v1/inspections/{run_id}", findings="none")
        if run["status"] not in ("queued", "running"):
            return run
        if time.monotonic() > deadline:
            raise ApiError(f"inspection {run_id} still {run['status']} after {timeout:.0f} s")
        time.sleep(0.5)


def demo_periods(now: datetime, run: dict[str, Any] | None) -> tuple[str, str]:
    """The month the demo's monthly inspection covers (else the last complete month), and the current
    quarter once it is half over (else the last one): the periods a 90-day history fills best."""
    if run is not None and run.get("since") and run.get("until"):
        since, until = datetime.fromisoformat(run["since"]), datetime.fromisoformat(run["until"])
        month = Period.containing("monthly", since + (until - since) / 2, UTC)
    else:
        month = Period.containing("monthly", now, UTC).previous()
    quarter = Period.containing("quarterly", now, UTC)
    if (now - quarter.start(UTC)).days < 45:
        quarter = quarter.previous()
    return str(month), str(quarter)


def write_demo_reports(client: ApiClient, customer: str, out_dir: Path, *, inspect: bool = True,
                       timeout: float = 600.0, run_id: int | None = None) -> list[Path]:
    """Write a monthly and a quarterly report of ``customer``, in HTML and PDF, into ``out_dir``.

    With ``inspect``, a monthly inspection runs first so the monthly report has checks, findings
    and a checklist; ``run_id`` names one that already ran instead. Everything goes through the
    collector's API (the reports are archived there too). Returns the paths written: monthly HTML,
    monthly PDF, quarterly HTML, quarterly PDF.
    """
    run = client.get(f"/api/v1/inspections/{run_id}", findings="none") if run_id is not None else None
    if inspect and run is None:
        try:
            started = client.post("/api/v1/inspections", json={"customer": customer, "profile": "monthly"})
            run = _wait_for_run(client, int(started["id"]), timeout)
        except ApiError as exc:
            if not str(exc).startswith("503"):
                raise
    month, quarter = demo_periods(datetime.now(tz=UTC), run)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind, period in (("monthly", month), ("quarterly", quarter)):
        record = client.request("POST", "/api/v1/reports", json={
            "customer": customer, "kind": kind, "period": period, "formats": ["html", "pdf"]},
            timeout=GENERATE_TIMEOUT)
        for doc in record["documents"]:
            data, _ = download(client, f"/api/v1/reports/{record['id']}/{doc['format']}")
            path = out_dir / doc["filename"]
            path.write_bytes(data)
            paths.append(path)
    return paths


def _list_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for r in records:
        s = r.get("summary") or {}
        rows.append({"id": r["id"], "customer": r["customer_id"], "kind": r["kind"], "period": r["period"],
                     "lang": r["language"], "status": r["status"], "generated": (r["generated"] or "")[:16],
                     "trigger": r["trigger"], "formats": ",".join(d["format"] for d in r["documents"]),
                     "score": s.get("score"), "delivery": r["delivery"]["status"], "error": r.get("error")})
    return rows


def register(app: typer.Typer, client_factory: Callable[[], ApiClient]) -> None:
    report = typer.Typer(help="Monthly inspection reports (巡检报告) and quarterly health reports (季度健康报告).",
                         no_args_is_help=True)
    app.add_typer(report, name="report")

    @report.command("monthly")
    def monthly(customer: Annotated[str, typer.Argument(help="customer id")], period: Period_ = None,
                fmt: Fmt = DocFormat.pdf, lang: LangOpt = None, output: Out = None, email: Email = False,
                to: To = None, force: Force = False) -> None:
        """Generate the monthly inspection report of a month (any past month can be regenerated)."""
        generate(client_factory(), "monthly", customer, period or default_period("monthly"), fmt.value,
                 lang.value if lang else None, output, email or bool(to), to, force)

    @report.command("quality")
    def quality(period: Annotated[str, typer.Argument(help="a month (2026-11) or a quarter (2026Q4)")],
                fmt: Fmt = DocFormat.pdf, lang: LangOpt = None, output: Out = None,
                timezone: Annotated[str | None, typer.Option(help="whose calendar the period follows; default: "
                                                              "the first customer's")] = None) -> None:
        """The provider's service-quality report (服务质量关键指标分析) over every customer."""
        client = client_factory()
        language = lang.value if lang else "zh"
        query = urlencode({k: v for k, v in {"period": period, "lang": language, "format": fmt.value,
                                             "timezone": timezone}.items() if v})
        with console.status(f"building the service-quality report of {period}…"):
            data, _ = download(client, f"/api/v1/reports/service-quality?{query}")
        path = _write(data, output, f"service-quality-{period}-{language}.{fmt.value}")
        console.print(f"wrote {path} ({len(data) / 1024:,.0f} KiB)")

    @report.command("quarterly")
    def quarterly(customer: Annotated[str, typer.Argument(help="customer id")], period: Period_ = None,
                  fmt: Fmt = DocFormat.pdf, lang: LangOpt = None, output: Out = None, email: Email = False,
                  to: To = None, force: Force = False) -> None:
        """Generate the quarterly health report of a quarter (any past quarter can be regenerated)."""
        generate(client_factory(), "quarterly", customer, period or default_period("quarterly"), fmt.value,
                 lang.value if lang else None, output, email or bool(to), to, force)

    def _list(customer: str | None, kind: str | None, period: str | None, limit: int, fmt: Format) -> None:
        records = client_factory().get("/api/v1/reports", customer=customer, kind=kind, period=period, limit=limit)
        emit(_list_rows(records), ["id", "customer", "kind", "period", "lang", "status", "generated", "trigger",
                                   "formats", "score", "delivery", "error"], fmt, title="reports")

    @report.command("list")
    def list_(customer: Customer = None, kind: Kind = None, period: PeriodFilter = None, limit: Limit = 50,
              fmt: ListFmt = Format.table) -> None:
        """The archived reports, newest first."""
        _list(customer, kind, period, limit, fmt)

    @app.command("reports")
    def reports_(customer: Customer = None, kind: Kind = None, period: PeriodFilter = None, limit: Limit = 50,
                 fmt: ListFmt = Format.table) -> None:
        """The archived reports, newest first (same as 'patrol report list')."""
        _list(customer, kind, period, limit, fmt)

    @report.command("get")
    def get(report_id: Annotated[int, typer.Argument(help="report id from 'patrol reports'")],
            fmt: Fmt = DocFormat.pdf, output: Out = None) -> None:
        """Download an archived report (its checksum is verified)."""
        client = client_factory()
        record = client.get(f"/api/v1/reports/{report_id}")
        data, _ = download(client, f"/api/v1/reports/{report_id}/{fmt.value}")
        doc = next(d for d in record["documents"] if d["format"] == fmt.value)
        path = _write(data, output, doc["filename"])
        console.print(f"{path}  ({fmt_bytes(len(data))}, SHA-256 {doc['sha256']})")

    @report.command("send")
    def send(report_id: Annotated[int, typer.Argument(help="report id from 'patrol reports'")],
             to: To = None) -> None:
        """E-mail an archived report to the customer's recipients (or --to)."""
        record = client_factory().post(f"/api/v1/reports/{report_id}/deliver", json={"recipients": to or None})
        d = record["delivery"]
        console.print(f"report {report_id}: {d['status']} to {', '.join(d['recipients']) or '—'}"
                      + (f" — {d['error']}" if d.get("error") else ""))
        if d["status"] != "sent":
            raise typer.Exit(1)

    @report.command("schedule")
    def schedule(fmt: ListFmt = Format.table) -> None:
        """When each customer's next reports are due."""
        rows = [{"customer": s["customer_id"], "timezone": s["timezone"],
                 "monthly_profile": s["monthly"]["profile"] if s["monthly"]["enabled"] else "off",
                 "monthly_after_run": s["monthly"]["after_run"],
                 "next_quarterly": s["quarterly"]["next_due"] if s["quarterly"]["enabled"] else "off",
                 "quarter": s["quarterly"]["period"]}
                for s in client_factory().get("/api/v1/reports/schedule")]
        emit(rows, ["customer", "timezone", "monthly_profile", "monthly_after_run", "next_quarterly", "quarter"], fmt,
             title="report schedules")
