"""A quarterly health report (季度健康报告) as a PDF for a 100-host customer, from the real store.

A fresh SQLite store is filled through the collector's real paths: a quarter of samples (CPU with a
daily cycle, memory, two disks of which some fill up, swap; every 30 minutes, hourly with --quick)
through the ingest writer, an inspection run per month with findings for every host stored as the
inspection service stores them, and tickets opened, worked and rated through the ticket service.
The compaction job then packs the completed days of hourly rollups into blocks, as a running
collector's hourly job would have done long before the quarter's report (``--live-rows`` skips it:
a store before its first compaction, every hourly bucket a row). The predictions job's pass at the
quarter's end stores the forecast runs the reports show (each timed on its own). Report fonts and
WeasyPrint are loaded once before anything is timed, as in the long-running report service. Then
the timed part, as the collector's report service does it: build the model from
the store, render HTML, lay out the PDF, for the quarterly report and for the monthly report of the
quarter's last month. Each is timed in wall seconds and in this process's CPU seconds (SQLite runs in
it too); the CPU figure is the fairer one on a machine shared with other work, whose load averages
are printed before and after. Each timed part ends with a full garbage collection, so the cycles a
layout leaves behind are paid for by the report that made them.

    .venv/bin/python bench/reports.py [--quick] [--hosts 100] [--live-rows]

Headlines: ``monthly_pdf_seconds_100_hosts`` (target 8 s or less) and ``quarterly_pdf_seconds_100_hosts``
(target 4 s or less), each model + HTML + PDF, with their ``…_cpu_seconds_…`` beside them.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine

from collector.app import sync_customers
from collector.config import CollectorConfig
from collector.inspection import runs
from collector.inspection.runs import RunRequest
from collector.predictions.service import predict_and_store
from collector.reporting.builder import ReportBuilder
from collector.reporting.config import ReportsConfig
from collector.store.compaction import compact
from collector.tickets.config import TicketsConfig
from collector.tickets.model import Closure, Satisfaction, Severity, Signal, Source
from collector.tickets.service import ManualTicket, TicketService
from inspections import CustomerScore, Evidence, Finding, HostResult, InspectionResult, SeriesRef, Threshold, blank_rows
from inspections.checks.library import builtin_library
from reports import Period, render_html
from reports.render import html_to_pdf
from tests.collector_inspection.store import RETENTION, hello, ingest, open_store, samples

TZ = ZoneInfo("Asia/Shanghai")
QUARTER = Period.parse("2026Q3")
Q_START, Q_END = QUARTER.bounds(TZ)
NOW = Q_END + timedelta(days=1, hours=10)
CHECKS = [("resources.cpu_busy", "resources", "", "%", 80.0, 95.0), ("resources.memory_available", "resources", "",
                                                                   "%", 15.0, 5.0),
          ("resources.disk_space", "resources", "/", "%", 80.0, 90.0),
          ("resources.disk_space", "resources", "/data", "%", 80.0, 90.0),
          ("device.availability", "device_network", "", "%", 99.0, 95.0),
          ("network.interface_errors", "device_network", "eth0", "count", 1.0, 100.0),
          ("app.processes", "application", "nginx", "count", 1.0, 1.0),
          ("logs.oom_kills", "system_logs", "", "count", 1.0, 3.0),
          ("security.backup_freshness", "data_security", "/backup", "h", 26.0, 50.0),
          ("security.tls_expiry", "data_security", "/etc/ssl/site.pem", "days", 30.0, 7.0)]
WARM_UP = '<html lang="zh-CN"><body><p>预热 warm-up</p></body></html>'
# Names and advice as a real run takes them from the check catalogue.
LIBRARY = {check.spec.id: check.spec for check in builtin_library()}


def _samples(hosts: int, step: int) -> Iterator[tuple[str, bytes]]:
    rng = random.Random(7)
    growth = {f"host-{i:03d}": (0.45 if i % 10 == 0 else rng.uniform(0.0, 0.08)) for i in range(hosts)}
    for i in range(hosts):
        yield hello(f"host-{i:03d}", "bigcorp", f"host-{i:03d}")
    seq: dict[str, int] = {}
    day = Q_START
    while day < NOW:
        times = [day + timedelta(seconds=s) for s in range(0, 86400, step) if day + timedelta(seconds=s) < NOW]
        for i in range(hosts):
            host = f"host-{i:03d}"
            if i % 25 == 3 and datetime(2026, 8, 10, tzinfo=TZ) <= day < datetime(2026, 8, 11, tzinfo=TZ):
                continue  # a day-long outage on a few hosts
            seq[host] = seq.get(host, 0) + 1
            base = 20 + (i % 7) * 8
            days = [(t - Q_START).total_seconds() / 86400 for t in times]
            series = [
                ("cpu.busy_percent", {}, [(t.timestamp(), max(0.0, base + 15 * math.sin(2 * math.pi * (d % 1))
                                                              + rng.gauss(0, 3))) for t, d in zip(times, days,
                                                                                                   strict=True)]),
                ("mem.used_percent", {}, [(t.timestamp(), 45 + (i % 5) * 6 + rng.gauss(0, 1)) for t in times]),
                ("disk.used_percent", {"mount": "/", "device": "/dev/vda1", "fstype": "ext4"},
                 [(t.timestamp(), 35 + (i % 3) * 5) for t in times]),
                ("disk.used_percent", {"mount": "/data", "device": "/dev/vdb1", "fstype": "xfs"},
                 [(t.timestamp(), 40 + growth[host] * d + rng.gauss(0, 0.05)) for t, d in zip(times, days,
                                                                                               strict=True)]),
                ("swap.used_percent", {}, [(t.timestamp(), 2.0 + (i % 4)) for t in times]),
            ]
            yield samples(host, seq[host], series)
        day += timedelta(days=1)


def _runs(engine: Engine, hosts: int) -> None:
    rng = random.Random(11)
    for month in QUARTER.months():
        since = month.start(TZ).replace(hour=2)
        until = month.end(TZ).replace(hour=2)
        results = []
        for i in range(hosts):
            host = f"host-{i:03d}"
            findings = []
            for check, category, subject, unit, warn, crit in CHECKS:
                status = rng.choices(["ok", "warning", "critical", "unknown"], [0.85, 0.08, 0.04, 0.03])[0]
                findings.append(Finding(
                    host_id=host, check_id=check, subject=subject, status=status,  # type: ignore[arg-type]
                    observed=None if status == "unknown" else round(rng.uniform(0, 100), 1),
                    threshold=Threshold(warn, crit, "above"), unit=unit,
                    evidence=Evidence("rollups", (SeriesRef("cpu.busy_percent"),), since, until, "p95 of avg", "1h",
                                      720),
                    recommendation=LIBRARY[check].recommendation.as_dict(), category=category,  # type: ignore[arg-type]
                    severity="medium", name=LIBRARY[check].name.as_dict(),
                    unknown_reason="no data in the window" if status == "unknown" else None))
            results.append(HostResult(host, host, "bigcorp", rng.randint(40, 100), findings))
        score = rng.randint(60, 90)
        name = {"zh": "月度全面巡检", "en": "Monthly full inspection"}
        run_id = runs.create_run(engine, RunRequest("bigcorp", "monthly", "schedule"), "monthly", name,
                                 [c[0] for c in CHECKS], "bench", int(until.timestamp() * 1000), checklist=blank_rows())
        runs.mark_started(engine, run_id, int(until.timestamp() * 1000), since, until, None, hosts)
        runs.save_result(engine, run_id, InspectionResult("monthly", since, until, until, None, results,
                                                          [CustomerScore("bigcorp", score, hosts, None, {})],
                                                          [c[0] for c in CHECKS]), int(until.timestamp() * 1000))


class _Clock:
    def __init__(self) -> None:
        self.t = NOW.timestamp()

    def __call__(self) -> float:
        return self.t


# What a quarter's resolved tickets record: a dozen ways faults were fixed, most of them more than once.
CLOSURES = [
    ("应用日志未轮转，/data 写满", "清理过期日志并压缩归档", "配置 logrotate 按天轮转并保留 14 天",
     "临时迁移归档至备份盘", ""),
    ("数据库慢查询拖垮连接池", "为订单表补建联合索引", "上线前执行 SQL 评审", "", "引入慢查询周报"),
    ("RAID 卡电池老化，写缓存关闭", "更换 RAID 卡电池", "按季度检查电池健康", "", "电池纳入备件计划"),
    ("交换机端口光模块松动", "重新插拔并更换光模块", "巡检时检查光功率", "", ""),
    ("内存泄漏导致 OOM", "升级应用至修复版本", "监控堆内存增长趋势", "每日凌晨重启应用", "推动厂商修复内存泄漏"),
    ("证书过期", "更新证书并重启服务", "证书到期前 30 天提醒", "", "证书统一纳管"),
    ("NTP 不同步导致认证失败", "修正 NTP 服务器配置", "监控时钟偏移", "", ""),
    ("磁盘坏道", "更换硬盘并重建阵列", "监控 SMART 重新分配扇区数", "", ""),
    ("配置变更未同步到备机", "同步配置并验证切换", "变更后执行主备一致性检查", "", "建立配置基线"),
    ("计划任务重复执行占满 CPU", "修正 crontab 并加锁", "计划任务上线前评审", "", ""),
    ("防火墙策略误删", "恢复策略并验证业务", "策略变更双人复核", "", ""),
    ("备份任务失败未发现", "修复备份脚本并补做全量备份", "每日检查备份结果", "", "备份恢复演练每季度一次"),
]


def _tickets(engine: Engine, cfg: CollectorConfig, count: int) -> None:
    rng = random.Random(5)
    clock = _Clock()
    svc = TicketService(engine, TicketsConfig(), {c.id: c for c in cfg.customers}, clock)
    start = Q_START.timestamp()
    for n in range(count):
        at = start + (n + 0.5) * (Q_END.timestamp() - start) / count
        clock.t = at
        host = f"host-{rng.randrange(100):03d}"
        if n % 3:
            request = ManualTicket("bigcorp", f"故障 {n}", severity=rng.choice(list(Severity)), host_id=host)
            ticket = svc.create_manual("engineer", request).id
        else:
            report = svc.ingest([Signal(Source.INSPECTION, "disk.usage", "/data", True,
                                        datetime.fromtimestamp(at, tz=TZ), host_id=host, customer_id="bigcorp",
                                        severity=Severity.L3, title=f"{host} /data 空间不足")])
            if not report.opened:
                continue
            ticket = report.opened[0]
        clock.t = at + 300
        svc.classify(ticket, "engineer", fault_type=rng.choice(["hardware", "software", "network"]),
                     cause=rng.choice(["software_defect", "config_error", "hardware_problem"]))
        if n % 7 == 6:
            continue  # left open
        clock.t = at + rng.uniform(0.2, 16) * 3600
        svc.ack(ticket, "engineer")
        clock.t += rng.uniform(1, 30) * 3600
        disk_full = n % 3 == 0  # the inspection's /data tickets
        svc.resolve(ticket, "engineer", closure=Closure(*(CLOSURES[0] if disk_full else rng.choice(CLOSURES[1:]))))
        if n % 2:
            clock.t += 3600
            svc.rate(ticket, "customer", Satisfaction(rng.randint(3, 5), rng.randint(3, 5), rng.randint(3, 5)))


def _pages(pdf: Path) -> int | None:
    try:
        out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return next((int(line.split()[1]) for line in out.splitlines() if line.startswith("Pages:")), None)


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="hourly samples and fewer tickets; one measurement")
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--keep", type=Path, help="write the rendered reports into this folder")
    ap.add_argument("--live-rows", action="store_true", help="no compaction: every hourly bucket stays a live row")
    args = ap.parse_args()
    step = 3600 if args.quick else 1800
    rounds = 1 if args.quick else 3
    cfg = CollectorConfig.model_validate({"insecure": True, "customers": [
        {"id": "bigcorp", "name": "某大型集团有限公司", "timezone": "Asia/Shanghai", "language": "zh",
         "contacts": [{"name": "王五", "email": "it@bigcorp.example"}]}]})
    with tempfile.TemporaryDirectory() as tmp:
        engine = open_store(Path(tmp) / "patrol.sqlite")
        sync_customers(engine, cfg)
        t0 = time.perf_counter()
        ingest(engine, _samples(args.hosts, step), NOW.timestamp(), track=False)
        _runs(engine, args.hosts)
        _tickets(engine, cfg, 60 if args.quick else 200)
        print(f"filled {args.hosts} hosts, a quarter at {step // 60}-minute steps, runs and tickets in "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
        if not args.live_rows:
            t_compact = time.perf_counter()
            done = compact(engine, NOW.timestamp())
            print(f"compaction: {done.buckets} hourly rows of {done.series} series packed into {done.blocks} blocks "
                  f"in {time.perf_counter() - t_compact:.1f} s", flush=True)
        # The predictions job's pass at the quarter's end: the reports show its stored forecast runs.
        t_pass = time.perf_counter()
        forecasts, anomalies, _ = predict_and_store(engine, Q_END.timestamp(), RETENTION)
        pass_s = time.perf_counter() - t_pass
        print(f"predictions pass: {len(forecasts)} forecasts and {len(anomalies)} anomaly states stored in "
              f"{pass_s:.2f} s", flush=True)
        builder = ReportBuilder(engine, RETENTION, TicketsConfig(), ReportsConfig(provider="基准测试服务商"), _Clock())
        figures: dict[str, list[float]] = {k: [] for k in ("model", "html", "pdf", "cpu", "monthly", "monthly_cpu")}
        pdf_bytes = monthly_pdf = b""
        html_to_pdf(WARM_UP)  # loads WeasyPrint and the fonts, once per process
        load_before = _load()
        for _ in range(rounds):
            gc.collect()
            t1, c1 = time.perf_counter(), time.process_time()
            model = builder.build("bigcorp", QUARTER)
            t2 = time.perf_counter()
            html = render_html(model, "zh")
            t3 = time.perf_counter()
            pdf_bytes = html_to_pdf(html)
            del model, html
            gc.collect()
            t4 = time.perf_counter()
            figures["cpu"].append(time.process_time() - c1)
            figures["model"].append(t2 - t1)
            figures["html"].append(t3 - t2)
            figures["pdf"].append(t4 - t3)
            t5, c5 = time.perf_counter(), time.process_time()
            monthly_pdf = html_to_pdf(render_html(builder.build("bigcorp", QUARTER.months()[-1]), "zh"))
            gc.collect()
            figures["monthly"].append(time.perf_counter() - t5)
            figures["monthly_cpu"].append(time.process_time() - c5)
        load_after = _load()
        out = args.keep or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        (out / "quarterly-bigcorp.pdf").write_bytes(pdf_bytes)
        (out / "monthly-bigcorp.pdf").write_bytes(monthly_pdf)
        pages = _pages(out / "quarterly-bigcorp.pdf")
        monthly_pages = _pages(out / "monthly-bigcorp.pdf")

        def best(name: str) -> float:
            return sorted(figures[name])[len(figures[name]) // 2]

        total = best("model") + best("html") + best("pdf")
        print(f"quarterly: model {best('model'):.2f} s, HTML {best('html'):.2f} s, PDF layout {best('pdf'):.2f} s, "
              f"{total:.2f} s in all ({best('cpu'):.2f} CPU-s in this process; SQLite runs in it too), {pages} pages, "
              f"{len(pdf_bytes) / 2**20:.1f} MiB; monthly (model + HTML + PDF) {best('monthly'):.2f} s "
              f"({best('monthly_cpu'):.2f} CPU-s), {monthly_pages} pages, {len(monthly_pdf) / 2**20:.1f} MiB "
              f"(median of {rounds}); {'live hourly rows' if args.live_rows else 'compacted store'}; load average "
              f"{load_before} before, {load_after} after")
        print(f"predictions_pass_seconds_{args.hosts}_hosts={pass_s:.2f}")
        print(f"quarterly_model_seconds_{args.hosts}_hosts={best('model'):.2f}")
        print(f"monthly_pdf_cpu_seconds_{args.hosts}_hosts={best('monthly_cpu'):.2f}")
        print(f"monthly_pdf_seconds_{args.hosts}_hosts={best('monthly'):.2f}")
        print(f"quarterly_pdf_cpu_seconds_{args.hosts}_hosts={best('cpu'):.2f}")
        print(f"quarterly_pdf_seconds_{args.hosts}_hosts={total:.2f}")


if __name__ == "__main__":
    main()
