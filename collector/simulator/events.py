"""Log events of one simulated host: a low background of ordinary trouble, plus the injected bursts.

Events are what the agent's log rules would send: a rule id, a severity, the source file and the
original line (syslog, Java, nginx and PostgreSQL formats, stamped in the customer's local time).
Each UTC day is generated from its own seeded random generator, so any time range can be asked for
in any order and always yields the same events. Like the real agent, a rule that fires more than
``rate_limit`` times a minute is rate-limited and the suppressed count rides on its next event.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np

from collector.simulator.fleet import HostProfile
from collector.simulator.localtime import DAY_MS
from collector.simulator.noise import FloatArray, IntArray
from collector.simulator.roles import Role
from collector.simulator.trouble import OOM_KILLS_PER_INCIDENT, Burst, HostTrouble, TroubleKind
from protos.patrol.v1 import agent_pb2

WARNING, ERROR, CRITICAL = agent_pb2.SEVERITY_WARNING, agent_pb2.SEVERITY_ERROR, agent_pb2.SEVERITY_CRITICAL
_SSH_USERS = ("root", "admin", "test", "oracle", "ubuntu", "user", "postgres", "git", "ftpuser", "guest", "support",
              "deploy", "pi", "mysql", "www")
_REDHAT_LIKE = ("Red Hat", "Rocky", "CentOS", "Kylin", "UOS", "openEuler")


@dataclass(frozen=True, slots=True)
class SimEvent:
    timestamp_ms: int
    rule: str
    severity: agent_pb2.Severity
    source: str
    line: str
    fields: tuple[tuple[str, str], ...] = ()
    suppressed_before: int = 0

    def to_proto(self, observed_ms: int | None = None) -> agent_pb2.Event:
        return agent_pb2.Event(timestamp_ms=self.timestamp_ms, rule=self.rule, severity=self.severity,
                               source=self.source, line=self.line, fields=dict(self.fields),
                               suppressed_before=self.suppressed_before,
                               observed_ms=observed_ms if observed_ms is not None else self.timestamp_ms + 150)


@dataclass(frozen=True, slots=True)
class _Stream:
    rule: str
    per_hour: float
    follows_activity: bool  # errors come with users; brute force does not sleep


def _background(role: Role) -> tuple[_Stream, ...]:
    ssh = _Stream("sshd.failed_password", 3.0 if role is Role.WEB else 0.4 if role is Role.KIOSK else 0.25, False)
    unit = _Stream("systemd.unit_failed", 0.01, False)
    per_role = {
        Role.WEB: (_Stream("generic.error", 0.35, True), _Stream("app.error", 0.12, True)),
        Role.APP: (_Stream("app.error", 0.6, True), _Stream("generic.error", 0.05, True)),
        Role.DB: (_Stream("generic.error", 0.2, True),),
        Role.FILE: (_Stream("generic.error", 0.05, True),),
        Role.KIOSK: (_Stream("generic.error", 0.1, True),),
    }
    return (ssh, unit, *per_role[role])


class HostEvents:
    """The log events of one host. ``activity`` maps timestamps to the host's business load (0..~1.4)."""

    def __init__(self, host: HostProfile, trouble: HostTrouble, activity: Callable[[IntArray], FloatArray],
                 rate_limit: int = 30) -> None:
        self.host = host
        self.trouble = trouble
        self.activity = activity
        self.rate_limit = rate_limit
        self.lines = _LineFactory(host)
        self._days: OrderedDict[int, list[SimEvent]] = OrderedDict()

    def between(self, start_ms: int, end_ms: int) -> list[SimEvent]:
        """Events with ``start_ms < timestamp_ms <= end_ms``, in time order."""
        out: list[SimEvent] = []
        for day in range(start_ms // DAY_MS, end_ms // DAY_MS + 1):
            out.extend(e for e in self._day(day) if start_ms < e.timestamp_ms <= end_ms)
        return out

    def _day(self, day: int) -> list[SimEvent]:
        cached = self._days.get(day)
        if cached is not None:
            self._days.move_to_end(day)
            return cached
        raw = self._background(day) + self._bursts(day)
        raw.sort(key=lambda e: e.timestamp_ms)
        events = _rate_limited(raw, self.rate_limit)
        self._days[day] = events
        while len(self._days) > 4:
            self._days.popitem(last=False)
        return events

    def _background(self, day: int) -> list[SimEvent]:
        out: list[SimEvent] = []
        for n, stream in enumerate(_background(self.host.role)):
            rng = np.random.default_rng([self.host.key, n, day])
            # Thinning: draw at twice the rate, keep each event with probability activity / 2.
            boost = 2.0 if stream.follows_activity else 1.0
            count = int(rng.poisson(stream.per_hour * 24 * boost))
            ts = np.sort(day * DAY_MS + rng.integers(0, DAY_MS, size=count))
            if stream.follows_activity and count:
                ts = ts[rng.random(count) < self.activity(ts) / boost]
            out.extend(self.lines.make(stream.rule, int(t), rng, burst=None) for t in ts)
        return out

    def _bursts(self, day: int) -> list[SimEvent]:
        out: list[SimEvent] = []
        lo, hi = day * DAY_MS, (day + 1) * DAY_MS
        for n, burst in enumerate(self.trouble.bursts):
            if burst.end_ms <= lo or burst.start_ms >= hi:
                continue
            rng = np.random.default_rng([self.host.key, 1000 + n, day])
            if burst.kind is TroubleKind.OOM_KILLS:
                # A handful of kills, each a line of its own: spread evenly so every one is counted.
                step = burst.duration_ms // OOM_KILLS_PER_INCIDENT
                ts = np.arange(burst.start_ms + step // 2, burst.end_ms, step)[:OOM_KILLS_PER_INCIDENT]
                out.extend(self.lines.make("kernel.oom_kill", int(t), rng, burst=burst) for t in ts if lo <= t < hi)
                continue
            for rule, per_minute in _BURST_RULES[burst.kind]:
                ts = _burst_times(rng, burst, per_minute, lo, hi)
                out.extend(self.lines.make(rule, int(t), rng, burst=burst) for t in ts)
        return out


# The rules a burst of each kind fires and how often at its peak, per minute.
_BURST_RULES: dict[TroubleKind, tuple[tuple[str, float], ...]] = {
    TroubleKind.ERROR_BURST: (("app.error", 55.0), ("generic.error", 12.0)),
    TroubleKind.SSH_BRUTEFORCE: (("sshd.failed_password", 48.0),),
    TroubleKind.DISK_IO_ERRORS: (("disk.io_error", 1.2),),
}


def _burst_times(rng: np.random.Generator, burst: Burst, per_minute: float, lo: int, hi: int) -> IntArray:
    """Event times inside the burst (clipped to one day): ramps up, peaks, tails off."""
    count = int(rng.poisson(per_minute * burst.duration_ms / 60_000))
    ts = burst.start_ms + rng.integers(0, burst.duration_ms, size=count)
    shape = np.sqrt(np.sin(np.pi * (ts - burst.start_ms) / burst.duration_ms))
    ts = ts[rng.random(count) < shape]
    return np.sort(ts[(ts >= lo) & (ts < hi)])


def _rate_limited(events: list[SimEvent], limit: int) -> list[SimEvent]:
    kept: list[SimEvent] = []
    per_minute: dict[tuple[str, int], int] = {}
    suppressed: dict[str, int] = {}
    for e in events:
        bucket = (e.rule, e.timestamp_ms // 60_000)
        seen = per_minute.get(bucket, 0)
        per_minute[bucket] = seen + 1
        if seen >= limit:
            suppressed[e.rule] = suppressed.get(e.rule, 0) + 1
            continue
        held = suppressed.pop(e.rule, 0)
        kept.append(e if not held else SimEvent(e.timestamp_ms, e.rule, e.severity, e.source, e.line, e.fields,
                                                held))
    return kept


class _LineFactory:
    """Realistic log lines per rule, in the formats of the software that writes them."""

    def __init__(self, host: HostProfile) -> None:
        self.host = host
        self.zone = ZoneInfo(host.customer.timezone)
        self.redhat = any(name in host.os for name in _REDHAT_LIKE)
        self.subnet = host.interfaces[0].address.split(".")[1]

    def _local(self, ts_ms: int) -> datetime:
        return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).astimezone(self.zone)

    def _syslog(self, ts_ms: int, program: str, message: str) -> str:
        t = self._local(ts_ms)
        return f"{t:%b} {t.day:>2} {t:%H:%M:%S} {self.host.hostname} {program}: {message}"

    def make(self, rule: str, ts_ms: int, rng: np.random.Generator, burst: Burst | None) -> SimEvent:
        maker = {"sshd.failed_password": self._ssh, "app.error": self._app, "generic.error": self._generic,
                 "systemd.unit_failed": self._unit, "disk.io_error": self._io_error,
                 "kernel.oom_kill": self._oom_kill}[rule]
        return maker(ts_ms, rng, burst)

    def _ssh(self, ts_ms: int, rng: np.random.Generator, burst: Burst | None) -> SimEvent:
        if burst is not None:
            ip = burst.source_ip
        elif rng.random() < 0.15:
            ip = f"10.{self.subnet}.{int(rng.integers(2, 5))}.{int(rng.integers(20, 250))}"  # a colleague's typo
        else:
            ip = f"{'198.51.100' if rng.random() < 0.5 else '203.0.113'}.{int(rng.integers(1, 255))}"
        user = _SSH_USERS[int(rng.integers(len(_SSH_USERS)))]
        invalid = "" if user in ("root", "admin", "postgres") else "invalid user "
        port = int(rng.integers(32768, 61000))
        pid = int(rng.integers(1200, 65000))
        line = self._syslog(ts_ms, f"sshd[{pid}]", f"Failed password for {invalid}{user} from {ip} port {port} ssh2")
        source = "/var/log/secure" if self.redhat else "/var/log/auth.log"
        return SimEvent(ts_ms, "sshd.failed_password", WARNING, source, line,
                        (("ip", ip), ("port", str(port)), ("user", user)))

    def _app(self, ts_ms: int, rng: np.random.Generator, burst: Burst | None) -> SimEvent:
        t = self._local(ts_ms)
        thread = f"http-nio-8080-exec-{int(rng.integers(1, 200))}"
        if burst is not None or rng.random() < 0.3:
            logger = "c.p.order.OrderService"
            message = (f"Failed to persist order {int(rng.integers(100000, 999999))}: "
                       "java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, "
                       "request timed out after 30000ms.")
            exception = "java.sql.SQLTransientConnectionException"
        elif rng.random() < 0.5:
            logger = "c.p.notify.SmsGateway"
            message = "SMS notification failed: java.net.SocketTimeoutException: Read timed out"
            exception = "java.net.SocketTimeoutException"
        else:
            logger = "c.p.web.ReportController"
            message = "Unhandled exception in GET /api/reports/daily\njava.lang.NullPointerException: null\n" \
                      "\tat c.p.web.ReportController.daily(ReportController.java:118)"
            exception = "java.lang.NullPointerException"
        line = f"{t:%Y-%m-%d %H:%M:%S},{t.microsecond // 1000:03d} ERROR [{thread}] {logger} - {message}"
        return SimEvent(ts_ms, "app.error", ERROR, "/opt/app/logs/application.log", line,
                        (("exception", exception), ("logger", logger)))

    def _generic(self, ts_ms: int, rng: np.random.Generator, burst: Burst | None) -> SimEvent:
        t = self._local(ts_ms)
        role = self.host.role
        if role is Role.DB:
            pid = int(rng.integers(2000, 60000))
            line = (f"{t:%Y-%m-%d %H:%M:%S}.{t.microsecond // 1000:03d} {t.tzname()} [{pid}] "
                    "ERROR:  duplicate key value violates unique constraint \"orders_pkey\"")
            return SimEvent(ts_ms, "generic.error", ERROR, "/var/log/postgresql/postgresql-15-main.log", line,
                            (("program", "postgres"),))
        if role is Role.FILE:
            line = self._syslog(ts_ms, f"smbd[{int(rng.integers(2000, 60000))}]",
                                "smbd_smb2_request_error_ex: idx[1] status[NT_STATUS_ACCESS_DENIED]")
            return SimEvent(ts_ms, "generic.error", ERROR, "/var/log/samba/log.smbd", line, (("program", "smbd"),))
        if role is Role.KIOSK:
            line = self._syslog(ts_ms, "kiosk-shell[812]", "error: receipt printer /dev/usb/lp0 not responding")
            return SimEvent(ts_ms, "generic.error", ERROR, "journal", line, (("program", "kiosk-shell"),))
        client = f"10.{self.subnet}.{int(rng.integers(2, 5))}.{int(rng.integers(20, 250))}"
        request = "POST /api/orders" if burst is not None else "GET /api/catalog"
        line = (f"{t:%Y/%m/%d %H:%M:%S} [error] 2211#2211: *{int(rng.integers(10000, 9999999))} upstream timed out "
                f"(110: Connection timed out) while reading response header from upstream, client: {client}, "
                f"server: {self.host.customer.id}.example.com, request: \"{request} HTTP/1.1\", "
                f"upstream: \"http://127.0.0.1:8080{request.split()[1]}\"")
        return SimEvent(ts_ms, "generic.error", ERROR, "/var/log/nginx/error.log", line, (("program", "nginx"),))

    def _unit(self, ts_ms: int, rng: np.random.Generator, burst: Burst | None) -> SimEvent:
        unit = ("backup.service", "certbot-renew.service", "logrotate.service")[int(rng.integers(3))]
        line = self._syslog(ts_ms, "systemd[1]", f"{unit}: Failed with result 'exit-code'.")
        return SimEvent(ts_ms, "systemd.unit_failed", WARNING, "journal", line, (("unit", unit),))

    def _kernel(self, ts_ms: int, message: str) -> str:
        uptime = (ts_ms % (40 * DAY_MS)) / 1000
        return self._syslog(ts_ms, "kernel", f"[{uptime:12.6f}] {message}")

    def _io_error(self, ts_ms: int, rng: np.random.Generator, burst: Burst | None) -> SimEvent:
        disk = self.host.whole_disks[-1]
        sector = int(rng.integers(10_000_000, 900_000_000))
        line = self._kernel(ts_ms, f"blk_update_request: I/O error, dev {disk}, sector {sector} op 0x0:(READ) "
                                   "flags 0x80700 phys_seg 1 prio class 0")
        source = "/var/log/messages" if self.redhat else "/var/log/kern.log"
        return SimEvent(ts_ms, "disk.io_error", CRITICAL, source, line, (("device", disk),))

    def _oom_kill(self, ts_ms: int, rng: np.random.Generator, burst: Burst | None) -> SimEvent:
        pid = int(rng.integers(2000, 60000))
        rss = int(rng.integers(3_000_000, 6_000_000))
        line = self._kernel(ts_ms, f"Out of memory: Killed process {pid} (java) total-vm:{rss + 2_400_000}kB, "
                                   f"anon-rss:{rss}kB, file-rss:0kB, shmem-rss:0kB, UID:1001 pgtables:{rss // 500}kB "
                                   "oom_score_adj:0")
        source = "/var/log/messages" if self.redhat else "/var/log/kern.log"
        return SimEvent(ts_ms, "kernel.oom_kill", CRITICAL, source, line, (("pid", str(pid)), ("process", "java")))
