"""A small fixed dataset for report tests, written through the collector's real paths.

Customer ``acme`` (Asia/Shanghai, Chinese), two hosts, the third quarter of 2026 and a day after it:

- rollups through the real :class:`collector.ingest.Ingestor` (samples every 15 minutes):
  web-01 CPU 20 % in July, 30 % in August, 40 % in September; memory 50 %; disk ``/`` 40 %.
  db-01 CPU 50 %, memory 70 %, disk ``/`` 30 %, disk ``/data`` growing 0.4 %/day from 50 % at the
  quarter start; no data at all on 10 August (local), exactly 24 hours. After the quarter every
  value jumps to 99, which no number of the quarter may show.
- inspection runs stored with :mod:`collector.inspection.runs`: the August and September monthly
  runs (customer scores 80 and 71) and daily runs on 10 July (90), 20 August (85) and 15 September
  (75); the September run has findings of every status and two checklist rows filled in.
- tickets through the real :class:`collector.tickets.service.TicketService` with a fake clock, see
  :func:`make_tickets`. The hand-computed expectations live in the tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from collector.app import sync_customers
from collector.config import CollectorConfig
from collector.inspection import runs
from collector.inspection.runs import RunRequest
from collector.predictions.service import predict_and_store
from collector.tickets.config import TicketsConfig
from collector.tickets.model import Closure, Satisfaction, Severity, Signal, Source
from collector.tickets.model import Ticket as TicketRecord
from collector.tickets.service import ManualTicket, TicketService
from inspections import (
    CustomerScore,
    Evidence,
    Finding,
    HostResult,
    InspectionResult,
    SeriesRef,
    Threshold,
    blank_rows,
    builtin_library,
)
from tests.collector_inspection.store import hello, ingest, open_store, samples

TZ = ZoneInfo("Asia/Shanghai")
Q_START = datetime(2026, 7, 1, tzinfo=TZ)
Q_END = datetime(2026, 10, 1, tzinfo=TZ)
NOW = datetime(2026, 10, 2, 10, 0, tzinfo=TZ)
OUTAGE = (datetime(2026, 8, 10, tzinfo=TZ), datetime(2026, 8, 11, tzinfo=TZ))
STEP = 900
DISK_GROWTH = 0.4  # % per day on db-01:/data
RETENTION = {"raw": 2 * 86400.0, "1m": 14 * 86400.0, "1h": 730 * 86400.0, "events": 90 * 86400.0}

CONFIG = {
    "data_dir": "data", "insecure": True,
    "customers": [{"id": "acme", "name": "艾克米科技有限公司", "timezone": "Asia/Shanghai", "language": "zh",
                   "contacts": [{"name": "张三", "email": "zhangsan@acme.example"},
                                {"name": "李四", "phone": "13800000000"}]}],
}


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.t = start.timestamp()

    def __call__(self) -> float:
        return self.t

    def set(self, moment: datetime) -> None:
        self.t = moment.timestamp()


@dataclass
class Dataset:
    engine: Engine
    cfg: CollectorConfig
    clock: FakeClock
    tickets_cfg: TicketsConfig
    tickets: dict[str, TicketRecord]
    runs: dict[str, int]


def _value(host: str, name: str, mount: str | None, t: datetime) -> float:
    if t >= Q_END:
        return 99.0
    local = t.astimezone(TZ)
    if name == "cpu.busy_percent":
        return {7: 20.0, 8: 30.0, 9: 40.0}[local.month] if host == "web-01" else 50.0
    if name == "mem.used_percent":
        return 50.0 if host == "web-01" else 70.0
    if mount == "/data":
        return 50.0 + DISK_GROWTH * (t - Q_START).total_seconds() / 86400.0
    return 40.0 if host == "web-01" else 30.0


SERIES = {"web-01": [("cpu.busy_percent", None), ("mem.used_percent", None), ("disk.used_percent", "/")],
          "db-01": [("cpu.busy_percent", None), ("mem.used_percent", None), ("disk.used_percent", "/"),
                    ("disk.used_percent", "/data")]}


def _messages() -> Iterator[tuple[str, bytes]]:
    yield hello("web-01", "acme", "web-01")
    yield hello("db-01", "acme", "db-01")
    seq = {"web-01": 0, "db-01": 0}
    day = Q_START
    while day < NOW:
        times = [day + timedelta(seconds=i * STEP) for i in range(86400 // STEP)]
        times = [t for t in times if t < NOW]
        for host, series in SERIES.items():
            ts = [t for t in times if not (host == "db-01" and OUTAGE[0] <= t < OUTAGE[1])]
            if not ts:
                continue
            seq[host] += 1
            yield samples(host, seq[host], [
                (name, {"mount": mount, "device": "/dev/vda1" if mount == "/" else "/dev/vdb1", "fstype": "ext4"}
                 if mount else {}, [(t.timestamp(), _value(host, name, mount, t)) for t in ts])
                for name, mount in series])
        day += timedelta(days=1)


def _finding(host: str, check: str, category: str, subject: str, status: str, observed: float | None,
             warn: float | None, crit: float | None, severity: str, unit: str, name: tuple[str, str],
             since: datetime, until: datetime, unknown_reason: str | None = None) -> Finding:
    labels = {"mount": subject} if subject else {}
    return Finding(host_id=host, check_id=check, subject=subject, status=status, observed=observed,  # type: ignore[arg-type]
                   threshold=Threshold(warn, crit, "above"), unit=unit,
                   evidence=Evidence(source="rollups", series=(SeriesRef("disk.used_percent", labels),),
                                     since=since, until=until, aggregation="p95 of avg", rollup="1h", points=720),
                   recommendation=dict(builtin_library().get(check).spec.recommendation.as_dict()),
                   category=category, severity=severity, name={"zh": name[0], "en": name[1]},  # type: ignore[arg-type]
                   unknown_reason=unknown_reason)


def store_run(engine: Engine, profile: str, since: datetime, until: datetime, score: int,
              findings: dict[str, list[Finding]] | None = None, host_scores: dict[str, int] | None = None) -> int:
    """A completed run as the inspection service stores it."""
    findings = findings or {"web-01": [], "db-01": []}
    host_scores = host_scores or {"web-01": score, "db-01": score}
    request = RunRequest(customer_id="acme", profile_ref=profile, trigger="schedule")
    checklist = blank_rows() if profile == "monthly" else []
    run_id = runs.create_run(engine, request, profile, {"zh": "月度全面巡检" if profile == "monthly" else "日常巡检",
                                                          "en": profile}, ["resources.cpu_busy"], "test",
                             int(until.timestamp() * 1000), checklist=checklist)
    runs.mark_started(engine, run_id, int(until.timestamp() * 1000), since, until, None, len(findings))
    result = InspectionResult(
        profile=profile, since=since, until=until, evaluated_at=until, previous_run_at=None,
        hosts=[HostResult(h, h, "acme", host_scores[h], fs) for h, fs in findings.items()],
        customers=[CustomerScore("acme", score, len(findings), "db-01", {})], checks=[
            "resources.cpu_busy", "resources.disk_space", "logs.oom_kills", "security.backup_freshness"])
    runs.save_result(engine, run_id, result, int(until.timestamp() * 1000) + 60_000)
    return run_id


def make_runs(engine: Engine) -> dict[str, int]:
    sep_since, sep_until = datetime(2026, 9, 1, 2, tzinfo=TZ), datetime(2026, 10, 1, 2, tzinfo=TZ)
    sep = {
        "web-01": [
            _finding("web-01", "resources.cpu_busy", "resources", "", "ok", 40.0, 80.0, 95.0, "medium", "%",
                     ("CPU 使用率", "CPU busy"), sep_since, sep_until),
            _finding("web-01", "resources.disk_space", "resources", "/", "ok", 40.0, 80.0, 90.0, "high", "%",
                     ("磁盘空间", "Disk space"), sep_since, sep_until),
        ],
        "db-01": [
            _finding("db-01", "resources.disk_space", "resources", "/data", "warning", 86.8, 80.0, 90.0, "high", "%",
                     ("磁盘空间", "Disk space"), sep_since, sep_until),
            _finding("db-01", "logs.oom_kills", "system_logs", "", "critical", 3.0, 1.0, 1.0, "high", "count",
                     ("内存溢出终止进程", "OOM kills"), sep_since, sep_until),
            _finding("db-01", "security.backup_freshness", "data_security", "", "unknown", None, 26.0, 50.0,
                     "high", "h", ("备份时效", "Backup freshness"), sep_since, sep_until,
                     unknown_reason="no backup probe configured"),
        ],
    }
    out = {
        "daily-jul": store_run(engine, "daily", datetime(2026, 7, 9, 6, tzinfo=TZ), datetime(2026, 7, 10, 6, tzinfo=TZ),
                               90),
        "monthly-aug": store_run(engine, "monthly", datetime(2026, 8, 1, 2, tzinfo=TZ),
                                 datetime(2026, 9, 1, 2, tzinfo=TZ), 80),
        "daily-aug": store_run(engine, "daily", datetime(2026, 8, 19, 6, tzinfo=TZ),
                               datetime(2026, 8, 20, 6, tzinfo=TZ), 85),
        "daily-sep": store_run(engine, "daily", datetime(2026, 9, 14, 6, tzinfo=TZ),
                               datetime(2026, 9, 15, 6, tzinfo=TZ), 75),
        "monthly-sep": store_run(engine, "monthly", sep_since, sep_until, 71, sep, {"web-01": 100, "db-01": 45}),
    }
    runs.set_checklist(engine, out["monthly-sep"], [("manual.device_appearance", "ok", "外观正常"),
                                                    ("manual.screen", "issue", "屏幕偏暗")],
                       "engineer-wang", int(datetime(2026, 10, 1, 10, tzinfo=TZ).timestamp() * 1000))
    return out


def make_tickets(engine: Engine, cfg: CollectorConfig, clock: FakeClock, tickets_cfg: TicketsConfig
                 ) -> dict[str, TicketRecord]:
    """Five tickets of the quarter (software-plan profile, 7×24; L1 respond 2 h / restore 4 h,
    L2 4 h / 12 h, L3 12 h / 24 h):

    - T1 10:00 5 Jul, L1 network/config_error, manual: acked +30 min, resolved +3 h, rated 5/5/5;
    - T2 09:00 1 Aug, L3 inspection signal db-01 disk.usage /data: acked +2 h, resolved +10 h;
    - T3 09:00 20 Aug, the same signal again (a repeat of T2, 18 d 14 h after its resolution):
      acked +14 h (breach), resolved +30 h (breach), rated 4/4/3;
    - T4 10:00 10 Sep, L2 software/software_defect, manual: acked +1 h, resolved +6 h, rated 5/4/4;
    - T5 09:00 28 Sep, L3 manual, never acked: still open at the quarter's end.
    """
    svc = TicketService(engine, tickets_cfg, {c.id: c for c in cfg.customers}, clock)
    at = clock.set
    closure = Closure(cause="根因", solution="方案", prevention="预防", short_term="临时", long_term="长期")
    out: dict[str, TicketRecord] = {}

    def manual(when: datetime, title: str, severity: Severity, host: str) -> int:
        at(when)
        return svc.create_manual("engineer-wang", ManualTicket(customer_id="acme", title=title, severity=severity,
                                                               host_id=host)).id

    def signal(when: datetime) -> int:
        at(when)
        report = svc.ingest([Signal(source=Source.INSPECTION, check_id="disk.usage", subject="/data", firing=True,
                                    observed_at=when, host_id="db-01", customer_id="acme", severity=Severity.L3,
                                    title="db-01 /data 磁盘空间不足")])
        return report.opened[0]

    def work(ticket: int, start: datetime, ack_h: float, resolve_h: float, fault: str, cause: str,
             rating: tuple[float, float, float] | None) -> None:
        at(start + timedelta(minutes=5))
        svc.classify(ticket, "engineer-wang", fault_type=fault, cause=cause)
        at(start + timedelta(hours=ack_h))
        svc.ack(ticket, "engineer-wang")
        at(start + timedelta(hours=resolve_h))
        svc.resolve(ticket, "engineer-wang", closure=closure)
        if rating is not None:
            at(start + timedelta(hours=resolve_h + 20))
            svc.rate(ticket, "customer", Satisfaction(*rating))

    t1_at = datetime(2026, 7, 5, 10, tzinfo=TZ)
    t1 = manual(t1_at, "网络中断", Severity.L1, "web-01")
    work(t1, t1_at, 0.5, 3, "network", "config_error", (5, 5, 5))
    t2_at = datetime(2026, 8, 1, 9, tzinfo=TZ)
    t2 = signal(t2_at)
    work(t2, t2_at, 2, 10, "hardware", "hardware_problem", None)
    t3_at = datetime(2026, 8, 20, 9, tzinfo=TZ)
    t3 = signal(t3_at)
    work(t3, t3_at, 14, 30, "hardware", "hardware_problem", (4, 4, 3))
    t4_at = datetime(2026, 9, 10, 10, tzinfo=TZ)
    t4 = manual(t4_at, "数据库响应慢", Severity.L2, "db-01")
    work(t4, t4_at, 1, 6, "software", "software_defect", (5, 4, 4))
    t5 = manual(datetime(2026, 9, 28, 9, tzinfo=TZ), "证书即将过期", Severity.L3, "web-01")
    for name, ticket in (("T1", t1), ("T2", t2), ("T3", t3), ("T4", t4), ("T5", t5)):
        out[name] = svc.get(ticket)
    clock.set(NOW)
    return out


def build_dataset(tmp: Path) -> Dataset:
    cfg = CollectorConfig.model_validate(CONFIG)
    engine = open_store(tmp / "patrol.sqlite")
    sync_customers(engine, cfg)
    ingest(engine, _messages(), NOW.timestamp(), track=False)
    clock = FakeClock(NOW)
    tickets_cfg = TicketsConfig()
    run_ids = make_runs(engine)
    # The predictions job's pass at the quarter's end: the runs the September and Q3 reports show.
    predict_and_store(engine, Q_END.timestamp(), RETENTION)
    tickets = make_tickets(engine, cfg, clock, tickets_cfg)
    return Dataset(engine, cfg, clock, tickets_cfg, tickets, run_ids)
