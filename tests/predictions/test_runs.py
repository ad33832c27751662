"""Forecast runs on SQLite and PostgreSQL: stored whole, read as each host's newest pass, history bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import Engine, func, select

from collector.predictions import runs
from collector.predictions.tables import forecast_runs
from collector.store.engine import open_engine
from inspections.anomaly import Episode
from inspections.forecast import forecast
from inspections.signals import Anomaly, CapacityForecast, InputWindow

T0 = datetime(2026, 11, 1, tzinfo=UTC)
DAY = 86400.0


def _forecast(host: str, at: datetime, growth_per_day: float, mount: str = "/data") -> CapacityForecast:
    now = at.timestamp()
    ts = np.arange(now - 7 * DAY, now, 600.0)
    values = 50 + growth_per_day * (ts - ts[0]) / DAY
    return CapacityForecast(host_id=host, hostname=f"{host}.example", customer_id="acme", series="disk.used_percent",
                            labels={"mount": mount, "device": "sdb1"}, window=InputWindow(now - 14 * DAY, now, 600.0),
                            method="robust-trend", computed_at=at, result=forecast(ts, values, 100.0, "up", now=now),
                            points=((now - 600, 60.0), (now, 61.0)))


def _store(url: str) -> Engine:
    return open_engine(url)


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(forecast_runs)).scalar_one())


def test_a_run_reads_back_as_it_was_stored_with_its_id(store_url: str) -> None:
    engine = _store(store_url)
    fc = _forecast("web-01", T0, 2.0)
    now = T0.timestamp()
    episode = Episode(start=now - 1800, end=now, detected_at=now - 900, score=0.7, observed=91.0, peak=95.0,
                      expected=30.0, band_low=-5.0, band_high=140.0, ongoing=True)
    anomaly = Anomaly(host_id="web-01", hostname="web-01.example", customer_id="acme", series="cpu.busy_percent",
                      labels={}, window=fc.window, method="seasonal-baseline", computed_at=T0, firing=True,
                      episode=episode)
    with engine.begin() as conn:
        [stored] = runs.save(conn, [fc], confidence=0.9)
        [stored_anomaly] = runs.save(conn, [anomaly])
    assert stored.run_id is not None and stored_anomaly.run_id is not None
    with engine.connect() as conn:
        back = runs.get(conn, stored.run_id)
        back_anomaly = runs.get(conn, stored_anomaly.run_id)
    assert back == stored
    assert isinstance(back, CapacityForecast) and back.eta == fc.eta and back.subject == "/data"
    assert back.display == {"en": "Disk", "zh": "磁盘"} and back.unit == "%"
    assert back_anomaly == stored_anomaly
    assert isinstance(back_anomaly, Anomaly) and back_anomaly.band == (0.0, 100.0)  # a share stays in 0–100 %


def test_readers_get_each_hosts_newest_pass_up_to_a_moment(store_url: str) -> None:
    engine = _store(store_url)
    with engine.begin() as conn:
        runs.save(conn, [_forecast("web-01", T0, 2.0), _forecast("web-01", T0, 1.0, mount="/old")])
        runs.save(conn, [_forecast("web-01", T0 + timedelta(hours=1), 3.0), _forecast("db-01", T0, 4.0)])
    with engine.connect() as conn:
        now = runs.latest(conn, "capacity")
        earlier = runs.latest(conn, "capacity", at=T0 + timedelta(minutes=30))
        only_db = runs.latest(conn, "capacity", host_ids=["db-01"])
        none = runs.latest(conn, "anomaly")
    # The newer pass of web-01 no longer has /old: a series gone from the host is gone from the readers.
    assert [(r.host_id, r.subject, r.computed_at) for r in now] == [
        ("db-01", "/data", T0), ("web-01", "/data", T0 + timedelta(hours=1))]
    assert sorted((r.host_id, r.subject) for r in earlier) == [("db-01", "/data"), ("web-01", "/data"),
                                                               ("web-01", "/old")]
    assert [r.host_id for r in only_db] == ["db-01"] and none == []


def test_history_keeps_recent_runs_then_one_a_day_then_nothing(store_url: str) -> None:
    engine = _store(store_url)
    hours = [T0 - timedelta(hours=h) for h in range(0, 24 * 5, 6)]  # every 6 h over five days
    with engine.begin() as conn:
        for at in hours:
            runs.save(conn, [_forecast("web-01", at, 1.0)])
        runs.save(conn, [_forecast("web-01", T0 - timedelta(days=500), 1.0)])
    with engine.begin() as conn:
        gone = runs.prune(conn, T0, keep_every_s=2 * DAY, keep_daily_s=400 * DAY)
    with engine.connect() as conn:
        kept = sorted(r.computed_ms for r in conn.execute(select(forecast_runs.c.computed_ms)))
    cutoff = (T0 - timedelta(days=2)).timestamp() * 1000
    recent = [ms for ms in kept if ms >= cutoff]
    older = [ms for ms in kept if ms < cutoff]
    assert len(recent) == sum(1 for at in hours if at.timestamp() * 1000 >= cutoff)
    days = [int(ms // 86_400_000) for ms in older]
    assert len(days) == len(set(days)) >= 2  # one per day
    assert all(ms > (T0 - timedelta(days=400)).timestamp() * 1000 for ms in kept)
    assert gone == len(hours) + 1 - len(kept) and _count(engine) == len(kept)
