"""When reports are due, driven by an injected clock and persisted in ``report_schedule``.

- **Monthly**: a report follows each *scheduled* run of the customer's monthly inspection profile
  as soon as it completes, for the month that run covers (see
  :func:`collector.reporting.findings.covered_period`). The cursor is the last run id handled; it
  never moves past a run still queued or running, so a run that finishes late is not skipped.
  Runs started by hand do not send reports by themselves (regenerate on demand instead).
- **Quarterly**: on the first day of each quarter at ``reports.quarterly.at`` in the customer's
  time zone, for the quarter that just ended. The cursor is the next due time. A collector that was
  down over a due time makes up for it once at start, for the latest quarter only.

When a customer is first seen, both cursors start from *now*: enabling reports does not mail a
backlog of old periods. Several collectors on one store claim a due report with a conditional
update of its cursor, so exactly one of them generates it — the same approach as the inspection
scheduler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from collector.inspection.tables import inspection_runs
from collector.reporting.config import ReportsConfig
from collector.reporting.findings import covered_period
from collector.reporting.tables import report_schedule
from reports.periods import Period, ReportKind

log = logging.getLogger("patrol.reports.schedule")

Clock = Callable[[], float]
ACTIVE_RUNS = ("queued", "running")


@dataclass(frozen=True)
class CustomerSchedule:
    customer_id: str
    timezone: str


@dataclass(frozen=True)
class DueReport:
    customer_id: str
    kind: ReportKind
    period: Period
    scheduled_for: datetime
    inspection_run_id: int | None = None
    coalesced: int = 1  # quarterly: due times this one stands for (more than 1: some were missed)


def quarter_due(period: Period, tz: ZoneInfo, hour: int, minute: int) -> datetime:
    """When the report of quarter ``period`` is due: the next quarter's first day at hour:minute."""
    start = period.next().start(tz)
    return start.replace(hour=hour, minute=minute)


def next_quarter_due(after: datetime, tz: ZoneInfo, hour: int, minute: int) -> datetime:
    """The first quarterly due time strictly after ``after``."""
    period = Period.containing("quarterly", after, tz).previous()
    due = quarter_due(period, tz, hour, minute)
    while due <= after:
        period = period.next()
        due = quarter_due(period, tz, hour, minute)
    return due


