"""The rollup read layer against what the real ingest path stored, on SQLite and on PostgreSQL.

Every test that takes ``store_url`` runs on both backends and compares with the same expectations,
computed independently from the submitted samples, so both backends answer the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import Engine

from collector.store.engine import open_engine
from collector.store.queries import series_points
from collector.store.read import (
    align,
    align_array,
    decode_labels,
    encode_labels,
    find_series,
    pick_tier,
    read_rollups,
    read_series,
    tier_for_window,
)
from collector.store.read.tiers import TIERS
from tests.collector_inspection.store import RETENTION, Expected, hello, ingest, samples

END = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
NOW_S = END.timestamp() + 60
MINUTE, HOUR, DAY = 60, 3600, 86400
UNICODE = {"mount": "/数据/归档", "device": "sdb1"}


def _points(start: float, hours: float, every: float, gap: tuple[float, float] | None = None,
            level: float = 10.0) -> list[tuple[float, float]]:
    """Samples every ``every`` seconds for ``hours``, leaving out ``gap`` (seconds after ``start``)."""
    out = []
    for i in range(int(hours * HOUR / every)):
        t = start + i * every
        if gap is not None and gap[0] <= t - start < gap[1]:
            continue
        out.append((t, level + (i % 7) * 1.5 - (i % 3)))
    return out


@pytest.fixture
def store(store_url: str) -> Iterator[tuple[Engine, Expected]]:
    engine = open_engine(store_url)
    start = END.timestamp() - 30 * HOUR + 17  # not on a bucket edge
    messages = [
        hello("h1", "acme", "web-1"),
        hello("h2", "acme", "数据库-1"),
        samples("h1", 1, [
            # Three hours without samples in the middle: no buckets there.
            ("cpu.busy_percent", {}, _points(start, 30, 20, gap=(10 * HOUR, 13 * HOUR))),
            ("disk.used_percent", UNICODE, _points(start, 30, 300, level=70)),
            ("disk.used_percent", {"mount": "/"}, _points(start, 30, 300, level=40)),
        ]),
        samples("h2", 1, [
            ("cpu.busy_percent", {}, _points(start + 5 * HOUR, 20, 30)),
            ("net.rx_errors_per_s", {"interface": "eth0", "方向": "入"}, _points(start, 30, 600, level=0)),
        ]),
    ]
    expected = ingest(engine, messages, NOW_S)
    yield engine, expected
    engine.dispose()


def _expected_rows(expected: Expected, width: int, host: str, name: str, labels: dict[str, str], since: float,
                   until: float) -> np.ndarray:
    cells = expected.buckets[width][(host, name, tuple(sorted(labels.items())))]
    rows = [(b, c[0], c[1], c[2], c[3], c[4]) for b, c in sorted(cells.items()) if since <= b < until]
    return np.array(rows, dtype=np.float64).reshape(-1, 6)


def test_labels_round_trip_through_the_store(store: tuple[Engine, Expected]) -> None:
    engine, expected = store
    with engine.connect() as conn:
        refs = find_series(conn, ["h1", "h2"], ["cpu.busy_percent", "disk.used_percent", "net.rx_errors_per_s"])
    got = {(r.host_id, r.name, tuple(sorted(r.labels.items()))) for r in refs}
    assert got == set(expected.latest)
    for ref in refs:
        assert encode_labels(ref.labels) == ref.labels_text
    assert {r.labels_text for r in refs if not r.labels} == {"[]"}
    assert any(r.labels == UNICODE for r in refs)
    assert "/数据/归档" in next(r.labels_text for r in refs if r.labels == UNICODE)  # readable, not \\u escapes


@pytest.mark.parametrize("width", [MINUTE, HOUR])
def test_bulk_reads_return_every_bucket_with_the_gaps(store: tuple[Engine, Expected], width: int) -> None:
    engine, expected = store
    tier = next(t for t in TIERS if t.width_s == width)
    since, until = END.timestamp() - 26 * HOUR, NOW_S
    with engine.connect() as conn:
        refs = find_series(conn, ["h1", "h2"], ["cpu.busy_percent", "disk.used_percent", "net.rx_errors_per_s"])
        found = dict(read_rollups(conn, tier, [r.id for r in refs], since, until))
    assert set(found) == {r.id for r in refs}
    for ref in refs:
        data = found[ref.id]
        rows = np.column_stack([data.ts, data.min, data.max, data.sum, data.count, data.last])
        want = _expected_rows(expected, width, ref.host_id, ref.name, ref.labels, since, until)
        np.testing.assert_allclose(rows, want, rtol=1e-12)
        assert data.count.dtype == np.int64
        np.testing.assert_allclose(data.avg, want[:, 3] / want[:, 4], rtol=1e-12)
    cpu = found[next(r.id for r in refs if r.host_id == "h1" and r.name == "cpu.busy_percent")]
    assert np.diff(cpu.ts).max() > width * 2  # the three silent hours are missing, not zero-filled


def test_points_merge_into_wider_steps_as_the_samples_would(store: tuple[Engine, Expected]) -> None:
    engine, expected = store
    since, until = END.timestamp() - 12 * HOUR + 7, NOW_S
    with engine.connect() as conn:
        got = series_points(conn, "h1", "disk.used_percent", since, until, 600, NOW_S, RETENTION, UNICODE)
    assert [(s["labels"], s["tier"], s["step_s"]) for s in got] == [(UNICODE, "1m", 600)]
    cells = expected.buckets[MINUTE][("h1", "disk.used_percent", tuple(sorted(UNICODE.items())))]
    merged: dict[int, list[float]] = {}
    for b, (mn, mx, sm, n, last, _) in sorted(cells.items()):
        if align(since, MINUTE) <= b < until:
            cell = merged.setdefault(b - b % 600, [mn, mx, 0.0, 0, last])
            cell[0], cell[1] = min(cell[0], mn), max(cell[1], mx)
            cell[2] += sm
            cell[3] += int(n)
            cell[4] = last
    points = got[0]["points"]
    assert [p["ts"].timestamp() for p in points] == sorted(merged)
    for p in points:
        mn, mx, sm, n, last = merged[int(p["ts"].timestamp())]
        assert (p["min"], p["max"], p["count"], p["last"]) == (mn, mx, n, last)
        assert p["avg"] == pytest.approx(sm / n, rel=1e-12)
    with engine.connect() as conn:  # a label filter nothing matches: no series, not an error
        assert series_points(conn, "h1", "disk.used_percent", since, until, 600, NOW_S, RETENTION,
                             {"mount": "/nowhere"}) == []


def test_read_series_in_small_slices_answers_the_same(store: tuple[Engine, Expected]) -> None:
    engine, _ = store
    tier = TIERS[0]
    since, until = END.timestamp() - 26 * HOUR, NOW_S
    with engine.connect() as conn:
        refs = find_series(conn, ["h1", "h2", "unknown-host"], ["cpu.busy_percent", "disk.used_percent"])
        whole = [(r.id, d) for r, d in read_series(conn, tier, refs, since, until)]
        sliced = [(r.id, d) for r, d in read_series(conn, tier, refs, since, until, row_budget=1)]
    assert [i for i, _ in whole] == [i for i, _ in sliced] == [r.id for r in refs]
    for (_, a), (_, b) in zip(whole, sliced, strict=True):
        np.testing.assert_array_equal(a.ts, b.ts)
        np.testing.assert_array_equal(a.sum, b.sum)


# -- tier choice, alignment and the codec, without a store -----------------------------------------


def test_tier_choice_at_the_retention_edges() -> None:
    edge_1m = NOW_S - RETENTION["1m"]
    assert pick_tier(edge_1m, 60, NOW_S, RETENTION).name == "1m"  # exactly at the edge: still held
    assert pick_tier(edge_1m - 1, 60, NOW_S, RETENTION).name == "1h"  # a second older: gone from 1m
    assert pick_tier(edge_1m, 600, NOW_S, RETENTION).name == "1m"  # 10-minute points from minutes
    assert pick_tier(edge_1m, 3600, NOW_S, RETENTION).name == "1h"
    assert pick_tier(NOW_S - 60, 10, NOW_S, RETENTION).name == "1m"  # finer than every tier: the finest
    assert pick_tier(NOW_S - RETENTION["1h"] - 1, 60, NOW_S, RETENTION).name == "1h"  # older than all
    day, month = NOW_S - DAY, NOW_S - 30 * DAY
    assert tier_for_window(day, NOW_S, NOW_S, RETENTION, 1500).name == "1m"
    assert tier_for_window(NOW_S - 2 * DAY, NOW_S, NOW_S, RETENTION, 1500).name == "1h"  # 2880 minutes > 1500
    assert tier_for_window(month, NOW_S, NOW_S, RETENTION, 1500).name == "1h"


def test_alignment_to_bucket_starts_and_local_days() -> None:
    t = datetime(2026, 3, 2, 17, 59, 59, tzinfo=UTC).timestamp()
    assert align(t, 60) == t - 59
    assert align(t, 3600) == datetime(2026, 3, 2, 17, tzinfo=UTC).timestamp()
    shanghai = 8 * 3600  # a local day in UTC+8 starts at 16:00 UTC the day before
    assert align(t, DAY, shanghai) == datetime(2026, 3, 2, 16, tzinfo=UTC).timestamp()
    assert align(t - 2 * 3600, DAY, shanghai) == datetime(2026, 3, 1, 16, tzinfo=UTC).timestamp()
    stamps = np.array([t, t - 2 * 3600, t - 3599])
    assert list(align_array(stamps, DAY, shanghai)) == [align(s, DAY, shanghai) for s in stamps]


def test_the_label_codec_is_canonical_and_names_bad_input() -> None:
    text = encode_labels({"b": "2", "a": "网卡"})
    assert text == encode_labels([("a", "网卡"), ("b", "2")]) == '[["a","网卡"],["b","2"]]'
    assert encode_labels({}) == "[]"
    assert decode_labels("[]") == decode_labels("") == {}
    with pytest.raises(ValueError, match="not a JSON list of"):
        decode_labels('{"mount": "/"}')
