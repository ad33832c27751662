"""Sources: inspection findings, forecasts (the real forecaster), anomaly scores and offline agents."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import insert, update

from collector.store.schema import hosts
from collector.tickets.config import OfflinePolicy
from collector.tickets.model import Severity, Source, State
from collector.tickets.offline import OfflineDetector
from collector.tickets.sources import FindingBatch, anomaly_signals, downsample, finding_signals, forecast_signals
from inspections.anomaly import Episode
from inspections.forecast import Forecast, forecast
from inspections.model import Evidence, Finding, Threshold
from inspections.signals import Anomaly, CapacityForecast, InputWindow
from tests.tickets.helpers import FakeClock, Harness


def finding(status: str, observed: float, host: str = "web-01", subject: str = "/data") -> Finding:
    return Finding(host_id=host, check_id="disk.usage", subject=subject, status=status,  # type: ignore[arg-type]
                   observed=observed, threshold=Threshold(80, 90, "above"), unit="%",
                   evidence=Evidence(source="latest"), recommendation={"en": "clean up or extend", "zh": "清理或扩容"},
                   category="resources", severity="high", name={"en": "Disk usage", "zh": "磁盘使用率"})


def batch(at: datetime, *findings: Finding) -> FindingBatch:
    return FindingBatch(run_id=7, customer_id="acme", evaluated_at=at, findings=list(findings),
                        hostnames={"web-01": "web-01.acme.example"})


def test_inspection_findings_open_update_and_clear(h: Harness) -> None:
    now = h.clock.now
    policy = h.cfg.policy
    report = h.svc.ingest(finding_signals(batch(now, finding("critical", 93.5), finding("ok", 40, subject="/")),
                                          policy))
    assert len(report.opened) == 1
    t = h.svc.get(report.opened[0])
    assert (t.source, t.customer_id, t.check_id, t.subject) == (Source.INSPECTION, "acme", "disk.usage", "/data")
    assert t.severity == Severity.L2  # the built-in policy: critical × high importance
    # acme reads Chinese: its tickets are registered with the Chinese title.
    assert t.title == "web-01.acme.example 磁盘使用率 /data：严重"
    reg = t.registration.description
    assert "磁盘使用率 / Disk usage /data on web-01.acme.example: critical, measured 93.5%" in reg
    assert "warning ≥ 80%, critical ≥ 90%" in reg and "清理或扩容" in reg and "inspection run 7" in reg
    assert t.details["finding"]["threshold"] == {"warn": 80, "crit": 90, "direction": "above"}
    assert t.details["policy"].startswith("rule 0 (critical findings of important checks)")
    h.clock.advance(hours=1)
    again = h.svc.ingest(finding_signals(batch(h.clock.now, finding("warning", 85)), policy))
    assert again.repeated == 1 and h.svc.get(t.id).occurrences == 2
    unknown = finding_signals(batch(now, finding("unknown", float("nan"))), policy)
    assert unknown[0].firing is None
    h.clock.advance(hours=1)
    cleared = h.svc.ingest(finding_signals(batch(h.clock.now, finding("ok", 50)), policy))
    assert cleared.cleared == 1


def filling_disk(t0: float, days: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    ts = np.arange(0, days * 86400, 600.0) + t0
    rng = np.random.default_rng(1)
    return ts, 60 + 5 * (ts - t0) / 86400 + rng.normal(0, 0.3, len(ts))


def _capacity(fc: Forecast, ts: np.ndarray, values: np.ndarray, run_id: int = 1) -> CapacityForecast:
    """A stored forecast run of web-01's /data, as the predictions pass hands it to the ticket service."""
    return CapacityForecast(host_id="web-01", hostname="web-01", customer_id="acme", series="disk.used_percent",
                            labels={"mount": "/data"}, window=InputWindow(float(ts[0]), float(ts[-1]), 600.0),
                            method="robust-trend", computed_at=datetime.fromtimestamp(fc.now, tz=UTC), result=fc,
                            run_id=run_id, points=tuple(zip(ts.tolist(), values.tolist(), strict=True)))


def test_a_forecast_opens_a_predictive_ticket_with_eta_band_and_series(h: Harness) -> None:
    ts, values = filling_disk(h.clock.now.timestamp() - 4 * 86400)
    fc = forecast(ts, values, 100.0, "up", now=ts[-1])
    assert fc.eta is not None
    report = h.svc.ingest(forecast_signals([_capacity(fc, ts, values)], h.cfg.forecasts))
    t = h.svc.get(report.opened[0])
    assert t.source == Source.FORECAST and t.fingerprint == "web-01|forecast.disk.used_percent|mount=/data"
    f = t.forecast
    assert f is not None and f["eta"] == fc.eta and f["eta_low"] == fc.eta_low and f["eta_high"] == fc.eta_high
    assert f["series"] == "disk.used_percent" and f["labels"] == {"mount": "/data"} and f["run_id"] == 1
    assert len(f["points"]) == h.cfg.forecasts.max_points and f["points"][-1] == [ts[-1], values[-1]]
    assert t.severity == Severity.L4  # about four days ahead: neither within 1 d (L2) nor 3 d (L3)
    # People read the catalogue's display name and the mount, never the series id.
    assert t.title == "web-01 磁盘 /data 预计 7天内写满"  # the horizon: no tighter severity bound applies
    assert "disk.used_percent" not in t.title + t.registration.description
    # Two days later the same trend is nearer: the ticket is updated and its severity raised.
    h.clock.advance(days=2)
    ts2, values2 = filling_disk(h.clock.now.timestamp() - 6 * 86400, days=6)
    fc2 = forecast(ts2, values2, 100.0, "up", now=ts2[-1])
    h.svc.ingest(forecast_signals([_capacity(fc2, ts2, values2, run_id=2)], h.cfg.forecasts))
    t = h.svc.get(t.id)
    assert t.severity == Severity.L3 and t.forecast is not None and t.forecast["eta"] == fc2.eta
    assert t.forecast["run_id"] == 2
    assert "severity" in [a for _, a, _ in h.timeline(t.id)]
    # A cleanup: no crossing expected any more clears the condition.
    h.clock.advance(hours=1)
    gone = dataclasses.replace(fc2, eta=None, eta_low=None, eta_high=None, reason="flat or moving away")
    cleared = h.svc.ingest(forecast_signals([_capacity(gone, ts2, values2, run_id=3)], h.cfg.forecasts))
    assert cleared.cleared == 1


