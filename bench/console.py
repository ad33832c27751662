"""The web console's fleet overview of 1,000 hosts, rendered server-side.

A fresh SQLite store is filled through the collector's real paths: 1,000 hosts of 10 customers say
hello and send a day of key utilisations (CPU, memory, two disks, load; every 15 minutes) through
the ingest writer, which keeps the latest values and the hourly rollups the sparklines read; each
customer has a completed inspection run (a health score per host) and one host in twenty an open
ticket. Then the timed part: an engineer's ``GET /console`` through the collector's own HTTP app
(FastAPI's TestClient, in this process), as often as ``--rounds`` says — wall time per request and
the process's CPU time (the app runs in this process, so it counts the server's work) — plus the
same page filtered to problems and to one customer. The page reuses a fleet's sparkline points for
a minute and each drawn sparkline while its points stay the same; the ``cold`` rows forget both
before every request (the first view after a minute, or after a new hour began).

    .venv/bin/python bench/console.py [--hosts 1000] [--rounds 15]

Headline (last line): ``console_fleet_render_ms_1000_hosts`` (median wall time per request), target
300 ms or less.
"""

from __future__ import annotations

import argparse
import math
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from collector.api import create_api
from collector.app import CollectorApp, sync_customers
from collector.config import CollectorConfig
from collector.console import sparkline as sparkline_module
from collector.console.config import ConsoleSettings
from collector.console.fleet import SparkCache
from collector.console.service import ConsoleService
from collector.console.users import create_user
from collector.inspection import runs
from collector.inspection.runs import RunRequest
from collector.tickets.config import TicketsConfig
from collector.tickets.model import Severity
from collector.tickets.service import ManualTicket, TicketService
from inspections import CustomerScore, Evidence, Finding, HostResult, InspectionResult, SeriesRef, Threshold, blank_rows
from tests.collector_inspection.store import hello, ingest, samples

CUSTOMERS = 10
STEP_S = 900
PASSWORD = "bench-console-password"


