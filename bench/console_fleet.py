"""The web console's fleet overview for 1,000 hosts, server-side: the data and the rendered page.

Reads, without changing it, the SQLite store ``bench/inspection_store.py --hosts N --days 31`` keeps
in the temp directory (the demo fleet grown to N hosts by copying the ingested ones, with its
monthly inspections for the health scores); when there is none, builds one of its own the same way
and inspects it once. Then it times what ``GET /console`` does per request: the fleet query
(hosts, latest key values, health scores, open tickets, a day of hourly sparkline points per host
and metric through the store's read layer) and the Jinja2 rendering of the page with its SVG
sparklines. Wall and CPU seconds are the median of ``--repeat`` runs; SQLite runs in this process,
so CPU time includes the database work.

    .venv/bin/python bench/console_fleet.py --hosts 1000
    .venv/bin/python bench/console_fleet.py --quick          # the 12 ingested hosts, 40 days
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from inspection_store import Totals, compact_store, fill, grow, inspect_customer  # bench/inspection_store.py
from sqlalchemy import Engine, create_engine

from collector.console.fleet import SparkCache, fleet
from collector.console.sessions import Session
from collector.console.templating import render_fragment
from collector.console.users import User
from collector.inspection import runs
from collector.simulator.fleet import customers_for
from collector.store.schema import metadata
from inspections import load_profile
from tests.collector_inspection.store import RETENTION, open_store


def store_path(agents: int, customers: int, days: int, hosts: int, end: datetime, scratch: Path,
               kind: str) -> Path:
    if hosts > agents:
        return Path(tempfile.gettempdir()) / (f"patrol-bench-{kind}-{agents}a-{customers}c-"
                                              f"{days}d-{hosts}h-{end:%Y%m%d}-compacted.sqlite")
    return scratch / "patrol.sqlite"


def read_only(path: Path) -> Engine:
    """The store as it is, whatever its schema revision (only tables every revision has are read)."""
    return create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")


def build(path: Path, agents: int, customers: int, days: int, hosts: int, end: datetime, now_s: float) -> None:
    building = path.with_suffix(".building")
    for stale in path.parent.glob(building.name + "*"):
        stale.unlink()
    print(f"filled {agents} hosts x {days} days in {fill(building, agents, customers, days, end, now_s):.1f} s",
          flush=True)
    compact_store(building, now_s)
    engine = open_store(building)
    grow(engine, hosts)
    engine.dispose()
    building.rename(path)


def inspect_once(path: Path, customer_ids: list[str], now_s: float) -> None:
    """One monthly inspection per customer, stored, unless the store holds one: the health scores."""
    engine = open_store(path)
    metadata.create_all(engine)  # tables of features newer than a reused store
    with engine.connect() as conn:
        done = bool(runs.list_runs(conn, None, "completed", 1))
    if not done:
        profile = load_profile("monthly")
        for cid in customer_ids:
            inspect_customer(engine, cid, profile, now_s, Totals())
    engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="only the ingested hosts, 40 days")
    ap.add_argument("--agents", type=int, default=12)
    ap.add_argument("--customers", type=int, default=3)
    ap.add_argument("--days", type=int, default=None, help="history (default 31, 40 with --quick)")
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    days = args.days or (40 if args.quick else 31)
    hosts = args.agents if args.quick else max(args.hosts, args.agents)
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    now_s = end.timestamp() + 60
    customers = customers_for(args.customers)
    names = {c.id: c.name for c in customers}
    with tempfile.TemporaryDirectory() as scratch:
        shared = store_path(args.agents, args.customers, days, hosts, end, Path(scratch), "inspection-store")
        if shared.exists() and hosts > args.agents:
            print(f"reading {shared}", flush=True)
            engine = read_only(shared)
        else:
            path = store_path(args.agents, args.customers, days, hosts, end, Path(scratch), "console-fleet")
            if not path.exists():
                build(path, args.agents, args.customers, days, hosts, end, now_s)
            inspect_once(path, list(names), now_s)
            engine = open_store(path)
        user = User(1, "bench", "bench", "engineer", None, "zh", False, 0)
        session = Session(user, "x" * 43, 0, "")
        data_wall, data_cpu, render_wall, render_cpu = [], [], [], []
        size = rows = 0
        cache = SparkCache()
        for _ in range(args.repeat + 1):
            w0, c0 = time.perf_counter(), time.process_time()
            with engine.connect() as conn:
                shown = fleet(conn, now_s, 120.0, RETENTION, names, cache=cache)
            w1, c1 = time.perf_counter(), time.process_time()
            html = render_fragment(session, "fleet.html", hosts=shown, total=len(shown), summary={
                "online": 0, "offline": len(shown), "problems": sum(h.problem for h in shown)}, q="", customer="",
                status="", customers=names, zones={c.id: c.timezone for c in customers},
                active="nav.fleet", path="/console")
            w2, c2 = time.perf_counter(), time.process_time()
            data_wall.append(w1 - w0)
            data_cpu.append(c1 - c0)
            render_wall.append(w2 - w1)
            render_cpu.append(c2 - c1)
            size, rows = len(html.encode()), html.count('class="host-row')
        engine.dispose()
    total = [a + b for a, b in zip(data_wall, render_wall, strict=True)]
    total_cpu = [a + b for a, b in zip(data_cpu, render_cpu, strict=True)]
    print(f"hosts={rows}")
    print(f"page_bytes={size}")
    print(f"console_fleet_cold_seconds_{rows}_hosts={total[0]:.3f}")
    print(f"console_fleet_cold_cpu_seconds_{rows}_hosts={total_cpu[0]:.3f}")
    print(f"console_fleet_data_seconds_{rows}_hosts={statistics.median(data_wall[1:]):.3f}")
    print(f"console_fleet_render_seconds_{rows}_hosts={statistics.median(render_wall[1:]):.3f}")
    print(f"console_fleet_cpu_seconds_{rows}_hosts={statistics.median(total_cpu[1:]):.3f}")
    print(f"console_fleet_seconds_{rows}_hosts={statistics.median(total[1:]):.3f}")


if __name__ == "__main__":
    main()
