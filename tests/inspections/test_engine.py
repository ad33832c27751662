"""The engine: statuses from observations, unknown handling, results, progress, prefetching."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from inspections import (
    CheckContext,
    CheckInputs,
    Evidence,
    HostInfo,
    InspectionProgress,
    InspectionResult,
    MemoryData,
    Observation,
    Profile,
    PythonCheck,
    builtin_library,
    load_profile,
    run_inspection,
)
from inspections.checks.definition import PythonCheckSpec
from tests.inspections.scenario import NOW, Scenario


def _healthy(s: Scenario) -> Scenario:
    s.series("host.up", 1.0).series("cpu.busy_percent", 30).series("mem.available_percent", 60)
    s.series("load.load5_per_core", 0.3).series("disk.used_percent", 50, {"mount": "/", "fstype": "ext4"})
    s.series("net.rx_errors_per_s", 0.0, {"interface": "eth0"}).series("net.rx_drops_per_s", 0.0, {"interface": "eth0"})
    s.series("net.rx_packets_per_s", 300.0, {"interface": "eth0"})
    return s


def test_healthy_host_scores_100_and_serialises() -> None:
    result = _healthy(Scenario()).result(*load_profile("monthly").check_ids())
    host = result.hosts[0]
    assert host.status == "ok" and host.score == 100
    assert {f.status for f in host.findings} == {"ok"}
    data = result.to_dict()
    json.dumps(data, ensure_ascii=False)  # plain JSON types only
    assert InspectionResult.from_dict(data).to_dict() == data
    assert data["customers"] == [
        {"customer_id": "acme", "score": 100, "hosts": 1, "worst_host_id": "h1", "counts": data["counts"]}
    ]


def test_an_offline_host_is_never_ok() -> None:
    """The agent stopped a day ago: nothing it reported before may pass as ok now."""
    s = Scenario().host_with(last_seen=NOW - timedelta(days=1))
    for name, value in [("cpu.busy_percent", 30.0), ("mem.available_percent", 60.0), ("host.up", 1.0)]:
        s.series(name, value, stop_before=timedelta(days=1))
    s.series("disk.used_percent", 50, {"mount": "/", "fstype": "ext4"}, stop_before=timedelta(days=1))
    s.latest("probe.tls_expiry_days", 200, {"target": "a:443"}, age=timedelta(days=1, hours=2))
    s.latest("probe.port_listening", 1, {"port": "22"}, age=timedelta(days=1))
    result = s.result(*load_profile("monthly").check_ids())
    statuses = {f.check_id: f.status for f in result.hosts[0].findings}
    assert statuses.pop("device.heartbeat") == "critical"
    assert statuses and set(statuses.values()) == {"unknown"}, statuses
    assert all(f.unknown_reason for f in result.hosts[0].findings if f.status == "unknown")


def test_metric_evidence() -> None:
    s = Scenario().series("cpu.busy_percent", lambda i: float(i % 100))
    finding = s.run("resources.cpu_busy")[0]
    assert finding.evidence.source == "rollups"
    assert finding.evidence.series[0].name == "cpu.busy_percent"
    assert (finding.evidence.since, finding.evidence.until) == (s.since, s.now)
    assert (finding.evidence.aggregation, finding.evidence.rollup) == ("p95", "avg")
    assert finding.evidence.points == 288
    assert finding.unit == "%" and finding.category == "resources" and finding.severity == "medium"
    assert finding.name["en"] == "CPU utilisation"


def test_one_finding_per_mount_and_excluded_filesystems() -> None:
    s = Scenario()
    s.series("disk.used_percent", 40, {"mount": "/", "fstype": "ext4"})
    s.series("disk.used_percent", 96, {"mount": "/data", "fstype": "xfs"})
    s.series("disk.used_percent", 100, {"mount": "/media/cdrom", "fstype": "iso9660"})
    assert {f.subject: f.status for f in s.run("resources.disk_space")} == {"/": "ok", "/data": "critical"}


def test_non_finite_buckets_are_ignored() -> None:
    s = Scenario().series("cpu.busy_percent", lambda i: math.nan if i % 2 else 20.0)
    assert s.run("resources.cpu_busy")[0].observed == 20.0


def test_interface_errors_are_a_share_of_the_interface_packets() -> None:
    s = Scenario()
    s.series("net.rx_errors_per_s", 0.01, {"interface": "eth0"}).series(
        "net.tx_errors_per_s", 0.01, {"interface": "eth0"}
    )
    s.series("net.rx_packets_per_s", 150.0, {"interface": "eth0"}).series(
        "net.tx_packets_per_s", 50.0, {"interface": "eth0"}
    )
    # An idle interface: one error every 100 s against the floor of one packet a second.
    s.series("net.rx_errors_per_s", 0.01, {"interface": "eth1"})
    s.series("net.rx_packets_per_s", 0.0, {"interface": "eth1"})
    s.series("net.tx_packets_per_s", 0.0, {"interface": "eth1"})
    s.series("net.rx_errors_per_s", 0.0, {"interface": "eth2"})
    s.series("net.rx_packets_per_s", 10.0, {"interface": "eth2"})
    findings = {f.subject: f for f in s.run("network.interface_errors")}
    assert {k: round(f.observed or 0, 6) for k, f in findings.items()} == {"eth0": 0.01, "eth1": 1.0, "eth2": 0.0}
    assert {k: f.status for k, f in findings.items()} == {"eth0": "warning", "eth1": "critical", "eth2": "ok"}


def test_a_share_without_its_denominator_is_unknown() -> None:
    s = Scenario().series("net.rx_errors_per_s", 0.5, {"interface": "eth0"})
    (finding,) = s.run("network.interface_errors")
    assert finding.status == "unknown"
    assert "net.rx_packets_per_s" in (finding.unknown_reason or "")


class _Broken(PythonCheck):
    def inputs(self) -> CheckInputs:
        return CheckInputs()

    def evaluate(self, ctx: CheckContext) -> Iterator[Observation]:
        yield Observation("", 1.0, Evidence(source="host"))
        raise RuntimeError("division by zero in a probe parser")


class _Floor(PythonCheck):
    def inputs(self) -> CheckInputs:
        return CheckInputs()

    def evaluate(self, ctx: CheckContext) -> Iterator[Observation]:
        yield Observation("a", 1.0, Evidence(source="host"), min_status="critical")
        yield Observation("b", 1.0, Evidence(source="host"))
        yield Observation("c", math.inf, Evidence(source="host"))


def _spec(check_id: str) -> PythonCheckSpec:
    base = builtin_library().get("device.heartbeat").spec
    assert isinstance(base, PythonCheckSpec)
    return base.model_copy(update={"id": check_id, "implementation": "test"})


def _profile(*checks: PythonCheck) -> Profile:
    return Profile(
        "t", {"zh": "测", "en": "t"}, {"zh": "测", "en": "t"}, timedelta(days=1), timedelta(minutes=30), checks
    )


def test_a_failing_check_becomes_an_unknown_finding(caplog: pytest.LogCaptureFixture) -> None:
    host = HostInfo("h1", "web-01", "acme", NOW)
    result = run_inspection(MemoryData(), [host], _profile(_Broken(_spec("test.broken"))), now=NOW)
    [finding] = result.hosts[0].findings
    assert finding.status == "unknown"
    assert "RuntimeError: division by zero in a probe parser" in (finding.unknown_reason or "")
    assert "check failed: check=test.broken host=h1" in caplog.text


def test_status_floor_and_non_finite_values() -> None:
    host = HostInfo("h1", "web-01", "acme", NOW)
    result = run_inspection(MemoryData(), [host], _profile(_Floor(_spec("test.floor"))), now=NOW)
    statuses = {f.subject: f.status for f in result.hosts[0].findings}
    assert statuses == {"a": "critical", "b": "ok", "c": "unknown"}


def test_progress_is_reported_per_host() -> None:
    hosts = [HostInfo(f"h{i}", f"web-{i}", "acme", NOW) for i in range(3)]
    seen: list[InspectionProgress] = []
    run_inspection(MemoryData(), hosts, load_profile("daily"), now=NOW, progress=seen.append)
    assert [(p.done, p.total, p.host_id) for p in seen] == [(1, 3, "h0"), (2, 3, "h1"), (3, 3, "h2")]


def test_default_window_is_the_profiles() -> None:
    result = run_inspection(MemoryData(), [HostInfo("h1", "a", "acme", NOW)], load_profile("daily"), now=NOW)
    assert (result.since, result.until) == (NOW - timedelta(days=1), NOW)
    assert result.checks == load_profile("daily").check_ids()


def test_naive_times_are_rejected() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        run_inspection(MemoryData(), [], load_profile("daily"), now=datetime(2026, 3, 1))
    with pytest.raises(ValueError, match="empty window"):
        run_inspection(MemoryData(), [], load_profile("daily"), window=(NOW, NOW), now=NOW)


def test_customer_scores() -> None:
    data = MemoryData()
    hosts = []
    for i, (customer, cpu) in enumerate([("acme", 30.0), ("acme", 99.0), ("beta", 30.0)]):
        host = HostInfo(f"h{i}", f"srv-{i}", customer, NOW)
        hosts.append(host)
        data.record(host.host_id, "cpu.busy_percent", None, [(NOW - timedelta(minutes=20), cpu)])
    profile = Profile(
        "t",
        {"zh": "测", "en": "t"},
        {"zh": "测", "en": "t"},
        timedelta(days=1),
        timedelta(minutes=30),
        (builtin_library().get("resources.cpu_busy"),),
    )
    result = run_inspection(data, hosts, profile, now=NOW)
    scores = {c.customer_id: (c.score, c.hosts, c.worst_host_id) for c in result.customers}
    # h1: critical (medium) → 75, capped at 69; acme = 0.75 × mean(100, 69) + 0.25 × 69 = 80.6
    assert scores == {"acme": (81, 2, "h1"), "beta": (100, 1, "h2")}


class _Recording(MemoryData):
    def __init__(self) -> None:
        super().__init__()
        self.prefetched: list[tuple[list[str], list[str], list[str]]] = []

    def prefetch(
        self,
        host_ids: Sequence[str],
        rollup_names: Sequence[str],
        latest_names: Sequence[str],
        since: datetime,
        until: datetime,
    ) -> None:
        self.prefetched.append((list(host_ids), list(rollup_names), list(latest_names)))


def test_prefetch_is_announced_per_chunk() -> None:
    data = _Recording()
    hosts = [HostInfo(f"h{i}", f"s{i}", "acme", NOW) for i in range(250)]
    run_inspection(data, hosts, load_profile("monthly"), now=NOW)
    assert [len(ids) for ids, _, _ in data.prefetched] == [200, 50]
    _, rollups, latest = data.prefetched[0]
    assert "cpu.busy_percent" in rollups and "disk.used_percent" in rollups and "system.boot_time_seconds" in rollups
    assert "probe.tls_expiry_days" in latest and "probe.http_status" in latest


def test_now_defaults_to_the_clock() -> None:
    result = run_inspection(MemoryData(), [], load_profile("daily"))
    assert abs((result.evaluated_at - datetime.now(UTC)).total_seconds()) < 3600


@pytest.mark.parametrize(("stopped_minutes_ago", "status"), [(50, "ok"), (100, "ok"), (200, "unknown")])
def test_rollup_staleness_allows_one_bucket_in_progress(stopped_minutes_ago: int, status: str) -> None:
    data = MemoryData()
    end = NOW - timedelta(minutes=stopped_minutes_ago)
    samples = [(end - timedelta(minutes=10 * i), 30.0) for i in range(1, 100)]
    data.record("h1", "cpu.busy_percent", None, samples, bucket=timedelta(hours=1))
    host = HostInfo("h1", "web-01", "acme", NOW)
    profile = Profile(
        "t",
        {"zh": "测", "en": "t"},
        {"zh": "测", "en": "t"},
        timedelta(days=1),
        timedelta(minutes=30),
        (builtin_library().get("resources.cpu_busy"),),
    )
    [finding] = run_inspection(data, [host], profile, now=NOW).hosts[0].findings
    assert finding.status == status
