"""Sources: inspection findings, forecasts (the real forecaster), anomaly scores and offline agents."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import insert, update

from collector.store.schema import hosts
from collector.tickets.config import OfflinePolicy
from collector.tickets.model import Severity, Source, State
from collector.tickets.offline import OfflineDetector
from collector.tickets.sources import anomaly_signals, downsample, finding_signals, forecast_signals
from inspections.forecast import forecast
from inspections.model import Evidence, Finding, HostResult, InspectionResult, Threshold
from tests.tickets.helpers import FakeClock, Harness


def finding(status: str, observed: float, host: str = "web-01", subject: str = "/data") -> Finding:
    return Finding(host_id=host, check_id="disk.usage", subject=subject, status=status,  # type: ignore[arg-type]
                   observed=observed, threshold=Threshold(80, 90, "above"), unit="%",
                   evidence=Evidence(source="latest"), recommendation={"en": "clean up or extend", "zh": "清理或扩容"},
                   category="resources", severity="high", name={"en": "Disk usage", "zh": "磁盘使用率"})


def result(at: datetime, *findings: Finding) -> InspectionResult:
    return InspectionResult(profile="daily", since=at - timedelta(days=1), until=at, evaluated_at=at,
                            previous_run_at=None, checks=["disk.usage"], customers=[],
                            hosts=[HostResult(host_id="web-01", hostname="web-01", customer_id="acme", score=70,
                                              findings=list(findings))])


def test_inspection_findings_open_update_and_clear(h: Harness) -> None:
    now = h.clock.now
    report = h.svc.ingest(finding_signals(result(now, finding("critical", 93.5), finding("ok", 40, subject="/")),
                                          h.cfg.findings, now))
    assert len(report.opened) == 1
    t = h.svc.get(report.opened[0])
    assert (t.source, t.customer_id, t.check_id, t.subject) == (Source.INSPECTION, "acme", "disk.usage", "/data")
    assert t.severity == Severity.L2  # critical × high importance
    assert "93.5%" in t.title and "清理或扩容" in t.registration.description
    assert t.details["finding"]["threshold"] == {"warn": 80, "crit": 90, "direction": "above"}
    # The same findings as plain dicts (a stored run read back) are the same condition.
    h.clock.advance(hours=1)
    again = h.svc.ingest(finding_signals(result(h.clock.now, finding("warning", 85)).to_dict(), h.cfg.findings,
                                         h.clock.now))
    assert again.repeated == 1 and h.svc.get(t.id).occurrences == 2
    unknown = finding_signals([finding("unknown", float("nan"))], h.cfg.findings, now)
    assert unknown[0].firing is None
    h.clock.advance(hours=1)
    cleared = h.svc.ingest(finding_signals([finding("ok", 50).to_dict()], h.cfg.findings, h.clock.now))
    assert cleared.cleared == 1


def filling_disk(t0: float, days: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    ts = np.arange(0, days * 86400, 600.0) + t0
    rng = np.random.default_rng(1)
    return ts, 60 + 5 * (ts - t0) / 86400 + rng.normal(0, 0.3, len(ts))


def test_a_forecast_opens_a_predictive_ticket_with_eta_band_and_series(h: Harness) -> None:
    ts, values = filling_disk(h.clock.now.timestamp() - 4 * 86400)
    fc = forecast(ts, values, 100.0, "up", now=ts[-1], horizon_s=7 * 86400)
    assert fc.eta is not None
    item = {"host_id": "web-01", "customer_id": "acme", "series": "disk.used_percent",
            "labels": {"mount": "/data"}, "forecast": fc, "ts": ts, "values": values, "unit": "%"}
    report = h.svc.ingest(forecast_signals([item], h.cfg.forecasts, h.clock.now))
    t = h.svc.get(report.opened[0])
    assert t.source == Source.FORECAST and t.fingerprint == "web-01|forecast.disk.used_percent|mount=/data"
    f = t.forecast
    assert f is not None and f["eta"] == fc.eta and f["eta_low"] == fc.eta_low and f["eta_high"] == fc.eta_high
    assert f["series"] == "disk.used_percent" and f["labels"] == {"mount": "/data"}
    assert len(f["points"]) == h.cfg.forecasts.max_points and f["points"][-1] == [ts[-1], values[-1]]
    assert t.severity == Severity.L4  # about four days ahead: neither within 1 d (L2) nor 3 d (L3)
    assert "expected to reach 100 within 7d" in t.title  # the horizon: no tighter severity bound applies
    # Two days later the same trend is nearer: the ticket is updated and its severity raised.
    h.clock.advance(days=2)
    ts2, values2 = filling_disk(h.clock.now.timestamp() - 6 * 86400, days=6)
    fc2 = forecast(ts2, values2, 100.0, "up", now=ts2[-1], horizon_s=7 * 86400)
    h.svc.ingest(forecast_signals([{**item, "forecast": fc2.to_dict(), "ts": ts2, "values": values2}],
                                  h.cfg.forecasts, h.clock.now))
    t = h.svc.get(t.id)
    assert t.severity == Severity.L3 and t.forecast is not None and t.forecast["eta"] == fc2.eta
    assert "severity" in [a for _, a, _ in h.timeline(t.id)]
    # A cleanup: no crossing expected any more clears the condition.
    h.clock.advance(hours=1)
    gone = dict(fc2.to_dict(), eta=None, eta_low=None, eta_high=None, reason="flat or moving away")
    assert h.svc.ingest(forecast_signals([{**item, "forecast": gone}], h.cfg.forecasts, h.clock.now)).cleared == 1


def test_downsample_keeps_shape_and_the_newest_point() -> None:
    pts = [(float(i), float(i % 10)) for i in range(1000)]
    out = downsample(pts, 50)
    assert len(out) == 50 and out[-1] == [999.0, 9.0]
    assert all(a[0] < b[0] for a, b in itertools.pairwise(out))
    assert downsample(pts[:10], 50) == [[a, b] for a, b in pts[:10]]


def test_anomaly_episodes_open_a_ticket_people_can_read_and_clear_it(h: Harness) -> None:
    item = {"host_id": "web-01", "hostname": "web-01.acme", "customer_id": "acme", "series": "cpu.busy_percent",
            "display": {"en": "CPU busy", "zh": "CPU 使用率"}, "unit": "%", "detected_at": h.clock.now.timestamp(),
            "score": 0.62, "observed": 92.0, "band_low": 20.0, "band_high": 35.0, "duration_s": 1500.0}
    brief = {**item, "duration_s": 300.0}  # shorter than the policy's 20 minutes
    unlikely = {**item, "score": 0.2}
    sigs = anomaly_signals([item, brief, unlikely], h.cfg.anomalies, h.clock.now)
    assert [s.firing for s in sigs] == [True, False, False]
    report = h.svc.ingest(sigs[:1])
    t = h.svc.get(report.opened[0])
    assert t.source == Source.ANOMALY and t.details["score"] == 0.62
    assert "expected 20–35 %, observed 92 % for 25m" in t.registration.description
    assert "CPU busy / CPU 使用率" in t.title and "web-01.acme" in t.title and "cpu.busy_percent" not in t.title
    # What the collector's predictions send says itself whether it fires.
    clear = {k: v for k, v in item.items() if k not in ("score", "observed", "band_low", "band_high")}
    assert h.svc.ingest(anomaly_signals([{**clear, "firing": False}], h.cfg.anomalies, h.clock.now)).cleared == 1


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
