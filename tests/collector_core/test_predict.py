"""Forecasts over the store find the simulator's filling disk and memory leak before they fail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from collector.ingest import Batch, Ingestor
from collector.predictions.service import forecast_capacity, rollup_forecast_points
from collector.simulator import FleetSpec, HistorySchedule, TroubleSpec, build_fleet, encoded_batches
from collector.simulator.trouble import TroubleKind, plan_troubles
from collector.store.engine import open_engine
from collector.store.samples import samples_of
from protos.patrol.v1 import agent_pb2 as pb

pytestmark = pytest.mark.slow
RET = {"raw": 86400.0, "1m": 14 * 86400.0, "1h": 730 * 86400.0, "events": 90 * 86400.0}


def test_forecasts_lead_the_injected_failures(tmp_path: Path) -> None:
    end = datetime(2026, 11, 1, tzinfo=UTC)
    schedule = HistorySchedule(history=timedelta(days=21), step=timedelta(minutes=30),
                               coarse_step=timedelta(minutes=30))
    now = end.timestamp()
    engine = open_engine(f"sqlite:///{tmp_path / 'p.sqlite'}")
    ing = Ingestor(engine, "c1", RET, clock=lambda: now)
    batches: list[Batch] = []
    for agent_id, data in encoded_batches(agents=12, customers=3, seed=1, schedule=schedule, end=end,
                                          trouble=TroubleSpec()):
        samples = samples_of(pb.AgentMessage.FromString(data))
        if samples is not None:
            batches.append(Batch(host_id=agent_id, epoch="e", seq=samples.seq, done=lambda _: None,
                                 samples=samples, payload=data))
    from collector.ingest import HostUpdate

    hosts = {b.host_id for b in batches}
    ing._commit([HostUpdate(host_id=h, customer_id="acme", hostname=h) for h in hosts])
    for i in range(0, len(batches), 200):
        ing._commit(batches[i:i + 200])
    ing._flush()

    plan = plan_troubles(build_fleet(FleetSpec(agents=12, customers=3, seed=1)), TroubleSpec(), end)
    failing = {(t.agent_id, t.kind): t for t in plan.troubles if t.eta is not None}
    disk = next(t for (a, k), t in failing.items() if k is TroubleKind.DISK_FILL)
    leak = next(t for (a, k), t in failing.items() if k is TroubleKind.MEMORY_LEAK)

    results = forecast_capacity(engine, now, RET)
    by_key = {(r.host_id, r.series, r.labels.get("mount", "")): r for r in results}
    disk_fc = by_key[(disk.agent_id, "disk.used_percent", disk.subject)].result
    assert disk_fc.eta is not None and disk_fc.eta_low is not None and disk_fc.eta_high is not None
    assert abs(disk_fc.eta - disk.eta.timestamp()) < 1.5 * 86400  # about a week out, within a day and a half
    assert disk_fc.eta > now  # predicted before it happens
    leak_fc = by_key[(leak.agent_id, "mem.used_percent", "")].result
    assert leak_fc.eta is not None and leak_fc.eta_low is not None
    assert leak_fc.eta_low <= leak.eta.timestamp() + 86400  # the band opens before the failure
    # Hosts without trouble get no crossing within a week.
    troubled = {t.agent_id for t in plan.troubles}
    for r in results:
        if r.host_id not in troubled and r.result.eta is not None:
            assert r.result.eta - now > 7 * 86400, (r.hostname, r.series, r.labels)


def test_rollup_points_stand_for_their_middle_and_never_lie_ahead_of_now() -> None:
    starts = np.array([0.0, 600.0, 1200.0, 1800.0])
    averages = np.array([1.0, 2.0, 3.0, 4.0])
    ts, vs = rollup_forecast_points(starts, averages, now=1500.0, step_s=600.0)
    assert ts.tolist() == [300.0, 900.0, 1500.0]  # the open bucket at 1800 has its middle at 2100
    assert vs.tolist() == [1.0, 2.0, 3.0]
