"""Ingest writer and rollup store on SQLite and PostgreSQL: dedup, durability, tiers, recovery, retention."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from collector.ingest import Batch, HostUpdate, Ingestor, Outcome
from collector.store import queries, watermark
from collector.store.engine import StoreError, open_engine
from collector.store.rollup import HELD_PARTS
from protos.patrol.v1 import agent_pb2 as pb

NOW = 1_790_000_000.0  # fixed "now" (2026-09-21) so bucket arithmetic is exact
RET = {"raw": 86400.0, "1m": 14 * 86400.0, "1h": 730 * 86400.0, "events": 90 * 86400.0}


def samples(seq: int, points: list[tuple[float, float]], name: str = "cpu.busy_percent",
            labels: dict[str, str] | None = None) -> pb.Samples:
    return pb.Samples(seq=seq, series=[pb.Series(name=name, labels=labels or {},
                                                 timestamps_ms=[int(t * 1000) for t, _ in points],
                                                 values=[v for _, v in points])])


def make(store_url: str, collector_id: str = "c1") -> Ingestor:
    engine = open_engine(store_url)
    return Ingestor(engine, collector_id, RET, clock=lambda: NOW)


def commit(ing: Ingestor, *items: Batch | HostUpdate) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for it in items:
        it.done = outcomes.append  # type: ignore[method-assign,assignment]
    ing._commit(list(items))
    return outcomes


def batch(seq: int, s: pb.Samples, host: str = "h1", epoch: str = "e1") -> Batch:
    return Batch(host_id=host, epoch=epoch, seq=seq, done=lambda _: None, samples=s,
                 payload=pb.AgentMessage(samples=s).SerializeToString())


def host(h: str = "h1") -> HostUpdate:
    return HostUpdate(host_id=h, customer_id="acme", hostname=h, connected=True)


def test_dedup_by_agent_epoch_and_seq(store_url: str) -> None:
    ing = make(store_url)
    commit(ing, host())
    first = commit(ing, batch(1, samples(1, [(NOW - 30, 1.0)])), batch(2, samples(2, [(NOW - 20, 2.0)])))
    assert first == [Outcome.ACCEPTED, Outcome.ACCEPTED]
    again = commit(ing, batch(2, samples(2, [(NOW - 20, 2.0)])), batch(3, samples(3, [(NOW - 10, 3.0)])))
    assert again == [Outcome.ACCEPTED, Outcome.DUPLICATE] or again == [Outcome.DUPLICATE, Outcome.ACCEPTED]
    # A new spool epoch (agent reinstalled) starts its seqs again and is not a duplicate.
    assert commit(ing, batch(1, samples(1, [(NOW, 4.0)]), epoch="e2")) == [Outcome.ACCEPTED]
    # The high-water marks survive a restart of the writer (a fresh Ingestor on the same file).
    ing2 = make(store_url)
    assert commit(ing2, batch(3, samples(3, [(NOW - 10, 3.0)]))) == [Outcome.DUPLICATE]
    assert commit(ing2, batch(4, samples(4, [(NOW - 5, 5.0)]))) == [Outcome.ACCEPTED]


def test_rollup_tiers_match_hand_computed_values(store_url: str) -> None:
    ing = make(store_url)
    commit(ing, host())
    base = NOW // 3600 * 3600 - 7200  # two hours ago, on an hour boundary
    pts = [(base + 10, 5.0), (base + 20, 1.0), (base + 50, 9.0), (base + 70, 4.0), (base + 3700, 2.0)]
    commit(ing, batch(1, samples(1, pts[:3])), batch(2, samples(2, pts[3:])))
    ing._flush()
    with ing.engine.connect() as conn:
        minute = queries.series_points(conn, "h1", "cpu.busy_percent", base, NOW, 60, NOW, RET)[0]["points"]
        hour = queries.series_points(conn, "h1", "cpu.busy_percent", base, NOW, 3600, NOW, RET)[0]["points"]
        latest = queries.latest_values(conn, "h1")
    assert [(p["min"], p["max"], p["avg"], p["last"], p["count"]) for p in minute] == [
        (1.0, 9.0, 5.0, 9.0, 3), (4.0, 4.0, 4.0, 4.0, 1), (2.0, 2.0, 2.0, 2.0, 1)]
    assert [(p["min"], p["max"], p["avg"], p["last"], p["count"]) for p in hour] == [
        (1.0, 9.0, 19.0 / 4, 4.0, 4), (2.0, 2.0, 2.0, 2.0, 1)]
    assert latest[0]["value"] == 2.0


def test_flushes_merge_into_existing_rows(store_url: str) -> None:
    ing = make(store_url)
    commit(ing, host())
    b = NOW // 60 * 60 - 600
    commit(ing, batch(1, samples(1, [(b + 1, 3.0)])))
    ing._flush()
    commit(ing, batch(2, samples(2, [(b + 2, 7.0), (b + 3, 1.0)])))
    ing._flush()
    with ing.engine.connect() as conn:
        p = queries.series_points(conn, "h1", "cpu.busy_percent", b, NOW, 60, NOW, RET)[0]["points"]
    assert (p[0]["min"], p[0]["max"], p[0]["avg"], p[0]["last"], p[0]["count"]) == (1.0, 7.0, 11.0 / 3, 1.0, 3)


def test_old_points_skip_the_fine_tier(store_url: str) -> None:
    ing = make(store_url)
    commit(ing, host())
    old = NOW - 30 * 86400  # older than the 14-day 1m retention
    commit(ing, batch(1, samples(1, [(old, 1.0), (old + 60, 3.0), (NOW - 60, 8.0)])))
    ing._flush()
    with ing.engine.connect() as conn:
        n_minute = conn.exec_driver_sql("SELECT COUNT(*), SUM(count) FROM rollup_1m").one()
        n_hour = conn.exec_driver_sql("SELECT SUM(count), SUM(sum) FROM rollup_1h").one()
    assert tuple(n_minute) == (1, 1)
    assert tuple(n_hour) == (3, 12.0)


def test_recovery_folds_unflushed_batches_exactly_once(store_url: str) -> None:
    ing = make(store_url)
    commit(ing, host())
    b = NOW // 60 * 60 - 120
    commit(ing, batch(1, samples(1, [(b, 1.0)])))
    ing._flush()
    commit(ing, batch(2, samples(2, [(b + 1, 2.0)])), batch(3, samples(3, [(b + 2, 4.0)])))
    # Crash: the accumulators are lost before the flush. A new writer refolds past the watermark.
    ing2 = make(store_url)
    assert ing2.recover() == 2
    assert ing2.recover() == 0
    with ing2.engine.connect() as conn:
        row = conn.exec_driver_sql("SELECT SUM(count), SUM(sum) FROM rollup_1m").one()
    assert tuple(row) == (3, 7.0)


def tier_totals(ing: Ingestor) -> tuple[tuple[int, float], tuple[int, float], list[tuple[int, float]]]:
    """(count, sum) of the 1-minute and the hourly tier, and the latest values (stamp, value)."""
    with ing.engine.connect() as conn:
        minute, hour = (tuple(conn.exec_driver_sql(f"SELECT COALESCE(SUM(count), 0), COALESCE(SUM(sum), 0) "
                                                   f"FROM {t}").one()) for t in ("rollup_1m", "rollup_1h"))
        latest = [tuple(r) for r in conn.exec_driver_sql("SELECT ts_ms, value FROM latest ORDER BY series_id")]
    return (int(minute[0]), float(minute[1])), (int(hour[0]), float(hour[1])), latest  # type: ignore[return-value]


def test_a_fine_flush_holds_the_hourly_tier_and_latest_values_for_the_coarse_flush(store_url: str) -> None:
    ing = make(store_url)
    commit(ing, host())
    b = NOW // 60 * 60 - 120
    commit(ing, batch(1, samples(1, [(b, 1.0), (b + 10, 3.0)])))
    assert ing._flush(coarse=False)
    assert tier_totals(ing) == ((2, 4.0), (0, 0.0), [])
    commit(ing, batch(2, samples(2, [(b + 70, 5.0)])))
    assert ing._flush(coarse=False)
    assert tier_totals(ing)[:2] == ((3, 9.0), (0, 0.0))
    assert ing._flush(coarse=True)
    assert tier_totals(ing) == ((3, 9.0), (3, 9.0), [(int((b + 70) * 1000), 5.0)])


def test_the_hourly_share_of_many_fine_flushes_is_held_as_one_cell_per_series_and_hour(store_url: str) -> None:
    ing = make(store_url)
    commit(ing, host())
    b = NOW // 3600 * 3600 - 3600
    for seq in range(1, 11):  # ten fine flushes, each with a point of the same series and hour
        commit(ing, batch(seq, samples(seq, [(b + 60 * seq, float(seq))])))
        assert ing._flush(coarse=False)
        assert ing.aggregator.held_cells <= HELD_PARTS
    assert tier_totals(ing)[:2] == ((10, 55.0), (0, 0.0))
    assert ing._flush()
    assert tier_totals(ing) == ((10, 55.0), (10, 55.0), [(int((b + 600) * 1000), 10.0)])
    with ing.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT min, max, last FROM rollup_1h").one() == (1.0, 10.0, 10.0)


def test_a_crash_between_coarse_flushes_refolds_the_hourly_tier_only(store_url: str) -> None:
    ing = make(store_url)
    commit(ing, host())
    b = NOW // 60 * 60 - 120
    commit(ing, batch(1, samples(1, [(b, 1.0)])))
    assert ing._flush()
    commit(ing, batch(2, samples(2, [(b + 1, 2.0)])), batch(3, samples(3, [(b + 2, 4.0)])))
    assert ing._flush(coarse=False)
    commit(ing, batch(4, samples(4, [(b + 3, 8.0)])))
    # Crash: 2 and 3 are in the 1-minute tier only, 4 in no tier. The new writer puts 2 and 3 into
    # the hourly tier and the latest values, and 4 everywhere; nothing twice.
    assert tier_totals(ing) == ((3, 7.0), (1, 1.0), [(int(b * 1000), 1.0)])
    ing2 = make(store_url)
    assert ing2.recover() == 3
    assert ing2.recover() == 0
    assert tier_totals(ing2) == ((4, 15.0), (4, 15.0), [(int((b + 3) * 1000), 8.0)])


def test_a_store_with_one_watermark_reads_it_as_both(store_url: str) -> None:
    # Before the hourly tier had its own watermark every flush wrote all tiers under one.
    ing = make(store_url)
    commit(ing, host())
    b = NOW // 60 * 60 - 120
    commit(ing, batch(1, samples(1, [(b, 1.0)])), batch(2, samples(2, [(b + 1, 2.0)])))
    assert ing._flush()
    with ing.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM store_meta WHERE key = 'rollup_watermark_coarse:c1'")
    commit(ing, batch(3, samples(3, [(b + 2, 4.0)])))
    ing2 = make(store_url)
    assert ing2.recover() == 1
    assert tier_totals(ing2)[:2] == ((3, 7.0), (3, 7.0))
    with ing2.engine.connect() as conn:
        assert watermark.read(conn, "c1") == (3, 3)


def test_retention_deletes_old_rows(store_url: str) -> None:
    ing = make(store_url)
    commit(ing, host())
    commit(ing, batch(1, samples(1, [(NOW - 800 * 86400, 1.0), (NOW - 60, 2.0)])))
    ev = pb.Events(seq=2, events=[pb.Event(timestamp_ms=int((NOW - 100 * 86400) * 1000), rule="r", line="old"),
                                  pb.Event(timestamp_ms=int(NOW * 1000), rule="r", line="new")])
    commit(ing, Batch(host_id="h1", epoch="e1", seq=2, done=lambda _: None, events=ev))
    ing._flush()
    with ing.engine.begin() as conn:
        ing._retention(conn)
    with ing.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM rollup_1h").scalar() == 1
        assert [r[0] for r in conn.exec_driver_sql("SELECT line FROM events")] == ["new"]


def test_writer_thread_end_to_end(store_url: str) -> None:
    ing = make(store_url)
    ing.start()
    done = threading.Event()
    results: list[Outcome] = []

    def cb(o: Outcome) -> None:
        results.append(o)
        if len(results) == 3:
            done.set()

    ing.submit(HostUpdate(host_id="h1", customer_id="acme", hostname="h1", done=cb))
    for seq in (1, 2):
        s = samples(seq, [(NOW - seq, float(seq))])
        ing.submit(Batch(host_id="h1", epoch="e", seq=seq, done=cb, samples=s,
                         payload=pb.AgentMessage(samples=s).SerializeToString()))
    assert done.wait(10)
    ing.flush_now()
    ing.stop()
    assert results == [Outcome.ACCEPTED] * 3
    with ing.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT SUM(count) FROM rollup_1m").scalar() == 2


def test_unusable_store_url_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not a valid SQLAlchemy URL"):
        open_engine("definitely not a url")
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro" / "patrol.sqlite").mkdir()  # a directory where the database file should be
    with pytest.raises(StoreError, match="cannot open the state store"):
        open_engine(f"sqlite:///{tmp_path / 'ro' / 'patrol.sqlite'}")


def test_non_finite_values_stay_out_of_the_rollups(store_url: str) -> None:
    nan, inf = float("nan"), float("inf")
    ing = make(store_url)
    commit(ing, host())
    b = NOW // 60 * 60 - 120
    outcomes = commit(ing, batch(1, samples(1, [(b + 1, 2.0), (b + 2, nan), (b + 3, 4.0), (b + 4, inf)])),
                      batch(2, samples(2, [(b + 70, nan)])))
    assert outcomes == [Outcome.ACCEPTED, Outcome.ACCEPTED]  # the raw batches are kept as they came
    ing._flush()  # and the flush does not choke on them
    with ing.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT bucket, min, max, sum, count, last FROM rollup_1m ORDER BY bucket").all()
    assert [tuple(r)[1:] for r in rows] == [(2.0, 4.0, 6.0, 2, 4.0)]
    assert ing.aggregator.nonfinite == 3


def test_recovery_after_retention_emptied_the_log(store_url: str) -> None:
    # Ids must keep growing after the log was emptied: a reused id at or below the rollup watermark
    # would be skipped by recovery and its points lost from the rollups.
    ing = make(store_url)
    commit(ing, host())
    b = NOW // 60 * 60 - 120
    commit(ing, batch(1, samples(1, [(b, 1.0)])), batch(2, samples(2, [(b + 1, 2.0)])))
    ing._flush()
    with ing.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM ingest_log")  # what retention does after a long quiet spell
    commit(ing, batch(3, samples(3, [(b + 2, 4.0)])))
    ing2 = make(store_url)  # crash before the flush
    assert ing2.recover() == 1
    with ing2.engine.connect() as conn:
        assert tuple(conn.exec_driver_sql("SELECT SUM(count), SUM(sum) FROM rollup_1m").one()) == (3, 7.0)


def test_flush_now_waits_for_items_queued_before_it(store_url: str) -> None:
    # A periodic flush already under way when flush_now is called must not count as its flush:
    # the batch queued just before would not be in the store yet.
    ing = make(store_url)
    ing.flush_interval = 0.05
    in_flush, release = threading.Event(), threading.Event()
    real_flush = ing._flush

    def slow_first_flush(serves: int = 0, coarse: bool = True) -> None:
        if not in_flush.is_set():
            in_flush.set()
            assert release.wait(30)
        real_flush(serves, coarse)

    ing._flush = slow_first_flush  # type: ignore[method-assign]
    ing.start()
    try:
        assert in_flush.wait(30)
        s = samples(1, [(NOW - 5, 42.0)])
        ing.submit(HostUpdate(host_id="h1", customer_id="acme", hostname="h1"))
        ing.submit(Batch(host_id="h1", epoch="e", seq=1, done=lambda _: None, samples=s,
                         payload=pb.AgentMessage(samples=s).SerializeToString()))
        waiter = threading.Thread(target=ing.flush_now)
        waiter.start()
        while ing.queue.qsize() < 3 and waiter.is_alive():
            threading.Event().wait(0.01)  # until the request is queued behind the two items
        release.set()
        waiter.join(30)
        with ing.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT SUM(count), SUM(sum) FROM rollup_1m").one() == (1, 42.0)
    finally:
        release.set()
        ing.stop()
