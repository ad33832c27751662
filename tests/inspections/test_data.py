"""MemoryData, rollup columns and window aggregation."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from inspections import EventRecord, MemoryData, RollupColumns, RollupPoint
from inspections.checks.aggregate import aggregate, share_at_least, up_fraction

T0 = datetime(2026, 3, 1, tzinfo=UTC)
H = timedelta(hours=1)


def test_record_builds_buckets_and_latest() -> None:
    data = MemoryData()
    samples = [(T0 + timedelta(minutes=m), float(v)) for m, v in [(0, 1), (20, 5), (40, 3), (60, 10), (90, 20)]]
    data.record("h", "x", {"k": "v"}, samples)
    [series] = data.rollups("h", "x", T0, T0 + 2 * H)
    assert series.labels == {"k": "v"}
    assert list(series.points) == [
        RollupPoint(T0, 1, 5, 3, 3, 3),
        RollupPoint(T0 + H, 10, 20, 15, 20, 2),
    ]
    [latest] = data.latest("h", "x")
    assert (latest.ts, latest.value, latest.labels) == (T0 + timedelta(minutes=90), 20.0, {"k": "v"})


def test_window_is_half_open() -> None:
    data = MemoryData()
    data.record("h", "x", None, [(T0 + i * H, float(i)) for i in range(5)])
    [series] = data.rollups("h", "x", T0 + H, T0 + 3 * H)
    assert [p.avg for p in series.points] == [1.0, 2.0]
    assert data.rollups("h", "x", T0 + 10 * H, T0 + 11 * H) == []
    assert data.rollups("h", "other", T0, T0 + H) == []


def test_columns_round_trip_and_slices_are_views() -> None:
    points = [RollupPoint(T0 + i * H, i, i + 2, i + 1, i + 1.5, 10) for i in range(4)]
    columns = RollupColumns.from_points(reversed(points))
    assert list(columns) == points
    part = columns[1:3]
    assert isinstance(part, RollupColumns) and np.shares_memory(part.avg, columns.avg)
    assert columns.bucket_seconds() == 3600.0
    with pytest.raises(ValueError, match="'avg' has 2 values, ts has 3"):
        RollupColumns([1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2], [1, 2, 3], [1, 1, 1])


def test_naive_times_are_rejected() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        MemoryData().add_latest("h", "x", None, datetime(2026, 3, 1), 1.0)


def _columns(avg: list[float], count: list[int], low: list[float] | None = None) -> RollupColumns:
    n = len(avg)
    return RollupColumns(np.arange(n) * 3600.0, low or avg, avg, avg, avg, count)


def test_average_is_weighted_by_sample_count() -> None:
    columns = _columns([10.0, 40.0], [3, 1])
    assert aggregate(columns, "avg", "avg") == pytest.approx(17.5)
    assert aggregate(columns, "max", "avg") == pytest.approx(25.0)  # other fields: plain mean


def test_percentiles_last_min_max() -> None:
    columns = _columns([float(v) for v in range(101)], [1] * 101)
    assert aggregate(columns, "avg", "p95") == pytest.approx(95.0)
    assert aggregate(columns, "avg", "p5") == pytest.approx(5.0)
    assert (aggregate(columns, "avg", "min"), aggregate(columns, "avg", "max")) == (0.0, 100.0)
    assert aggregate(columns, "last", "last") == 100.0


def test_absmax_and_nan() -> None:
    columns = RollupColumns([0.0, 3600.0], [-3.0, math.nan], [1.0, math.nan], [0, 0], [0, 0], [1, 1])
    assert aggregate(columns, "absmax", "max") == 3.0
    empty = RollupColumns([0.0], [math.nan], [math.nan], [math.nan], [math.nan], [1])
    assert aggregate(empty, "avg", "avg") is None


def test_availability_helpers() -> None:
    assert up_fraction(_columns([1.0, 0.5, 0.0], [2, 2, 4])) == pytest.approx(0.375)
    counts = _columns([4.0, 3.0, 4.0], [1, 1, 2], low=[4.0, 1.0, 4.0])
    assert share_at_least(counts, 2) == pytest.approx(0.75)
    assert up_fraction(_columns([1.0], [0])) is None


def test_events_window_filters_limit_and_suppressed_counts() -> None:
    data = MemoryData()
    data.add_events(
        "h",
        [
            EventRecord(T0 + 2 * H, "kernel.oom_kill", "critical", suppressed_before=4),
            EventRecord(T0, "sshd.failed_password", "warning"),
            EventRecord(T0 + H, "app.error", "error"),
            EventRecord(T0 + 5 * H, "app.error", "error"),
        ],
    )
    assert data.event_counts("h", T0, T0 + 3 * H) == {"sshd.failed_password": 1, "app.error": 1, "kernel.oom_kill": 5}
    all_events = data.events("h", T0, T0 + 10 * H, None, 100)
    assert [e.ts for e in all_events] == sorted(e.ts for e in all_events)
    assert [e.rule for e in data.events("h", T0, T0 + 10 * H, None, 100, severities=["error", "critical"])] == [
        "app.error",
        "kernel.oom_kill",
        "app.error",
    ]
    assert len(data.events("h", T0, T0 + 10 * H, ["app.error"], 1)) == 1
    assert data.event_counts("other", T0, T0 + H) == {}
    assert data.event_counts("h", T0, T0 + 10 * H, ["error", "critical"]) == {"app.error": 2, "kernel.oom_kill": 5}
