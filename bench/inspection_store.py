"""A monthly inspection read from the collector's real store (StoreData over SQLite), against the engine alone.

The demo fleet (12 simulated hosts of 3 customers, 90 days of history at the demo's resolution,
trouble injected) is ingested through the collector's real ingest path into a fresh SQLite store;
then the monthly profile (every check, 30-day window, hourly rollups) runs per customer as the
collector's inspection service does: hosts loaded, StoreData prefetching, engine, findings stored.
The timed part is the inspection itself (reads, engine, writes), not the fill; SQLite runs in this
process, so its CPU time (also reported) counts the database work and is steadier than wall time
on a busy machine.

``--hosts N`` (more than ``--agents``) grows the fleet to N hosts by copying the ingested hosts
inside the store (their hourly rollups, packed and live, latest values and events, under new host ids
and names), so a fleet of 1,000 costs minutes to build instead of hours of ingest. The monthly run reads only the
hourly tier, which is what is copied. Before copying, the compaction job packs the completed days,
as a running collector's would have: the store read is packed blocks plus the last day's live rows.
The store is kept in the temp directory and reused by later runs with the same arguments on the same
day. The same answers are then loaded into memory and the engine runs alone on them:
``store / engine`` is what reading the store costs on top of the checks.

    .venv/bin/python bench/inspection_store.py [--quick] [--agents 12] [--customers 3] [--days 90]
    .venv/bin/python bench/inspection_store.py --hosts 1000 --days 31
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, text

from collector.inspection import runs
from collector.inspection.data import StoreData, load_hosts
from collector.inspection.runs import RunRequest
from collector.simulator import HistorySchedule, TroubleSpec, encoded_batches
from collector.simulator.fleet import customers_for
from collector.store.compaction import compact
from inspections import HostInfo, InspectionResult, MemoryData, Profile, load_profile, run_inspection
from tests.collector_inspection.store import RETENTION, ingest, open_store

EVENTS_PER_HOST = 1_000_000  # every event of the window: the engine's own limits apply to MemoryData too


def fill(path: Path, agents: int, customers: int, days: int, end: datetime, now_s: float) -> float:
    engine = open_store(path)
    t0 = time.perf_counter()
    ingest(engine, encoded_batches(agents=agents, customers=customers, seed=1, end=end,
                                   schedule=HistorySchedule(history=timedelta(days=days)),
                                   trouble=TroubleSpec()), now_s, track=False)
    engine.dispose()
    return time.perf_counter() - t0


def compact_store(path: Path, now_s: float) -> None:
    """Pack the completed days, as the collector's compaction job would have by ``now_s`` (the day
    that ended a minute before stays live, as it would on a running collector)."""
    engine = open_store(path)
    t0 = time.perf_counter()
    done = compact(engine, now_s)
    engine.dispose()
    print(f"compacted {done.buckets} hourly rows of {done.series} series into {done.blocks} blocks "
          f"in {time.perf_counter() - t0:.1f} s", flush=True)


def grow(engine: Engine, hosts: int) -> int:
    """Copy the stored hosts, round robin, until there are ``hosts``; return how many were added.

    One transaction per round of copies keeps SQLite's write-ahead log small (one transaction for
    a thousand hosts would grow it to gigabytes and slow every page lookup of the copy)."""
    with engine.connect() as conn:
        originals = [r[0] for r in conn.execute(text("SELECT id FROM hosts ORDER BY id"))]
    copies = [(originals[i % len(originals)], f"{originals[i % len(originals)]}-{i // len(originals)}",
               i // len(originals)) for i in range(len(originals), hosts)]
    twins = ("FROM copies c JOIN series o ON o.host_id = c.src"
             " JOIN series t ON t.host_id = c.dst AND t.name = o.name AND t.labels = o.labels")
    statements = [
        "INSERT INTO hosts (id, customer_id, hostname, source, labels, facts, agent_version, first_seen_ms,"
        " last_seen_ms, last_data_ms, connected, connected_to, spool, rejected)"
        " SELECT c.dst, h.customer_id, h.hostname || '-' || c.n, h.source, h.labels, h.facts, h.agent_version,"
        " h.first_seen_ms, h.last_seen_ms, h.last_data_ms, h.connected, h.connected_to, h.spool, h.rejected"
        " FROM copies c JOIN hosts h ON h.id = c.src",
        "INSERT INTO series (host_id, name, labels) SELECT c.dst, s.name, s.labels FROM copies c"
        " JOIN series s ON s.host_id = c.src",
        "INSERT INTO rollup_1h (series_id, bucket, min, max, sum, count, last, last_ts_ms)"
        " SELECT t.id, r.bucket, r.min, r.max, r.sum, r.count, r.last, r.last_ts_ms " + twins
        + " JOIN rollup_1h r ON r.series_id = o.id",
        "INSERT INTO rollup_1h_blocks (series_id, block, buckets, data) SELECT t.id, r.block, r.buckets, r.data "
        + twins + " JOIN rollup_1h_blocks r ON r.series_id = o.id",
        "INSERT INTO latest (series_id, ts_ms, value) SELECT t.id, l.ts_ms, l.value " + twins
        + " JOIN latest l ON l.series_id = o.id",
        "INSERT INTO events (host_id, ts_ms, rule, severity, source, line, fields, suppressed_before, collector_id)"
        " SELECT c.dst, e.ts_ms, e.rule, e.severity, e.source, e.line, e.fields, e.suppressed_before,"
        " e.collector_id FROM copies c JOIN events e ON e.host_id = c.src",
    ]
    for start in range(0, len(copies), len(originals)):
        with engine.begin() as conn:
            conn.execute(text("CREATE TEMP TABLE copies (src TEXT, dst TEXT, n INTEGER)"))
            conn.execute(text("INSERT INTO copies VALUES (:src, :dst, :n)"),
                         [{"src": s, "dst": d, "n": n} for s, d, n in copies[start:start + len(originals)]])
            for statement in statements:
                conn.execute(text(statement))
            conn.execute(text("DROP TABLE copies"))
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
    return len(copies)


def in_memory(data: StoreData, hosts: list[HostInfo], profile: Profile, since: datetime,
              until: datetime) -> MemoryData:
    """What the store answers for these hosts, as a MemoryData (for the engine-only timing)."""
    rollup_names = {n for check in profile.checks for n in check.inputs().rollups}
    latest_names = {n for check in profile.checks for n in check.inputs().latest}
    memory = MemoryData()
    for host in hosts:
        for name in rollup_names:
            for rollup in data.rollups(host.host_id, name, since, until):
                memory.add_rollup(host.host_id, name, rollup.labels, rollup.columns())
        for name in latest_names:
            for value in data.latest(host.host_id, name):
                memory.add_latest(host.host_id, name, value.labels, value.ts, value.value)
        memory.add_events(host.host_id, data.events(host.host_id, since, until, None, EVENTS_PER_HOST))
    return memory


@dataclass
class Totals:
    store: float = 0.0
    cpu: float = 0.0
    engine: float = 0.0
    queries: int = 0
    findings: int = 0
    hosts: int = 0


def inspect_customer(engine: Engine, customer_id: str, profile: Profile, now_s: float, totals: Totals) -> None:
    now = datetime.fromtimestamp(now_s, tz=UTC)
    t1, c1 = time.perf_counter(), time.process_time()
    hosts = load_hosts(engine, customer_id)
    if not hosts:
        return
    run_id = runs.create_run(engine, RunRequest(customer_id, "monthly", "api"), profile.id, profile.name,
                             profile.check_ids(), "bench", int(now_s * 1000))
    since, until = profile.window_ending(now)
    runs.mark_started(engine, run_id, int(now_s * 1000), since, until, None, len(hosts))
    data = StoreData(engine, RETENTION, lambda: now_s)
    result = run_inspection(data, hosts, profile, now=now)
    runs.save_result(engine, run_id, result, int(now_s * 1000))
    elapsed = time.perf_counter() - t1
    totals.store += elapsed
    totals.cpu += time.process_time() - c1
    totals.queries += data.queries
    totals.findings += len(result.findings())
    totals.hosts += len(hosts)

    memory = in_memory(StoreData(engine, RETENTION, lambda: now_s), hosts, profile, since, until)
    t2 = time.perf_counter()
    alone = run_inspection(memory, hosts, profile, now=now)
    totals.engine += time.perf_counter() - t2
    _same_verdicts(result, alone, customer_id)
    counts = result.counts()
    print(f"{customer_id}: {len(hosts)} hosts in {elapsed:.3f} s, {data.queries} queries, score "
          f"{result.customers[0].score}, critical={counts['critical']} warning={counts['warning']} "
          f"unknown={counts['unknown']}", flush=True)


def _same_verdicts(store: InspectionResult, memory: InspectionResult, customer_id: str) -> None:
    """The engine-only run is only a baseline if it saw the same data: same findings, same states."""
    def verdicts(result: InspectionResult) -> list[tuple[str, str, str, str]]:
        return sorted((f.host_id, f.check_id, f.subject, f.status) for f in result.findings())

    if verdicts(store) != verdicts(memory):
        raise SystemExit(f"{customer_id}: the engine alone found something else than through the store")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="40 days of history instead of 90: the monthly run reads the same 30 days; < 60 s")
    ap.add_argument("--agents", type=int, default=12, help="hosts ingested through the real ingest path")
    ap.add_argument("--customers", type=int, default=3)
    ap.add_argument("--days", type=int, default=None, help="history to fill (default 90, 40 with --quick)")
    ap.add_argument("--hosts", type=int, default=None,
                    help="grow the fleet to this many hosts by copying the ingested ones (store kept in the temp dir)")
    args = ap.parse_args()
    args.days = args.days or (40 if args.quick else 90)
    hosts = max(args.hosts or args.agents, args.agents)
    # A fixed end (today, midnight UTC) lets a later run today reuse the kept store.
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    now_s = end.timestamp() + 60
    with tempfile.TemporaryDirectory() as scratch:
        if args.hosts:
            path = Path(tempfile.gettempdir()) / (f"patrol-bench-inspection-store-{args.agents}a-{args.customers}c-"
                                                  f"{args.days}d-{hosts}h-{end:%Y%m%d}-compacted.sqlite")
        else:
            path = Path(scratch) / "patrol.sqlite"
        if not path.exists():
            building = path.with_suffix(".building")
            for stale in path.parent.glob(building.name + "*"):
                stale.unlink()
            seconds = fill(building, args.agents, args.customers, args.days, end, now_s)
            print(f"filled {args.agents} hosts x {args.days} days in {seconds:.1f} s", flush=True)
            compact_store(building, now_s)
            t0 = time.perf_counter()
            engine = open_store(building)
            added = grow(engine, hosts)
            engine.dispose()
            if added:
                print(f"copied hosts up to {hosts} in {time.perf_counter() - t0:.1f} s", flush=True)
            building.rename(path)
        else:
            print(f"reusing {path}", flush=True)
        engine = open_store(path)
        profile = load_profile("monthly")
        totals = Totals()
        for customer in customers_for(args.customers):
            inspect_customer(engine, customer.id, profile, now_s, totals)
        engine.dispose()
    n = totals.hosts
    print(f"hosts={n}")
    print(f"findings={totals.findings}")
    print(f"store_queries={totals.queries}")
    print(f"inspection_store_cpu_seconds_{n}_hosts={totals.cpu:.3f}")
    print(f"inspection_engine_seconds_{n}_hosts={totals.engine:.3f}")
    print(f"inspection_store_seconds_{n}_hosts={totals.store:.3f}")
    print(f"store_over_engine_{n}_hosts={totals.store / totals.engine:.2f}")


if __name__ == "__main__":
    main()
