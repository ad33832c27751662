"""Monthly full inspection of a simulated fleet: how long 100, 500 and 1,000 hosts take on one core.

    .venv/bin/python bench/inspection.py [--quick] [--hosts 1000] [--repeat N] [--seed N]

Fills a MemoryData with 30 days of hourly rollups per host for every series the catalogue reads
(CPU, iowait, load, memory, swap, two mounts with inodes, interface errors and drops, file
descriptors, host.up, temperatures, boot time and the agent's probes: processes, ports, HTTP, TCP,
NTP, systemd units, TLS, backups) with daily cycles and noise, plus log events. About one host in
ten has trouble: a filling disk, a busy CPU, memory pressure, a process or port down, an endpoint
answering 503, a stale or collapsed backup, an expiring certificate, failed-login bursts, OOM kills,
disk I/O errors, segfaults, reboots, or the host is offline. Every customer has an overrides file
with expectations, so the application and security checks have subjects.

Data generation is not timed; the inspection (engine, data access, scoring) is, pinned to one core.
Without ``--quick`` each size runs ``--repeat`` times and the best time is reported. The headline
figures are the last lines, as name=value.
"""

# ruff: noqa: E402  (numpy's thread-pool variables must be set before numpy is imported)
from __future__ import annotations

import os

# One core means one core: keep numpy's thread pools out of it (set before numpy is imported).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import resource
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from inspections import (
    EventRecord,
    HostInfo,
    InspectionResult,
    MemoryData,
    Overrides,
    RollupColumns,
    load_profile,
    parse_overrides,
    run_inspection,
)

NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
DAYS = 30
BUCKETS = DAYS * 24
SAMPLES_PER_BUCKET = 360  # 10 s collection interval
HOSTS_PER_CUSTOMER = 100
MOUNTS = ("/", "/data")
URL = "https://app.internal/health"
TLS_TARGETS = ("/etc/nginx/tls/site.pem", "app.example.com:443")
BACKUP = "/backup/db"
TCP_TARGET = "db.internal:5432"
NTP = "ntp.aliyun.com"
PROCESSES = ("nginx", "java -jar app.jar")

# Share of hosts with each kind of trouble (a host may get several).
TROUBLE = {
    "disk_filling": 0.03,
    "cpu_busy": 0.02,
    "memory_pressure": 0.02,
    "process_down": 0.01,
    "port_flapping": 0.01,
    "http_503": 0.01,
    "backup_stale": 0.02,
    "backup_collapsed": 0.01,
    "tls_expiring": 0.02,
    "login_burst": 0.03,
    "oom": 0.01,
    "io_errors": 0.005,
    "segfaults": 0.01,
    "error_storm": 0.01,
    "rebooted": 0.02,
    "offline": 0.005,
}


@dataclass
class Fleet:
    data: MemoryData
    hosts: list[HostInfo]
    overrides: dict[str, Overrides]
    series: int
    buckets: int
    events: int


