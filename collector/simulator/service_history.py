"""A deterministic service history for the simulated fleet: 90 days of tickets with their whole lifecycle.

A provider who has served a customer for a quarter has a ticket history: faults found by the
monthly inspection, predictive tickets worked before anything failed, anomalies, agents gone quiet
and calls from the customer's own staff. Each was registered, acknowledged, restored and resolved
— most inside the SLA, some outside — closed with its cause, solution and prevention, and often
rated by the customer on 服务态度, 服务质量 and 故障解决水平. One fault came back within 90 days.

The history is written through the real :class:`~collector.tickets.service.TicketService` with a
scripted clock, so every SLA clock, timeline entry and satisfaction record is what the service
itself would have stored had an engineer worked the tickets on those days. The same seed gives the
same history; the fleet's host ids are those the simulated agents stream with.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from collector.simulator.fleet import Fleet, HostProfile
from collector.simulator.roles import Role
from collector.tickets.model import (
    Cause,
    Closure,
    FaultType,
    Registration,
    Satisfaction,
    Severity,
    Signal,
    Source,
)
from collector.tickets.service import ManualTicket, TicketService

HISTORY = timedelta(days=90)
ENGINEERS = ("王工", "李工", "陈工")
# Texts in the customer's language: (zh, en).
Text = tuple[str, str]


@dataclass(frozen=True)
class Episode:
    """One kind of fault the history draws from, with what the engineer found and did."""

    key: str
    source: Source
    severity: Severity
    roles: tuple[Role, ...]
    title: Text
    fault: FaultType
    cause: Cause
    closure: tuple[Text, Text, Text]  # cause, solution, prevention
    check_id: str = "manual"
    subject: str = ""
    measures: tuple[Text, Text] | None = None  # short-term, long-term
    channel: str = "system"


EPISODES: tuple[Episode, ...] = (
    Episode("log-partition", Source.INSPECTION, Severity.L3, (Role.APP, Role.WEB, Role.DB),
            ("/var/log 分区使用率超过 85%", "/var/log above 85 % used"), FaultType.SOFTWARE, Cause.CONFIG_ERROR,
            (("日志轮转未压缩历史日志,应用调试日志未关闭",
              "log rotation kept old logs uncompressed and the application's debug log was left on"),
             ("启用 logrotate 压缩并保留 14 天,关闭调试日志,清理 6.2 GB 历史日志", "enabled compression and 14-day "
              "retention in logrotate, turned the debug log off and removed 6.2 GB of old logs"),
             ("日志保留策略纳入巡检基线", "log retention added to the inspection baseline")),
            check_id="resources.disk_space", subject="/var/log"),
    Episode("data-fill", Source.FORECAST, Severity.L3, (Role.FILE, Role.DB),
            ("/data 预计 6 天内写满", "/data forecast to fill within 6 days"), FaultType.HARDWARE,
            Cause.HARDWARE_PROBLEM,
            (("业务归档文件持续增长,容量规划未覆盖本年度增量", "business archives kept growing beyond this year's "
              "capacity plan"),
             ("将 2023 年归档迁移至对象存储,/data 扩容 200 GB", "moved the 2023 archives to object storage and "
              "grew /data by 200 GB"),
             ("每季度复核容量预测,提前一个月申请扩容", "capacity forecast reviewed every quarter, expansions "
              "requested a month ahead")),
            check_id="forecast:disk.used_percent", subject="/data",
            measures=(("清理临时导出文件释放 40 GB", "removed temporary exports to free 40 GB"),
                      ("归档策略改为按年自动迁移", "archives now move to object storage yearly"))),
    Episode("pool-exhausted", Source.ANOMALY, Severity.L2, (Role.APP, Role.WEB),
            ("应用错误日志突增", "burst of application errors"), FaultType.SOFTWARE, Cause.SOFTWARE_DEFECT,
            (("数据库连接池上限过小,业务高峰时连接耗尽", "the database connection pool was too small and ran dry "
              "at the business peak"),
             ("连接池上限由 20 调整为 80,并增加连接池使用率监控", "raised the pool from 20 to 80 connections and "
              "added a pool usage check"),
             ("上线前按峰值并发做容量评审", "peak concurrency reviewed before each release")),
            check_id="anomaly:logs.error_rate"),
    Episode("kiosk-power", Source.OFFLINE, Severity.L2, (Role.KIOSK, Role.WEB),
            ("终端代理离线", "agent offline"), FaultType.HARDWARE, Cause.HARDWARE_PROBLEM,
            (("终端电源适配器故障", "the terminal's power adapter failed"),
             ("现场更换电源适配器,终端恢复上线", "replaced the power adapter on site; the terminal is back online"),
             ("备件库增加两只同型号电源适配器", "two spare adapters of the model added to the spares stock")),
            check_id="offline"),
    Episode("db-raid", Source.MANUAL, Severity.L1, (Role.DB,),
            ("核心数据库响应超时,业务无法提交", "core database timing out; orders cannot be submitted"),
            FaultType.HARDWARE, Cause.HARDWARE_PROBLEM,
            (("RAID 卡电池失效,写缓存被关闭,数据库 I/O 延迟升高", "the RAID controller's battery failed, write "
              "caching was turned off and database I/O slowed down"),
             ("切换至备库恢复业务,次日现场更换 RAID 卡电池并恢复写缓存", "failed over to the standby to restore "
              "service, replaced the battery on site the next day and re-enabled write caching"),
             ("RAID 卡电池状态纳入月度巡检", "RAID battery health added to the monthly inspection")),
            measures=(("切换至备库", "failover to the standby database"),
                      ("RAID 卡电池到期前主动更换", "RAID batteries replaced before their end of life")),
            channel="hotline"),
    Episode("ssh-bruteforce", Source.INSPECTION, Severity.L2, (Role.WEB, Role.KIOSK),
            ("SSH 暴力破解尝试", "SSH brute-force attempts"), FaultType.NETWORK, Cause.CONFIG_ERROR,
            (("SSH 对公网开放且允许密码登录", "SSH was open to the internet with password logins allowed"),
             ("关闭密码登录,仅允许堡垒机地址访问 22 端口,启用 fail2ban", "password logins turned off, port 22 limited "
              "to the bastion host, fail2ban enabled"),
             ("安全基线检查纳入月度巡检", "security baseline added to the monthly inspection")),
            check_id="security.failed_logins"),
    Episode("cert-expiry", Source.INSPECTION, Severity.L3, (Role.WEB,),
            ("HTTPS 证书 20 天后到期", "HTTPS certificate expires in 20 days"), FaultType.SOFTWARE, Cause.CONFIG_ERROR,
            (("证书续期依赖人工提醒", "certificate renewal depended on someone remembering"),
             ("续期证书并部署至负载均衡", "renewed the certificate and deployed it to the load balancer"),
             ("启用自动续期,到期前 30 天巡检告警", "automatic renewal enabled; the inspection warns 30 days ahead")),
            check_id="security.tls_expiry", subject="https://portal"),
    Episode("memory-leak", Source.FORECAST, Severity.L2, (Role.APP,),
            ("内存预计 3 天内耗尽", "memory forecast to run out within 3 days"), FaultType.SOFTWARE,
            Cause.SOFTWARE_DEFECT,
            (("报表服务 2.4.0 存在内存泄漏", "the reporting service 2.4.0 leaks memory"),
             ("升级报表服务至 2.4.1,重启后内存使用恢复平稳", "upgraded the reporting service to 2.4.1; memory has "
              "stayed flat since the restart"),
             ("新版本上线后一周内重点观察内存趋势", "memory trend watched for a week after every release")),
            check_id="forecast:mem.used_percent"),
    Episode("account", Source.MANUAL, Severity.L4, (Role.APP, Role.WEB, Role.DB, Role.FILE),
            ("申请开通只读查询账号", "request for a read-only reporting account"), FaultType.SOFTWARE,
            Cause.CONFIG_ERROR,
            (("新业务部门需要查询权限", "a new department needs read access"),
             ("按最小权限开通只读账号并登记", "created a least-privilege read-only account and recorded it"),
             ("账号申请流程纳入服务台知识库",
              "the account request procedure added to the service desk knowledge base")),
            channel="email"),
    Episode("backup-failed", Source.INSPECTION, Severity.L2, (Role.DB, Role.FILE),
            ("夜间备份未完成", "nightly backup did not complete"), FaultType.SOFTWARE, Cause.CONFIG_ERROR,
            (("备份目标盘空间不足,备份任务中途退出", "the backup target ran out of space and the job stopped "
              "half-way"),
             ("清理过期备份集,保留策略改为 14 天,补做全量备份", "removed expired backup sets, set retention to 14 "
              "days and ran a full backup"),
             ("备份目标盘容量纳入预测工单", "the backup target's capacity is now forecast like any disk")),
            check_id="backup.age"),
)


@dataclass(frozen=True)
class Pace:
    """How one ticket was worked: respond and restore times as fractions of the SLA target."""

    respond: float
    restore: float
    rated: tuple[float, float, float] | None


# Most tickets well inside the SLA, a few late — the mix a quarter's SLA table should show.
PACES: tuple[Pace, ...] = (
    Pace(0.2, 0.4, (5, 5, 5)),
    Pace(0.35, 0.6, (5, 4, 5)),
    Pace(0.5, 0.8, None),
    Pace(0.15, 0.3, (5, 5, 4)),
    Pace(1.6, 1.3, (3, 4, 3)),  # responded and restored late
    Pace(0.6, 0.9, (4, 4, 4)),
    Pace(0.4, 1.4, (4, 3, 3)),  # restored late
    Pace(0.25, 0.5, None),
)
NO_TARGET_HOURS = 20.0  # how long an engineer took where the SLA sets no target ("case by case")


@dataclass(frozen=True)
class Worked:
    ticket_id: int
    customer_id: str
    episode: str
    opened: datetime


class _Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now.timestamp()


def _pick(rng: random.Random, hosts: Sequence[HostProfile], roles: tuple[Role, ...]) -> HostProfile:
    fitting = [h for h in hosts if h.role in roles] or list(hosts)
    return rng.choice(fitting)


def _text(text: Text, language: str) -> str:
    return text[0] if language == "zh" else text[1]


def write_service_history(make_service: Callable[[Callable[[], float]], TicketService], fleet: Fleet,
                          end: datetime, seed: int = 1, per_customer: int = 9) -> list[Worked]:
    """Write ``per_customer`` tickets per customer over the 90 days before ``end``; all of them closed.

    ``make_service(clock)`` builds the ticket service on the store with the given clock. Every
    customer also gets one repeat: its first inspection fault comes back five weeks later.
    """
    rng = random.Random(seed * 7919 + 17)
    clock = _Clock(end - HISTORY)
    svc = make_service(clock)
    worked: list[Worked] = []
    for customer in fleet.customers:
        hosts = [h for h in fleet.hosts if h.customer.id == customer.id]
        if not hosts:
            continue
        language = customer.language
        start = end - HISTORY + timedelta(days=2)
        step = (HISTORY - timedelta(days=6)) / per_customer
        offset = rng.randrange(len(EPISODES))
        plan = [EPISODES[(offset + i) % len(EPISODES)] for i in range(per_customer)]
        repeat_of: tuple[Episode, HostProfile] | None = None
        for i, episode in enumerate(plan):
            opened = start + step * i + timedelta(hours=rng.uniform(0, 30))
            opened = opened.replace(minute=rng.randrange(60), second=0, microsecond=0)
            host = _pick(rng, hosts, episode.roles)
            if repeat_of is None and episode.source is Source.INSPECTION:
                repeat_of = (episode, host)
            worked.append(_work(svc, clock, episode, host, opened, PACES[i % len(PACES)], language, rng))
        if repeat_of is not None:
            episode, host = repeat_of
            first = next(w for w in worked if w.customer_id == customer.id and w.episode == episode.key)
            again = first.opened + timedelta(days=35, hours=3)
            if again < end - timedelta(days=1):
                worked.append(_work(svc, clock, episode, host, again, PACES[1], language, rng))
    return worked


def _work(svc: TicketService, clock: _Clock, episode: Episode, host: HostProfile, opened: datetime, pace: Pace,
          language: str, rng: random.Random) -> Worked:
    """Open one ticket at ``opened`` and work it through to its archive, as an engineer would have."""
    engineer = rng.choice(ENGINEERS)
    title = f"{host.hostname}: {_text(episode.title, language)}"
    clock.now = opened
    if episode.source is Source.MANUAL:
        contact = "张伟" if language == "zh" else "Alex Morgan"
        reg = Registration(contact=contact, description=_text(episode.title, language), channel=episode.channel,
                           occurred_at=opened - timedelta(minutes=rng.randrange(5, 40)),
                           impact_scope=host.hostname)
        ticket = svc.create_manual(engineer, ManualTicket(customer_id=host.customer.id, title=title,
                                                          severity=episode.severity, host_id=host.agent_id,
                                                          registration=reg,
                                                          reporter=f"customer:{contact}"))
        ticket_id = ticket.id
    else:
        report = svc.ingest([Signal(source=episode.source, check_id=episode.check_id, subject=episode.subject,
                                    firing=True, observed_at=opened, host_id=host.agent_id,
                                    customer_id=host.customer.id, severity=episode.severity, title=title)])
        if not report.opened:
            raise RuntimeError(f"the service history's {episode.key} ticket on {host.hostname} did not open: "
                               "a ticket of the same fingerprint is still open")
        ticket_id = report.opened[0]
    ticket = svc.get(ticket_id)
    profile = svc.ticket_profile(ticket)

    def after(clock_name: str, fraction: float) -> timedelta:
        target = profile.target(episode.severity, clock_name)
        hours = fraction * (target / 3600 if target else NO_TARGET_HOURS)
        return timedelta(hours=max(hours, 0.05))

    clock.now = opened + timedelta(minutes=3)
    svc.classify(ticket_id, engineer, fault_type=episode.fault.value, cause=episode.cause.value)
    clock.now = opened + after("respond", pace.respond)
    svc.ack(ticket_id, engineer, _text(("已接单,远程排查中", "on it, investigating remotely"), language))
    restored = opened + max(after("restore", pace.restore), after("respond", pace.respond) + timedelta(minutes=20))
    cause, solution, prevention = (_text(t, language) for t in episode.closure)
    short, long = (_text(t, language) for t in episode.measures) if episode.measures else ("", "")
    if episode.measures:
        clock.now = restored
        svc.transition(ticket_id, engineer, "workaround", short)
        clock.now = restored + timedelta(hours=rng.uniform(12, 30))
    else:
        clock.now = restored
    svc.resolve(ticket_id, engineer, closure=Closure(cause=cause, solution=solution, prevention=prevention,
                                                     short_term=short, long_term=long))
    clock.now += timedelta(hours=rng.uniform(2, 20))
    svc.verify(ticket_id, f"customer:{host.customer.id}")
    clock.now += timedelta(hours=1)
    svc.close(ticket_id, engineer)
    if pace.rated is not None:
        clock.now += timedelta(hours=rng.uniform(1, 48))
        svc.rate(ticket_id, f"customer:{host.customer.id}", Satisfaction(*pace.rated))
    return Worked(ticket_id, host.customer.id, episode.key, opened)


__all__ = ["EPISODES", "Worked", "write_service_history"]
