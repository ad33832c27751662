"""The exporter against a real SQLite store and a scripted target: order, bounds, outages, cursors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete

from collector.export.config import InfluxExport
from collector.export.exporter import Backoff, Exporter, TargetDown
from collector.export.outcome import Verdict, WriteResult
from collector.metrics import REGISTRY
from collector.store import cursors
from collector.store.engine import open_engine
from collector.store.schema import ingest_log
from tests.export.rows import COLLECTOR, ScriptedWriter, add_batches, add_event, add_host

NOW = 1_800_000_000.0


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    eng = open_engine(f"sqlite:///{tmp_path / 'patrol.sqlite'}")
    add_host(eng)
    return eng


def config(**kw: Any) -> InfluxExport:
    base: dict[str, Any] = {"url": "http://127.0.0.1:9", "org": "provider", "bucket": "patrol", "events": False,
                            "batch_size": 25, "max_queue": 1000, "retry_initial": 0.01, "retry_max": 0.02}
    return InfluxExport.model_validate(base | kw)


def exporter(engine: Engine, writer: ScriptedWriter, **kw: Any) -> Exporter:
    exp = Exporter(engine, COLLECTOR, config(**kw), writer, clock=lambda: NOW, page_rows=4)
    exp.open()
    return exp


def drain(exp: Exporter, limit: int = 1000) -> None:
    """Cycles until the store holds nothing more to read (what the exporter thread does)."""
    for _ in range(limit):
        if not exp.run_once():
            return
    raise AssertionError("the exporter never caught up")


def expected_lines(batches: int, points: int = 10, first_seq: int = 1) -> list[str]:
    out = []
    for seq in range(first_seq, first_seq + batches):
        start = 1_700_000_000_000 + seq * points * 1000
        out += [f"cpu,customer=acme,host=web-01,host_id=h1 busy_percent={float(start // 1000 + i)!r} "
                f"{start + i * 1000}" for i in range(points)]
    return out


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_exports_every_point_once_in_order_and_saves_the_cursor(engine: Engine) -> None:
    ids = add_batches(engine, 12)
    writer = ScriptedWriter()
    exp = exporter(engine, writer)
    before = counter("patrol_export_samples_total")
    drain(exp)
    assert writer.lines() == expected_lines(12)
    assert all(len(body.split("\n")) <= 25 for body, _ in writer.accepted)  # batch_size points per request
    assert counter("patrol_export_samples_total") - before == 120
    exp.persist(force=True)
    with engine.connect() as conn:
        assert cursors.load(conn, COLLECTOR, cursors.SAMPLES) == ids[-1]
        assert cursors.raw_keep_from(conn, COLLECTOR) == ids[-1]


def test_outage_keeps_the_queue_bounded_and_resumes_in_order(engine: Engine) -> None:
    add_batches(engine, 10)
    writer = ScriptedWriter()
    writer.down = True
    exp = exporter(engine, writer, max_queue=35)
    for _ in range(3):
        with pytest.raises(TargetDown):
            exp.run_once()
        # Reading stops at the bound (plus the one batch that crossed it); the rest waits in the store.
        assert sum(st.queued for st in exp.streams) <= 35 + 10
        assert exp.streams[0].cursor == 0
    add_batches(engine, 5, first_seq=11)  # ingest goes on while the target is down
    writer.down = False
    drain(exp)
    assert writer.lines() == expected_lines(15)


def test_cursor_survives_a_restart_and_export_resumes_from_it(engine: Engine) -> None:
    add_batches(engine, 6)
    writer = ScriptedWriter()
    writer.script.extend([WriteResult(Verdict.OK, "204")] * 2 + [WriteResult(Verdict.RETRY, "503", "busy")])
    first = exporter(engine, writer)
    with pytest.raises(TargetDown):
        first.run_once()
    first.persist(force=True)
    done = len(writer.lines())
    assert done == 50  # two acknowledged requests of 25 points: five whole batches of 10
    second = exporter(engine, writer)
    drain(second)
    assert writer.lines() == expected_lines(6)


def test_a_malformed_point_is_isolated_and_dropped_alone(engine: Engine) -> None:
    add_batches(engine, 5)
    bad = expected_lines(5)[17]

    def refuse(body: str) -> WriteResult | None:
        return WriteResult(Verdict.SPLIT, "400", "unable to parse") if bad in body.split("\n") else None

    writer = ScriptedWriter(refuse)
    exp = exporter(engine, writer)
    dropped = counter("patrol_export_points_dropped_total", reason="malformed")
    drain(exp)
    assert writer.lines() == [line for line in expected_lines(5) if line != bad]
    assert counter("patrol_export_points_dropped_total", reason="malformed") - dropped == 1
    assert exp.streams[0].limit == 25  # request size recovers after the bad point


def test_unprocessable_batch_is_not_retried(engine: Engine) -> None:
    add_batches(engine, 2)
    writer = ScriptedWriter()
    writer.script.append(WriteResult(Verdict.DROP, "422", "points beyond retention policy dropped=10"))
    exp = exporter(engine, writer)
    drain(exp)
    assert writer.calls == 1
    assert exp.streams[0].cursor > 0


def test_start_from_newest_skips_the_backlog(engine: Engine) -> None:
    add_batches(engine, 3)
    writer = ScriptedWriter()
    exp = exporter(engine, writer, start_from="newest")
    add_batches(engine, 2, first_seq=4)
    drain(exp)
    assert writer.lines() == expected_lines(2, first_seq=4)


def test_only_this_collectors_batches_are_exported(engine: Engine) -> None:
    add_batches(engine, 2)
    add_batches(engine, 2, first_seq=3, collector_id="collector-b")
    writer = ScriptedWriter()
    drain(exporter(engine, writer))
    assert writer.lines() == expected_lines(2)


def test_export_goes_on_after_the_rows_vanished_under_it(engine: Engine) -> None:
    ids = add_batches(engine, 3)
    writer = ScriptedWriter()
    exp = exporter(engine, writer)
    drain(exp)
    # Retention that ignored the export floor emptied the table. Ids are never reused (the table is
    # AUTOINCREMENT on SQLite, a sequence on PostgreSQL), and if a backend ever did reuse them, the
    # cursor follows the table down; either way new rows are exported.
    with engine.begin() as conn:
        conn.execute(delete(ingest_log))
    drain(exp)
    new = add_batches(engine, 2, first_seq=4)
    assert new[0] > ids[-1]
    drain(exp)
    assert writer.lines() == expected_lines(5)


def test_events_are_exported_with_their_own_cursor(engine: Engine) -> None:
    first = add_event(engine, 1_700_000_000_000, line='Failed password for "root"\nfrom 10.0.0.1')
    second = add_event(engine, 1_700_000_000_000, suppressed_before=4)
    writer = ScriptedWriter()
    exp = exporter(engine, writer, events=True)
    drain(exp)
    lines = writer.lines("ns")
    tags = "events,customer=acme,host=web-01,host_id=h1,rule=sshd.failed_password,severity=warning"
    assert lines == [
        f'{tags} count=1i,line="Failed password for \\"root\\"\\\\nfrom 10.0.0.1",source="/var/log/auth.log" '
        f"{1_700_000_000_000 * 10**6 + first}",
        f'{tags} count=5i,line="Failed password",source="/var/log/auth.log" {1_700_000_000_000 * 10**6 + second}',
    ]
    exp.persist(force=True)
    with engine.connect() as conn:
        assert cursors.load(conn, COLLECTOR, cursors.EVENTS) == second
        assert cursors.events_keep_from(conn, int(NOW * 1000)) == second
        # A collector that stopped refreshing its cursor a day ago no longer holds events retention back.
        assert cursors.events_keep_from(conn, int(NOW * 1000) + cursors.STALE_MS + 1) is None


def test_release_lets_retention_go(engine: Engine) -> None:
    add_batches(engine, 1)
    exporter(engine, ScriptedWriter(), events=True)
    assert cursors.release(engine, COLLECTOR) == 2
    with engine.connect() as conn:
        assert cursors.raw_keep_from(conn, COLLECTOR) is None
        assert cursors.events_keep_from(conn, int(NOW * 1000)) is None


def test_nan_values_are_skipped_and_counted(engine: Engine) -> None:
    from tests.export.rows import samples_message

    with engine.begin() as conn:
        conn.execute(ingest_log.insert().values(
            collector_id=COLLECTOR, host_id="h1", received_ms=0,
            payload=samples_message(1, 1_700_000_000_000, 4, value=lambda i: float("nan") if i % 2 else 1.0)))
    writer = ScriptedWriter()
    skipped = counter("patrol_export_values_skipped_total")
    drain(exporter(engine, writer))
    assert len(writer.lines()) == 2
    assert counter("patrol_export_values_skipped_total") - skipped == 2


def test_backoff_doubles_to_the_maximum_and_honours_retry_after() -> None:
    b = Backoff(1.0, 8.0)
    ceilings = [1, 2, 4, 8, 8]
    for ceiling in ceilings:
        assert ceiling / 2 <= b.next() <= ceiling
    assert b.next(at_least=6.0) >= 6.0
    b.reset()
    assert b.next() <= 1.0