def host_ids(hosts: int) -> list[tuple[str, str, str]]:
    """(agent id, customer, hostname) of every host."""
    per = max(1, hosts // CUSTOMERS)
    return [(f"agent-{i:05d}", f"cust{i // per % CUSTOMERS:02d}", f"cust{i // per % CUSTOMERS:02d}-node-{i:05d}")
            for i in range(hosts)]


def messages(hosts: list[tuple[str, str, str]], now_s: float) -> Iterator[tuple[str, bytes]]:
    rng = random.Random(7)
    start = now_s - 86400
    points = [start + k * STEP_S for k in range(int(86400 // STEP_S) + 1)]
    for agent, customer, hostname in hosts:
        yield hello(agent, customer, hostname, labels={"role": hostname.split("-")[1], "env": "prod"})
        base, disk = rng.uniform(5, 70), rng.uniform(20, 95)

        def daily(level: float, t: float) -> float:
            return max(0.0, min(100.0, level + 15 * math.sin((t - start) / 86400 * 2 * math.pi)
                                + rng.uniform(-3, 3)))

        yield samples(agent, 1, [
            ("cpu.busy_percent", {}, [(t, daily(base, t)) for t in points]),
            ("mem.used_percent", {}, [(t, daily(base + 20, t)) for t in points]),
            ("disk.used_percent", {"mount": "/"}, [(t, disk) for t in points]),
            ("disk.used_percent", {"mount": "/data"}, [(t, disk / 2 + 0.001 * (t - start) / 3600) for t in points]),
            ("load.load1_per_core", {}, [(t, daily(base, t) / 100) for t in points]),
        ])


def inspections(engine: Engine, hosts: list[tuple[str, str, str]], now_s: float) -> None:
    rng = random.Random(3)
    until_ms = int(now_s * 1000)
    from datetime import UTC, datetime

    since, until = datetime.fromtimestamp(now_s - 86400, tz=UTC), datetime.fromtimestamp(now_s, tz=UTC)
    for customer in sorted({c for _, c, _ in hosts}):
        mine = [(a, h) for a, c, h in hosts if c == customer]
        results = []
        for agent, hostname in mine:
            status = rng.choices(["ok", "warning", "critical"], [0.85, 0.1, 0.05])[0]
            finding = Finding(host_id=agent, check_id="resources.cpu_busy", subject="", status=status,  # type: ignore[arg-type]
                              observed=round(rng.uniform(0, 100), 1), threshold=Threshold(80.0, 95.0, "above"),
                              unit="%", evidence=Evidence("rollups", (SeriesRef("cpu.busy_percent"),), since, until,
                                                          "p95 of avg", "1h", 24),
                              recommendation="", category="resources", severity="medium",  # type: ignore[arg-type]
                              name={"zh": "CPU 使用率", "en": "CPU busy"})
            results.append(HostResult(agent, hostname, customer, rng.randint(40, 100), [finding]))
        run_id = runs.create_run(engine, RunRequest(customer, "daily", "schedule"), "daily",
                                 {"zh": "日常巡检", "en": "Daily inspection"}, ["resources.cpu_busy"], "bench",
                                 until_ms, checklist=blank_rows())
        runs.mark_started(engine, run_id, until_ms, since, until, None, len(mine))
        runs.save_result(engine, run_id, InspectionResult("daily", since, until, until, None, results,
                                                          [CustomerScore(customer, 80, len(mine), None, {})],
                                                          ["resources.cpu_busy"]), until_ms)


def tickets(app: CollectorApp, hosts: list[tuple[str, str, str]]) -> int:
    svc = TicketService(app.engine, TicketsConfig(), {c.id: c for c in app.cfg.customers}, app.clock)
    made = 0
    for i, (agent, customer, hostname) in enumerate(hosts):
        if i % 20 == 0:
            svc.create_manual("bench", ManualTicket(customer_id=customer, title=f"slow backups on {hostname}",
                                                    severity=Severity.parse(f"L{1 + i % 4}"), host_id=agent))
            made += 1
    return made


def login(client: TestClient) -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]*)"', page.text)
    assert token, "no login form"
    r = client.post("/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token.group(1)},
                    headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert r.status_code == 303, f"login failed: {r.status_code} {r.text[:200]}"


def forget_drawn(console: ConsoleService) -> None:
    """Drop the fleet's kept sparklines and drawn SVGs: the next request reads and draws all."""
    console.sparks = SparkCache()
    sparkline_module._drawn.cache_clear()


def timed(client: TestClient, path: str, rounds: int, console: ConsoleService, cold: bool = False
          ) -> tuple[list[float], list[float], int, int]:
    walls, cpus = [], []
    size, rows = 0, 0
    for _ in range(rounds):
        if cold:
            forget_drawn(console)
        w0, c0 = time.perf_counter(), time.process_time()
        r = client.get(path)
        walls.append((time.perf_counter() - w0) * 1000)
        cpus.append((time.process_time() - c0) * 1000)
        assert r.status_code == 200, f"{path}: {r.status_code} {r.text[:300]}"
        size, rows = len(r.content), r.text.count('class="host-row')
    return walls, cpus, size, rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    now_s = float(int(time.time() // 3600 * 3600 + 1800))
    with tempfile.TemporaryDirectory(prefix="patrol-bench-console-") as tmp:
        cfg = CollectorConfig.model_validate({
            "data_dir": tmp, "insecure": True,
            "customers": [{"id": f"cust{i:02d}", "name": f"Customer {i:02d}", "timezone": "Asia/Shanghai"}
                          for i in range(CUSTOMERS)]})
        app = CollectorApp(cfg, clock=lambda: now_s)
        try:
            sync_customers(app.engine, cfg)
            hosts = host_ids(args.hosts)
            t0 = time.perf_counter()
            ingest(app.engine, messages(hosts, now_s), now_s, track=False)
            inspections(app.engine, hosts, now_s)
            n_tickets = tickets(app, hosts)
            print(f"filled {len(hosts)} hosts of {CUSTOMERS} customers (a day at {STEP_S // 60}-minute steps, "
                  f"5 series each), an inspection run per customer and {n_tickets} open tickets in "
                  f"{time.perf_counter() - t0:.1f} s", flush=True)
            console = ConsoleService(app, ConsoleSettings())
            app.services.append(console)
            create_user(app.engine, username="bench", password=PASSWORD, role="engineer", now_ms=int(now_s * 1000),
                        language="en")
            with TestClient(create_api(app), base_url="http://testserver") as client:
                login(client)
                timed(client, "/console", 2, console)  # warm: templates compiled, caches filled
                results = {}
                for label, path, cold in (("cold", "/console", True), ("all", "/console", False),
                                          ("problems", "/console?status=problem", False),
                                          ("one_customer", "/console?customer=cust03", False)):
                    walls, cpus, size, rows = timed(client, path, args.rounds if not cold else max(3, args.rounds // 3),
                                                    console, cold)
                    results[label] = (statistics.median(walls), statistics.median(cpus), size, rows)
                    print(f"GET {path:<28}{' (cold)' if cold else '       '} rows {rows:>5}  {size / 1024:6.0f} KiB  "
                          f"wall median "
                          f"{statistics.median(walls):7.1f} ms (min {min(walls):.1f}, max {max(walls):.1f})  "
                          f"CPU median {statistics.median(cpus):7.1f} ms", flush=True)
        finally:
            app.engine.dispose()
    wall, cpu, _, rows = results["all"]
    assert rows == args.hosts, f"the fleet page listed {rows} of {args.hosts} hosts"
    print(f"console_fleet_cold_render_ms_{args.hosts}_hosts={results['cold'][0]:.1f}")
    print(f"console_fleet_cold_cpu_ms_{args.hosts}_hosts={results['cold'][1]:.1f}")
    print(f"console_fleet_cpu_ms_{args.hosts}_hosts={cpu:.1f}")
    print(f"console_fleet_render_ms_{args.hosts}_hosts={wall:.1f}")


if __name__ == "__main__":
    main()
