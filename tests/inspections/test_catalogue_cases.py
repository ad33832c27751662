"""Every check of the catalogue has data that makes it ok, warning, critical and unknown.

The table below is the contract: ``test_every_check_has_all_four_cases`` fails when a check is
added to the catalogue without its four cases.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from inspections import builtin_library
from inspections.model import STATUSES, Status
from tests.inspections.scenario import SAMPLES, Scenario, down_at

Setup = Callable[[Scenario], object]
STALE = timedelta(hours=12)  # data that stopped half a day before the end of the window


def _level(name: str, ok: float, warning: float, critical: float, absent: str = "absent", **labels: str) -> dict:
    """Cases for a plain metric level; ``absent`` picks how unknown is produced."""
    lab = labels or None

    def unknown(s: Scenario) -> object:
        if absent == "stale":
            return s.series(name, ok, lab, stop_before=STALE)
        return s  # no data at all

    return {
        "ok": lambda s: s.series(name, ok, lab),
        "warning": lambda s: s.series(name, warning, lab),
        "critical": lambda s: s.series(name, critical, lab),
        "unknown": unknown,
    }


def _availability(series: str, label: str, subject: str, expect: str, warn_downs: int) -> dict:
    """Probe availability: a few samples down (warning), down right now (critical), expected but
    not probed (unknown)."""
    labels = {label: subject}
    return {
        "ok": lambda s: s.series(series, 1.0, labels),
        "warning": lambda s: s.series(series, down_at(*range(10, 10 + warn_downs)), labels),
        "critical": lambda s: s.series(series, down_at(-1), labels),
        "unknown": lambda s: s.expect(expect),
    }


def _events(rule: str, warning: int, critical: int) -> dict:
    return {
        "ok": lambda s: s,
        "warning": lambda s: s.event(rule, count=warning),
        "critical": lambda s: s.event(rule, count=critical),
        "unknown": lambda s: s.event(rule, count=critical).host_with(last_seen=s.now - timedelta(hours=3)),
    }


def _tls(days: float) -> Setup:
    return lambda s: s.latest("probe.tls_expiry_days", days, {"target": "shop.example.com:443"})


def _backup_age(hours: float, files: float = 5) -> Setup:
    def setup(s: Scenario) -> object:
        s.latest("probe.backup_files", files, {"path": "/backup/db"})
        return s.latest("probe.backup_newest_age_seconds", hours * 3600, {"path": "/backup/db"})

    return setup


def _backup_size(newest: float, previous: float, age: timedelta = timedelta(minutes=5)) -> Setup:
    def setup(s: Scenario) -> object:
        labels = {"path": "/backup/db"}
        s.latest("probe.backup_files", 7, labels, age=age)
        s.latest("probe.backup_newest_size_bytes", newest, labels, age=age)
        return s.latest("probe.backup_previous_size_bytes", previous, labels, age=age)

    return setup


def _boots(*days_ago: float) -> Setup:
    """``system.boot_time_seconds`` stepping to a new boot time ``days_ago`` before now."""

    def setup(s: Scenario) -> object:
        first = s.host.boot_time or s.now - timedelta(days=90)
        boots = sorted([first.timestamp()] + [(s.now - timedelta(days=d)).timestamp() for d in days_ago])

        def boot_at(i: int) -> float:
            ts = (s.since + i * timedelta(minutes=10)).timestamp()
            return max(b for b in boots if b <= ts) if any(b <= ts for b in boots) else boots[0]

        return s.series("system.boot_time_seconds", boot_at)

    return setup


def _http(status_now: float, up_now: float = 1.0) -> Setup:
    def setup(s: Scenario) -> object:
        url = {"url": "https://shop.example.com/health"}
        s.series("probe.http_up", down_at(-1, up=1.0, down=up_now), url)
        s.expect("expect:\n  http: [{url: 'https://shop.example.com/health', status: 200}]")
        return s.latest("probe.http_status", status_now, url)

    return setup


def _traffic(
    s: Scenario, rx: float, tx: float, packets: float, kind: str = "errors", packets_stop: timedelta | None = None
) -> Scenario:
    """eth0 with ``rx``/``tx`` errors or drops per second and ``packets`` per second each way."""
    eth0 = {"interface": "eth0"}
    s.series(f"net.rx_{kind}_per_s", rx, eth0).series(f"net.tx_{kind}_per_s", tx, eth0)
    for direction in ("rx", "tx"):
        if packets_stop is None:
            s.series(f"net.{direction}_packets_per_s", packets, eth0)
        else:
            s.series(f"net.{direction}_packets_per_s", packets, eth0, stop_before=packets_stop)
    return s


CASES: dict[str, dict[str, Setup]] = {
    "device.heartbeat": {
        "ok": lambda s: s.host_with(last_seen=s.now - timedelta(seconds=30)),
        "warning": lambda s: s.host_with(last_seen=s.now - timedelta(minutes=7)),
        "critical": lambda s: s.host_with(last_seen=s.now - timedelta(hours=2)),
        "unknown": lambda s: s.host_with(last_seen=None),
    },
    "device.availability": {
        "ok": lambda s: s.series("host.up", 1.0),
        "warning": lambda s: s.series("host.up", down_at(5, 6)),
        "critical": lambda s: s.series("host.up", lambda i: 0.0 if i < SAMPLES // 5 else 1.0),
        "unknown": lambda s: s,
    },
    "device.temperature": _level(
        "sensors.temperature_celsius", 45, 84, 97, absent="stale", chip="coretemp", sensor="Package id 0"
    ),
    "network.interface_errors": {
        "ok": lambda s: _traffic(s, 0.0, 0.0, packets=400.0),
        # 0.04 errors/s against 200 packets/s: 0.02 % of packets.
        "warning": lambda s: _traffic(s, 0.02, 0.02, packets=100.0),
        # Half an error a second on an idle link (the 1 packet/s floor): 50 %.
        "critical": lambda s: _traffic(s, 0.5, 0.0, packets=0.0),
        # Errors reported, but the packet counts stopped half a day ago: no share can be judged.
        "unknown": lambda s: _traffic(s, 0.0, 0.0, packets=400.0, packets_stop=STALE),
    },
    "network.interface_drops": {
        "ok": lambda s: _traffic(s, 0.5, 0.0, packets=500.0, kind="drops"),
        "warning": lambda s: _traffic(s, 5.0, 0.0, packets=500.0, kind="drops"),
        "critical": lambda s: _traffic(s, 20.0, 10.0, packets=500.0, kind="drops"),
        "unknown": lambda s: s,
    },
    "network.tcp_reachability": _availability(
        "probe.tcp_up", "target", "db.internal:5432", "expect:\n  tcp: ['db.internal:5432']", warn_downs=3
    ),
    "device.ssh_reachable": _level("probe.ssh_up", 1.0, 0.98, 0.0, absent="stale"),
    "security.ssh_host_key": _level("probe.ssh_hostkey_ok", 1.0, 0.75, 0.0, absent="stale"),
    "network.tcp_latency": _level("probe.tcp_latency_ms", 3, 400, 1500, absent="stale", target="db.internal:5432"),
    "network.ntp_offset": {
        "ok": lambda s: s.series("probe.ntp_offset_seconds", 0.004, {"server": "ntp.aliyun.com"}),
        "warning": lambda s: s.series("probe.ntp_offset_seconds", -0.8, {"server": "ntp.aliyun.com"}),
        "critical": lambda s: s.series("probe.ntp_offset_seconds", 4.0, {"server": "ntp.aliyun.com"}),
        "unknown": lambda s: s.expect("expect:\n  ntp_servers: [ntp.aliyun.com]"),
    },
    "resources.cpu_busy": _level("cpu.busy_percent", 35, 90, 99),
    "resources.cpu_iowait": _level("cpu.iowait_percent", 2, 25, 60, absent="stale"),
    "resources.load_per_core": _level("load.load5_per_core", 0.4, 2.0, 5.0),
    "resources.memory_available": _level("mem.available_percent", 60, 10, 3),
    "resources.swap_used": _level("swap.used_percent", 5, 60, 95, absent="stale"),
    "resources.disk_space": _level("disk.used_percent", 40, 88, 97, mount="/", fstype="ext4"),
    "resources.disk_inodes": _level("disk.inodes_used_percent", 10, 90, 99, absent="stale", mount="/", fstype="ext4"),
    "resources.file_descriptors": _level("fd.used_percent", 3, 85, 99, absent="stale"),
    "app.processes": {
        "ok": lambda s: s.series("probe.process_count", 4.0, {"name": "nginx"}),
        "warning": lambda s: s.series("probe.process_count", down_at(100, up=4.0), {"name": "nginx"}),
        "critical": lambda s: s.series("probe.process_count", down_at(-1, up=4.0), {"name": "nginx"}),
        "unknown": lambda s: s.expect("expect:\n  processes: [nginx]"),
    },
    "app.ports": _availability("probe.port_listening", "port", "443", "expect:\n  ports: [443]", warn_downs=1),
    "app.http_endpoints": {
        "ok": _http(200),
        "warning": lambda s: s.series(
            "probe.http_up", down_at(3, 4, 5), {"url": "https://shop.example.com/health"}
        ).latest("probe.http_status", 200, {"url": "https://shop.example.com/health"}),
        "critical": _http(503),
        "unknown": lambda s: s.expect("expect:\n  http: ['https://shop.example.com/health']"),
    },
    "app.http_latency": _level("probe.http_latency_ms", 80, 1500, 5000, absent="stale", url="https://x.example/h"),
    "app.systemd_units": _availability(
        "probe.systemd_unit_active", "unit", "nginx.service", "expect:\n  systemd_units: [nginx]", warn_downs=1
    ),
    "logs.error_rate": {
        "ok": lambda s: s.event("kernel.oom_kill", severity="warning", count=500),
        "warning": lambda s: s.event("app.error", count=100),
        "critical": lambda s: s.event("app.error", severity="critical", suppressed_before=99, count=6),
        "unknown": lambda s: s.host_with(last_seen=s.now - timedelta(hours=3)),
    },
    "logs.oom_kills": _events("kernel.oom_kill", 1, 4),
    "logs.disk_io_errors": _events("disk.io_error", 2, 12),
    "logs.segfaults": _events("kernel.segfault", 1, 10),
    "security.backup_freshness": {
        "ok": _backup_age(3),
        "warning": _backup_age(30),
        "critical": _backup_age(3, files=0),
        "unknown": lambda s: s.expect("expect:\n  backups: [/backup/db]"),
    },
    "security.backup_size": {
        "ok": _backup_size(1.02e9, 1.0e9),
        "warning": _backup_size(0.4e9, 1.0e9),
        "critical": _backup_size(2e6, 1.0e9),
        "unknown": _backup_size(1.0e9, 1.0e9, age=timedelta(hours=5)),
    },
    "security.failed_logins": {
        "ok": lambda s: s.event("sshd.failed_password", count=5, spacing=timedelta(minutes=30)),
        "warning": lambda s: s.event("sshd.invalid_user", count=40, spacing=timedelta(seconds=30)),
        "critical": lambda s: s.event("sshd.failed_password", count=200, spacing=timedelta(seconds=5)).event(
            "auth.failed", count=150, ago=timedelta(minutes=50), spacing=timedelta(seconds=5)
        ),
        "unknown": lambda s: s.host_with(last_seen=None),
    },
    "security.tls_expiry": {
        "ok": _tls(120),
        "warning": _tls(20),
        "critical": _tls(-2),
        "unknown": lambda s: s.expect("expect:\n  tls: [/etc/nginx/tls/site.pem]"),
    },
    "security.reboots": {
        "ok": _boots(0.5),
        "warning": _boots(0.75, 0.5),
        "critical": _boots(0.8, 0.6, 0.4, 0.2),
        "unknown": lambda s: s.host_with(boot_time=None),
    },
}


def test_every_check_has_all_four_cases() -> None:
    missing = [
        f"{check.id}: {status}"
        for check in builtin_library()
        for status in STATUSES
        if status not in CASES.get(check.id, {})
    ]
    assert not missing, "checks without a case:\n" + "\n".join(missing)
    stray = sorted(set(CASES) - set(builtin_library().ids()))
    assert not stray, f"cases for checks that do not exist: {stray}"


@pytest.mark.parametrize(
    ("check_id", "status"),
    [(check_id, status) for check_id, cases in CASES.items() for status in cases],
)
def test_case(check_id: str, status: Status) -> None:
    scenario = Scenario()
    CASES[check_id][status](scenario)
    findings = scenario.run(check_id)
    assert findings, f"{check_id} produced no finding for its {status} case"
    got = {f.status for f in findings}
    assert got == {status}, [(f.subject, f.status, f.observed, f.unknown_reason, f.note) for f in findings]
    for finding in findings:
        if status == "unknown":
            assert finding.unknown_reason, "an unknown finding must say why"
            assert finding.observed is None
        else:
            assert finding.unknown_reason is None
            assert finding.observed is not None or finding.note is not None
        assert finding.recommendation["zh"] and finding.recommendation["en"]
        assert finding.evidence.source in ("rollups", "latest", "events", "host")
