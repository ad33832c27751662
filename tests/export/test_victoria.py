"""Export into a real VictoriaMetrics (InfluxDB v2 write API) from a real collector fed over real gRPC.

Reading everything back through VictoriaMetrics' export API proves that every sample arrived exactly
once — also when the TSDB is stopped mid-export while ingest goes on, and when the collector itself
is killed and resumes from its cursor. The TSDB is stopped with SIGTERM: VictoriaMetrics acknowledges
writes before they reach its disk, so a SIGKILL would lose data it had accepted, which no client can
prevent.
"""

from __future__ import annotations

import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from protos.patrol.v1 import agent_pb2 as pb
from tests.export.traffic import Traffic, fleet, send
from tests.export.vm import Points, VictoriaMetrics
from tests.integration.harness import CollectorProcess, wait_for

pytestmark = [pytest.mark.integration]


def collector_exporting_to(workdir: Path, vm: VictoriaMetrics, customers: list[str], **influx: Any) -> CollectorProcess:
    settings = {"url": vm.url, "org": "provider", "bucket": "patrol", "flush_interval": "0.1s",
                "retry_initial": "0.1s", "retry_max": "0.5s", "timeout": "2s"} | influx
    return CollectorProcess(workdir, customers=[{"id": c, "name": c} for c in customers],
                            export={"influx": settings}, log_level="INFO")


def metrics(collector: CollectorProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"{collector.api}/metrics", timeout=10).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def metric(collector: CollectorProcess, name: str, **labels: str) -> float:
    return metrics(collector).get((name, tuple(sorted(labels.items()))), 0.0)


def export_caught_up(collector: CollectorProcess) -> bool:
    """The saved samples cursor has reached the newest raw batch in the store."""
    newest, cursor = store_state(collector)
    return newest > 0 and cursor >= newest


def assert_same_points(got: Points, want: Points) -> None:
    """Same series, and per series the same samples: no loss, no duplicate (values to VM's 12 digits)."""
    got = {k: v for k, v in got.items() if not k[0].startswith("events_")}
    missing, extra = want.keys() - got.keys(), got.keys() - want.keys()
    assert not missing, f"{len(missing)} series never arrived, e.g. {sorted(missing)[:2]}"
    assert not extra, f"{len(extra)} series nobody sent, e.g. {sorted(extra)[:2]}"
    for key, sent in want.items():
        stored = sorted(got[key].elements())
        expected = sorted(sent.elements())
        assert len(stored) == len(expected), f"{key}: {len(stored)} samples stored, {len(expected)} sent"
        assert [t for t, _ in stored] == [t for t, _ in expected], f"{key}: timestamps differ"
        assert [v for _, v in stored] == pytest.approx([v for _, v in expected], rel=1e-10, abs=1e-12), key


def test_every_sample_arrives_exactly_once_across_a_tsdb_outage(tmp_path: Path) -> None:
    traffic = fleet(agents=4, minutes=15)
    total = traffic.samples()
    # The TSDB is stopped mid-export: a write it stored but could not acknowledge is sent again, and
    # lands on the same points, as equal InfluxDB points overwrite each other. The collector's own
    # counters below still count every sample exactly once.
    vm = VictoriaMetrics(tmp_path / "vm", dedup=True).start()
    # Small requests make exporting a part take many writes, so the TSDB usually goes away mid-export;
    # either way the second part arrives while it is down.
    collector = collector_exporting_to(tmp_path / "collector", vm, traffic.customers, batch_size=40, max_queue=400)
    collector.start()
    try:
        target = f"127.0.0.1:{collector.grpc_port}"
        send(target, traffic.part(0, 3))
        wait_for(lambda: metric(collector, "patrol_export_samples_total") > 0, 30, "the first exported samples")
        vm.stop(signal.SIGTERM)

        send(target, traffic.part(1, 3))  # ingest goes on while the TSDB is down

        def failing_with_backlog() -> bool:
            seen = metrics(collector)
            return (seen.get(("patrol_export_write_errors_total", (("status", "network"),)), 0) > 0
                    and seen[("patrol_export_target_up", ())] == 0
                    and seen[("patrol_export_lag_rows", (("stream", "samples"),))] > 0)

        wait_for(failing_with_backlog, 30, "failed writes and a backlog while the TSDB is down")
        seen = metrics(collector)
        assert seen[("patrol_export_samples_total", ())] < total
        # The queue stays bounded (400 points plus the one batch that crossed the bound); the rest waits
        # in the store.
        assert seen[("patrol_export_queue_points", ())] <= 400 + 200

        vm.start()  # same port, same data path
        send(target, traffic.part(2, 3))
        wait_for(lambda: metric(collector, "patrol_export_samples_total") >= total, 60,
                 "every accepted sample exported")
        seen = metrics(collector)
        assert seen[("patrol_export_samples_total", ())] == seen[("patrol_samples_accepted_total", ())] == total
        assert seen[("patrol_export_target_up", ())] == 1
        assert_same_points(vm.points(), traffic.expected())
    finally:
        collector.kill(signal.SIGTERM)
        vm.stop()


