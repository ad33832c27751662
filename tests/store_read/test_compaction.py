"""The compacted hourly tier: completed days packed into blocks by the compaction job, late data for
a packed day counted once, retention of blocks, and the upgrade of a store from before the packed tier.
Real SQLite files and a real PostgreSQL, data written through the real ingest writer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, insert, select

from collector.core_jobs import compaction_job
from collector.ingest import Ingestor
from collector.scheduler.config import JobsConfig
from collector.scheduler.runner import JobScheduler
from collector.store.compaction import COMPACT_AFTER_S, compact
from collector.store.engine import open_engine
from collector.store.migrate import migrate
from collector.store.read import find_series, read_rollups
from collector.store.read.packed import BLOCK_S
from collector.store.read.tiers import TIERS
from collector.store.schema import hosts, rollup_1h, rollup_1h_blocks, series
from tests.collector_inspection.store import COLLECTOR_ID, RETENTION, hello, ingest, samples

HOUR = 3600
DAY_S = 86400
DAY0 = 1_780_000_000 // BLOCK_S * BLOCK_S  # a UTC midnight that starts a block
HOURLY = TIERS[-1]


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    eng = open_engine(store_url)
    yield eng
    eng.dispose()


def _points(day: int, hours: range, per_hour: int, value: float) -> list[tuple[float, float]]:
    return [(day + h * HOUR + i * (HOUR // per_hour), value + h) for h in hours for i in range(per_hour)]


def _read(engine: Engine, since: int, until: int) -> dict[int, tuple[float, float, float, int, float]]:
    """bucket -> (min, max, sum, count, last) of h1's cpu series."""
    with engine.connect() as conn:
        refs = find_series(conn, ["h1"], ["cpu.busy_percent"])
        got = dict(read_rollups(conn, HOURLY, [r.id for r in refs], since, until))
    if not got:
        return {}
    (r,) = got.values()
    return {int(t): (mn, mx, s, int(n), last)
            for t, mn, mx, s, n, last in zip(r.ts, r.min, r.max, r.sum, r.count, r.last, strict=True)}


def _count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_compaction_packs_completed_days_and_reads_stay_the_same(engine: Engine) -> None:
    now = DAY0 + 3 * DAY_S + 30 * 60  # half an hour into the fourth day
    ingest(engine, [hello("h1", "acme", "web-1"),
                    samples("h1", 1, [("cpu.busy_percent", {}, _points(DAY0, range(3 * 24), 4, 1.0))]),
                    samples("h1", 2, [("cpu.busy_percent", {}, _points(DAY0 + 3 * DAY_S, range(1), 4, 1.0))])],
           now, track=False)
    before = _read(engine, DAY0, DAY0 + 4 * DAY_S)
    assert len(before) == 3 * 24 + 1

    done = compact(engine, now)

    # Days 0 and 1 ended more than COMPACT_AFTER_S ago (into the first block); day 2 ended 30 min
    # ago and stays live.
    assert now - (DAY0 + 3 * DAY_S) < COMPACT_AFTER_S
    assert (done.blocks, done.buckets) == (1, 48)
    assert _count(engine, rollup_1h_blocks) == 1 and _count(engine, rollup_1h) == 24 + 1
    assert _read(engine, DAY0, DAY0 + 4 * DAY_S) == before
    # A window starting inside a packed day gets only its buckets.
    assert _read(engine, DAY0 + 5 * HOUR, DAY0 + 30 * HOUR) == {
        b: v for b, v in before.items() if DAY0 + 5 * HOUR <= b < DAY0 + 30 * HOUR}
    assert compact(engine, now).buckets == 0  # nothing left to pack


def test_the_compaction_job_runs_through_the_scheduler(engine: Engine) -> None:
    now = DAY0 + 2 * DAY_S + 2 * HOUR
    ingest(engine, [hello("h1", "acme", "web-1"),
                    samples("h1", 1, [("cpu.busy_percent", {}, _points(DAY0, range(48), 2, 1.0))])], now, track=False)
    before = _read(engine, DAY0, now)
    jobs = JobScheduler(engine, COLLECTOR_ID, JobsConfig.model_validate({}), leads=lambda: True, clock=lambda: now)
    jobs.add([compaction_job(engine, lambda: now)])
    run = jobs.run_job("compaction")
    assert run.outcome == "ok", run.error
    assert _count(engine, rollup_1h) == 0 and _count(engine, rollup_1h_blocks) == 1
    assert _read(engine, DAY0, now) == before
    # A collector that does not hold the group's lease leaves compaction to the one that does.
    follower = JobScheduler(engine, "col-b", JobsConfig.model_validate({}), leads=lambda: False, clock=lambda: now)
    follower.add([compaction_job(engine, lambda: now)])
    assert follower.run_job("compaction").outcome == "skipped"


