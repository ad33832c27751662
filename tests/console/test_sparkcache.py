"""The fleet's sparkline drawings: drawn once, kept, redrawn behind the page once they are old."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from collector.console import fleet as fleet_module
from collector.console.fleet import SparkCache
from tests.collector_inspection.store import RETENTION, hello, ingest, open_store, samples

NOW = 1_796_000_400.0  # on the hour + 400 s


def _store(tmp_path: Path, level: float) -> Engine:
    engine = open_store(tmp_path / "patrol.sqlite")
    stamps = [NOW - 86_400 + i * 600 for i in range(144)]
    messages = []
    for host in ("web-1", "db-1"):
        messages += [hello(host, "acme", host, boot_ms=int((NOW - 90_000) * 1000)),
                     samples(host, 1, [("cpu.busy_percent", {}, [(t, level) for t in stamps])])]
    ingest(engine, messages, NOW)
    return engine


def test_drawn_once_kept_and_redrawn_in_the_background(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _store(tmp_path, 20.0)
    reads: list[tuple[str, ...]] = []
    real = fleet_module.sparklines

    def counted(conn, host_ids, now_s, retention_s):  # type: ignore[no-untyped-def]
        reads.append(tuple(host_ids))
        return real(conn, host_ids, now_s, retention_s)

    monkeypatch.setattr(fleet_module, "sparklines", counted)
    cache = SparkCache(ttl_s=60, stale_s=600)
    with engine.connect() as conn:
        first = cache.get(conn, ["web-1"], NOW, RETENTION)
        assert set(first) == {"web-1"} and "cpu.busy_percent" in first["web-1"] and len(reads) == 1
        assert cache.get(conn, ["web-1"], NOW + 30, RETENTION) is first and len(reads) == 1
        # Old: the page still gets the drawings at once, and they are redrawn behind it.
        assert cache.get(conn, ["web-1"], NOW + 90, RETENTION) is first
        cache.wait_idle()
        assert len(reads) == 2
        redrawn = cache.get(conn, ["web-1"], NOW + 100, RETENTION)
        assert redrawn is not first and len(reads) == 2
        # A host the drawings lack, or drawings too old to show, are drawn for the request itself.
        both = cache.get(conn, ["web-1", "db-1"], NOW + 110, RETENTION)
        assert set(both) == {"web-1", "db-1"} and reads[-1] == ("web-1", "db-1")
        cache.get(conn, ["web-1", "db-1"], NOW + 2000, RETENTION)
        assert len(reads) == 4 and cache._refreshing is None
    engine.dispose()
