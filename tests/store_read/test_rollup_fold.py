"""Property: folding whole batches as arrays gives exactly the rollups a running total per cell gives.

The reference below folds point by point the way a running total per (series, bucket) does: each
series of a batch sorted by time (then value) only when it arrived out of order, each run of one
bucket summed left to right and merged into its cell in fold order, NaN, infinities and values past
the rollup bound left out. The hourly tier and the latest values derive from the minute cells in the
order the cells were first seen. Both must store the same rows, float for float.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from collector.store.engine import open_engine
from collector.store.read.labels import encode_labels
from collector.store.rollup import MAX_ABS_VALUE, RollupAggregator
from collector.store.samples import flatten
from collector.store.schema import hosts, metadata
from protos.patrol.v1 import agent_pb2 as pb
from tests.columns import as_columns

NOW_S = 1_780_000_000.0
RETENTION = {"1m": 2 * 86400.0, "1h": 400 * 86400.0}
Cell = list[float]


def merge(cells: dict[tuple[tuple[str, str, str], int], Cell], key: tuple[tuple[str, str, str], int],
          part: Cell) -> None:
    cell = cells.get(key)
    if cell is None:
        cells[key] = list(part)
        return
    cell[0], cell[1] = min(cell[0], part[0]), max(cell[1], part[1])
    cell[2] += part[2]
    cell[3] += part[3]
    if part[5] >= cell[5]:
        cell[4], cell[5] = part[4], part[5]


def reference(batches: list[tuple[str, pb.Samples]]) -> tuple[dict, dict, dict]:  # type: ignore[type-arg]
    minute: dict = {}  # type: ignore[type-arg]
    hour: dict = {}  # type: ignore[type-arg]
    floor_ms = int((NOW_S - RETENTION["1m"]) // 60 * 60) * 1000
    for host, batch in batches:
        for s in batch.series:
            key = (host, s.name, encode_labels(sorted(s.labels.items())))
            points = list(zip(s.timestamps_ms, s.values, strict=True))
            if [t for t, _ in points] != sorted(t for t, _ in points):
                points.sort()
            runs: dict[tuple[bool, int], list[tuple[int, float]]] = {}
            for t, v in points:
                fine = t >= floor_ms
                runs.setdefault((fine, t // 60_000 * 60 if fine else t // 3_600_000 * 3600), []).append((t, v))
            for (fine, bucket), run in runs.items():
                kept = [v for _, v in run if -MAX_ABS_VALUE <= v <= MAX_ABS_VALUE]
                if kept:
                    part = [min(kept), max(kept), sum(kept), len(kept), kept[-1], run[-1][0]]
                    merge(minute if fine else hour, (key, bucket), part)
    for (key, bucket), cell in minute.items():
        merge(hour, (key, bucket - bucket % 3600), cell)
    latest: dict = {}  # type: ignore[type-arg]
    for (key, _), cell in hour.items():
        if key not in latest or cell[5] >= latest[key][0]:
            latest[key] = (cell[5], cell[4])
    return minute, hour, latest


def random_batch(rng: random.Random) -> pb.Samples:
    batch = pb.Samples(seq=1)
    for _ in range(rng.randint(0, 5)):
        n = rng.choice([0, 1, 2, 6, 7, 40])
        base = int(NOW_S * 1000) - rng.choice([0, 120_000, 30 * 3_600_000, 9 * 86_400_000])
        stamps = sorted(base - rng.randint(0, 7_200_000) for _ in range(n))
        if n > 2 and rng.random() < 0.3:
            stamps[1] = stamps[0]  # equal stamps, kept in the order sent
        if rng.random() < 0.3:
            rng.shuffle(stamps)
        values = [rng.choice([rng.uniform(-1e6, 1e6), 0.1, -0.0, 1 / 3, 1e299, math.nan, math.inf])
                  if rng.random() < 0.15 else rng.uniform(-100, 100) for _ in range(n)]
        batch.series.add(name=rng.choice(["cpu.busy_percent", "disk.used_percent"]),
                         labels=rng.choice([{}, {"mount": "/"}, {"b": "2", "a": "1"}]),
                         timestamps_ms=stamps, values=values)
    return batch


@pytest.fixture
def engine() -> Engine:
    eng = create_engine("sqlite://")
    metadata.create_all(eng)
    with eng.begin() as conn:
        for h in ("h1", "h2"):
            conn.execute(hosts.insert().values(id=h, customer_id="c", hostname=h, labels={}, facts={},
                                               first_seen_ms=0, last_seen_ms=0))
    return eng


def stored(engine: Engine, table: str) -> dict:  # type: ignore[type-arg]
    sql = (f"SELECT s.host_id, s.name, s.labels, t.* FROM {table} t JOIN series s ON s.id = t.series_id")
    with engine.connect() as conn:
        rows = conn.execute(text(sql)).all()
    if table == "latest":
        return {(r[0], r[1], r[2]): r for r in rows}
    return dict(sorted((((r[0], r[1], r[2]), r[4]), [r[5], r[6], r[7], r[8], r[9], r[10]]) for r in rows))


@pytest.mark.parametrize("seed", range(40))
def test_array_fold_matches_a_running_total_per_cell(engine: Engine, seed: int) -> None:
    rng = random.Random(seed)
    batches = [(rng.choice(["h1", "h2"]), random_batch(rng)) for _ in range(rng.randint(1, 12))]
    agg = RollupAggregator(RETENTION)
    # Folded in groups of one to five batches at once, some of them in their columnar form.
    points = at = 0
    while at < len(batches):
        group = batches[at:at + rng.randint(1, 5)]
        at += len(group)
        points += agg.fold_many([(host, flatten(as_columns(b) if rng.random() < 0.5 else b)) for host, b in group],
                                NOW_S)
    assert points == sum(len(s.timestamps_ms) for _, b in batches for s in b.series)
    one_by_one = RollupAggregator(RETENTION)
    for host, batch in batches:
        one_by_one.fold(host, batch, NOW_S)
    assert agg.last_data_ms == one_by_one.last_data_ms
    with engine.begin() as conn:
        agg.flush(conn)
    minute, hour, latest = reference(batches)
    # Exact float equality (no NaN reaches a rollup; SQLite keeps no sign on a zero).
    assert stored(engine, "rollup_1m") == dict(sorted(minute.items()))
    assert stored(engine, "rollup_1h") == dict(sorted(hour.items()))
    got_latest = {k: (r[4], r[5]) for k, r in stored(engine, "latest").items()}
    assert got_latest == {k: (int(t), float(v)) for k, (t, v) in latest.items()}


@pytest.fixture
def store(store_url: str) -> Iterator[Engine]:
    """A state store on each backend, with the schema the collector creates and two hosts."""
    eng = open_engine(store_url)
    with eng.begin() as conn:
        for h in ("h1", "h2"):
            conn.execute(hosts.insert().values(id=h, customer_id="c", hostname=h, labels={}, facts={},
                                               first_seen_ms=0, last_seen_ms=0))
    yield eng
    eng.dispose()


@pytest.mark.parametrize("seed", range(10))
def test_many_flushes_and_forgetful_restarts_store_the_same_rollups(store: Engine, seed: int) -> None:
    """Flushes after random groups of batches merge into cells written before. Now and then the
    aggregator is replaced by a new one, as after a restart: it takes cells that are in the store
    already for new ones, and must merge into them all the same."""
    rng = random.Random(seed)
    batches = [(rng.choice(["h1", "h2"]), random_batch(rng)) for _ in range(rng.randint(4, 16))]
    # Minutes that recur across batches, so that later flushes meet cells already stored.
    for _, batch in batches:
        for s in batch.series:
            s.timestamps_ms[:] = sorted(int(NOW_S * 1000) - rng.randint(0, 4) * 60_000 - rng.randint(0, 59_999)
                                        for _ in s.timestamps_ms)
    agg = RollupAggregator(RETENTION)
    restarts = 0
    for host, batch in batches:
        agg.fold(host, batch, NOW_S)
        if rng.random() < 0.5:
            with store.begin() as conn:
                agg.flush(conn, coarse=rng.random() < 0.5)
            if rng.random() < 0.4:
                with store.begin() as conn:
                    agg.flush(conn)  # what is held for the coarse tier is written before it is forgotten
                agg = RollupAggregator(RETENTION)
                restarts += 1
    with store.begin() as conn:
        agg.flush(conn)
    minute, hour, latest = reference(batches)
    for table, expected in (("rollup_1m", minute), ("rollup_1h", hour)):
        got = stored(store, table)
        assert got.keys() == expected.keys()
        for key, (mn, mx, sm, cnt, last, last_ts) in got.items():
            # A cell written in parts adds their sums in another grouping: the same sum, rounded apart.
            assert [mn, mx, cnt, last, last_ts] == [expected[key][i] for i in (0, 1, 3, 4, 5)]
            assert math.isclose(sm, expected[key][2], rel_tol=1e-12, abs_tol=1e-9)
    got_latest = {k: (r[4], r[5]) for k, r in stored(store, "latest").items()}
    assert got_latest == {k: (int(t), float(v)) for k, (t, v) in latest.items()}
