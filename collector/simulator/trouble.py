"""Injected trouble: what goes wrong in the simulated fleet, on which hosts, and when.

The demo must end with predictive tickets, so the trouble is placed relative to the end of history:
a disk that will be full five days after it and a memory leak that exhausts memory four days after it,
both visible as trends in the backfilled history; an error-log burst and an SSH brute force a day or
two before the end; and a host that went silent hours before the end. On request, each customer also
had two incidents in the last whole calendar month (in its time zone): a disk throwing I/O errors on
one host and the kernel killing processes for want of memory on another, which that month's
inspection finds. Each trouble lands on a host
whose role suits it (a file server fills up, an application server leaks) and, where the fleet is
big enough, on a host of its own, so every ticket in the demo has one clear cause.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import numpy as np

from collector.simulator.fleet import Fleet, HostProfile
from collector.simulator.noise import FloatArray, IntArray, uniform
from collector.simulator.roles import Role
from inspections.catalogue import catalogue

DAY_MS = 86_400_000


class TroubleKind(StrEnum):
    DISK_FILL = "disk_fill"
    MEMORY_LEAK = "memory_leak"
    ERROR_BURST = "error_burst"
    SSH_BRUTEFORCE = "ssh_bruteforce"
    SILENT = "silent"
    DISK_IO_ERRORS = "disk_io_errors"
    OOM_KILLS = "oom_kills"


_PREFERRED_ROLES: dict[TroubleKind, tuple[Role, ...]] = {
    TroubleKind.DISK_FILL: (Role.FILE, Role.DB, Role.APP, Role.WEB, Role.KIOSK),
    TroubleKind.MEMORY_LEAK: (Role.APP, Role.WEB, Role.DB, Role.KIOSK, Role.FILE),
    TroubleKind.SILENT: (Role.KIOSK, Role.WEB, Role.FILE, Role.APP, Role.DB),
    TroubleKind.ERROR_BURST: (Role.APP, Role.WEB, Role.DB, Role.FILE, Role.KIOSK),
    TroubleKind.SSH_BRUTEFORCE: (Role.WEB, Role.KIOSK, Role.FILE, Role.APP, Role.DB),
    TroubleKind.DISK_IO_ERRORS: (Role.DB, Role.FILE, Role.APP, Role.WEB, Role.KIOSK),
    TroubleKind.OOM_KILLS: (Role.APP, Role.WEB, Role.DB, Role.KIOSK, Role.FILE),
}
# When in the last whole month each past incident happened: (day of the month, local hour, minutes).
_PAST_INCIDENT_AT: dict[TroubleKind, tuple[int, float, int]] = {
    TroubleKind.DISK_IO_ERRORS: (12, 2.7, 40),
    TroubleKind.OOM_KILLS: (19, 20.2, 60),
}
PAST_MONTH_KINDS = tuple(_PAST_INCIDENT_AT)
OOM_KILLS_PER_INCIDENT = 4
# A silent host would hide the trend a predictive ticket needs at the end of history.
_EXCLUSIVE = {TroubleKind.SILENT: {TroubleKind.DISK_FILL, TroubleKind.MEMORY_LEAK}}


def _positive(name: str, value: timedelta) -> None:
    if value <= timedelta(0):
        raise ValueError(f"trouble setting {name} must be a positive duration, got {value}")


@dataclass(frozen=True, slots=True)
class TroubleSpec:
    """How much trouble to inject. Counts are hosts per kind; times are relative to the end of history."""

    # The ticket policy's forecast horizon is 7 days. Both capacity troubles sit well inside it: on its
    # edge, forecast noise (which follows the time of day the history ends at) would decide whether a
    # predictive ticket opens, and two runs of the demo would disagree.
    disk_fill: int = 1
    disk_full_after: timedelta = timedelta(days=5)  # the disk reaches 100 % this long after the end
    disk_cleanup_before: timedelta = timedelta(days=30)  # an earlier cleanup freed space this long before
    memory_leak: int = 1
    memory_exhausted_after: timedelta = timedelta(days=4)
    # the leaking release was deployed this long before; short enough that available memory is still
    # above swap pressure at the end of history, so swap shows no trend of its own to forecast
    memory_leak_for: timedelta = timedelta(days=5)
    error_burst: int = 1
    error_burst_before: timedelta = timedelta(hours=30)
    ssh_bruteforce: int = 1
    ssh_bruteforce_before: timedelta = timedelta(hours=20)
    silent: int = 1
    silent_for: timedelta = timedelta(hours=6)  # the host stopped sending this long before the end
    # Per customer, the last whole month's disk I/O errors and OOM kills (see the module docstring).
    past_month_incidents: bool = False

    def __post_init__(self) -> None:
        for name in ("disk_fill", "memory_leak", "error_burst", "ssh_bruteforce", "silent"):
            if getattr(self, name) < 0:
                raise ValueError(f"trouble count {name} must be >= 0, got {getattr(self, name)}")
        for name in ("disk_full_after", "disk_cleanup_before", "memory_exhausted_after", "memory_leak_for",
                     "error_burst_before", "ssh_bruteforce_before", "silent_for"):
            _positive(name, getattr(self, name))

    @classmethod
    def none(cls) -> TroubleSpec:
        return cls(disk_fill=0, memory_leak=0, error_burst=0, ssh_bruteforce=0, silent=0)

    def count(self, kind: TroubleKind) -> int:
        return int(getattr(self, kind.value))


@dataclass(frozen=True, slots=True)
class DiskFill:
    """``mount`` grows steadily after a cleanup and reaches 100 % at ``full_ms``."""

    mount: str
    cleanup_ms: int
    full_ms: int
    after_cleanup: float = 0.46  # used fraction right after the cleanup
    before_cleanup: float = 0.9  # used fraction that triggered the cleanup
    floor: float = 0.12

    def used_fraction(self, ts_ms: IntArray) -> FloatArray:
        """The trend (without daily cycles); may exceed 1.0 after ``full_ms``, callers clamp."""
        rate = (1.0 - self.after_cleanup) / (self.full_ms - self.cleanup_ms)
        since = (ts_ms - self.cleanup_ms).astype(np.float64)
        after = self.after_cleanup + rate * since
        before = np.maximum(self.floor, self.before_cleanup + 0.85 * rate * since)
        return np.where(since >= 0, after, before)


@dataclass(frozen=True, slots=True)
class MemoryLeak:
    """Available memory declines linearly from ``start_ms`` and is gone at ``exhausted_ms``."""

    start_ms: int
    exhausted_ms: int

    def leaked(self, ts_ms: IntArray, available_fraction: float) -> FloatArray:
        """Fraction of memory taken by the leak, such that the trend reaches zero at ``exhausted_ms``."""
        progress = (ts_ms - self.start_ms).astype(np.float64) / (self.exhausted_ms - self.start_ms)
        return available_fraction * np.clip(progress, 0.0, None)


@dataclass(frozen=True, slots=True)
class Burst:
    """A window of log events far above the background rate."""

    kind: TroubleKind
    start_ms: int
    duration_ms: int
    source_ip: str = ""

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.duration_ms


@dataclass(frozen=True, slots=True)
class HostTrouble:
    """Everything injected into one host; the signal and event generators read this."""

    disk_fill: DiskFill | None = None
    memory_leak: MemoryLeak | None = None
    bursts: tuple[Burst, ...] = ()
    silent_from_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Trouble:
    """One injected trouble, as reported in the run summary."""

    kind: TroubleKind
    host: str
    agent_id: str
    customer: str
    subject: str  # mount, series or rule ids the trouble shows up in
    starts: datetime
    eta: datetime | None  # when it fails (disk full, memory exhausted), None for past events
    description: str


@dataclass(frozen=True, slots=True)
class TroublePlan:
    troubles: tuple[Trouble, ...]
    per_host: dict[int, HostTrouble] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()  # why a requested trouble could not be placed

    def for_host(self, index: int) -> HostTrouble:
        return self.per_host.get(index, _NO_TROUBLE)


_NO_TROUBLE = HostTrouble()


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _pick(fleet: Fleet, kind: TroubleKind, taken: dict[int, set[TroubleKind]], seed: int) -> HostProfile | None:
    preference = _PREFERRED_ROLES[kind]
    conflicts = _EXCLUSIVE.get(kind, set())
    per_customer: dict[str, int] = {}
    for index, kinds in taken.items():
        customer = fleet.hosts[index].customer.id
        per_customer[customer] = per_customer.get(customer, 0) + len(kinds)

    def compatible(h: HostProfile) -> bool:
        mine = taken.get(h.index, set())
        return not (mine & conflicts) and not any(kind in _EXCLUSIVE.get(k, set()) for k in mine)

    free = [h for h in fleet.hosts if h.index not in taken]
    shared = [h for h in fleet.hosts if h.index in taken and compatible(h) and kind not in taken[h.index]]
    for pool in (free, shared):
        if pool:
            # Prefer a fitting role, then a customer with little trouble so far; the seed breaks ties.
            return min(pool, key=lambda h: (preference.index(h.role), per_customer.get(h.customer.id, 0),
                                             float(uniform(seed, [h.index])[0])))
    return None


def plan_troubles(fleet: Fleet, spec: TroubleSpec, end: datetime) -> TroublePlan:
    """Place the requested trouble on hosts of ``fleet``; ``end`` is the end of history (UTC)."""
    end_ms = _ms(end)
    taken: dict[int, set[TroubleKind]] = {}
    skipped: list[str] = []
    past = _place_past_incidents(fleet) if spec.past_month_incidents else {}
    kinds = (TroubleKind.DISK_FILL, TroubleKind.MEMORY_LEAK, TroubleKind.SILENT, TroubleKind.ERROR_BURST,
             TroubleKind.SSH_BRUTEFORCE)
    for kind in kinds:
        for n in range(spec.count(kind)):
            host = _pick(fleet, kind, taken, fleet.spec.seed * 7919 + n)
            if host is None:
                skipped.append(f"{kind.value} #{n + 1}: no host left that can take it without hiding other "
                               f"trouble; use more --agents")
                continue
            taken.setdefault(host.index, set()).add(kind)
    per_host: dict[int, HostTrouble] = {}
    troubles: list[Trouble] = []
    for index in sorted(taken.keys() | past.keys()):
        host = fleet.hosts[index]
        built = _build(host, taken.get(index, set()), spec, end_ms, past.get(index, set()))
        per_host[index] = built
        troubles.extend(_describe(host, built, spec, end_ms))
    troubles.sort(key=lambda t: (list(TroubleKind).index(t.kind), t.host))
    return TroublePlan(troubles=tuple(troubles), per_host=per_host, skipped=tuple(skipped))


def _place_past_incidents(fleet: Fleet) -> dict[int, set[TroubleKind]]:
    """Per customer, the hosts of the last month's incidents: each on a host of a fitting role, on two
    hosts where the customer has two."""
    out: dict[int, set[TroubleKind]] = {}
    for customer in dict.fromkeys(h.customer.id for h in fleet.hosts):
        hosts = [h for h in fleet.hosts if h.customer.id == customer]
        used: set[int] = set()
        for kind in (TroubleKind.DISK_IO_ERRORS, TroubleKind.OOM_KILLS):
            preference = _PREFERRED_ROLES[kind]
            host = min(hosts, key=lambda h: (h.index in used, preference.index(h.role),
                                             float(uniform(fleet.spec.seed * 104_729 + len(used), [h.index])[0])))
            used.add(host.index)
            out.setdefault(host.index, set()).add(kind)
    return out


def last_month_start(end_ms: int, timezone: str) -> datetime:
    """The first day of the calendar month before the one holding ``end_ms``, local midnight."""
    local = datetime.fromtimestamp(end_ms / 1000, tz=UTC).astimezone(ZoneInfo(timezone))
    this_month = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (this_month - timedelta(days=1)).replace(day=1)


def _past_incident(host: HostProfile, kind: TroubleKind, end_ms: int) -> Burst:
    day, hour, minutes = _PAST_INCIDENT_AT[kind]
    start = last_month_start(end_ms, host.customer.timezone).replace(day=day) + timedelta(hours=hour)
    return Burst(kind, _ms(start), minutes * 60_000)


def _attacker_ip(host: HostProfile) -> str:
    # Documentation ranges (RFC 5737), so a demo never points at a real network.
    return f"203.0.113.{17 + host.key % 200}"


def _build(host: HostProfile, kinds: set[TroubleKind], spec: TroubleSpec, end_ms: int,
           past: set[TroubleKind]) -> HostTrouble:
    disk_fill = memory_leak = None
    bursts: list[Burst] = []
    silent_from = None
    if TroubleKind.DISK_FILL in kinds:
        mount = "/data" if host.disk("/data") else "/"
        disk_fill = DiskFill(mount, end_ms - _td_ms(spec.disk_cleanup_before), end_ms + _td_ms(spec.disk_full_after))
    if TroubleKind.MEMORY_LEAK in kinds:
        memory_leak = MemoryLeak(end_ms - _td_ms(spec.memory_leak_for), end_ms + _td_ms(spec.memory_exhausted_after))
    if TroubleKind.ERROR_BURST in kinds:
        # Application errors come with the users: mid-morning local time.
        start = _at_local_hour(host, end_ms - _td_ms(spec.error_burst_before), 10.6, end_ms - 45 * 60_000)
        bursts.append(Burst(TroubleKind.ERROR_BURST, start, 45 * 60_000))
    if TroubleKind.SSH_BRUTEFORCE in kinds:
        # Brute force runs when nobody watches: small hours local time.
        start = _at_local_hour(host, end_ms - _td_ms(spec.ssh_bruteforce_before), 3.3, end_ms - 25 * 60_000)
        bursts.append(Burst(TroubleKind.SSH_BRUTEFORCE, start, 25 * 60_000, _attacker_ip(host)))
    bursts.extend(_past_incident(host, kind, end_ms) for kind in sorted(past))
    if TroubleKind.SILENT in kinds:
        silent_from = end_ms - _td_ms(spec.silent_for)
    return HostTrouble(disk_fill, memory_leak, tuple(bursts), silent_from)


def _at_local_hour(host: HostProfile, near_ms: int, hour: float, latest_ms: int) -> int:
    """The moment at ``hour`` local time closest to ``near_ms``, and no later than ``latest_ms``."""
    zone = ZoneInfo(host.customer.timezone)
    local = datetime.fromtimestamp(near_ms / 1000, tz=UTC).astimezone(zone)
    candidates = []
    for days in (-1, 0, 1):
        day = (local + timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
        at = int((day + timedelta(hours=hour)).timestamp() * 1000)
        if at <= latest_ms:
            candidates.append(at)
    if not candidates:
        return min(near_ms, latest_ms)
    return min(candidates, key=lambda at: abs(at - near_ms))


def _td_ms(value: timedelta) -> int:
    return int(value.total_seconds() * 1000)


def _describe(host: HostProfile, t: HostTrouble, spec: TroubleSpec, end_ms: int) -> list[Trouble]:
    def make(kind: TroubleKind, subject: str, starts_ms: int, eta_ms: int | None, text: str) -> Trouble:
        return Trouble(kind, host.hostname, host.agent_id, host.customer.id, subject, _dt(starts_ms),
                       _dt(eta_ms) if eta_ms is not None else None, text)

    out: list[Trouble] = []
    if t.disk_fill is not None:
        f = t.disk_fill
        out.append(make(TroubleKind.DISK_FILL, f.mount, f.cleanup_ms, f.full_ms,
                        f"{f.mount} grows steadily since a cleanup {_span(spec.disk_cleanup_before)} before "
                        f"the end of history and reaches 100 % {_span(spec.disk_full_after)} after it"))
    if t.memory_leak is not None:
        m = t.memory_leak
        out.append(make(TroubleKind.MEMORY_LEAK, MEMORY_CAPACITY, m.start_ms, m.exhausted_ms,
                        f"available memory declines since a deploy {_span(spec.memory_leak_for)} before the "
                        f"end of history and runs out {_span(spec.memory_exhausted_after)} after it"))
    for b in t.bursts:
        if b.kind is TroubleKind.ERROR_BURST:
            out.append(make(b.kind, "app.error,generic.error", b.start_ms, None,
                            f"{b.duration_ms // 60_000} min of application errors (database connection pool "
                            "exhausted)"))
        elif b.kind is TroubleKind.SSH_BRUTEFORCE:
            out.append(make(b.kind, "sshd.failed_password", b.start_ms, None,
                            f"{b.duration_ms // 60_000} min of failed SSH logins from {b.source_ip}"))
        elif b.kind is TroubleKind.DISK_IO_ERRORS:
            out.append(make(b.kind, "disk.io_error", b.start_ms, None,
                            f"{b.duration_ms // 60_000} min of kernel I/O errors on /dev/{host.whole_disks[-1]} "
                            "last month (a failing disk)"))
        else:
            out.append(make(b.kind, "kernel.oom_kill", b.start_ms, None,
                            f"{OOM_KILLS_PER_INCIDENT} processes killed by the kernel for want of memory last month "
                            "(an evening report job)"))
    if t.silent_from_ms is not None:
        out.append(make(TroubleKind.SILENT, "host.up", t.silent_from_ms, None,
                        f"stops sending {_span(spec.silent_for)} before the end of history"))
    return out


# The memory figure forecasts and tickets watch: a leak is reported against it.
MEMORY_CAPACITY = next(name for name in catalogue().capacity_series() if name.startswith("mem."))


def _span(value: timedelta) -> str:
    if value < timedelta(days=2):
        return f"{value.total_seconds() / 3600:g} h"
    return f"{value.total_seconds() / 86400:g} days"
