"""StoreData answers what the ingest path stored: rollups, latest values, events, hosts, availability."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from collector.inspection.data import (
    HOST_UP,
    MAX_BUCKETS,
    StoreData,
    UnknownHosts,
    derive_availability,
    load_hosts,
)
from collector.simulator import HistorySchedule, TroubleSpec, encoded_batches
from collector.store.engine import open_engine
from collector.store.read import tier_for_window
from inspections import EventStamps, RollupColumns, load_profile, run_inspection
from inspections.profiles import parse_profile
from tests.collector_inspection.store import RETENTION, Expected, events, hello, ingest, open_store, samples

END = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
NOW_S = END.timestamp() + 60
HOUR = 3600.0


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Expected]]:
    engine = open_store(tmp_path_factory.mktemp("store") / "patrol.sqlite")
    schedule = HistorySchedule(history=timedelta(days=3), step=timedelta(minutes=5), coarse_step=timedelta(minutes=30),
                               fine_window=timedelta(days=1))
    expected = ingest(engine, encoded_batches(agents=3, customers=1, seed=3, end=END, schedule=schedule,
                                              trouble=TroubleSpec()), NOW_S)
    yield engine, expected
    engine.dispose()


def _expected_columns(expected: Expected, width: int, key: tuple[str, str, tuple[tuple[str, str], ...]],
                      since: datetime, until: datetime) -> np.ndarray:
    cells = expected.buckets[width][key]
    rows = [(b, c[0], c[1], c[2] / c[3], c[4], c[3]) for b, c in sorted(cells.items())
            if since.timestamp() <= b < until.timestamp()]
    return np.array(rows, dtype=np.float64).reshape(-1, 6)


def _as_rows(columns: RollupColumns) -> np.ndarray:
    return np.column_stack([columns.ts, columns.min, columns.max, columns.avg, columns.last, columns.counts])


@pytest.mark.parametrize(("hours", "width"), [(48, 3600), (6, 60)])
@pytest.mark.parametrize("prefetch", [True, False])
def test_rollups_equal_the_ingested_samples(fleet: tuple[Engine, Expected], hours: int, width: int,
                                            prefetch: bool) -> None:
    engine, expected = fleet
    since, until = END - timedelta(hours=hours), END + timedelta(minutes=1)
    assert tier_for_window(since.timestamp(), until.timestamp(), NOW_S, RETENTION, MAX_BUCKETS).width_s == width
    names = sorted({k[1] for k in expected.buckets[width]})
    hosts = sorted(expected.hosts)
    # A tiny row budget makes every host its own bulk slice; the answers must not change.
    data = StoreData(engine, RETENTION, lambda: NOW_S, row_budget=1 if hours == 6 else 400_000)
    if prefetch:
        data.prefetch(hosts, names, [], since, until)
    compared = 0
    for host in hosts:
        for name in names:
            got = {tuple(sorted(s.labels.items())): s for s in data.rollups(host, name, since, until)}
            keys = [k for k in expected.buckets[width] if k[0] == host and k[1] == name]
            want = {k[2]: _expected_columns(expected, width, k, since, until) for k in keys}
            want = {labels: rows for labels, rows in want.items() if len(rows)}
            assert set(got) == set(want), (host, name)
            for labels, rows in want.items():
                np.testing.assert_allclose(_as_rows(got[labels].columns()), rows, rtol=1e-9, atol=1e-9)
                compared += len(rows)
    assert compared > 1000
    if prefetch and hours == 48:
        # Bulk reads: a handful of queries for the whole chunk, not one per host and series.
        assert data.queries <= 6, data.queries


def test_latest_values_are_the_newest_samples(fleet: tuple[Engine, Expected]) -> None:
    engine, expected = fleet
    names = sorted({k[1] for k in expected.latest})
    hosts = sorted(expected.hosts)
    prefetched = StoreData(engine, RETENTION, lambda: NOW_S)
    prefetched.prefetch(hosts, [], names, END - timedelta(days=1), END)
    direct = StoreData(engine, RETENTION, lambda: NOW_S)
    for data in (prefetched, direct):
        for (host, name, labels), (ts_ms, value) in expected.latest.items():
            found = {tuple(sorted(v.labels.items())): v for v in data.latest(host, name)}
            assert found[labels].value == pytest.approx(value)
            assert found[labels].ts == datetime.fromtimestamp(ts_ms / 1000, tz=UTC)
    assert prefetched.latest(hosts[0], "no.such.series") == []


def test_event_counts_include_suppressed_and_events_filter(fleet: tuple[Engine, Expected]) -> None:
    engine, expected = fleet
    since, until = END - timedelta(days=2), END + timedelta(minutes=1)
    lo, hi = since.timestamp() * 1000, until.timestamp() * 1000
    data = StoreData(engine, RETENTION, lambda: NOW_S)
    data.prefetch(sorted(expected.hosts), [], [], since, until)
    assert any(supp for items in expected.events.values() for *_, supp in items), "fixture needs suppression"
    for host in expected.hosts:
        window = sorted(e for e in expected.events.get(host, []) if lo <= e[0] < hi)
        counts: dict[str, int] = {}
        for _, rule, _, supp in window:
            counts[rule] = counts.get(rule, 0) + 1 + supp
        assert data.event_counts(host, since, until) == counts
        assert StoreData(engine, RETENTION, lambda: NOW_S).event_counts(host, since, until) == counts
        severe_counts: dict[str, int] = {}
        for _, rule, severity, supp in window:
            if severity in ("error", "critical"):
                severe_counts[rule] = severe_counts.get(rule, 0) + 1 + supp
        for source in (data, StoreData(engine, RETENTION, lambda: NOW_S)):
            assert source.event_counts(host, since, until, ["error", "critical"]) == severe_counts
        if not window:
            continue
        rule = max(counts, key=lambda r: counts[r])
        got = data.events(host, since, until, [rule], limit=5)
        want = [e for e in window if e[1] == rule][:5]
        assert [(int(e.ts.timestamp() * 1000), e.rule, e.suppressed_before) for e in got] == \
               [(t, r, s) for t, r, _, s in want]
        severe = data.events(host, since, until, None, limit=10_000, severities=["error", "critical"])
        assert len(severe) == sum(1 for e in window if e[2] in ("error", "critical"))
        assert all(e.severity in ("error", "critical") for e in severe)
        stamps = [e.ts for e in data.events(host, since, until, None, limit=10_000)]
        assert stamps == sorted(stamps) and len(stamps) == len(window)
        # Times and weights alone: the same events as the full records, filters and limit included.
        for rules, severities, limit in (([rule], None, 5), (None, ["error", "critical"], 10_000),
                                         (None, None, 10_000)):
            full = EventStamps.of(data.events(host, since, until, rules, limit, severities=severities))
            light = data.event_stamps(host, since, until, rules, limit, severities=severities)
            assert light.ts.tolist() == full.ts.tolist() and light.weight.tolist() == full.weight.tolist()
            assert light.rules == full.rules
        assert data.event_stamps(host, since, until, None, 10_000).total == sum(counts.values())


def test_hosts_carry_facts_labels_last_seen_and_boot_time(fleet: tuple[Engine, Expected]) -> None:
    engine, expected = fleet
    hosts = load_hosts(engine, "acme")
    assert [h.host_id for h in hosts] == sorted(expected.hosts, key=lambda a: expected.hosts[a].hostname)
    for h in hosts:
        sent = expected.hosts[h.host_id]
        assert h.hostname == sent.hostname and h.customer_id == "acme"
        assert h.labels == dict(sent.labels)
        assert h.facts["os"] == sent.facts.os
        assert h.last_seen == datetime.fromtimestamp(NOW_S, tz=UTC)
        assert h.boot_time == datetime.fromtimestamp(sent.facts.boot_time_ms / 1000, tz=UTC)
    one = hosts[1]
    assert [h.host_id for h in load_hosts(engine, "acme", [one.hostname])] == [one.host_id]
    with pytest.raises(UnknownHosts, match="nope"):
        load_hosts(engine, "acme", [one.host_id, "nope"])
    assert load_hosts(engine, "nobody") == []


# -- availability (host.up derived from heartbeat sample counts) ---------------------------------


def _minutely(start: float, hours: float, skip: list[tuple[float, float]]) -> list[tuple[float, float]]:
    points = []
    t = start
    while t < start + hours * HOUR:
        if not any(a <= t < b for a, b in skip):
            points.append((t, 10.0))
        t += 60
    return points


def test_availability_counts_hours_without_samples_as_down(tmp_path: Path) -> None:
    engine = open_store(tmp_path / "patrol.sqlite")
    t0 = 1_780_000_000 // 3600 * 3600.0
    until = t0 + 10 * HOUR
    now = until + HOUR
    # Down from the middle of hour 2 to the end of hour 4; a short blip in hour 7 is below the resolution.
    gaps = [(t0 + 2.5 * HOUR, t0 + 5 * HOUR), (t0 + 7.2 * HOUR, t0 + 7.4 * HOUR)]
    cpu = _minutely(t0, 10, gaps)
    ingest(engine, [hello("h1", "acme", "web-1"), samples("h1", 1, [("cpu.busy_percent", {}, cpu)])], now)
    since_dt, until_dt = datetime.fromtimestamp(t0, UTC), datetime.fromtimestamp(until, UTC)
    data = StoreData(engine, RETENTION, lambda: now)
    [series] = data.rollups("h1", HOST_UP, since_dt, until_dt)
    columns = series.columns()
    assert list(columns.ts) == [t0 + i * HOUR for i in range(10)]
    np.testing.assert_allclose(columns.avg, [1, 1, 0.5, 0, 0, 1, 1, 1, 1, 1])
    # The engine's availability check reads it like any series: 7.5 of 10 hours up.
    profile = parse_profile({"id": "avail", "name": {"zh": "在线", "en": "up"}, "description": {"zh": "-", "en": "-"},
                             "window_days": 1, "checks": ["device.availability"]}, "test")
    prefetched = StoreData(engine, RETENTION, lambda: now)
    result = run_inspection(prefetched, load_hosts(engine, "acme"), profile, window=(since_dt, until_dt),
                            now=datetime.fromtimestamp(now, UTC))
    [finding] = result.findings()
    assert finding.observed == pytest.approx(75.0) and finding.status == "critical"
    engine.dispose()


def test_availability_starts_with_the_host_and_leaves_out_hours_in_flight() -> None:
    t0 = 1_780_000_000 // 3600 * 3600.0
    buckets = np.array([t0 + 5 * HOUR, t0 + 6 * HOUR, t0 + 7 * HOUR])
    counts = np.array([20, 360, 359])  # installed during hour 5
    up = derive_availability(buckets, counts, t0, t0 + 9 * HOUR, t0 + 8 * HOUR + 600, first_seen_s=None)
    assert up is not None
    # Hours 0-4 predate the host; hour 8 is still in progress.
    assert list(up.ts) == [t0 + 5 * HOUR, t0 + 6 * HOUR, t0 + 7 * HOUR]
    np.testing.assert_allclose(up.avg, [1.0, 1.0, 1.0])
    # Two minutes after hour 7 ended, samples of it may still be in flight: it is not judged yet.
    early = derive_availability(buckets, counts, t0, t0 + 9 * HOUR, t0 + 8 * HOUR + 120, first_seen_s=None)
    assert early is not None and list(early.ts) == [t0 + 5 * HOUR, t0 + 6 * HOUR]
    # A host known since before the window that sent nothing in it was down all along.
    silent = derive_availability(np.zeros(0), np.zeros(0), t0, t0 + 4 * HOUR, t0 + 5 * HOUR, first_seen_s=t0 - 1)
    assert silent is not None and list(silent.avg) == [0.0, 0.0, 0.0, 0.0]
    assert derive_availability(np.zeros(0), np.zeros(0), t0, t0 + 4 * HOUR, t0 + 5 * HOUR, None) is None


def test_availability_is_not_fooled_by_a_change_of_sampling_interval() -> None:
    t0 = 1_780_000_000 // 3600 * 3600.0
    # Two samples an hour, then twelve (a backfill at coarse resolution, then fine), then the host
    # stops a quarter into hour 8.
    counts = np.array([2, 2, 2, 2, 12, 12, 12, 12, 3])
    buckets = t0 + HOUR * np.arange(len(counts))
    up = derive_availability(buckets, counts, t0, t0 + 12 * HOUR, t0 + 12 * HOUR + 600, first_seen_s=t0)
    assert up is not None
    np.testing.assert_allclose(up.avg, [1, 1, 1, 1, 1, 1, 1, 1, 0.25, 0, 0, 0])


def test_a_stored_host_up_series_wins_over_the_derived_one(tmp_path: Path) -> None:
    engine = open_store(tmp_path / "patrol.sqlite")
    t0 = 1_780_000_000 // 3600 * 3600.0
    up = [(t0 + i * 600, 1.0 if i % 2 else 0.0) for i in range(18)]
    ingest(engine, [hello("h1", "acme", "web-1"),
                    samples("h1", 1, [("cpu.busy_percent", {}, _minutely(t0, 3, [])), (HOST_UP, {}, up)])],
           t0 + 4 * HOUR)
    data = StoreData(engine, RETENTION, lambda: t0 + 4 * HOUR)
    # A two-day window reads hourly buckets: three hours of a stored 1/0 series, half up each.
    since, until = datetime.fromtimestamp(t0 - 45 * HOUR, UTC), datetime.fromtimestamp(t0 + 3 * HOUR, UTC)
    data.prefetch(["h1"], [HOST_UP], [], since, until)
    [series] = data.rollups("h1", HOST_UP, since, until)
    np.testing.assert_allclose(series.columns().avg, [0.5, 0.5, 0.5])
    engine.dispose()


def test_monthly_run_over_the_fleet_reads_every_kind_of_data(fleet: tuple[Engine, Expected]) -> None:
    engine, expected = fleet
    hosts = load_hosts(engine, "acme")
    # Ten minutes after the hosts were last heard from.
    now = datetime.fromtimestamp(NOW_S + 600, UTC)
    data = StoreData(engine, RETENTION, lambda: NOW_S + 600)
    result = run_inspection(data, hosts, load_profile("monthly"), now=now)
    assert {h.host_id for h in result.hosts} == {h.host_id for h in hosts}
    silent = 0
    for h in result.hosts:
        checks = {f.check_id for f in h.findings}
        # Checks fed by rollups, latest values, events and host metadata all produced findings.
        assert {"device.heartbeat", "device.availability", "resources.cpu_busy", "resources.disk_space",
                "logs.oom_kills", "security.reboots"} <= checks, checks
        heartbeat = next(f for f in h.findings if f.check_id == "device.heartbeat")
        assert heartbeat.observed == pytest.approx(600.0) and heartbeat.status == "warning"
        availability = next(f for f in h.findings if f.check_id == "device.availability")
        last_sample_ms, _ = expected.latest[(h.host_id, "cpu.busy_percent", ())]
        if END.timestamp() - last_sample_ms / 1000 > 2 * HOUR:  # the simulator's host that went silent
            silent += 1
            assert availability.observed is not None and availability.observed < 95
            assert availability.status == "critical"
        else:
            assert availability.observed == pytest.approx(100.0) and availability.status == "ok"
    assert silent == 1


def test_events_written_by_hand_are_counted_with_suppression(tmp_path: Path) -> None:
    engine = open_store(tmp_path / "patrol.sqlite")
    t0 = 1_780_000_000.0
    ingest(engine, [hello("h1", "acme", "web-1"),
                    events("h1", 1, [(t0, "kernel.oom_kill", 4, 0), (t0 + 60, "kernel.oom_kill", 4, 2),
                                     (t0 + 120, "app.error", 3, 0), (t0 - 7200, "app.error", 3, 5)])], t0 + 600)
    data = StoreData(engine, RETENTION, lambda: t0 + 600)
    since, until = datetime.fromtimestamp(t0 - 60, UTC), datetime.fromtimestamp(t0 + 600, UTC)
    assert data.event_counts("h1", since, until) == {"kernel.oom_kill": 4, "app.error": 1}
    got = data.events("h1", since, until, None, limit=2)
    assert [(e.rule, e.severity, e.suppressed_before, e.fields) for e in got] == [
        ("kernel.oom_kill", "critical", 0, {"n": "0"}), ("kernel.oom_kill", "critical", 2, {"n": "1"})]
    assert [e.rule for e in data.events("h1", since, until, ["app.error"], 10)] == ["app.error"]
    engine.dispose()


def test_event_stamps_of_chosen_rules_are_the_events_on_both_backends(store_url: str) -> None:
    """The burst checks' light read (one statement per rule set, integers only) answers what the full
    events do: same times, weights, rules and order, the limit included, on SQLite and PostgreSQL."""
    engine = open_engine(store_url)
    t0 = 1_780_000_000.0
    ingest(engine, [hello("h1", "acme", "web-1"),
                    events("h1", 1, [(t0, "sshd.failed_password", 2, 0), (t0, "sshd.invalid_user", 2, 3),
                                     (t0 + 30, "app.error", 3, 0), (t0 + 3600, "sshd.failed_password", 2, 1),
                                     (t0 + 3600.25, "sshd.failed_password", 2, 0)])], t0 + 7200)
    data = StoreData(engine, RETENTION, lambda: t0 + 7200)
    since, until = datetime.fromtimestamp(t0 - 60, UTC), datetime.fromtimestamp(t0 + 7200, UTC)
    both = ["sshd.invalid_user", "sshd.failed_password"]
    try:
        for rules, limit in ((both, 10), (["sshd.invalid_user"], 10), (both, 2), (["no.such.rule"], 10)):
            full = EventStamps.of(data.events("h1", since, until, rules, limit))
            light = data.event_stamps("h1", since, until, rules, limit)
            assert light.ts.tolist() == full.ts.tolist() and light.weight.tolist() == full.weight.tolist()
            assert light.rules == full.rules
        stamps = data.event_stamps("h1", since, until, both, 10)
        assert stamps.weight.tolist() == [1, 4, 2, 1] and stamps.rules == ("sshd.failed_password", "sshd.invalid_user")
        assert stamps.ts.tolist() == [t0, t0, t0 + 3600, t0 + 3600.25]
        assert data.event_stamps("h1", since, until, ["no.such.rule"], 10).rules == ()
    finally:
        engine.dispose()