def store_state(collector: CollectorProcess) -> tuple[int, int]:
    """(newest raw batch id, saved samples cursor) in the collector's store."""
    db = sqlite3.connect(f"file:{collector.db_path}?mode=ro", uri=True, timeout=30)
    try:
        newest = db.execute("SELECT MAX(id) FROM ingest_log").fetchone()[0]
        cursor = db.execute("SELECT last_id FROM export_cursors WHERE stream = 'samples'").fetchone()
    finally:
        db.close()
    return int(newest or 0), int(cursor[0]) if cursor else -1


def test_collector_killed_with_a_backlog_resumes_from_its_cursor(tmp_path: Path) -> None:
    traffic = fleet(agents=3, minutes=12, seed=11)
    # Deduplicating like InfluxDB (equal measurement, tags and time overwrite), so the points a killed
    # collector acknowledged but had not yet recorded in its cursor may arrive twice — and nothing may
    # be missing.
    vm = VictoriaMetrics(tmp_path / "vm", dedup=True).start()
    collector = collector_exporting_to(tmp_path / "collector", vm, traffic.customers, batch_size=30)
    collector.start()
    try:
        send(f"127.0.0.1:{collector.grpc_port}", traffic.part(0, 2))
        wait_for(lambda: metric(collector, "patrol_export_samples_total") > 0, 30, "the first exported samples")
        vm.stop()
        send(f"127.0.0.1:{collector.grpc_port}", traffic.part(1, 2))  # durable, but the TSDB is away
        collector.kill(signal.SIGKILL)
        newest, cursor = store_state(collector)
        assert 0 <= cursor < newest  # the second half is only in the store
        vm.start()
        collector.start()
        wait_for(lambda: export_caught_up(collector), 60, "the export cursor to reach the newest batch")
        assert_same_points(vm.points(), traffic.expected())
    finally:
        collector.kill(signal.SIGTERM)
        vm.stop()


ODD_LABELS = {"mount": "C:\\", "device": "disk 0,part=1", "fstype": 'say "ntfs"', "note": "中文 ok\\x", "e": ""}


# An hour ago, on a whole second: inside the collector's ingest window whenever the test runs.
T0 = (int(time.time()) - 3600) * 1000


def odd_traffic() -> tuple[Traffic, list[pb.Event]]:
    hello = pb.AgentMessage(hello=pb.Hello(agent_id="odd-1", hostname="db 01,eu=west", customer="acme",
                                           spool_epoch="e1", version="test"))
    samples = pb.AgentMessage(samples=pb.Samples(seq=1, series=[
        pb.Series(name="disk.used_percent", labels=ODD_LABELS, timestamps_ms=[T0, T0 + 10_000],
                  values=[12.5, 13.25]),
        pb.Series(name="disk.free_bytes", labels=ODD_LABELS, timestamps_ms=[T0, T0 + 10_000],
                  values=[1e12, 1.5e12]),
    ]))
    burst = [pb.Event(timestamp_ms=T0 + 5_000, rule="sshd.failed_password", severity=pb.SEVERITY_WARNING,
                      source="/var/log/auth.log", line=f'Failed password for "root" from 10.0.0.{i}\nsecond line',
                      suppressed_before=i) for i in range(3)]
    events = pb.AgentMessage(events=pb.Events(seq=2, events=burst))
    traffic = Traffic({"odd-1": hello.SerializeToString()},
                      {"odd-1": [samples.SerializeToString(), events.SerializeToString()]})
    return traffic, burst


def test_odd_names_round_trip_and_events_of_one_millisecond_stay_apart(tmp_path: Path) -> None:
    traffic, burst = odd_traffic()
    vm = VictoriaMetrics(tmp_path / "vm").start()
    collector = collector_exporting_to(tmp_path / "collector", vm, ["acme"])
    collector.start()
    try:
        send(f"127.0.0.1:{collector.grpc_port}", traffic)
        wait_for(lambda: metric(collector, "patrol_export_events_total") >= 3
                 and metric(collector, "patrol_export_samples_total") >= 3, 30, "samples and events exported")
        got = vm.points()
    finally:
        collector.kill(signal.SIGTERM)
        vm.stop()
    ident = {"customer": "acme", "host": "db 01,eu=west", "host_id": "odd-1"}
    labels = frozenset({**ident, **{k: v for k, v in ODD_LABELS.items() if v}}.items())
    assert got[("disk_used_percent", labels)] == Counter({(T0, 12.5): 1, (T0 + 10_000, 13.25): 1})
    assert got[("disk_free_bytes", labels)] == Counter({(T0, 1e12): 1, (T0 + 10_000, 1.5e12): 1})
    event_labels = frozenset({**ident, "rule": "sshd.failed_password", "severity": "warning"}.items())
    # Three events in one millisecond: three points (count = 1 + suppressed before), not one.
    assert got[("events_count", event_labels)] == Counter({(T0 + 5_000, 1.0 + e.suppressed_before): 1
                                                           for e in burst})
