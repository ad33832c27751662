"""The demo's past monthly inspections: each calendar month inside the loaded history, as the provider
would have run it — the automatic checks through the collector's API, the manual checklist filled in
on site and, where the inspection found something the engineer could fix there and then, the fix
recorded (系统维护记录表); what needs parts or the customer's go-ahead stays in the maintenance memo
(系统维护备忘录) with its follow-up ticket acknowledged and the plan noted. The simulator gives each
customer last month's incidents for this (a process killed for want of memory, a disk throwing I/O
errors), so the reports of those months read like a provider's deliverables.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from collector.cli.client import ApiClient, ApiError
from collector.cli.inspections import start_run, wait_for_run
from reports.periods import Period

# (item, result, remark zh, remark en): what the engineer found on site.
CHECKLIST: tuple[tuple[str, str, str, str], ...] = (
    ("manual.device_appearance", "ok", "外观完好", "no damage"),
    ("manual.indicator_lights", "ok", "无告警灯", "no alarm lights"),
    ("manual.cabling", "ok", "线缆标签清晰", "cables seated and labelled"),
    ("manual.power_ups", "ok", "UPS 自检通过,电池余量 100%", "UPS self-test passed, battery at 100 %"),
    ("manual.environment", "ok", "机房温度 23 ℃,湿度 45%", "room at 23 °C, 45 % humidity"),
    ("manual.fan_noise", "ok", "风扇无异响", "fans quiet"),
    ("manual.screen", "not_applicable", "服务器无显示器", "servers have no screen"),
    ("manual.cleaning", "ok", "机柜防尘网积灰,已现场清理", "rack dust filter was clogged; cleaned on site"),
    ("manual.peripherals", "not_applicable", "无外设", "no peripherals"),
    ("manual.business_function", "ok", "与业务人员抽查下单与查询功能正常", "order entry and queries checked "
     "with the users"),
    ("manual.backup_restore", "ok", "抽取上周备份恢复验证成功", "last week's backup restored as a test"),
    ("manual.physical_security", "ok", "机柜门锁与资产标签完好", "rack locks and asset tags in place"),
)
# The fix an engineer made on the spot for a finding of the month, by check: symptom, analysis, steps.
FIXES: dict[str, tuple[tuple[str, str, str], tuple[str, str, str]]] = {
    "resources.disk_space": (
        ("分区使用率超过告警线", "历史日志与临时导出文件占用空间", "清理 30 天前的临时导出文件并压缩历史日志"),
        ("the partition was above its warning level", "old logs and temporary exports filled it",
         "removed temporary exports older than 30 days and compressed old logs")),
    "security.failed_logins": (
        ("SSH 登录失败次数激增", "来自单一外部地址的口令爆破", "在防火墙封禁该地址并关闭 SSH 口令登录"),
        ("a surge of failed SSH logins", "password guessing from one outside address",
         "blocked the address at the firewall and turned SSH password logins off")),
    "logs.oom_kills": (
        ("夜间报表任务运行时进程被内核以内存耗尽 (OOM) 终止", "报表任务未限制内存，与业务高峰重叠时耗尽内存",
         "为报表任务设置内存上限 (systemd MemoryMax=4G)，改到凌晨 2 点执行，并确认业务服务已恢复"),
        ("processes were killed by the kernel's OOM killer while the evening report job ran",
         "the report job had no memory limit and overlapped the business peak",
         "capped the report job's memory (systemd MemoryMax=4G), moved it to 02:00 and confirmed the service "
         "recovered")),
    "logs.error_rate": (
        ("应用错误日志增多", "数据库连接池在高峰期耗尽", "调大连接池并重启应用服务"),
        ("more application errors", "the database connection pool ran dry at the peak",
         "enlarged the pool and restarted the application service")),
}


# What the engineer notes on the follow-up ticket of a problem left in the memo, by check.
FOLLOW_UPS: dict[str, tuple[str, str]] = {
    "logs.disk_io_errors": ("磁盘出现 I/O 错误，现场无备件：已申请同型号硬盘，待客户确认停机窗口后更换并重建 RAID",
                            "the disk throws I/O errors and no spare was on site: a replacement of the same model is "
                            "ordered and goes in, with a RAID rebuild, in a window the customer approves"),
}


def past_months(now: datetime, history: timedelta, timezone: str) -> list[str]:
    """The calendar months (in ``timezone``) that lie wholly inside the history before ``now``."""
    tz = ZoneInfo(timezone)
    month = Period.containing("monthly", now, tz).previous()
    out = []
    while month.start(tz) >= now - history:
        out.append(str(month))
        month = month.previous()
    return sorted(out)


def _fill(client: ApiClient, run_id: int, language: str) -> None:
    zh = language == "zh"
    client.request("PUT", f"/api/v1/inspections/{run_id}/checklist", json={"rows": [
        {"item_id": item, "result": result, "remark": remark_zh if zh else remark_en}
        for item, result, remark_zh, remark_en in CHECKLIST]})


def _fix_one(client: ApiClient, run: dict[str, Any], language: str) -> bool:
    """Record an on-site fix for the run's first problem the engineer could fix there; False if none."""
    names = {h["host_id"]: h["hostname"] for h in run.get("hosts", [])}
    for finding in run.get("findings", []):
        texts = FIXES.get(finding["check_id"])
        if texts is None or finding["status"] not in ("warning", "critical"):
            continue
        symptom, analysis, steps = texts[0] if language == "zh" else texts[1]
        host = names.get(finding["host_id"], finding["host_id"])
        ref = ":".join(p for p in (host, finding["check_id"], finding.get("subject") or "") if p)
        try:
            client.post(f"/api/v1/inspections/{run['id']}/fixes",
                        json={"finding": ref, "symptom": symptom, "analysis": analysis, "steps": steps})
        except ApiError:
            continue
        return True
    return False


def _follow_up(client: ApiClient, run_id: int, language: str) -> bool:
    """Acknowledge the follow-up ticket of the run's first memo item the engineer has a plan for, with the
    plan as its note; False if there is none."""
    for item in client.get(f"/api/v1/inspections/{run_id}/memo"):
        texts = FOLLOW_UPS.get(item["check_id"])
        if texts is None or item["ticket_id"] is None or item["ticket_state"] != "registered":
            continue
        client.post(f"/api/v1/tickets/{item['ticket_id']}/ack", json={"note": texts[0] if language == "zh"
                                                                       else texts[1]})
        return True
    return False


def run_past_inspections(client: ApiClient, customers: list[dict[str, object]], now: datetime,
                         history: timedelta) -> dict[str, int]:
    """Inspect every whole month of the history for each customer, checklist filled in and, in the
    last month, one finding fixed on the spot and one left for a follow-up ticket where there are
    such; the last month's run id per customer."""
    last: dict[str, int] = {}
    for customer in customers:
        cid, language = str(customer["id"]), str(customer["language"])
        months = past_months(now, history, str(customer["timezone"]))
        for month in months:
            run = wait_for_run(client, int(start_run(client, cid, "monthly", None, trigger="api", period=month)["id"]),
                               show_progress=False, timeout=600)
            if run["status"] != "completed":
                raise ApiError(f"the demo's {month} inspection of {cid} ended {run['status']}: {run.get('error')}")
            _fill(client, int(run["id"]), language)
            last[cid] = int(run["id"])
        if cid in last:
            _fix_one(client, client.get(f"/api/v1/inspections/{last[cid]}", findings="problems"), language)
            _follow_up(client, last[cid], language)
    return last