def test_downsample_keeps_shape_and_the_newest_point() -> None:
    pts = [(float(i), float(i % 10)) for i in range(1000)]
    out = downsample(pts, 50)
    assert len(out) == 50 and out[-1] == [999.0, 9.0]
    assert all(a[0] < b[0] for a, b in itertools.pairwise(out))
    assert downsample(pts[:10], 50) == [[a, b] for a, b in pts[:10]]


def test_anomaly_episodes_open_a_ticket_people_can_read_and_clear_it(h: Harness) -> None:
    now = h.clock.now.timestamp()
    episode = Episode(start=now - 1500, end=now, detected_at=now - 600, score=0.62, observed=92.0, peak=97.0,
                      expected=27.0, band_low=20.0, band_high=35.0, ongoing=True)
    firing = Anomaly(host_id="web-01", hostname="web-01.acme", customer_id="acme", series="cpu.busy_percent",
                     labels={}, window=InputWindow(now - 14 * 86400, now, 600.0), method="seasonal-baseline",
                     computed_at=h.clock.now, firing=True, episode=episode, run_id=7)
    report = h.svc.ingest(anomaly_signals([firing], h.cfg.anomalies))
    t = h.svc.get(report.opened[0])
    assert t.source == Source.ANOMALY and t.details["score"] == 0.62 and t.details["run_id"] == 7
    assert "expected 20–35 %, observed 92 % for 25m" in t.registration.description
    assert t.title == "web-01.acme CPU 使用率 异常：92 %（正常 20–35 %）" and "cpu.busy_percent" not in t.title
    # The next run finds the series back in its band: the condition clears.
    clear = dataclasses.replace(firing, firing=False, episode=None, run_id=8)
    assert h.svc.ingest(anomaly_signals([clear], h.cfg.anomalies)).cleared == 1


def test_offline_agents_open_and_clear_tickets(tmp_path: Path, clock: FakeClock) -> None:
    h = Harness(tmp_path, clock, {"noise": {"clear_for": "5m"}})
    now_ms = int(clock() * 1000)
    with h.engine.begin() as conn:
        for hid, seen in (("web-01", now_ms), ("db-01", now_ms), ("old-01", now_ms - 90 * 86400_000)):
            conn.execute(insert(hosts).values(id=hid, customer_id="acme", hostname=hid, source="agent", labels={},
                                              facts={"os": "Ubuntu 22.04", "arch": "x86_64"}, agent_version="1",
                                              first_seen_ms=seen, last_seen_ms=seen, last_data_ms=seen,
                                              connected=True))
    detector = OfflineDetector(h.engine, OfflinePolicy(), offline_after=90, clock=clock)
    clock.advance(60)
    assert h.svc.ingest(detector.signals()).opened == []  # start-up grace and everything fresh
    with h.engine.begin() as conn:  # web-01 keeps sending heartbeats, db-01 goes quiet
        conn.execute(update(hosts).where(hosts.c.id == "web-01").values(last_seen_ms=int(clock() * 1000) + 60_000))
    clock.advance(90)
    report = h.svc.ingest(detector.signals())
    assert len(report.opened) == 1
    t = h.svc.get(report.opened[0])
    assert (t.host_id, t.check_id, t.source, t.severity) == ("db-01", "agent.offline", Source.OFFLINE, Severity.L2)
    assert t.registration.environment == "db-01 (Ubuntu 22.04 x86_64)"
    clock.advance(30)
    assert h.svc.ingest(detector.signals()).repeated == 1
    assert h.svc.get(t.id).occurrences == 1  # heartbeat-style: being offline again is not a repeat
    with h.engine.begin() as conn:
        conn.execute(update(hosts).where(hosts.c.id == "db-01").values(last_seen_ms=int(clock() * 1000)))
    assert h.svc.ingest(detector.signals()).cleared == 1
    clock.advance(minutes=6)
    h.evaluator.evaluate()
    assert h.svc.get(t.id).state == State.RESOLVED
    assert "old-01" not in {x.host_id for x in h.open_tickets()}  # decommissioned, not offline


def test_a_ticket_raised_by_the_early_edge_of_the_band_says_could_be(h: Harness) -> None:
    """A likely crossing past the horizon whose band starts inside it opens a ticket that does not
    claim the limit is reached within the horizon."""
    ts, values = filling_disk(h.clock.now.timestamp() - 4 * 86400)
    fc = forecast(ts, values, 100.0, "up", now=ts[-1])
    day = 86400.0
    late = dataclasses.replace(fc, eta=fc.now + 8 * day, eta_low=fc.now + 6 * day, eta_high=fc.now + 11 * day)
    report = h.svc.ingest(forecast_signals([_capacity(late, ts, values)], h.cfg.forecasts))
    t = h.svc.get(report.opened[0])
    assert t.title == "web-01 磁盘 /data 可能在 7天内写满"
    assert t.forecast is not None and t.forecast["eta"] == late.eta
