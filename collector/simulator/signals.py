"""Series generators: the catalogue series (docs/metrics.md) of one simulated host, vectorised.

``HostSignals.generate(ts_ms)`` evaluates every series of a host at the given timestamps. All
values are pure functions of (host, time) — see noise.py — so a 90-day backfill and the live points
that follow describe one continuous host, whatever the chunking.

The shapes a reader of the charts expects are built in: a business-hours activity curve in the
customer's time zone (with a lunch dip, quiet nights, quiet or — for shops — busier weekends),
nightly backups on database and file servers, slow drifts over days, and noise. Relations between
series hold exactly: ``used + free = total`` for disks and inodes, ``used + available = total`` for
memory, CPU shares summing to 100 %, ``busy = 100 − idle − iowait − steal``, load per core = load /
CPUs, and error counters that only grow between reboots.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from collector.simulator import noise
from collector.simulator.fleet import DiskSpec, HostProfile, InterfaceSpec
from collector.simulator.localtime import DAY_MS, HOUR_MS, LocalClock
from collector.simulator.noise import FloatArray, IntArray
from collector.simulator.roles import TRAITS, Role
from collector.simulator.trouble import HostTrouble, TroubleKind
from inspections.catalogue import catalogue

Labels = tuple[tuple[str, str], ...]
LONG_MAX = 9223372036854775807  # fs.file-max on kernels >= 5.x unless an admin lowered it
_FILE_SIZES = {"/": 48 * 1024, "/var/log": 400 * 1024}
_DATA_FILE_SIZES = {Role.DB: 64 * 2**20, Role.FILE: 1536 * 1024, Role.APP: 256 * 1024}


@dataclass(frozen=True, slots=True)
class SeriesValues:
    """One series of a host evaluated at the timestamps passed to ``generate``: a catalogued series only."""

    name: str
    labels: Labels
    values: FloatArray

    def __post_init__(self) -> None:
        if self.name not in catalogue():
            raise ValueError(f"the simulator writes {self.name!r}, which the metric catalogue "
                             "(inspections/metrics.yaml) does not list")


@dataclass(slots=True)
class _Frame:
    """Quantities several series groups share, computed once per ``generate`` call."""

    ts: IntArray
    activity: FloatArray  # 0..~1.4, business load of the host
    backup: FloatArray  # 0..1 while the nightly backup runs
    io: FloatArray  # 0..~2, how hard the disks work
    busy: FloatArray  # cpu.busy_percent
    busy_smooth: FloatArray  # the same without second-scale noise (for load averages)
    iowait: FloatArray
    boot_ms: IntArray
    available_fraction: FloatArray


def _sigmoid(x: FloatArray) -> FloatArray:
    return 1.0 / (1.0 + np.exp(-x))


def _round(values: FloatArray, decimals: int = 0) -> FloatArray:
    """Round like a collector reports (whole bytes, centi-percent); typed for numpy's stubs."""
    return np.asarray(np.round(values, decimals), dtype=np.float64)


def _labels(**labels: str) -> Labels:
    return tuple(sorted(labels.items()))


