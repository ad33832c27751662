"""A monthly inspection read from the collector's real store (StoreData over SQLite).

The demo fleet (12 simulated hosts of 3 customers, 90 days of history at the demo's resolution,
trouble injected) is ingested through the collector's real ingest path into a fresh SQLite store;
then the monthly profile (every check, 30-day window, hourly rollups) runs per customer as the
collector's inspection service does: hosts loaded, StoreData prefetching, engine, findings stored.
The timed part is the inspection itself (reads, engine, writes), not the fill; SQLite runs in this
process, so its CPU time (also reported) counts the database work and is steadier than wall time
on a busy machine.

    .venv/bin/python bench/inspection_store.py [--quick] [--agents 12] [--customers 3] [--days 90]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collector.inspection import runs
from collector.inspection.data import StoreData, load_hosts
from collector.inspection.runs import RunRequest
from collector.simulator import HistorySchedule, TroubleSpec, encoded_batches
from collector.simulator.fleet import customers_for
from inspections import load_profile, run_inspection
from tests.collector_inspection.store import RETENTION, ingest, open_store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="40 days of history instead of 90: the monthly run reads the same 30 days; < 60 s")
    ap.add_argument("--agents", type=int, default=12)
    ap.add_argument("--customers", type=int, default=3)
    ap.add_argument("--days", type=int, default=None, help="history to fill (default 90, 40 with --quick)")
    args = ap.parse_args()
    args.days = args.days or (40 if args.quick else 90)
    end = datetime.now(UTC).replace(microsecond=0)
    now_s = end.timestamp() + 60
    with tempfile.TemporaryDirectory() as tmp:
        engine = open_store(Path(tmp) / "patrol.sqlite")
        t0 = time.perf_counter()
        ingest(engine, encoded_batches(agents=args.agents, customers=args.customers, seed=1, end=end,
                                       schedule=HistorySchedule(history=timedelta(days=args.days)),
                                       trouble=TroubleSpec()), now_s, track=False)
        fill = time.perf_counter() - t0
        print(f"filled {args.agents} hosts x {args.days} days in {fill:.1f} s", flush=True)
        profile = load_profile("monthly")
        now = datetime.fromtimestamp(now_s, tz=UTC)
        total = cpu = 0.0
        queries = findings = hosts_done = 0
        for customer in customers_for(args.customers):
            t1, c1 = time.perf_counter(), time.process_time()
            hosts = load_hosts(engine, customer.id)
            if not hosts:
                continue
            run_id = runs.create_run(engine, RunRequest(customer.id, "monthly", "api"), profile.id, profile.name,
                                     profile.check_ids(), "bench", int(now_s * 1000))
            since, until = profile.window_ending(now)
            runs.mark_started(engine, run_id, int(now_s * 1000), since, until, None, len(hosts))
            data = StoreData(engine, RETENTION, lambda: now_s)
            result = run_inspection(data, hosts, profile, now=now)
            runs.save_result(engine, run_id, result, int(now_s * 1000))
            elapsed = time.perf_counter() - t1
            total += elapsed
            cpu += time.process_time() - c1
            queries += data.queries
            findings += len(result.findings())
            hosts_done += len(hosts)
            counts = result.counts()
            print(f"{customer.id}: {len(hosts)} hosts in {elapsed:.3f} s, {data.queries} queries, score "
                  f"{result.customers[0].score}, critical={counts['critical']} warning={counts['warning']} "
                  f"unknown={counts['unknown']}", flush=True)
        engine.dispose()
    print(f"hosts={hosts_done}")
    print(f"findings={findings}")
    print(f"store_queries={queries}")
    print(f"inspection_store_cpu_seconds_{hosts_done}_hosts={cpu:.3f}")
    print(f"inspection_store_seconds_{hosts_done}_hosts={total:.3f}")


if __name__ == "__main__":
    main()
