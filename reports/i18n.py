"""Report texts in Chinese (zh-CN) and English, and numbers, dates and durations formatted per locale.

Every fixed text of a report lives in :data:`STRINGS`; both languages must define the same keys
(checked by the tests). Times are shown in the customer's time zone, which the cover names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any, Literal

from reports.periods import Period

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
NONE = "—"
# Units of the check catalogue as a Chinese reader writes them after a number.
UNITS_ZH: Mapping[str, str] = {
    "reboots": " 次", "events": " 次", "events/h": " 次/小时", "attempts/h": " 次/小时", "per core": "（每核）",
    "days": " 天", "h": " 小时", "s": " 秒", "ms": " 毫秒", "1 = matches": "（1 表示一致）", "°C": " ℃",
}

_EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
              "November", "December")
_ZH_QUARTERS = ("一", "二", "三", "四")

# The four headings of the quarterly report, verbatim from the service contracts (§4).
QUARTERLY_HEADINGS = ("设备的整体运行情况", "设备的故障分析及改进措施", "服务的整体情况", "下一步的工作计划及建议")

STRINGS: dict[Lang, dict[str, str]] = {
    "zh": {
        "monthly_title": "巡检报告",
        "colon": "：",
        "mail_subject": "{customer} {period}{title}",
        "mail_greeting": "{customer}：",
        "mail_intro": "附件是 {period}的{title}。",
        "mail_score": "本期健康分：{score}",
        "mail_counts": "巡检结果：正常 {ok} 项，警告 {warning} 项，严重 {critical} 项",
        "mail_availability": "设备平均可用率：{pct}",
        "mail_attachments": "附件及其 SHA-256 校验值：",
        "sep": "；",
        "risk_kind": "类型",
        "period_range": "{name}（{start} 至 {end}）",
        "name_id": "{name}（{id}）",
        "observed_line": "{value}（阈值：{threshold}）；级别：{severity}",
        "quarterly_title": "季度健康报告",
        "customer": "客户",
        "period": "报告周期",
        "provider": "服务商",
        "contract": "服务合同",
        "sla_level": "服务级别",
        "service_window": "服务时间",
        "provider_contacts": "服务热线",
        "generated": "生成时间",
        "timezone": "时区",
        "hosts_covered": "纳入统计的设备",
        "partial": "本周期尚未结束，数据截至 {until}。",
        "uninspected": "本周期没有完成的巡检：本报告不含巡检结论，仅汇总监控数据和工单。",
        "contents": "目录",
        "page": "第 {page} 页",
        "page_of": "第 {page} 页，共 {pages} 页",
        # monthly sections
        "summary": "执行摘要",
        "checks": "巡检项",
        "findings": "问题与建议",
        "forecasts": "预测性风险",
        "tickets": "工单",
        "checklist": "人工检查项",
        "charts": "资源使用图表",
        "health_score": "健康分",
        "previous_score": "上期",
        "score_change": "变化",
        "score_trend": "健康分趋势",
        "no_run": "本周期没有已完成的月度巡检，因此没有巡检项、问题和人工检查项的结论。",
        "inspection_run": "巡检：{name}，第 {run} 次运行，统计区间 {since} 至 {until}",
        "count_ok": "正常",
        "count_warning": "警告",
        "count_critical": "严重",
        "count_unknown": "无法判断",
        "top_risks": "主要风险",
        "exec_summary": "执行摘要",
        "quarter_score": "本季度平均健康分",
        "vs_last_quarter": "较上季度 {change}",
        "tickets_registered": "登记工单",
        "respond_sla": "响应达标率",
        "score_by_quarter": "近四个季度的健康分",
        "score_one_quarter": "本季度平均健康分 {score}；此前的季度没有巡检记录。",
        "risk_forecast_line": "{host} 的{what}预计于 {eta} 达到上限",
        "next_we_do": "下一步我们将",
        "no_risks": "本周期未发现需要关注的风险。",
        "risk_forecast": "预计 {when} 达到上限",
        "host": "设备",
        "check": "检查项",
        "subject": "对象",
        "status": "状态",
        "observed": "观测值",
        "threshold": "阈值",
        "severity": "级别",
        "warn": "警告",
        "crit": "严重",
        "skipped": "不适用的检查项：{items}",
        "checks_defined": "检查项及判定阈值",
        "checks_by_device": "各设备的巡检结果",
        "threshold_varies": "部分设备另有阈值，见该设备的结果",
        "own_threshold": "（本设备阈值：{threshold}）",
        "ok_rest": "其余 {n} 项正常：{items}。",
        "ok_all": "全部 {n} 项正常：{items}。",
        "list_sep": "，",
        "evidence": "依据",
        "recommendation": "建议",
        "note": "说明",
        "unknown_reason": "原因",
        "no_findings": "所有检查项均正常。",
        "unknowns": "无法判断的检查项",
        "evidence_rollups": "{series} 在 {since} 至 {until} 的 {aggregation}（{points} 个数据点）",
        "evidence_latest": "{series} 的最新值（{at}）",
        "evidence_events": "{since} 至 {until} 的相关日志事件",
        "evidence_host": "设备连接记录",
        "what": "预测对象",
        "current": "当前",
        "growth": "增长",
        "per_day": "{value}/天",
        "eta": "预计到达上限",
        "band": "区间",
        "forecast_none": "未来 {days} 天内没有预计会达到上限的容量指标。",
        "forecast_note": "按截至 {at} 的数据预测；区间为 90% 置信区间。",
        "ticket_id": "编号",
        "title": "标题",
        "state": "状态",
        "ticket": "工单",
        "level_state": "级别 · 状态",
        "created": "登记时间",
        "resolved": "解决时间",
        "sla": "SLA",
        "no_tickets": "本周期没有新登记或已解决的工单。",
        "tickets_summary": "本周期新登记 {opened} 张，解决 {resolved} 张，期末未关闭 {open} 张；SLA 达标率 {pct}。",
        "item": "项目",
        "guidance": "检查方法",
        "result": "结果",
        "remark": "备注",
        "checked_by": "检查人",
        "maintenance_record": "系统维护记录表",
        "symptom": "问题现象",
        "analysis": "分析",
        "fix_steps": "排除步骤",
        "recorded_by": "记录人",
        "no_maintenance": "本次巡检没有现场排除的问题。",
        "not_filled": "未填写",
        "no_checklist": "本周期没有人工检查记录。",
        "utilisation": "资源利用率（%）",
        "disk_growth": "磁盘使用率及预测（%）",
        "no_chart_data": "本周期没有数据。",
        "legend_cpu": "CPU 平均",
        "legend_mem": "内存平均",
        "legend_disk": "磁盘峰值",
        "legend_history": "历史",
        "legend_forecast": "预测",
        "legend_band": "预测区间",
        "legend_limit": "上限",
        "legend_score": "健康分",
        # quarterly sections
        "availability": "设备可用率",
        "availability_pct": "可用率",
        "down_hours": "停机时长（小时）",
        "hours_judged": "统计时长（小时）",
        "availability_full": "无停机、可用率 {pct} 的设备（统计 {hours} 小时，共 {n} 台）：{hosts}。",
        "fleet_availability": "全部设备平均可用率 {pct}。",
        "availability_note": "可用率按小时统计：一小时内没有收到任何数据记为停机，部分缺失按比例计。",
        "resource_trends": "资源趋势",
        "fleet_trend": "全部设备每日资源使用（%）",
        "trends_note": "各列依次为本季度各月的数值（%）。",
        "cpu_avg": "CPU 平均",
        "cpu_peak": "CPU 峰值",
        "mem_avg": "内存平均",
        "mem_peak": "内存峰值",
        "disk_peak": "磁盘峰值",
        "month": "月份",
        "score_by_month": "各月平均健康分",
        "no_scores": "本季度没有已完成的巡检。",
        "fault_overview": "本季度登记工单 {tickets} 张，已解决 {resolved} 张，平均修复时间（MTTR）{mttr}。",
        "by_type": "按故障类型",
        "by_cause": "按故障原因",
        "by_severity": "按严重级别",
        "by_source": "按来源",
        "count": "数量",
        "repeats": "90 天内重复故障",
        "repeat_rate": "重复故障率 {pct}（同一设备同一问题在 90 天内再次发生）。",
        "no_repeats": "本季度没有 90 天内的重复故障。",
        "previous_ticket": "前次工单",
        "days_between": "间隔（天）",
        "mttr": "平均修复时间（MTTR）",
        "mttr_by_severity": "各级别平均修复时间",
        "resolved_count": "已解决",
        "measures": "改进措施",
        "measures_note": "采取相同措施的工单合并为一行，按次数从多到少排列。",
        "measure_tickets": "工单",
        "measure_count": "共 {n} 张",
        "measure_more_titles": " 等 {total} 项",
        "title_sep": "；",
        "cause": "问题原因",
        "solution": "解决方案",
        "prevention": "预防措施",
        "short_term": "临时性措施",
        "long_term": "长期性改进措施",
        "no_measures": "本季度没有记录改进措施的已解决工单。",
        "service_overview": "本季度共处理工单 {tickets} 张。",
        "sla_compliance": "SLA 达标情况",
        "clock": "时钟",
        "met": "达标",
        "breached": "超时",
        "running": "进行中",
        "not_applicable": "不适用",
        "compliance": "达标率",
        "times": "响应与解决时间",
        "mean": "平均",
        "median": "中位数",
        "p90": "90% 分位",
        "max": "最长",
        "times_note": "时间按服务时间窗口计算（窗口外和节假日不计）。",
        "satisfaction": "客户满意度",
        "satisfaction_line": "本季度共 {n} 份评价，综合满意度 {pct}，目标为大于 {target}：{verdict}。",
        "satisfaction_none": "本季度没有满意度评价，目标为大于 {target}。",
        "target_met": "达到目标",
        "target_missed": "未达到目标",
        "attitude": "服务态度",
        "quality": "服务质量",
        "resolution": "故障解决水平",
        "overall": "综合",
        "capacity_forecasts": "下季度容量预测",
        "capacity_none": "预计到 {until} 前没有容量指标达到上限。",
        "open_risks": "未关闭的风险",
        "no_open_risks": "季度末没有未关闭的工单或严重问题。",
        "since": "开始时间",
        "level": "级别",
        "kind_ticket": "工单",
        "kind_finding": "巡检问题",
        "title_hosts": "标题 · 设备",
        "recommendations": "工作计划及建议",
        "ticket_list": "工单明细",
        # vocabularies
        "status.ok": "正常",
        "status.warning": "警告",
        "status.critical": "严重",
        "status.unknown": "未知",
        "severity.low": "低",
        "severity.medium": "中",
        "severity.high": "高",
        "ticket_severity.L1": "一级",
        "ticket_severity.L2": "二级",
        "ticket_severity.L3": "三级",
        "ticket_severity.L4": "四级",
        "state.registered": "已登记",
        "state.classified": "已分类",
        "state.assigned": "已派单",
        "state.responded": "已响应",
        "state.diagnosing": "诊断中",
        "state.remote": "远程处理",
        "state.on_site": "现场处理",
        "state.workaround": "临时恢复",
        "state.resolved": "已解决",
        "state.customer_verified": "用户确认",
        "state.archived": "已归档",
        "state.surveyed": "已回访",
        "fault_type.hardware": "硬件故障",
        "fault_type.software": "软件故障",
        "fault_type.network": "网络故障",
        "fault_type.unclassified": "未分类",
        "cause.software_defect": "软件缺陷",
        "cause.config_error": "配置错误",
        "cause.hardware_problem": "硬件问题",
        "cause.unclassified": "未分类",
        "source.forecast": "容量预测",
        "source.anomaly": "异常检测",
        "source.inspection": "巡检",
        "source.offline": "设备离线",
        "source.manual": "人工登记",
        "clock.respond": "响应",
        "clock.on_site": "到场",
        "clock.restore": "恢复",
        "clock.resolve": "解决",
        "clock.plan": "书面方案",
        "outcome.met": "达标",
        "outcome.breached": "超时",
        "outcome.running": "进行中",
        "outcome.not_applicable": "不适用",
        "outcome.untracked": "不考核",
        "checklist.ok": "正常",
        "checklist.issue": "有问题",
        "checklist.not_applicable": "不适用",
        "direction.above": "≥",
        "direction.below": "<",
        # generated recommendations
        "rec.capacity": "{host} 的 {what} 预计于 {eta} 达到上限（最早 {eta_low}），请在此之前扩容或清理。",
        "rec.availability": "{host} 本季度可用率为 {pct}，停机约 {hours} 小时，建议排查停机原因并加强监控。",
        "rec.repeat": "{host} 的“{title}”在 90 天内重复发生 {count} 次，建议进行根因分析并落实长期改进措施。",
        "rec.sla": "{clock}时钟的 SLA 达标率为 {pct}，低于 {target}，建议检查值班安排和升级流程。",
        "rec.satisfaction": "客户满意度为 {pct}，未达到大于 {target} 的目标，建议回访客户并改进服务。",
        "rec.satisfaction_none": "本季度没有满意度评价，建议在每张工单关闭后请客户评价。",
        "rec.long_open": "有 {count} 张工单已超过 {days} 天未关闭，建议跟进或升级处理。",
        "rec.resource": "{host} 的 {resource} 月均使用率达到 {pct}，建议评估扩容或优化负载。",
        "rec.finding": "{name}（涉及 {hosts} 台设备）：{text}",
        "rec.keep": "设备运行平稳，建议保持现有巡检计划和服务安排。",
        "rec.open_tickets": "月末仍有 {count} 张工单未关闭，我们将逐一跟进直至解决。",
        "rec.inspect": "本月没有完成的巡检，我们将尽快安排巡检，并在下次报告中给出结论。",
        "envelope_note": "定期清空的分区（如每日轮转的日志分区）以阴影带显示每个轮转周期内的使用范围，"
                         "上沿为最高使用率。",
        "resource.cpu": "CPU",
        "resource.mem": "内存",
        "band.healthy": "良好",
        "band.attention": "关注",
        "band.at_risk": "风险",
        "maintenance_memo": "系统维护备忘录",
        "no_memo": "本次巡检没有遗留待跟进处理的问题。",
        "follow_up_ticket": "跟进工单",
    },
    "en": {
        "monthly_title": "Inspection report",
        "colon": ": ",
        "mail_subject": "{customer}: {title}, {period}",
        "mail_greeting": "Dear {customer},",
        "mail_intro": "Attached is the {title} for {period}.",
        "mail_score": "Health score: {score}",
        "mail_counts": "Inspection results: {ok} ok, {warning} warning, {critical} critical",
        "mail_availability": "Average availability of the devices: {pct}",
        "mail_attachments": "Attachments and their SHA-256 checksums:",
        "sep": "; ",
        "risk_kind": "Type",
        "period_range": "{name} ({start} – {end})",
        "name_id": "{name} ({id})",
        "observed_line": "{value} (threshold: {threshold}); severity {severity}",
        "quarterly_title": "Quarterly health report",
        "customer": "Customer",
        "period": "Period",
        "provider": "Service provider",
        "contract": "Service contract",
        "sla_level": "Service level",
        "service_window": "Service hours",
        "provider_contacts": "Contact",
        "generated": "Generated",
        "timezone": "Time zone",
        "hosts_covered": "Devices covered",
        "partial": "The period is not over yet; data up to {until}.",
        "uninspected": "No inspection was completed in this period: this report holds no inspection findings, only "
                       "monitoring data and tickets.",
        "contents": "Contents",
        "page": "page {page}",
        "page_of": "page {page} of {pages}",
        "summary": "Executive summary",
        "checks": "Checks",
        "findings": "Findings and recommendations",
        "forecasts": "Predictive risks",
        "tickets": "Tickets",
        "checklist": "Manual checklist",
        "charts": "Resource charts",
        "health_score": "Health score",
        "previous_score": "previous",
        "score_change": "change",
        "score_trend": "Health score trend",
        "no_run": "No monthly inspection was completed for this period, so there are no check results, "
                  "findings or manual checklist to report.",
        "inspection_run": "Inspection: {name}, run {run}, window {since} to {until}",
        "count_ok": "ok",
        "count_warning": "warning",
        "count_critical": "critical",
        "count_unknown": "unknown",
        "top_risks": "Top risks",
        "exec_summary": "Executive summary",
        "quarter_score": "Average health score this quarter",
        "vs_last_quarter": "{change} on the last quarter",
        "tickets_registered": "Tickets registered",
        "respond_sla": "Response SLA met",
        "score_by_quarter": "Health score over the last four quarters",
        "score_one_quarter": "Average health score this quarter {score}; no earlier quarter was inspected.",
        "risk_forecast_line": "{what} on {host} is expected to reach its limit on {eta}",
        "next_we_do": "What we will do next",
        "no_risks": "No risk that needs attention in this period.",
        "risk_forecast": "expected to reach its limit {when}",
        "host": "Device",
        "check": "Check",
        "subject": "Subject",
        "status": "Status",
        "observed": "Observed",
        "threshold": "Threshold",
        "severity": "Severity",
        "warn": "warn",
        "crit": "crit",
        "skipped": "Checks not applicable: {items}",
        "checks_defined": "The checks and their thresholds",
        "checks_by_device": "Results per device",
        "threshold_varies": "some devices have a threshold of their own, shown with their results",
        "own_threshold": " (threshold on this device: {threshold})",
        "ok_rest": "{n} other checks ok: {items}.",
        "ok_all": "All {n} checks ok: {items}.",
        "list_sep": ", ",
        "evidence": "Evidence",
        "recommendation": "Recommendation",
        "note": "Note",
        "unknown_reason": "Reason",
        "no_findings": "Every check is ok.",
        "unknowns": "Checks that could not be evaluated",
        "evidence_rollups": "{aggregation} of {series} from {since} to {until} ({points} data points)",
        "evidence_latest": "latest value of {series} ({at})",
        "evidence_events": "matching log events from {since} to {until}",
        "evidence_host": "the device's connection record",
        "what": "What",
        "current": "Now",
        "growth": "Growth",
        "per_day": "{value}/day",
        "eta": "Expected at limit",
        "band": "Band",
        "forecast_none": "No capacity metric is expected to reach its limit within {days} days.",
        "forecast_note": "Forecast from data up to {at}; the band is a 90% confidence interval.",
        "ticket_id": "No.",
        "title": "Title",
        "state": "State",
        "ticket": "Ticket",
        "level_state": "Level · state",
        "created": "Registered",
        "resolved": "Resolved",
        "sla": "SLA",
        "no_tickets": "No ticket was registered or resolved in this period.",
        "tickets_summary": "{opened} registered, {resolved} resolved, {open} still open at the end of the period; "
                           "SLA compliance {pct}.",
        "item": "Item",
        "guidance": "How to check",
        "result": "Result",
        "remark": "Remark",
        "checked_by": "Checked by",
        "maintenance_record": "Maintenance record: problems fixed on the spot",
        "symptom": "Symptom",
        "analysis": "Analysis",
        "fix_steps": "Fix steps",
        "recorded_by": "Recorded by",
        "no_maintenance": "No problem was fixed on the spot during this inspection.",
        "not_filled": "not filled in",
        "no_checklist": "No manual checklist for this period.",
        "utilisation": "Utilisation (%)",
        "disk_growth": "Disk usage and forecast (%)",
        "no_chart_data": "No data in this period.",
        "legend_cpu": "CPU average",
        "legend_mem": "memory average",
        "legend_disk": "disk peak",
        "legend_history": "history",
        "legend_forecast": "forecast",
        "legend_band": "forecast band",
        "legend_limit": "limit",
        "legend_score": "health score",
        "availability": "Availability per device",
        "availability_pct": "Availability",
        "down_hours": "Down (hours)",
        "hours_judged": "Judged (hours)",
        "availability_full": "Never down, availability {pct} over {hours} hours judged ({n} in all): {hosts}.",
        "fleet_availability": "Average availability over every device: {pct}.",
        "availability_note": "Availability is judged per hour: an hour without any data counts as down, "
                             "a partly missing hour in proportion.",
        "resource_trends": "Resource trends",
        "fleet_trend": "Daily resource usage over every device (%)",
        "trends_note": "Each column gives the months of the quarter in order (%).",
        "cpu_avg": "CPU avg",
        "cpu_peak": "CPU peak",
        "mem_avg": "Mem avg",
        "mem_peak": "Mem peak",
        "disk_peak": "Disk peak",
        "month": "Month",
        "score_by_month": "Average health score per month",
        "no_scores": "No inspection completed in this quarter.",
        "fault_overview": "{tickets} tickets registered this quarter, {resolved} resolved; mean time to repair "
                          "(MTTR) {mttr}.",
        "by_type": "By fault type",
        "by_cause": "By cause",
        "by_severity": "By severity",
        "by_source": "By source",
        "count": "Count",
        "repeats": "Repeat faults within 90 days",
        "repeat_rate": "Repeat-fault rate {pct} (the same item on the same device again within 90 days).",
        "no_repeats": "No repeat fault within 90 days this quarter.",
        "previous_ticket": "Previous ticket",
        "days_between": "Days between",
        "mttr": "Mean time to repair (MTTR)",
        "mttr_by_severity": "MTTR per severity",
        "resolved_count": "Resolved",
        "measures": "Improvement measures",
        "measures_note": "Tickets resolved with the same measures share one row, most frequent first.",
        "measure_tickets": "Tickets",
        "measure_count": "{n} tickets",
        "measure_more_titles": " and {more} more",
        "title_sep": "; ",
        "cause": "Cause",
        "solution": "Solution",
        "prevention": "Prevention",
        "short_term": "Short-term measure",
        "long_term": "Long-term improvement",
        "no_measures": "No resolved ticket with recorded measures this quarter.",
        "service_overview": "{tickets} tickets handled this quarter.",
        "sla_compliance": "SLA compliance",
        "clock": "Clock",
        "met": "Met",
        "breached": "Breached",
        "running": "Running",
        "not_applicable": "Not needed",
        "compliance": "Compliance",
        "times": "Response and resolution times",
        "mean": "Mean",
        "median": "Median",
        "p90": "90th percentile",
        "max": "Longest",
        "times_note": "Times count service-window time only (outside the window and on holidays they pause).",
        "satisfaction": "Customer satisfaction",
        "satisfaction_line": "{n} ratings this quarter, overall satisfaction {pct} against a target of more "
                             "than {target}: {verdict}.",
        "satisfaction_none": "No satisfaction rating this quarter; the target is more than {target}.",
        "target_met": "target met",
        "target_missed": "target missed",
        "attitude": "Attitude",
        "quality": "Quality",
        "resolution": "Fault resolution",
        "overall": "Overall",
        "capacity_forecasts": "Capacity forecasts for next quarter",
        "capacity_none": "No capacity metric is expected to reach its limit before {until}.",
        "open_risks": "Open risks",
        "no_open_risks": "No open ticket or critical finding at the end of the quarter.",
        "since": "Since",
        "level": "Level",
        "kind_ticket": "ticket",
        "kind_finding": "finding",
        "title_hosts": "Title · device",
        "recommendations": "Work plan and recommendations",
        "ticket_list": "Tickets",
        "status.ok": "ok",
        "status.warning": "warning",
        "status.critical": "critical",
        "status.unknown": "unknown",
        "severity.low": "low",
        "severity.medium": "medium",
        "severity.high": "high",
        "ticket_severity.L1": "L1",
        "ticket_severity.L2": "L2",
        "ticket_severity.L3": "L3",
        "ticket_severity.L4": "L4",
        "state.registered": "registered",
        "state.classified": "classified",
        "state.assigned": "assigned",
        "state.responded": "responded",
        "state.diagnosing": "diagnosing",
        "state.remote": "remote",
        "state.on_site": "on site",
        "state.workaround": "workaround",
        "state.resolved": "resolved",
        "state.customer_verified": "customer verified",
        "state.archived": "archived",
        "state.surveyed": "surveyed",
        "fault_type.hardware": "hardware",
        "fault_type.software": "software",
        "fault_type.network": "network",
        "fault_type.unclassified": "unclassified",
        "cause.software_defect": "software defect",
        "cause.config_error": "configuration error",
        "cause.hardware_problem": "hardware problem",
        "cause.unclassified": "unclassified",
        "source.forecast": "capacity forecast",
        "source.anomaly": "anomaly detection",
        "source.inspection": "inspection",
        "source.offline": "device offline",
        "source.manual": "registered by hand",
        "clock.respond": "respond",
        "clock.on_site": "on site",
        "clock.restore": "restore",
        "clock.resolve": "resolve",
        "clock.plan": "written plan",
        "outcome.met": "met",
        "outcome.breached": "breached",
        "outcome.running": "running",
        "outcome.not_applicable": "not needed",
        "outcome.untracked": "no target",
        "checklist.ok": "ok",
        "checklist.issue": "issue",
        "checklist.not_applicable": "not applicable",
        "direction.above": "≥",
        "direction.below": "<",
        "rec.capacity": "{what} on {host} is expected to reach its limit on {eta} (at the earliest {eta_low}): "
                        "expand or clean up before then.",
        "rec.availability": "{host} was available {pct} of the quarter (about {hours} hours down): find the "
                            "cause of the outages and tighten monitoring.",
        "rec.repeat": "\u201c{title}\u201d on {host} happened {count} times within 90 days: do a root-cause "
                      "analysis and put a long-term fix in place.",
        "rec.sla": "SLA compliance of the {clock} clock was {pct}, below {target}: review the duty roster and "
                   "the escalation path.",
        "rec.satisfaction": "Customer satisfaction was {pct}, short of the target of more than {target}: follow "
                            "up with the customer and improve the service.",
        "rec.satisfaction_none": "No satisfaction rating this quarter: ask the customer to rate every closed "
                                 "ticket.",
        "rec.long_open": "{count} tickets have been open for more than {days} days: follow up or escalate.",
        "rec.resource": "{resource} on {host} averaged {pct} in a month: plan more capacity or spread the load.",
        "rec.finding": "{name} (devices affected: {hosts}): {text}",
        "rec.keep": "The devices ran steadily: keep the current inspection plan and service arrangements.",
        "rec.open_tickets": "{count} tickets were still open at the end of the month: we will follow each one "
                            "through to resolution.",
        "rec.inspect": "No inspection was completed this month: we will carry one out as soon as possible and "
                       "report its results next time.",
        "envelope_note": "A partition that is emptied regularly (such as a log partition rotated daily) is shown "
                         "as a shaded band: the range of its usage within each rotation, its top edge the "
                         "highest usage.",
        "resource.cpu": "CPU",
        "resource.mem": "memory",
        "band.healthy": "healthy",
        "band.attention": "needs attention",
        "band.at_risk": "at risk",
        "maintenance_memo": "Maintenance memo: problems left for a follow-up ticket",
        "no_memo": "No problem of this inspection was left for a follow-up ticket.",
        "follow_up_ticket": "Follow-up ticket",
    },
}


class Locale:
    """Texts and formatting of one report language, with times shown in ``tz``."""

    def __init__(self, lang: Lang, tz: tzinfo) -> None:
        if lang not in STRINGS:
            raise ValueError(f"unknown report language {lang!r}: use zh or en")
        self.lang: Lang = lang
        self.tz = tz
        self.strings = STRINGS[lang]

    # -- texts -----------------------------------------------------------------------------------

    def t(self, key: str, **params: Any) -> str:
        try:
            template = self.strings[key]
        except KeyError:
            raise KeyError(f"no {self.lang} report text {key!r} (add it to reports/i18n.py STRINGS)") from None
        return template.format(**params) if params else template

    def term(self, domain: str, value: str | None) -> str:
        """A vocabulary word (``status``, ``clock``, ``fault_type``…); unknown values show as they are."""
        if value is None:
            return NONE
        return self.strings.get(f"{domain}.{value}", value)

    def text(self, value: Mapping[str, str] | str | None) -> str:
        """The locale's side of a bilingual text (the other side when this one is missing)."""
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        other = "en" if self.lang == "zh" else "zh"
        return value.get(self.lang) or value.get(other) or next(iter(value.values()), "")

    # -- names of what was measured -----------------------------------------------------------

    def series_list(self, refs: Any) -> str:
        """The series a finding rests on as people call them: "磁盘使用率 /data", never the series id."""
        from inspections.catalogue import display_name, subject_of

        names = []
        for ref in refs or ():
            subject = subject_of(ref.name, ref.labels) if ref.labels else ""
            names.append(f"{display_name(ref.name, self.lang)}{' ' + subject if subject else ''}")
        return "、".join(dict.fromkeys(names)) if self.lang == "zh" else ", ".join(dict.fromkeys(names))

    def check_names(self, check_ids: Any) -> str:
        """Check ids as the catalogue names them in this language."""
        from inspections import builtin_library

        library = builtin_library()
        names = []
        for check_id in check_ids:
            try:
                names.append(self.text(library.get(check_id).spec.name.as_dict()))
            except (KeyError, LookupError, ValueError):
                names.append(check_id)
        return "、".join(names) if self.lang == "zh" else ", ".join(names)

    def aggregation(self, text: str | None) -> str:
        """How a window was reduced ("p95", "avg"), in words of this language."""
        if not text:
            return NONE
        words = {"zh": {"avg": "平均值", "max": "最大值", "min": "最小值", "last": "最新值"},
                 "en": {"avg": "average", "max": "maximum", "min": "minimum", "last": "latest value"}}[self.lang]
        out = []
        for part in text.split(" of "):
            part = part.strip()
            if part.startswith("p") and part[1:].isdigit():
                out.append(f"第 {part[1:]} 百分位" if self.lang == "zh" else f"{part[1:]}th percentile")
            else:
                out.append(words.get(part, part))
        return "的".join(reversed(out)) if self.lang == "zh" else " of ".join(out)

    # -- numbers -------------------------------------------------------------------------------

    def number(self, value: float | None, digits: int = 1) -> str:
        if value is None or not math.isfinite(value):
            return NONE
        if digits == 0 or (float(value).is_integer() and abs(value) >= 1000):
            return f"{round(value):,}"
        return f"{value:,.{digits}f}"

    def integer(self, value: int | None) -> str:
        return NONE if value is None else f"{value:,}"

    def percent(self, value: float | None, digits: int = 1) -> str:
        """``value`` is already in percent (0–100)."""
        if value is None or not math.isfinite(value):
            return NONE
        return f"{value:,.{digits}f}%"

    def signed(self, value: int | None) -> str:
        if value is None:
            return NONE
        return f"+{value}" if value > 0 else str(value).replace("-", "−")

    def measure(self, value: float | None, unit: str) -> str:
        """An observed value with its unit as the catalogue names it (%, ms, s, days, …)."""
        if value is None or not math.isfinite(value):
            return NONE
        digits = 0 if unit in ("count", "", "events", "reboots") and float(value).is_integer() else 1
        shown = self.number(value, digits)
        if unit in ("%", "percent"):
            return f"{shown}%"
        if unit in ("", "count", "ratio"):
            return shown
        if self.lang == "zh":
            zh = UNITS_ZH.get(unit)
            if zh is not None:
                return f"{shown}{zh}"
        return f"{shown} {unit}"

    # -- times ---------------------------------------------------------------------------------

    def _local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.tz)

    def date(self, moment: datetime | None) -> str:
        if moment is None:
            return NONE
        d = self._local(moment)
        if self.lang == "zh":
            return f"{d.year}年{d.month}月{d.day}日"
        return f"{d.day} {_EN_MONTHS[d.month - 1][:3]} {d.year}"

    def when(self, moment: datetime | None) -> str:
        """Date and time of day."""
        if moment is None:
            return NONE
        d = self._local(moment)
        sep = " " if self.lang == "zh" else ", "
        return f"{self.date(moment)}{sep}{d.hour:02d}:{d.minute:02d}"

    def date_range(self, first: datetime | None, last: datetime | None) -> str:
        """A band of dates; one that starts and ends on the same day shows the hours of that day."""
        if first is None or last is None:
            return NONE
        a, b = self._local(first), self._local(last)
        if a.date() == b.date():
            sep = " " if self.lang == "zh" else ", "
            return f"{self.date(first)}{sep}{a.hour:02d}:{a.minute:02d}–{b.hour:02d}:{b.minute:02d}"
        return f"{self.date(first)} – {self.date(last)}"

    def short_date(self, moment: datetime) -> str:
        d = self._local(moment)
        if self.lang == "zh":
            return f"{d.month}月{d.day}日"
        return f"{d.day} {_EN_MONTHS[d.month - 1][:3]}"

    def day_of_month(self, moment: datetime) -> str:
        """The day alone, for a time axis's ticks after the first of their month (``15日``, ``15``)."""
        d = self._local(moment)
        return f"{d.day}日" if self.lang == "zh" else str(d.day)

    def period(self, period: Period) -> str:
        if period.kind == "monthly":
            if self.lang == "zh":
                return f"{period.year}年{period.index}月"
            return f"{_EN_MONTHS[period.index - 1]} {period.year}"
        if self.lang == "zh":
            return f"{period.year}年第{_ZH_QUARTERS[period.index - 1]}季度"
        return f"Q{period.index} {period.year}"

    def month_short(self, period: Period) -> str:
        if self.lang == "zh":
            return f"{period.index}月"
        return _EN_MONTHS[period.index - 1][:3]

    def duration(self, seconds: float | None) -> str:
        """3小时20分钟 / 3 h 20 min; two units at most, the larger first."""
        if seconds is None or not math.isfinite(seconds):
            return NONE
        total = max(0, round(seconds))
        days, rest = divmod(total, 86400)
        hours, rest = divmod(rest, 3600)
        minutes, secs = divmod(rest, 60)
        units = (("天", "d", days), ("小时", "h", hours), ("分钟", "min", minutes), ("秒", "s", secs))
        parts = [(zh, en, n) for zh, en, n in units if n]
        if not parts:
            return "0秒" if self.lang == "zh" else "0 s"
        if self.lang == "zh":
            return "".join(f"{n}{zh}" for zh, _, n in parts[:2])
        return " ".join(f"{n} {en}" for _, en, n in parts[:2])

    def band(self, score: int | None) -> str:
        """良好 ≥ 90, 关注 ≥ 70, 风险 below: the words the inspection CLI uses for health scores."""
        if score is None:
            return NONE
        return self.term("band", "healthy" if score >= 90 else "attention" if score >= 70 else "at_risk")

    def hours(self, seconds: float | None) -> str:
        return NONE if seconds is None else self.number(seconds / 3600.0, 1)

    # -- generated sentences -------------------------------------------------------------------

    def fill(self, key: str, params: Mapping[str, object]) -> str:
        """Format ``params`` by type (times as dates, floats as numbers, bilingual texts) into ``key``."""
        shown: dict[str, str] = {}
        for name, value in params.items():
            if isinstance(value, datetime):
                shown[name] = self.date(value)
            elif isinstance(value, bool):
                shown[name] = str(value)
            elif isinstance(value, int):
                shown[name] = self.integer(value)
            elif isinstance(value, float):
                shown[name] = self.percent(value) if name in ("pct", "target") else self.number(value)
            elif isinstance(value, Mapping):
                shown[name] = self.text(value)
            else:
                shown[name] = str(value)
        if "clock" in params and isinstance(params["clock"], str):
            shown["clock"] = self.term("clock", params["clock"])
        if "resource" in params and isinstance(params["resource"], str):
            shown["resource"] = self.term("resource", params["resource"])
        return self.t(key, **shown)