class _EpisodeCounter:
    """A rate that is zero most hours and positive in rare episodes, with its exact running total.

    Interface errors and drops come in episodes (a flapping cable, a full ring buffer). The
    ``*_total`` counters are the integral of the rate since boot, so they grow exactly as the
    ``*_per_s`` series say and restart at every reboot.
    """

    def __init__(self, key: int, probability: float, magnitude: float) -> None:
        self.key, self.probability, self.magnitude = key, probability, magnitude
        self._first_hour = 0
        self._cumulative: FloatArray = np.zeros(0)
        self._rates: FloatArray = np.zeros(0)

    def _rate_of_hours(self, hours: IntArray) -> FloatArray:
        hit = noise.uniform(self.key, hours) < self.probability
        size = 0.1 + noise.uniform(self.key ^ 0x5EED, hours) * 1.9
        return np.where(hit, self.magnitude * size, 0.0)

    def rate(self, ts_ms: IntArray) -> FloatArray:
        return self._rate_of_hours(ts_ms // HOUR_MS)

    def _ensure(self, first_hour: int, last_hour: int) -> None:
        have_last = self._first_hour + len(self._rates) - 1
        if len(self._rates) and self._first_hour <= first_hour and last_hour <= have_last:
            return
        # Extend generously so live mode, one point at a time, rarely recomputes.
        first = min(first_hour, self._first_hour) if len(self._rates) else first_hour
        last = max(last_hour, have_last) + 24 * 7
        self._first_hour = first
        self._rates = self._rate_of_hours(np.arange(first, last + 1, dtype=np.int64))
        self._cumulative = np.concatenate(([0.0], np.cumsum(self._rates * 3600.0)))

    def _integral(self, ts_ms: IntArray) -> FloatArray:
        idx = ts_ms // HOUR_MS - self._first_hour
        within = (ts_ms % HOUR_MS).astype(np.float64) / 1000.0
        return self._cumulative[idx] + self._rates[idx] * within

    def total_since(self, boot_ms: IntArray, ts_ms: IntArray) -> FloatArray:
        self._ensure(int(boot_ms.min()) // HOUR_MS, int(ts_ms.max()) // HOUR_MS)
        return np.floor(self._integral(ts_ms) - self._integral(boot_ms))


class HostSignals:
    """All catalogue series of one host. ``end_ms`` is the end of history the trouble refers to."""

    def __init__(self, host: HostProfile, trouble: HostTrouble, end_ms: int) -> None:
        self.host = host
        self.trouble = trouble
        self.traits = TRAITS[host.role]
        self.end_ms = end_ms
        self.clock = LocalClock(host.customer.timezone)
        self._keys: dict[str, int] = {}
        self._boots = self._boot_schedule()
        self._counters: dict[tuple[str, str], _EpisodeCounter] = {}
        self._leak_level: float | None = None

    # ------------------------------------------------------------------ helpers

    def key(self, name: str) -> int:
        k = self._keys.get(name)
        if k is None:
            k = self._keys[name] = noise.key_of(self.host.key, name)
        return k

    def _white(self, name: str, ts: IntArray) -> FloatArray:
        return noise.white(self.key(name), ts)

    def _unit(self, name: str) -> float:
        """A fixed per-host random number in [0, 1) (sizes, baselines)."""
        return float(noise.uniform(self.key(name), [0])[0])

    def _boot_schedule(self) -> IntArray:
        """Boot times: monthly-ish patch reboots on a Sunday at 03:00 local time.

        A leaking host is not rebooted after the leak begins: a reboot would have cured it.
        """
        zone = self.clock.zone
        t = self.end_ms - (400 + int(self._unit("boot0") * 30)) * DAY_MS
        boots: list[int] = []
        i = 0
        while t < self.end_ms + 400 * DAY_MS:
            local = datetime.fromtimestamp(t / 1000, tz=UTC).astimezone(zone)
            sunday = local + timedelta(days=(6 - local.weekday()) % 7)
            minute = int(noise.uniform(self.key("boot_minute"), [i])[0] * 50)
            at = sunday.replace(hour=3, minute=minute, second=0, microsecond=0)
            boots.append(int(at.timestamp() * 1000))
            t += int((25 + noise.uniform(self.key("boot_gap"), [i])[0] * 60) * DAY_MS)
            i += 1
        schedule = np.array(sorted(set(boots)), dtype=np.int64)
        leak = self.trouble.memory_leak
        if leak is not None:
            schedule = schedule[(schedule < leak.start_ms - DAY_MS) | (schedule == schedule[0])]
        return schedule

    def boot_time_ms(self, ts_ms: IntArray) -> IntArray:
        idx = np.searchsorted(self._boots, ts_ms, side="right") - 1
        return self._boots[np.clip(idx, 0, None)]

    def _counter(self, kind: str, iface: str, probability: float, magnitude: float) -> _EpisodeCounter:
        counter = self._counters.get((kind, iface))
        if counter is None:
            counter = _EpisodeCounter(self.key(f"{kind}:{iface}"), probability, magnitude)
            self._counters[(kind, iface)] = counter
        return counter

    # ------------------------------------------------------------------ shared shapes

    def activity(self, ts: IntArray) -> FloatArray:
        """Business load in the customer's local time: opening hours, lunch dip, weekends, slow drift."""
        t = self.traits
        hour, weekday = self.clock.hour_and_weekday(ts)
        ramp = 0.7
        day = _sigmoid((hour - t.opens) / ramp) * _sigmoid((t.closes - hour) / ramp)
        lunch = 1.0 - 0.15 * np.exp(-(((hour - 12.4) / 0.6) ** 2))
        evening = t.evening * np.exp(-(((hour - 20.5) / 1.4) ** 2))
        week = np.select([weekday == 5, weekday == 6], [t.saturday, t.sunday], 1.0)
        level = t.night + (1.0 - t.night) * day * lunch * week + evening * week
        # Business slowly grows and wanders over days, so no two weeks look alike.
        growth = 1.0 + 0.05 * (ts - self.end_ms).astype(np.float64) / (90 * DAY_MS)
        wander = 1.0 + 0.12 * noise.drift(self.key("activity"), ts, 4 * DAY_MS)
        return np.clip(level * growth * wander, 0.0, 1.4)

    def _backup(self, ts: IntArray) -> FloatArray:
        start = self.traits.backup_hour
        if start is None:
            return np.zeros(ts.shape)
        hour, weekday = self.clock.hour_and_weekday(ts)
        # Full backup on Sunday nights runs longer than the nightly incremental.
        duration = np.where(weekday == 6, 3.5, 1.25)
        rel = (hour - start) % 24.0
        return _sigmoid(rel / 0.05) * _sigmoid((duration - rel) / 0.12)

    def _leak_fraction(self, ts: IntArray) -> FloatArray:
        leak = self.trouble.memory_leak
        if leak is None:
            return np.zeros(ts.shape)
        if self._leak_level is None:
            # The leak eats what is normally available, so the trend hits zero at exhaustion time.
            week = np.arange(leak.start_ms - 7 * DAY_MS, leak.start_ms, 30 * 60_000, dtype=np.int64)
            self._leak_level = float(np.mean(1.0 - self._normal_memory_used(week, self.activity(week))))
        return leak.leaked(ts, self._leak_level)

    def _normal_memory_used(self, ts: IntArray, activity: FloatArray) -> FloatArray:
        t = self.traits
        return t.mem_base + t.mem_swing * activity + 0.015 * noise.drift(self.key("mem"), ts, 5 * DAY_MS)

    def _frame(self, ts: IntArray) -> _Frame:
        t = self.traits
        a = self.activity(ts)
        backup = self._backup(ts)
        data_heavy = 1.0 if self.host.role in (Role.DB, Role.FILE) else 0.35
        io = data_heavy * a + 1.2 * backup
        busy_smooth = t.busy_base + t.busy_peak * a + (18.0 if self.host.role is Role.DB else 8.0) * backup
        busy = busy_smooth * (1.0 + 0.08 * self._white("busy", ts)) + 0.8 * self._white("busy2", ts)
        iowait = np.clip(0.2 + 2.8 * io * (1.0 + 0.3 * self._white("iowait", ts)), 0.0, 45.0)
        leak = self._leak_fraction(ts)
        used = self._normal_memory_used(ts, a) + leak + 0.003 * self._white("mem", ts)
        return _Frame(ts=ts, activity=a, backup=backup, io=io, busy=busy, busy_smooth=busy_smooth, iowait=iowait,
                      boot_ms=self.boot_time_ms(ts), available_fraction=np.clip(1.0 - used, 0.004, 0.98))

    # ------------------------------------------------------------------ series groups

    def generate(self, ts_ms: IntArray) -> list[SeriesValues]:
        ts = np.asarray(ts_ms, dtype=np.int64)
        f = self._frame(ts)
        out: list[SeriesValues] = []
        for group in (self._cpu, self._load, self._memory, self._swap, self._disks, self._diskio, self._net,
                      self._tcp, self._procs, self._system, self._fd):
            out.extend(group(f))
        return out

    def series_count(self) -> int:
        return len(self.generate(np.array([self.end_ms], dtype=np.int64)))

    def _cpu(self, f: _Frame) -> list[SeriesValues]:
        ts = f.ts
        steal: FloatArray = np.zeros(ts.shape)
        if self.host.virtual:
            neighbours = (noise.smooth(self.key("steal"), ts, 6 * HOUR_MS) + 1.0) / 2.0
            steal = _round(np.clip(0.2 + 1.5 * neighbours * f.activity + 0.15 * self._white("steal", ts), 0, 12), 2)
        iowait = _round(f.iowait, 2)
        busy = _round(np.clip(f.busy, 0.3, 99.5 - iowait - steal), 2)
        idle = 100.0 - busy - iowait - steal
        system_share = 0.2 + 0.04 * noise.smooth(self.key("sys_share"), ts, DAY_MS)
        system = _round(busy * system_share, 2)
        nice = _round(busy * 0.015, 2)
        irq = _round(busy * 0.008, 2)
        softirq = _round(busy * (0.03 + 0.04 * (self.host.role is Role.WEB)), 2)
        user = busy - system - nice - irq - softirq
        return [
            SeriesValues("cpu.busy_percent", (), busy),
            SeriesValues("cpu.user_percent", (), user),
            SeriesValues("cpu.system_percent", (), system),
            SeriesValues("cpu.nice_percent", (), nice),
            SeriesValues("cpu.irq_percent", (), irq),
            SeriesValues("cpu.softirq_percent", (), softirq),
            SeriesValues("cpu.iowait_percent", (), iowait),
            SeriesValues("cpu.steal_percent", (), steal),
            SeriesValues("cpu.idle_percent", (), idle),
        ]

    def _load(self, f: _Frame) -> list[SeriesValues]:
        cpus = self.host.cpu_count
        runnable = cpus * (np.clip(f.busy_smooth, 0, 100) / 100.0 * 1.05) + cpus * f.iowait / 100.0 * 1.5
        out = []
        for name, jitter in (("load1", 0.12), ("load5", 0.05), ("load15", 0.025)):
            load = _round(np.clip(runnable * (1.0 + jitter * self._white(name, f.ts)), 0.0, None), 2)
            out.append(SeriesValues(f"load.{name}", (), load))
            out.append(SeriesValues(f"load.{name}_per_core", (), load / cpus))
        return out

    def _memory(self, f: _Frame) -> list[SeriesValues]:
        total = float(self.host.memory_bytes)
        available = _round(total * f.available_fraction)
        used = total - available
        return [
            SeriesValues("mem.total_bytes", (), np.full(f.ts.shape, total)),
            SeriesValues("mem.available_bytes", (), available),
            SeriesValues("mem.used_bytes", (), used),
            SeriesValues("mem.used_percent", (), used / total * 100.0),
            SeriesValues("mem.available_percent", (), available / total * 100.0),
        ]

    def _swap(self, f: _Frame) -> list[SeriesValues]:
        total = float(self.host.swap_bytes)
        if total == 0:
            zeros = np.zeros(f.ts.shape)
            return [SeriesValues("swap.total_bytes", (), zeros), SeriesValues("swap.used_bytes", (), zeros.copy())]
        base = 0.01 + 0.04 * (noise.drift(self.key("swap"), f.ts, 6 * DAY_MS) + 1.0) / 2.0
        # Under memory pressure the kernel pushes pages out.
        pressure = np.clip((0.15 - f.available_fraction) / 0.15, 0.0, 1.0) * 0.6
        used = _round(total * np.clip(base + pressure, 0.0, 1.0))
        return [
            SeriesValues("swap.total_bytes", (), np.full(f.ts.shape, total)),
            SeriesValues("swap.used_bytes", (), used),
            SeriesValues("swap.used_percent", (), used / total * 100.0),
        ]

    def _disk_fraction(self, disk: DiskSpec, f: _Frame) -> FloatArray:
        ts = f.ts
        fill = self.trouble.disk_fill
        tag = f"disk:{disk.mount}"
        if fill is not None and fill.mount == disk.mount:
            trend = fill.used_fraction(ts)
            cycle = 0.005 * (f.activity - 0.35)
        elif disk.mount == "/var/log":
            hour, _ = self.clock.hour_and_weekday(ts)
            since_rotation = ((hour - 6.42) % 24.0) / 24.0  # cron.daily's logrotate at 06:25
            trend = 0.15 + 0.2 * self._unit(tag) + 0.05 * since_rotation
            cycle = np.zeros(ts.shape)
        elif disk.mount == "/":
            period = (20 + 20 * self._unit(tag + "p")) * DAY_MS
            phase = ((ts + int(self._unit(tag + "o") * period)) % int(period)) / period  # caches cleaned monthly
            trend = 0.28 + 0.25 * self._unit(tag) + 0.035 * phase
            cycle = np.zeros(ts.shape)
        else:
            # Healthy data volumes grow, but stay clear of full for months after the end of history.
            at_end = 0.3 + 0.4 * self._unit(tag)
            per_day = (0.85 - at_end) / 120 * self._unit(tag + "r")
            trend = np.maximum(0.05, at_end + per_day * (ts - self.end_ms).astype(np.float64) / DAY_MS)
            cycle = 0.004 * (f.activity - 0.35)
        wobble = 0.0004 * noise.smooth(self.key(tag + "w"), ts, 2 * HOUR_MS)
        return np.clip(trend + cycle + wobble, 0.01, 1.0)

    def _disks(self, f: _Frame) -> list[SeriesValues]:
        out = []
        for disk in self.host.disks:
            labels = _labels(mount=disk.mount, device=disk.device, fstype=disk.fstype)
            total = float(disk.total_bytes)
            used = _round(total * self._disk_fraction(disk, f))
            free = total - used
            out += [
                SeriesValues("disk.total_bytes", labels, np.full(f.ts.shape, total)),
                SeriesValues("disk.used_bytes", labels, used),
                SeriesValues("disk.free_bytes", labels, free),
                SeriesValues("disk.used_percent", labels, used / total * 100.0),
            ]
            out += self._inodes(disk, labels, used, f)
        return out

    def _inodes(self, disk: DiskSpec, labels: Labels, used_bytes: FloatArray, f: _Frame) -> list[SeriesValues]:
        total = float(disk.inodes_total)
        size = _FILE_SIZES.get(disk.mount) or _DATA_FILE_SIZES.get(self.host.role, 256 * 1024)
        base = 9000.0 if disk.mount == "/" else 30.0
        used = np.minimum(total, _round(base + used_bytes / size))
        return [
            SeriesValues("disk.inodes_total", labels, np.full(f.ts.shape, total)),
            SeriesValues("disk.inodes_used", labels, used),
            SeriesValues("disk.inodes_free", labels, total - used),
            SeriesValues("disk.inodes_used_percent", labels, used / total * 100.0),
        ]

    def _diskio(self, f: _Frame) -> list[SeriesValues]:
        t = self.traits
        out = []
        for i, device in enumerate(self.host.whole_disks):
            # The system disk sees logs and packages; a separate data disk carries the workload.
            share = 1.0 if i > 0 or len(self.host.whole_disks) == 1 else 0.15
            write_base = t.disk_write_peak * share * (0.05 + f.activity) + t.disk_write_peak * 0.2 * f.backup
            read_base = t.disk_read_peak * share * (0.03 + f.activity) + t.disk_read_peak * 1.5 * f.backup * share
            write = _round(write_base * np.exp(0.3 * self._white(f"w:{device}", f.ts) - 0.045))
            read = _round(read_base * np.exp(0.35 * self._white(f"r:{device}", f.ts) - 0.06))
            write_ops = _round(write / (24 * 1024) + 2.0, 2)
            read_ops = _round(read / (56 * 1024) + 0.5, 2)
            service_s = 0.0008 if self.host.virtual else 0.0002
            busy = _round(100.0 * (1.0 - np.exp(-(read_ops + write_ops) * service_s)), 2)
            labels = _labels(device=device)
            out += [
                SeriesValues("diskio.read_bytes_per_s", labels, read),
                SeriesValues("diskio.write_bytes_per_s", labels, write),
                SeriesValues("diskio.read_ops_per_s", labels, read_ops),
                SeriesValues("diskio.write_ops_per_s", labels, write_ops),
                SeriesValues("diskio.busy_percent", labels, busy),
            ]
        return out

    def _net(self, f: _Frame) -> list[SeriesValues]:
        out = []
        for i, iface in enumerate(self.host.interfaces):
            out += self._interface(iface, primary=i == 0, f=f)
        return out

    def _interface(self, iface: InterfaceSpec, primary: bool, f: _Frame) -> list[SeriesValues]:
        t = self.traits
        if primary:
            tx_base = t.net_tx_peak * (0.02 + f.activity)
            rx_base = t.net_rx_peak * (0.03 + f.activity)
        else:  # the backup network: quiet by day, saturated-ish during the backup
            tx_base = 2e4 + t.disk_read_peak * 1.4 * f.backup
            rx_base = 1e4 + 2e4 * f.backup
        tx = _round(tx_base * np.exp(0.25 * self._white(f"tx:{iface.name}", f.ts) - 0.03))
        rx = _round(rx_base * np.exp(0.25 * self._white(f"rx:{iface.name}", f.ts) - 0.03))
        labels = _labels(interface=iface.name)
        out = [
            SeriesValues("net.rx_bytes_per_s", labels, rx),
            SeriesValues("net.tx_bytes_per_s", labels, tx),
            SeriesValues("net.rx_packets_per_s", labels, _round(rx / 620.0, 2)),
            SeriesValues("net.tx_packets_per_s", labels, _round(tx / 1150.0, 2)),
        ]
        for kind, probability, magnitude in (("rx_errors", 0.002, 0.8), ("tx_errors", 0.0008, 0.3),
                                             ("rx_drops", 0.01, 2.5), ("tx_drops", 0.001, 0.4)):
            counter = self._counter(kind, iface.name, probability, magnitude)
            out.append(SeriesValues(f"net.{kind}_per_s", labels, _round(counter.rate(f.ts), 3)))
            out.append(SeriesValues(f"net.{kind}_total", labels, counter.total_since(f.boot_ms, f.ts)))
        return out

    def _bruteforce_active(self, ts: IntArray) -> FloatArray:
        active = np.zeros(ts.shape)
        for b in self.trouble.bursts:
            if b.kind is TroubleKind.SSH_BRUTEFORCE:
                active = np.maximum(active, ((ts >= b.start_ms) & (ts < b.end_ms)).astype(np.float64))
        return active

    def _tcp(self, f: _Frame) -> list[SeriesValues]:
        t = self.traits
        ts = f.ts
        attack = self._bruteforce_active(ts)
        established = _round(np.clip(t.connections_peak * (0.06 + f.activity)
                                       * (1.0 + 0.08 * self._white("est", ts)), 1, None) + 12 * attack)
        time_wait = _round(np.clip(established * t.time_wait_ratio * (1.0 + 0.2 * self._white("tw", ts)), 0, None))
        close_wait = _round(noise.sparse(self.key("cw"), ts, 3 * HOUR_MS, 0.05) * (1 + 4 * f.activity))
        syn_recv = _round(np.clip(0.6 * self._white("syn", ts) - 0.3, 0, None) + 9 * attack)
        fin_wait2 = _round(np.clip(established * 0.012 * (1.0 + 0.3 * self._white("fw2", ts)), 0, None))
        listen = np.full(ts.shape, float(t.listen_sockets))
        return [
            SeriesValues("tcp.connections", (("state", state),), values)
            for state, values in (("established", established), ("time_wait", time_wait), ("listen", listen),
                                  ("close_wait", close_wait), ("syn_recv", syn_recv), ("fin_wait2", fin_wait2))
        ]

    def _procs(self, f: _Frame) -> list[SeriesValues]:
        t = self.traits
        ts = f.ts
        total = _round(t.procs_base + 30 * f.activity + 4 * noise.drift(self.key("procs"), ts, DAY_MS)
                         + 1.5 * self._white("procs", ts))
        zombie = _round(noise.sparse(self.key("zombie"), ts, 6 * HOUR_MS, 0.04)
                          * (1 + 3 * noise.uniform(self.key("zombies"), ts // (6 * HOUR_MS))))
        stopped = np.zeros(ts.shape)
        running = np.clip(_round(1 + self.host.cpu_count * np.clip(f.busy, 0, 100) / 100.0 * 0.9
                                   + 0.7 * self._white("running", ts)), 1, None)
        sleeping = total - running - zombie - stopped
        threads = _round(total * t.threads_per_proc * (1.0 + 0.15 * f.activity) + 5 * self._white("threads", ts))
        return [
            SeriesValues("procs.total", (), total),
            SeriesValues("procs.running", (), running),
            SeriesValues("procs.sleeping", (), sleeping),
            SeriesValues("procs.zombie", (), zombie),
            SeriesValues("procs.stopped", (), stopped),
            SeriesValues("procs.threads", (), threads),
        ]

    def _system(self, f: _Frame) -> list[SeriesValues]:
        return [
            SeriesValues("system.uptime_seconds", (), np.floor((f.ts - f.boot_ms) / 1000.0)),
            SeriesValues("system.boot_time_seconds", (), f.boot_ms / 1000.0),
        ]

    def _fd(self, f: _Frame) -> list[SeriesValues]:
        t = self.traits
        major = int(self.host.kernel.split(".", 1)[0])
        limit = float(LONG_MAX) if major >= 5 else float(self.host.memory_bytes // 1024 // 10)
        opened = _round((t.fd_base + t.fd_peak * f.activity) * (1.0 + 0.02 * self._white("fd", f.ts)))
        return [
            SeriesValues("fd.open", (), opened),
            SeriesValues("fd.max", (), np.full(f.ts.shape, limit)),
            SeriesValues("fd.used_percent", (), opened / limit * 100.0),
        ]
