"""Anomaly tickets from the collector's predictions: rare on a normal fleet, raised for a clear anomaly,
and written for people (display names, units, expected band against what was observed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collector.predictions.service import score_anomalies
from collector.tickets.model import Source
from collector.tickets.sources import anomaly_signals
from tests.anomaly.fleet import DAY, RETENTION, add_samples, fleet_store
from tests.tickets.helpers import FakeClock, Harness

pytestmark = pytest.mark.slow
END = datetime(2026, 11, 1, tzinfo=UTC)


def test_a_simulated_fleet_month_raises_at_most_a_few_anomaly_tickets_per_host(tmp_path: Path) -> None:
    agents, days, first_eval = 6, 30, 7
    engine, _, hosts = fleet_store(tmp_path, agents=agents, days=days, end=END)
    clock = FakeClock(END)
    h = Harness(tmp_path, clock)
    opened = 0
    series_seen = 0
    start = END.timestamp() - (days - first_eval) * DAY
    for day in range(days - first_eval):
        now = start + (day + 1) * DAY
        clock.t = now
        results = score_anomalies(engine, now, RETENTION, policy=h.cfg.anomalies, recent_s=DAY)
        series_seen = max(series_seen, len(results))
        report = h.svc.ingest(anomaly_signals(results, h.cfg.anomalies))
        opened += len(report.opened) + len(report.reopened)
    assert series_seen >= 4 * agents  # every host's utilisation series were looked at
    per_host_month = opened / len(hosts) * 30 / (days - first_eval)
    # A few a month at most (2.2 with this fleet and seed), against an hourly alarm per spike before.
    assert per_host_month <= 3.0, f"{opened} anomaly tickets for {len(hosts)} hosts in {days - first_eval} days"


def test_a_clear_anomaly_opens_one_ticket_that_says_what_was_expected(tmp_path: Path) -> None:
    engine, ing, hosts = fleet_store(tmp_path, agents=2, days=12, end=END)
    victim = hosts[0]
    t0 = END.timestamp()
    add_samples(ing, victim, "cpu.busy_percent", [(t0 + 60 * i, 92.0 + (i % 3)) for i in range(1, 121)], seq=10_000)
    now = t0 + 2 * 3600
    clock = FakeClock(datetime.fromtimestamp(now, UTC))
    h = Harness(tmp_path, clock)
    results = score_anomalies(engine, now, RETENTION, policy=h.cfg.anomalies, recent_s=3600)
    firing = [r for r in results if r.firing]
    assert [(r.host_id, r.series) for r in firing] == [(victim, "cpu.busy_percent")]
    episode = firing[0].episode
    assert episode is not None and episode.observed > 90 and episode.band_high < 90
    assert episode.duration_s >= timedelta(minutes=20).total_seconds()
    report = h.svc.ingest(anomaly_signals(results, h.cfg.anomalies))
    assert len(report.opened) == 1
    ticket = h.svc.get(report.opened[0])
    assert ticket.source == Source.ANOMALY and ticket.host_id == victim
    text = ticket.registration.description
    assert "CPU busy on " in text and "使用率" not in text
    assert "observed 93 %" in text and "expected " in text and " %" in text
    assert "cpu.busy_percent" not in ticket.title + text
    assert f"{victim}.example" in ticket.title
    # The next hourly run sees the same episode still going on: the same ticket, not another one.
    clock.advance(3600)
    again = score_anomalies(engine, now + 3600, RETENTION, policy=h.cfg.anomalies, recent_s=3600)
    assert h.svc.ingest(anomaly_signals(again, h.cfg.anomalies)).opened == []