class ReportScheduler:
    def __init__(self, engine: Engine, customers: Sequence[CustomerSchedule], config: ReportsConfig,
                 clock: Clock) -> None:
        self.engine = engine
        self.customers = [c for c in customers if config.customer(c.customer_id).enabled]
        self.config = config
        self.clock = clock

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), tz=UTC)

    def _ms(self, moment: datetime) -> int:
        return int(moment.timestamp() * 1000)

    # -- cursors ---------------------------------------------------------------------------------

    def _cursor(self, customer: CustomerSchedule, kind: str) -> int:
        t = report_schedule.c
        with self.engine.connect() as conn:
            value = conn.execute(select(t.cursor).where(t.customer_id == customer.customer_id, t.kind == kind)
                                 ).scalar_one_or_none()
        if value is not None:
            return int(value)
        initial = self._initial(customer, kind)
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(report_schedule).values(customer_id=customer.customer_id, kind=kind,
                                                            cursor=initial, updated_ms=self._ms(self.now())))
            log.info("event=report_schedule_started customer=%s kind=%s cursor=%d", customer.customer_id, kind,
                     initial)
            return initial
        except IntegrityError:  # another collector initialised it first
            return self._cursor(customer, kind)

    def _initial(self, customer: CustomerSchedule, kind: str) -> int:
        if kind == "monthly":
            t = inspection_runs.c
            with self.engine.connect() as conn:
                newest = conn.execute(select(func.max(t.id)).where(t.customer_id == customer.customer_id,
                                                                   t.status.not_in(ACTIVE_RUNS))).scalar()
            return int(newest or 0)
        hour, minute = self.config.quarterly.hour_minute
        return self._ms(next_quarter_due(self.now(), ZoneInfo(customer.timezone), hour, minute))

    def _claim(self, customer_id: str, kind: str, old: int, new: int) -> bool:
        t = report_schedule.c
        with self.engine.begin() as conn:
            result = conn.execute(update(report_schedule)
                                  .where(t.customer_id == customer_id, t.kind == kind, t.cursor == old)
                                  .values(cursor=new, updated_ms=self._ms(self.now())))
        return bool(result.rowcount == 1)

    # -- due reports ---------------------------------------------------------------------------

    def due(self) -> list[DueReport]:
        """Every report due now, each handed out once (claimed) across collectors."""
        out: list[DueReport] = []
        for customer in self.customers:
            if self.config.monthly.enabled:
                out.extend(self._monthly(customer))
            if self.config.quarterly.enabled:
                out.extend(self._quarterly(customer))
        return out

    def _monthly(self, customer: CustomerSchedule) -> list[DueReport]:
        cursor = self._cursor(customer, "monthly")
        t = inspection_runs.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.id, t.status, t.profile, t.trigger, t.since_ms, t.until_ms, t.finished_ms)
                                .where(t.customer_id == customer.customer_id, t.id > cursor)
                                .order_by(t.id)).all()
        tz = ZoneInfo(customer.timezone)
        out = []
        for r in rows:
            if r.status in ACTIVE_RUNS:
                break  # wait for it: a later run must not move the cursor past it
            if not self._claim(customer.customer_id, "monthly", cursor, r.id):
                break  # another collector is handling these runs
            cursor = r.id
            if r.status != "completed" or r.profile != self.config.monthly.profile or r.trigger != "schedule" \
                    or r.since_ms is None or r.until_ms is None:
                continue
            period = covered_period("monthly", r.since_ms, r.until_ms, tz)
            finished = datetime.fromtimestamp((r.finished_ms or r.until_ms) / 1000, tz=UTC)
            out.append(DueReport(customer.customer_id, "monthly", period, finished, inspection_run_id=r.id))
            log.info("event=report_due kind=monthly customer=%s period=%s run=%d", customer.customer_id, period, r.id)
        return out

    def _quarterly(self, customer: CustomerSchedule) -> list[DueReport]:
        cursor = self._cursor(customer, "quarterly")
        now = self.now()
        due_at = datetime.fromtimestamp(cursor / 1000, tz=UTC)
        if due_at > now:
            return []
        tz = ZoneInfo(customer.timezone)
        hour, minute = self.config.quarterly.hour_minute
        latest, count = due_at, 0
        nxt = due_at
        while nxt <= now:
            latest, count = nxt, count + 1
            nxt = next_quarter_due(nxt, tz, hour, minute)
        if not self._claim(customer.customer_id, "quarterly", cursor, self._ms(nxt)):
            return []
        period = Period.containing("quarterly", latest, tz).previous()
        late = (now - latest).total_seconds()
        log.info("event=report_due kind=quarterly customer=%s period=%s coalesced=%d late_s=%.0f next=%s",
                 customer.customer_id, period, count, late, nxt.isoformat())
        return [DueReport(customer.customer_id, "quarterly", period, latest, coalesced=count)]

    # -- status --------------------------------------------------------------------------------

    def status(self) -> list[dict[str, Any]]:
        """Per customer: the last run a monthly report followed, and the next quarterly due time."""
        out = []
        t = report_schedule.c
        with self.engine.connect() as conn:
            rows = {(r.customer_id, r.kind): r.cursor for r in conn.execute(select(t.customer_id, t.kind, t.cursor))}
        hour, minute = self.config.quarterly.hour_minute
        for c in self.customers:
            quarterly = rows.get((c.customer_id, "quarterly"))
            nxt = datetime.fromtimestamp(quarterly / 1000, tz=UTC) if quarterly is not None else \
                next_quarter_due(self.now(), ZoneInfo(c.timezone), hour, minute)
            out.append({"customer_id": c.customer_id, "timezone": c.timezone,
                        "monthly": {"enabled": self.config.monthly.enabled, "profile": self.config.monthly.profile,
                                    "after_run": rows.get((c.customer_id, "monthly"))},
                        "quarterly": {"enabled": self.config.quarterly.enabled,
                                      "next_due": nxt.astimezone(ZoneInfo(c.timezone)).isoformat(),
                                      "period": str(Period.containing("quarterly", nxt, ZoneInfo(c.timezone))
                                                    .previous())}})
        return out
