"""Ticket service throughput on a real SQLite file: ingesting signals and the periodic SLA pass.

    python bench/tickets.py [--quick] [--tickets N] [--signals N]

Measures (injected clock, 5×8 business-hours profile in Asia/Shanghai, so the calendar walk is real):
- opening N tickets from one batch of firing signals;
- a repeat batch (the same N conditions firing again) and a batch of mostly-ok signals;
- the periodic pass over N open tickets with nothing due, and with every ticket breaching.
Headline figures are the last lines, ``name=value``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collector.config import Customer
from collector.store.engine import open_engine
from collector.tickets.config import TicketsConfig
from collector.tickets.evaluate import SlaEvaluator
from collector.tickets.model import Signal, Source
from collector.tickets.service import TicketService


class Clock:
    def __init__(self, t: datetime) -> None:
        self.t = t.timestamp()

    def __call__(self) -> float:
        return self.t


def signals(n: int, firing: bool, at: datetime) -> list[Signal]:
    return [Signal(source=Source.INSPECTION, check_id="disk.usage", subject=f"/data{i % 10}", firing=firing,
                   observed_at=at, host_id=f"host-{i // 10:05d}", customer_id="acme", title="disk") for i in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, finishes in seconds")
    ap.add_argument("--tickets", type=int, default=None)
    ap.add_argument("--signals", type=int, default=None)
    args = ap.parse_args()
    n = args.tickets or (300 if args.quick else 2000)
    n_ok = args.signals or (5000 if args.quick else 50000)
    start = datetime(2025, 6, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
    clock = Clock(start)
    with tempfile.TemporaryDirectory() as tmp:
        engine = open_engine(f"sqlite:///{Path(tmp) / 'bench.sqlite'}")
        cfg = TicketsConfig.model_validate({"default_profile": "software-plan-5x8",
                                            "noise": {"repeat_note_every": "1h"}})
        customers = {"acme": Customer(id="acme", name="ACME", timezone="Asia/Shanghai")}
        svc = TicketService(engine, cfg, customers, clock)
        evaluator = SlaEvaluator(svc)

        t0 = time.perf_counter()
        opened = svc.ingest(signals(n, True, start)).opened
        t_open = time.perf_counter() - t0
        assert len(opened) == n
        clock.t += 60
        t0 = time.perf_counter()
        svc.ingest(signals(n, True, start + timedelta(minutes=1)))
        t_repeat = time.perf_counter() - t0
        ok = [s for s in signals(n_ok, False, start) if not s.subject.endswith("0")]
        t0 = time.perf_counter()
        svc.ingest(ok)
        t_ok = time.perf_counter() - t0
        clock.t += 600
        t0 = time.perf_counter()
        quiet = evaluator.evaluate()
        t_quiet = time.perf_counter() - t0
        # Two days later every L3 response (12 business hours) has breached: one write per ticket.
        clock.t = (start + timedelta(days=2)).timestamp()
        t0 = time.perf_counter()
        busy = evaluator.evaluate()
        t_busy = time.perf_counter() - t0
        engine.dispose()
    print(f"opened {n} tickets in {t_open:.2f}s; repeat batch {t_repeat:.2f}s; {len(ok)} ok signals {t_ok:.2f}s")
    print(f"periodic pass, {quiet.evaluated} open, nothing due: {t_quiet:.2f}s; "
          f"{len(busy.breaches)} breaches + {len(busy.escalations)} escalations: {t_busy:.2f}s")
    print(f"tickets_open_per_s={n / t_open:.0f}")
    print(f"repeat_signals_per_s={n / t_repeat:.0f}")
    print(f"ok_signals_per_s={len(ok) / t_ok:.0f}")
    print(f"sla_pass_quiet_ms_per_ticket={t_quiet / max(1, quiet.evaluated) * 1000:.2f}")
    print(f"sla_pass_breaching_ms_per_ticket={t_busy / max(1, busy.evaluated) * 1000:.2f}")


if __name__ == "__main__":
    main()
