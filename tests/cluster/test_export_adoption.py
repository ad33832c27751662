"""The leader exports the backlog of a collector that died, as that collector."""

from __future__ import annotations

import time

from collector.cluster.membership import Cluster
from collector.export.adopt import adopt, orphans
from collector.store import cursors
from collector.store.engine import open_engine
from tests.export.rows import ScriptedWriter, add_batches, add_host
from tests.export.test_exporter import NOW, config


def test_a_dead_collectors_unexported_batches_are_exported_once(store_url: str) -> None:
    engine = open_engine(store_url)
    add_host(engine)
    Cluster(engine, "col-a", listen="x:1", api="x:2", heartbeat_s=0.1, lease_ttl_s=0.3).beat()
    ids = add_batches(engine, 5, collector_id="col-a")
    with engine.begin() as conn:  # col-a had exported the first two before it died
        cursors.save(conn, "col-a", cursors.SAMPLES, ids[1], int(NOW * 1000))
    add_batches(engine, 2, first_seq=100, collector_id="col-b")  # the leader's own: not adopted
    assert orphans(engine, "col-b", 300) == []
    time.sleep(0.35)
    Cluster(engine, "col-b", listen="x:3", api="x:4", heartbeat_s=0.1, lease_ttl_s=0.3).beat()
    assert orphans(engine, "col-b", 300) == ["col-a"]

    writer = ScriptedWriter()
    adopt(engine, "col-a", config(), writer, lambda: NOW)
    stamps = sorted(int(line.rsplit(" ", 1)[1]) for line in writer.lines())
    # The three unexported batches (seq 3 to 5, ten points each), and nothing of col-b's.
    assert stamps == sorted(1_700_000_000_000 + seq * 10_000 + i * 1000 for seq in (3, 4, 5) for i in range(10))
    with engine.connect() as conn:
        assert cursors.load(conn, "col-a", cursors.SAMPLES) == ids[-1]
    again = ScriptedWriter()
    adopt(engine, "col-a", config(), again, lambda: NOW)
    assert again.lines() == [], "nothing twice"