def test_late_data_for_a_packed_day_counts_once(engine: Engine) -> None:
    now = DAY0 + 2 * DAY_S + 2 * HOUR
    ingest(engine, [hello("h1", "acme", "web-1"),
                    samples("h1", 1, [("cpu.busy_percent", {}, _points(DAY0, range(24), 4, 10.0))])], now, track=False)
    assert compact(engine, now).blocks == 1
    # An agent replays its spool after an outage: more points of hour 5 of the packed day, one lower
    # than the day's minimum there and one later than its last point.
    late = [(DAY0 + 5 * HOUR + 1, 2.0), (DAY0 + 5 * HOUR + HOUR - 1, 99.0)]
    ingest(engine, [hello("h1", "acme", "web-1"), samples("h1", 2, [("cpu.busy_percent", {}, late)])], now,
           track=False)
    assert _count(engine, rollup_1h) == 1  # the writer upserted a live row for that hour

    def check() -> None:
        got = _read(engine, DAY0, DAY0 + DAY_S)
        assert len(got) == 24
        assert got[DAY0 + 5 * HOUR] == (2.0, 99.0, 4 * 15.0 + 2.0 + 99.0, 6, 99.0)
        assert got[DAY0 + 6 * HOUR] == (16.0, 16.0, 64.0, 4, 16.0)

    check()  # merged by the reader
    assert compact(engine, now).blocks == 1  # re-packed with the late row
    assert _count(engine, rollup_1h) == 0 and _count(engine, rollup_1h_blocks) == 1
    check()


def test_retention_deletes_blocks_past_it(engine: Engine) -> None:
    now = DAY0 + 5 * DAY_S + 2 * HOUR
    ingest(engine, [hello("h1", "acme", "web-1"),
                    samples("h1", 1, [("cpu.busy_percent", {}, _points(DAY0, range(5 * 24), 1, 1.0))])],
           now, track=False)
    assert compact(engine, now).blocks == 2  # days 0-2 and days 3-4

    def blocks_after_retention(keep_days: float) -> list[int]:
        Ingestor(engine, COLLECTOR_ID, {**RETENTION, "1h": keep_days * DAY_S}, clock=lambda: now).run_retention()
        with engine.connect() as conn:
            return sorted(conn.execute(select(rollup_1h_blocks.c.block)).scalars())

    # Back to hour 2 of day 1: the first block is partly past retention and stays whole until its
    # last hour is; back to hour 2 of day 3, it goes.
    assert blocks_after_retention(4) == [DAY0, DAY0 + BLOCK_S]
    assert blocks_after_retention(2) == [DAY0 + BLOCK_S]
    assert min(_read(engine, DAY0, now)) == DAY0 + BLOCK_S


def test_upgrade_from_the_previous_head_keeps_rollups_readable(store_url: str) -> None:
    previous = "9c3e5a1f7b20"
    migrate(store_url, "base")
    migrate(store_url, previous)
    raw = open_engine(store_url, create=False)  # a store behind head: written without the schema check
    with raw.begin() as conn:
        conn.execute(insert(hosts).values(id="h1", customer_id="acme", hostname="web-1", source="agent", labels={},
                                          facts={}, agent_version="", first_seen_ms=0, last_seen_ms=0))
        sid = conn.execute(insert(series).values(host_id="h1", name="cpu.busy_percent", labels="[]")
                           .returning(series.c.id)).scalar_one()
        conn.execute(insert(rollup_1h), [{"series_id": sid, "bucket": DAY0 + h * HOUR, "min": h, "max": h + 1,
                                          "sum": 2 * h, "count": 2, "last": h, "last_ts_ms": (DAY0 + h * HOUR) * 1000}
                                         for h in range(48)])
    raw.dispose()
    assert migrate(store_url).action == "upgrade"
    engine = open_engine(store_url)
    want = {DAY0 + h * HOUR: (float(h), h + 1.0, 2.0 * h, 2, float(h)) for h in range(48)}
    assert _read(engine, DAY0, DAY0 + 2 * DAY_S) == want
    assert compact(engine, DAY0 + 3 * DAY_S).blocks == 1
    assert _read(engine, DAY0, DAY0 + 2 * DAY_S) == want
    engine.dispose()
    # A downgrade unpacks the blocks into hourly rows again.
    migrate(store_url, previous)
    raw = open_engine(store_url, create=False)
    with raw.connect() as conn:
        assert conn.execute(select(func.count()).select_from(rollup_1h)).scalar_one() == 48
        assert conn.execute(select(func.sum(rollup_1h.c.sum))).scalar_one() == sum(2.0 * h for h in range(48))
    raw.dispose()
