"""``patrol hosts``, ``patrol host`` and ``patrol series``: the fleet as the collector sees it."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any

import typer
from rich.table import Table

from collector.cli.client import ApiClient
from collector.cli.output import Format, console, emit
from collector.cli.units import fmt_bytes, fmt_latest, fmt_number, fmt_percent, fmt_series_value


def ago(iso: str | None, now: datetime | None = None) -> str:
    if not iso:
        return "never"
    t = datetime.fromisoformat(iso)
    s = int(((now or datetime.now(UTC)) - t).total_seconds())
    if s < 0:
        return "just now"
    for unit, width in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= width:
            return f"{s // width}{unit} ago"
    return f"{s}s ago"


def hosts_rows(client: ApiClient, customer: str | None) -> list[dict[str, Any]]:
    rows = []
    for h in client.get("/api/v1/hosts", customer=customer):
        kv = h["key_values"]
        rows.append({
            "customer": h["customer_id"], "host": h["hostname"], "id": h["id"], "status": h["status"],
            "source": h["source"], "last_seen": h["last_seen"], "last_seen_ago": ago(h["last_seen"]),
            "last_data": h["last_data"], "data_age": ago(h["last_data"]),
            "cpu_percent": kv.get("cpu.busy_percent"), "mem_percent": kv.get("mem.used_percent"),
            "disk_max_percent": kv.get("disk.used_percent"), "load_per_core": kv.get("load.load1_per_core"),
            "agent_version": h["agent_version"],
        })
    return rows


def print_hosts(client: ApiClient, customer: str | None = None, fmt: Format = Format.table) -> None:
    rows = hosts_rows(client, customer)
    if fmt is not Format.table:
        emit(rows, list(rows[0].keys()) if rows else ["host"], fmt)
        return
    # Two agents on one machine, or one name at two customers: only the agent id tells the rows apart.
    names = Counter(r["host"] for r in rows)
    show_id = any(n > 1 for n in names.values())
    table = Table(title=f"{len(rows)} hosts", header_style="bold")
    columns = ("customer", "host", *(("agent id",) if show_id else ()), "status", "last seen", "newest data",
               "cpu", "mem", "disk max", "load/core")
    for col in columns:
        table.add_column(col, justify="right" if col in ("cpu", "mem", "disk max", "load/core") else "left",
                         no_wrap=True)
    for r in rows:
        status = "[green]online[/]" if r["status"] == "online" else "[red]offline[/]"
        table.add_row(r["customer"], r["host"], *((r["id"],) if show_id else ()), status, r["last_seen_ago"],
                      r["data_age"], fmt_percent(r["cpu_percent"]), fmt_percent(r["mem_percent"]),
                      fmt_percent(r["disk_max_percent"]), fmt_number(r["load_per_core"], 2))
    console.print(table)


def register(app: typer.Typer, client_factory: Any) -> None:
    @app.command("hosts")
    def hosts(customer: Annotated[str | None, typer.Option(help="only this customer")] = None,
              fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table) -> None:
        """Hosts with customer, status, last seen and key utilisations."""
        print_hosts(client_factory(), customer, fmt)

    @app.command("host")
    def host(host: Annotated[str, typer.Argument(help="host id or hostname")],
             fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table) -> None:
        """Facts and latest values of one host."""
        h = client_factory().get(f"/api/v1/hosts/{host}")
        if fmt is not Format.table:
            emit(h["latest"] if fmt is Format.csv else [h], ["name", "labels", "ts", "value"], fmt)
            return
        f = h.get("facts") or {}
        console.print(f"[bold]{h['hostname']}[/] ({h['id']}) customer={h['customer_id']} status={h['status']} "
                      f"last seen {ago(h['last_seen'])} agent {h['agent_version'] or '—'}")
        facts = Table(show_header=False, box=None)
        for k, v in (("OS", f.get("os")), ("kernel", f.get("kernel")), ("arch", f.get("arch")),
                     ("CPU", f"{f.get('cpu_model', '—')} × {f.get('cpu_count', '—')}"),
                     ("memory", fmt_bytes(float(f["memory_bytes"])) if f.get("memory_bytes") else "—"),
                     ("disks", ", ".join(f"{d.get('mount')} ({fmt_bytes(float(d.get('total_bytes', 0)))})"
                                          for d in f.get("disks", [])) or "—"),
                     ("interfaces", ", ".join(f"{i.get('name')} {' '.join(i.get('addresses', []))}"
                                              for i in f.get("interfaces", [])) or "—")):
            facts.add_row(f"[dim]{k}[/]", str(v))
        console.print(facts)
        rejected = [f"{kind} {reason}: {n}" for kind, counts in (h.get("rejected") or {}).items()
                    for reason, n in sorted(counts.items())]
        if rejected:
            console.print(f"[yellow]dropped at the ingest door[/] {', '.join(rejected)}")
        table = Table(title="latest values", header_style="bold")
        for col in ("series", "labels", "value", "at"):
            table.add_column(col, justify="right" if col == "value" else "left")
        for v, text in zip(h["latest"], fmt_latest(h["latest"]), strict=True):
            labels = ",".join(f"{k}={x}" for k, x in v["labels"].items())
            table.add_row(v["name"], labels, text, ago(v["ts"]))
        console.print(table)

    @app.command("series")
    def series(host: Annotated[str, typer.Argument(help="host id or hostname")],
               metric: Annotated[str, typer.Argument(help="series name, e.g. disk.used_percent")],
               since: Annotated[str, typer.Option(help="duration (7d) or ISO time")] = "7d",
               until: Annotated[str | None, typer.Option(help="duration ago or ISO time; default now")] = None,
               step: Annotated[str, typer.Option(help="point width, e.g. 1m, 1h")] = "1h",
               label: Annotated[list[str] | None, typer.Option(help="filter key=value (repeatable)")] = None,
               fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table) -> None:
        """A series of one host from the rollups."""
        data = client_factory().request("GET", f"/api/v1/hosts/{host}/series/{metric}",
                                        params={"since": since, "until": until, "step": step,
                                                "label": label or []})
        rows = []
        for s in data["series"]:
            labels = ",".join(f"{k}={v}" for k, v in s["labels"].items())
            for p in s["points"]:
                rows.append({"series": metric, "labels": labels, "ts": p["ts"], "min": p["min"], "max": p["max"],
                             "avg": p["avg"], "last": p["last"], "count": p["count"]})
        if not rows and fmt is Format.table:
            console.print(f"no data for {metric} on {host} in that window")
            return
        value = partial(fmt_series_value, metric)
        emit(rows, ["series", "labels", "ts", "min", "max", "avg", "last", "count"], fmt,
             title=f"{metric} on {data['hostname']} ({data['series'][0]['tier'] if data['series'] else ''} rollups)",
             units={"min": value, "max": value, "avg": value, "last": value})