class Generator:
    def __init__(self, n_hosts: int, seed: int) -> None:
        self.n = n_hosts
        self.rng = np.random.default_rng(seed)
        self.data = MemoryData()
        start = (NOW - timedelta(days=DAYS)).timestamp()
        self.ts = start + 3600.0 * np.arange(BUCKETS, dtype=np.float64)
        self.counts = np.full(BUCKETS, SAMPLES_PER_BUCKET, dtype=np.int32)
        hour = (np.arange(BUCKETS) % 24).astype(np.float32)
        self.daily = np.sin(2 * np.pi * (hour - 8) / 24).astype(np.float32)  # peak mid-afternoon
        self.trouble = {kind: self.rng.random(n_hosts) < share for kind, share in TROUBLE.items()}
        self.offline = self.trouble["offline"]
        self.series_count = 0
        self.bucket_count = 0

    # -- shapes ------------------------------------------------------------------------------------

    def shape(self, base: np.ndarray, amplitude: np.ndarray, noise: float) -> np.ndarray:
        """(hosts, buckets) hourly averages: per-host level + daily cycle + noise."""
        eps = self.rng.standard_normal((self.n, BUCKETS), dtype=np.float32) * noise
        return base[:, None] + amplitude[:, None] * self.daily[None, :] + eps

    def uniform(self, low: float, high: float) -> np.ndarray:
        return self.rng.uniform(low, high, self.n).astype(np.float32)

    def store(
        self,
        name: str,
        avg: np.ndarray,
        labels_of: dict[str, str] | None = None,
        spread: float = 0.0,
        lo: float | None = None,
        hi: float | None = None,
        hosts: np.ndarray | None = None,
    ) -> None:
        """Store per-host rows of ``avg`` as rollups (views into one array per column) and latest."""
        if lo is not None or hi is not None:
            avg = np.clip(avg, lo, hi)
        jitter = np.abs(self.rng.standard_normal(avg.shape, dtype=np.float32)) * spread
        low, high = avg - jitter, avg + jitter
        if lo is not None or hi is not None:
            low, high = np.clip(low, lo, hi), np.clip(high, lo, hi)
        last = avg
        now_ts = NOW - timedelta(seconds=20)
        for i in range(self.n):
            if hosts is not None and not hosts[i]:
                continue
            end = BUCKETS - 48 if self.offline[i] else BUCKETS  # offline hosts stopped two days ago
            columns = RollupColumns(
                self.ts[:end], low[i, :end], high[i, :end], avg[i, :end], last[i, :end], self.counts[:end]
            )
            host_id = f"h{i:05d}"
            self.data.add_rollup(host_id, name, labels_of, columns)
            ts = now_ts - timedelta(days=2) if self.offline[i] else now_ts
            self.data.add_latest(host_id, name, labels_of, ts, float(last[i, end - 1]))
            self.series_count += 1
            self.bucket_count += end

    def ramp_last(self, rows: np.ndarray, mask: np.ndarray, hours: int, value: float) -> None:
        """Set the last ``hours`` buckets of the masked hosts to ``value`` (a current outage)."""
        rows[mask, BUCKETS - hours :] = value

    # -- series ------------------------------------------------------------------------------------

    def resources(self) -> None:
        t = self.trouble
        cpu = self.shape(self.uniform(10, 45), self.uniform(5, 20), 4.0)
        cpu[t["cpu_busy"]] += 55
        self.store("cpu.busy_percent", cpu, spread=8, lo=0, hi=100)
        self.store(
            "cpu.iowait_percent", self.shape(self.uniform(0.5, 4), self.uniform(0, 2), 1.0), spread=3, lo=0, hi=100
        )
        load = self.shape(self.uniform(0.1, 0.8), self.uniform(0.05, 0.3), 0.1)
        load[t["cpu_busy"]] += 2.5
        self.store("load.load5_per_core", load, spread=0.2, lo=0)
        mem = self.shape(self.uniform(35, 75), self.uniform(3, 10), 2.0)
        mem[t["memory_pressure"]] -= 40
        self.store("mem.available_percent", mem, spread=3, lo=0.5, hi=100)
        has_swap = self.rng.random(self.n) < 0.66
        swap = self.shape(self.uniform(0, 10), self.uniform(0, 2), 1.0)
        swap[t["memory_pressure"]] += 60
        self.store("swap.used_percent", swap, spread=1, lo=0, hi=100, hosts=has_swap)
        growth = np.linspace(0, 1, BUCKETS, dtype=np.float32)
        for mount in MOUNTS:
            labels = {"mount": mount, "device": "/dev/sda1" if mount == "/" else "/dev/sdb1", "fstype": "ext4"}
            disk = self.uniform(20, 70)[:, None] + self.uniform(0, 10)[:, None] * growth[None, :]
            if mount == "/data":
                disk[t["disk_filling"]] = 60 + 37 * growth  # reaches 97 %
            self.store("disk.used_percent", disk, labels, spread=0.2, lo=0, hi=100)
            self.store("disk.inodes_used_percent", disk * 0.3, labels, spread=0.1, lo=0, hi=100)
        for series in ("net.rx_errors_per_s", "net.tx_errors_per_s", "net.rx_drops_per_s", "net.tx_drops_per_s"):
            rate = np.where(self.rng.random((self.n, BUCKETS)) < 0.002, 0.01, 0.0).astype(np.float32)
            self.store(series, rate, {"interface": "eth0"}, spread=0.0, lo=0)
        self.store("fd.used_percent", self.shape(self.uniform(1, 10), self.uniform(0, 2), 0.5), spread=1, lo=0, hi=100)
        temp_hosts = self.rng.random(self.n) < 0.5
        temp = self.shape(self.uniform(40, 60), self.uniform(2, 6), 1.5)
        self.store(
            "sensors.temperature_celsius",
            temp,
            {"chip": "coretemp", "sensor": "Package id 0"},
            spread=2,
            hosts=temp_hosts,
        )
        up = np.ones((self.n, BUCKETS), dtype=np.float32)
        self.store("host.up", up)

    def boot_times(self) -> list[float]:
        boots = (NOW - timedelta(days=60)).timestamp() - self.rng.uniform(0, 86400 * 200, self.n)
        rows = np.repeat(boots[:, None], BUCKETS, axis=1)
        rebooted = np.flatnonzero(self.trouble["rebooted"])
        for i in rebooted:
            at = int(self.rng.integers(24, BUCKETS - 24))
            rows[i, at:] = self.ts[at] + 120.0
        # Boot times are ~1.7e9 s: float32 would round them to minutes, so they stay float64.
        self.store("system.boot_time_seconds", rows, spread=0.0)
        return [float(rows[i, -1]) for i in range(self.n)]

    def probes(self) -> None:
        t = self.trouble
        for k, process in enumerate(PROCESSES):
            count = np.full((self.n, BUCKETS), 4.0 if k == 0 else 1.0, dtype=np.float32)
            if k == 1:
                self.ramp_last(count, t["process_down"], 3, 0.0)
            self.store("probe.process_count", count, {"name": process})
        for port in ("22", "443"):
            listening = np.ones((self.n, BUCKETS), dtype=np.float32)
            if port == "443":
                flaps = np.flatnonzero(t["port_flapping"])
                listening[flaps, BUCKETS // 2 : BUCKETS // 2 + 3] = 0.5  # down 90 min, back since
            self.store("probe.port_listening", listening, {"port": port})
        http_up = np.ones((self.n, BUCKETS), dtype=np.float32)
        self.store("probe.http_up", http_up, {"url": URL})
        status = np.full((self.n, BUCKETS), 200.0, dtype=np.float32)
        self.ramp_last(status, t["http_503"], 2, 503.0)
        self.store("probe.http_status", status, {"url": URL})
        latency = self.shape(self.uniform(20, 120), self.uniform(5, 30), 10.0)
        self.store("probe.http_latency_ms", latency, {"url": URL}, spread=30, lo=1)
        self.store("probe.tcp_up", np.ones((self.n, BUCKETS), dtype=np.float32), {"target": TCP_TARGET})
        self.store(
            "probe.tcp_latency_ms",
            self.shape(self.uniform(0.3, 3), self.uniform(0, 1), 0.2),
            {"target": TCP_TARGET},
            spread=1,
            lo=0.05,
        )
        self.store(
            "probe.ntp_offset_seconds",
            self.shape(self.uniform(-0.01, 0.01), self.uniform(0, 0.005), 0.002),
            {"server": NTP},
            spread=0.003,
        )
        for unit in ("nginx.service", "app.service"):
            self.store("probe.systemd_unit_active", np.ones((self.n, BUCKETS), dtype=np.float32), {"unit": unit})
        for target in TLS_TARGETS:
            days = self.uniform(40, 360)
            days[t["tls_expiring"]] = self.uniform(1, 20)[t["tls_expiring"]]
            rows = days[:, None] + np.linspace(DAYS, 0, BUCKETS, dtype=np.float32)[None, :]
            self.store("probe.tls_expiry_days", rows, {"target": target})
        age_h = self.uniform(1, 20)
        age_h[t["backup_stale"]] = self.uniform(60, 200)[t["backup_stale"]]
        self.store(
            "probe.backup_newest_age_seconds", np.repeat(age_h[:, None] * 3600, BUCKETS, axis=1), {"path": BACKUP}
        )
        size = self.uniform(2e9, 6e9)
        newest = size * self.uniform(0.97, 1.05)
        newest[t["backup_collapsed"]] = size[t["backup_collapsed"]] * 0.05
        self.store("probe.backup_newest_size_bytes", np.repeat(newest[:, None], BUCKETS, axis=1), {"path": BACKUP})
        self.store("probe.backup_previous_size_bytes", np.repeat(size[:, None], BUCKETS, axis=1), {"path": BACKUP})
        self.store("probe.backup_files", np.full((self.n, BUCKETS), 14.0, dtype=np.float32), {"path": BACKUP})

    def events(self) -> int:
        t = self.trouble
        start = NOW - timedelta(days=DAYS)
        total = 0
        for i in range(self.n):
            host_id = f"h{i:05d}"
            records: list[EventRecord] = []

            def burst(rule: str, severity: str, count: int, every: float, into: list[EventRecord] = records) -> None:
                base = start + timedelta(hours=float(self.rng.uniform(0, BUCKETS - 48)))
                into.extend(
                    EventRecord(base + timedelta(seconds=k * every), rule, severity)  # type: ignore[arg-type]
                    for k in range(count)
                )

            for _ in range(int(self.rng.poisson(6))):
                burst("app.error", "error", 1, 1.0)
            for _ in range(int(self.rng.poisson(3))):
                burst("sshd.failed_password", "warning", 3, 2.0)
            if t["login_burst"][i]:
                burst("sshd.failed_password", "warning", 400, 4.0)
            if t["oom"][i]:
                burst("kernel.oom_kill", "critical", 2, 600.0)
            if t["io_errors"][i]:
                burst("disk.io_error", "error", 30, 30.0)
            if t["segfaults"][i]:
                burst("kernel.segfault", "error", 3, 3600.0)
            if t["error_storm"][i]:
                burst("app.error", "error", 3000, 20.0)
            self.data.add_events(host_id, records)
            total += len(records)
        return total

    def build(self) -> Fleet:
        self.resources()
        boots = self.boot_times()
        self.probes()
        n_events = self.events()
        hosts = []
        for i in range(self.n):
            offline = bool(self.offline[i])
            hosts.append(
                HostInfo(
                    host_id=f"h{i:05d}",
                    hostname=f"srv-{i:05d}",
                    customer_id=f"c{i // HOSTS_PER_CUSTOMER:03d}",
                    last_seen=NOW - (timedelta(days=2) if offline else timedelta(seconds=15)),
                    facts={"os": "Debian GNU/Linux 12 (bookworm)", "cpu_count": 8},
                    labels={"role": "app"},
                    boot_time=datetime.fromtimestamp(boots[i], tz=UTC),
                )
            )
        overrides = {c: customer_overrides(c) for c in {h.customer_id for h in hosts}}
        return Fleet(self.data, hosts, overrides, self.series_count, self.bucket_count, n_events)


def customer_overrides(customer_id: str) -> Overrides:
    return parse_overrides(
        {
            "customer": customer_id,
            "checks": [
                {"check": "resources.disk_space", "subjects": ["/data"], "warn": 88, "crit": 96},
                {"check": "network.interface_drops", "enabled": False, "hosts": ["srv-000*"]},
            ],
            "expect": {
                "processes": [{"name": "nginx", "min_count": 2}, {"name": "app", "cmdline": PROCESSES[1]}],
                "ports": [22, 443],
                "http": [{"url": URL, "status": 200}],
                "systemd_units": ["nginx", "app.service"],
                "backups": [BACKUP],
                "tls": list(TLS_TARGETS),
                "tcp": [TCP_TARGET],
                "ntp_servers": [NTP],
            },
        },
        f"<bench overrides {customer_id}>",
    )


def pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"pinned to core {core}"
    return "not pinned (no sched_setaffinity on this platform)"


def timed_run(fleet: Fleet, n_hosts: int, repeat: int) -> tuple[float, InspectionResult]:
    profile = load_profile("monthly")
    best = float("inf")
    result: InspectionResult | None = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run_inspection(
            fleet.data,
            fleet.hosts[:n_hosts],
            profile,
            window=(NOW - timedelta(days=DAYS), NOW),
            overrides=fleet.overrides,
            now=NOW,
            previous_run_at=NOW - timedelta(days=DAYS),
        )
        best = min(best, time.perf_counter() - started)
    assert result is not None
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one timing per size (well under a minute)")
    parser.add_argument("--hosts", type=int, default=1000, help="largest fleet size (default 1000)")
    parser.add_argument("--repeat", type=int, default=3, help="timings per size without --quick (best is kept)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    repeat = 1 if args.quick else max(1, args.repeat)
    sizes = sorted({s for s in (100, 500, args.hosts) if s <= args.hosts})

    print(pin_to_one_core())
    started = time.perf_counter()
    fleet = Generator(args.hosts, args.seed).build()
    print(
        f"generated {len(fleet.hosts)} hosts, {fleet.series} series, {fleet.buckets:,} hourly buckets, "
        f"{fleet.events:,} events in {time.perf_counter() - started:.1f} s (not timed)"
    )

    timings: dict[int, float] = {}
    for size in sizes:
        seconds, result = timed_run(fleet, size, repeat)
        timings[size] = seconds
        counts = result.counts()
        worst = sorted(result.hosts, key=lambda h: h.score)[:3]
        print(
            f"{size:5d} hosts: {seconds:6.2f} s  ({seconds / size * 1000:.2f} ms/host)  "
            f"findings {sum(counts.values()):,}: {counts}  "
            f"worst hosts {[(h.hostname, h.score) for h in worst]}"
        )
    final = result
    per_check = Counter(f.check_id for f in final.findings() if f.status in ("warning", "critical"))
    print("warning/critical findings by check:", dict(sorted(per_check.items())))
    scores = sorted(c.score for c in final.customers)
    print(f"customer scores: min {scores[0]} median {scores[len(scores) // 2]} max {scores[-1]}")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak rss {rss_mb:.0f} MB")
    if len(timings) > 1:
        small, large = min(timings), max(timings)
        ratio = (timings[large] / large) / (timings[small] / small)
        print(f"per-host cost at {large} hosts is {ratio:.2f}x the cost at {small} hosts (1.00 = linear growth)")
    for size in sizes:
        print(f"inspection_seconds_{size}_hosts={timings[size]:.2f}")


if __name__ == "__main__":
    main()
