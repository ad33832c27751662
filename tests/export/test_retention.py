"""Raw and events retention must not delete what the export has not delivered yet."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from collector.ingest import Ingestor
from collector.store import cursors
from collector.store.engine import open_engine
from collector.store.schema import events, ingest_log
from tests.export.rows import COLLECTOR, add_batches, add_event, add_host

NOW = 1_800_000_000.0
RETENTION = {"raw": 60.0, "1m": 86400.0, "1h": 86400.0 * 30, "events": 60.0}


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    eng = open_engine(f"sqlite:///{tmp_path / 'patrol.sqlite'}")
    add_host(eng)
    return eng


def run_retention(engine: Engine) -> None:
    # Starting the ingest writer folds the batches past the rollup watermark and flushes; then the
    # retention job's pass runs. Every row here is far older than the raw and events retention.
    ingestor = Ingestor(engine, COLLECTOR, RETENTION, clock=lambda: NOW)
    ingestor.start()
    ingestor.stop()
    ingestor.run_retention()


def test_floors_are_the_saved_cursors(engine: Engine) -> None:
    with engine.begin() as conn:
        assert cursors.raw_keep_from(conn, COLLECTOR) is None
        cursors.save(conn, COLLECTOR, cursors.SAMPLES, 3, int(NOW * 1000))
        cursors.save(conn, COLLECTOR, cursors.EVENTS, 7, int(NOW * 1000))
        cursors.save(conn, "collector-b", cursors.EVENTS, 5, int(NOW * 1000))
        assert cursors.raw_keep_from(conn, COLLECTOR) == 3
        assert cursors.raw_keep_from(conn, "collector-b") is None
        assert cursors.events_keep_from(conn, int(NOW * 1000)) == 5


def test_retention_keeps_rows_from_the_export_cursor_on(engine: Engine) -> None:
    ids = add_batches(engine, 6, received_ms=0)
    event_ids = [add_event(engine, ts_ms=1000 + i) for i in range(4)]
    with engine.begin() as conn:
        cursors.save(conn, COLLECTOR, cursors.SAMPLES, ids[2], int(NOW * 1000))
        cursors.save(conn, COLLECTOR, cursors.EVENTS, event_ids[1], int(NOW * 1000))
    run_retention(engine)
    with engine.connect() as conn:
        raw_left = [r[0] for r in conn.execute(select(ingest_log.c.id).order_by(ingest_log.c.id))]
        events_left = [r[0] for r in conn.execute(select(events.c.id).order_by(events.c.id))]
    # The row at the cursor stays too, so SQLite never hands out an id the exporter has passed.
    assert raw_left == ids[2:]
    assert events_left == event_ids[1:]


def test_without_export_retention_deletes_as_before(engine: Engine) -> None:
    add_batches(engine, 3, received_ms=0)
    run_retention(engine)
    with engine.connect() as conn:
        assert conn.execute(select(ingest_log.c.id)).first() is None


def test_first_flush_runs_retention_on_a_freshly_booted_machine(engine: Engine,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # The monotonic clock counts from boot; a few seconds after boot it is far below the retention
    # period, and the first flush must still delete what is past retention.
    monkeypatch.setattr(time, "monotonic", lambda: 5.0)
    add_batches(engine, 3, received_ms=0)
    run_retention(engine)
    with engine.connect() as conn:
        assert conn.execute(select(ingest_log.c.id)).first() is None
