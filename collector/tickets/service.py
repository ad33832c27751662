"""The ticket service: signals in (with noise control), engineers' actions, timeline and notifications.

All methods are synchronous database work (call them from a worker thread, not the event loop) and
serialised within the process. Time comes from the injected ``clock``; every change appends to the
ticket's timeline in the same transaction, together with the outbox rows of its notifications.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import IntegrityError

from collector.config import Customer
from collector.notify.outbox import Outbox
from collector.store.schema import hosts
from collector.tickets import messages
from collector.tickets import repository as repo
from collector.tickets.config import TicketsConfig
from collector.tickets.lifecycle import (
    RANK,
    RESPONDED_RANK,
    TransitionError,
    check_transition,
    clock_effects,
    reopen_target,
)
from collector.tickets.model import (
    Classification,
    Closure,
    Registration,
    Satisfaction,
    Severity,
    Signal,
    Source,
    State,
    Ticket,
    to_ms,
)
from collector.tickets.noise import (
    MaintenanceWindow,
    active_window,
    clear_long_enough,
    parse_range,
    track_flapping,
)
from collector.tickets.sla import ClockRecord, SlaProfile, moment_of

log = logging.getLogger("patrol.tickets")

SYSTEM = "system"
# Events that describe the condition itself; a flapping ticket stops sending these.
CONDITION_EVENTS = frozenset({"opened", "reopened", "resolved", "severity_raised"})
_WINDOW_CACHE_S = 5.0


class TicketError(Exception):
    """A request about a ticket that cannot be done; the message says why and what to do."""


class TicketNotFound(TicketError):
    pass


class TicketConflict(TicketError):
    pass


@dataclass
class IngestReport:
    opened: list[int] = field(default_factory=list)
    reopened: list[int] = field(default_factory=list)
    repeated: int = 0
    cleared: int = 0
    resolved: list[int] = field(default_factory=list)
    suppressed: int = 0  # firing conditions silenced by a maintenance window

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ManualTicket:
    """A request registered by an engineer or on behalf of a customer (hotline, e-mail, IM, web)."""

    customer_id: str
    title: str
    description: str = ""
    severity: Severity = Severity.L3
    host_id: str | None = None
    registration: Registration | None = None
    classification: Classification | None = None
    reporter: str | None = None  # who asked: "customer:张三" or the engineer; default the API token


class TicketService:
    def __init__(self, engine: Engine, cfg: TicketsConfig, customers: Mapping[str, Customer],
                 clock: Callable[[], float] = time.time, outbox: Outbox | None = None) -> None:
        self.engine = engine
        self.cfg = cfg
        self.customers = dict(customers)
        self.clock = clock
        self.outbox = outbox
        self.lock = threading.RLock()
        self._profiles: dict[tuple[str, str], SlaProfile] = {}
        self._config_windows = [self._window_from_config(m) for m in cfg.maintenance]
        self._stored_windows: list[MaintenanceWindow] | None = None
        self._stored_at = 0.0

    # -- lookups ------------------------------------------------------------------------------

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), tz=UTC)

    def timezone(self, customer_id: str) -> str:
        c = self.customers.get(customer_id)
        return c.timezone if c is not None else "UTC"

    def language(self, customer_id: str) -> str:
        """The language the customer reads its tickets and reports in (zh or en)."""
        c = self.customers.get(customer_id)
        return c.language if c is not None else "en"

    def customer_name(self, customer_id: str) -> str:
        c = self.customers.get(customer_id)
        return c.name if c is not None else customer_id

    def profile(self, name: str, customer_id: str) -> SlaProfile:
        key = (name, self.timezone(customer_id))
        if key not in self._profiles:
            if name not in self.cfg.all_profiles():
                log.warning("event=sla_profile_missing profile=%s using=%s", name, self.cfg.default_profile)
                name = self.cfg.default_profile
            self._profiles[key] = self.cfg.sla_profile(name, key[1])
        return self._profiles[key]

    def ticket_profile(self, t: Ticket) -> SlaProfile:
        return self.profile(t.sla_profile, t.customer_id)

    @staticmethod
    def _window_from_config(m: Any) -> MaintenanceWindow:
        from collector.tickets.calendar import parse_days

        return MaintenanceWindow(customer=m.customer, host=m.host, check=m.check, start=m.start, end=m.end,
                                 weekdays=parse_days(m.days) if m.days is not None else None,
                                 hours=parse_range(m.hours) if m.hours else None, timezone=m.timezone,
                                 reason=m.reason)

    def maintenance(self, conn: Connection, now: datetime) -> list[MaintenanceWindow]:
        # Windows added through the API are re-read every few seconds (another collector on the same
        # store may add one) and at once after a change made here.
        t = self.clock()
        if self._stored_windows is None or not 0 <= t - self._stored_at < _WINDOW_CACHE_S:
            self._stored_windows, self._stored_at = repo.stored_windows(conn, now), t
        return [*self._config_windows, *self._stored_windows]

    def silenced_by(self, conn: Connection, now: datetime, customer_id: str, host_id: str | None,
                    check_id: str, windows: list[MaintenanceWindow] | None = None) -> MaintenanceWindow | None:
        return active_window(windows if windows is not None else self.maintenance(conn, now), now, customer_id,
                             host_id, check_id, self.timezone(customer_id))

    def get(self, ticket_id: int, conn: Connection | None = None, for_update: bool = False) -> Ticket:
        if conn is None:
            with self.engine.connect() as c:
                return self.get(ticket_id, c)
        t = repo.load_ticket(conn, ticket_id, for_update)
        if t is None:
            raise TicketNotFound(f"no ticket #{ticket_id}: see 'patrol tickets' for the existing ones")
        return t

    # -- notifications ------------------------------------------------------------------------

    def notify(self, conn: Connection, t: Ticket, event: str, headline: str, text: str = "", *,
               emails: tuple[str, ...] = (), channels: tuple[str, ...] = (), now: datetime | None = None) -> None:
        """Queue a notification about ``t`` (in ``conn``'s transaction) and record it on the timeline."""
        now = now or self.now()
        reason = None
        if t.flapping and event in CONDITION_EVENTS:
            reason = "flapping"
        elif t.source != Source.MANUAL:
            w = self.silenced_by(conn, now, t.customer_id, t.host_id, t.check_id)
            if w is not None:
                reason = f"maintenance window: {w.describe()}"
        if reason is not None:
            repo.append_timeline(conn, t.id, now, SYSTEM, "notification_suppressed", {"event": event, "reason": reason})
            return
        if self.outbox is None:
            return
        n = messages.build(t, event, headline, text, now=now, customer_name=self.customer_name(t.customer_id),
                           tz=self.timezone(t.customer_id), link=self.cfg.link, emails=emails, channels=channels)
        dests = self.outbox.enqueue(conn, n)
        if dests:
            repo.append_timeline(conn, t.id, now, SYSTEM, "notified", {"event": event, "to": dests})
        else:
            log.info("event=notification_unrouted ticket=%d notification_event=%s", t.id, event)

    # -- clocks -------------------------------------------------------------------------------

    def _start_clocks(self, conn: Connection, ticket_id: int, severity: Severity, profile: SlaProfile,
                      start: datetime, on_site: bool) -> None:
        for clock in ("respond", "restore", "resolve", *(("on_site",) if on_site else ())):
            rec = ClockRecord(clock=clock, target_s=profile.target(severity, clock))
            rec.start(start)
            repo.save_clock(conn, ticket_id, rec, new=True)

    def _stop_clock(self, conn: Connection, t: Ticket, rec: ClockRecord, now: datetime, reason: str) -> None:
        if not rec.running:
            return
        rec.stop(now, reason)
        if reason == "met" and rec.target_s is not None and rec.breached_at is None:
            cal = self.ticket_profile(t).calendar_for(rec.clock)
            at = moment_of(rec, cal, rec.target_s, now)
            if at is not None and at < now:
                rec.breached_at = at
                repo.append_timeline(conn, t.id, now, SYSTEM, "sla_breach",
                                     {"clock": rec.clock, "at": at.isoformat(), "met_late": True})
        repo.save_clock(conn, t.id, rec)

    def _retarget(self, conn: Connection, t: Ticket, severity: Severity) -> None:
        profile = self.ticket_profile(t)
        for rec in repo.load_clocks(conn, t.id).values():
            target = profile.target(severity, rec.clock)
            if target != rec.target_s:
                rec.target_s = target
                repo.save_clock(conn, t.id, rec)

    # -- state changes ------------------------------------------------------------------------

    def apply_state(self, conn: Connection, t: Ticket, target: State, actor: str, now: datetime,
                    note: str = "", *, reopen: bool = False, extra: dict[str, Any] | None = None) -> Ticket:
        """Move ``t`` to ``target`` (already validated), stop/restart clocks, write the timeline."""
        by_person = actor != SYSTEM
        effects = clock_effects(target, by_person=by_person, reopen=reopen)
        clocks = repo.load_clocks(conn, t.id)
        for name in effects.met:
            if name in clocks:
                self._stop_clock(conn, t, clocks[name], now, "met")
        for name in effects.resolved:
            if name in clocks:
                self._stop_clock(conn, t, clocks[name], now, "resolved")
        if reopen:
            # Restore and resolve run again; so does any clock the resolution cut short (a response
            # that never happened). A plan already sent or no longer needed stays as it is.
            for rec in clocks.values():
                if not rec.running and rec.clock != "plan" and (rec.clock in effects.restart
                                                                or rec.stop_reason == "resolved"):
                    rec.start(now)
                    repo.save_clock(conn, t.id, rec)
        values: dict[str, Any] = {"state": target.value, "updated_ms": to_ms(now), **(extra or {})}
        if target.is_open:
            values["open_fingerprint"] = t.fingerprint
        else:
            values["open_fingerprint"] = None
        if target == State.RESOLVED:
            values.update(resolved_ms=to_ms(now), resolved_by=actor, resume_state=t.state.value)
        if reopen:
            # The escalation level stays: a reopened breach does not walk the chain again from the start.
            values.update(resolved_ms=None, resolved_by=None, closed_ms=None)
        if target == State.ARCHIVED:
            values["closed_ms"] = to_ms(now)
        repo.update_ticket(conn, t.id, values)
        details: dict[str, Any] = {"from": t.state.value, "to": target.value}
        if note:
            details["note"] = note
        repo.append_timeline(conn, t.id, now, actor, "reopened" if reopen else "state", details)
        return self.get(t.id, conn)

    def _transition(self, ticket_id: int, actor: str, target: State, note: str = "",
                    extra: dict[str, Any] | None = None) -> Ticket:
        with self.lock, self.engine.begin() as conn:
            now = self.now()
            t = self.get(ticket_id, conn, for_update=True)
            try:
                check_transition(t.state, target)
            except TransitionError as e:
                raise TicketConflict(f"ticket #{t.id}: {e}") from None
            if target == State.ARCHIVED:
                self._require_closure(t)
            if target == State.SURVEYED and t.satisfaction is None:
                raise TicketConflict(f"ticket #{t.id}: record the customer's rating first: patrol ticket rate {t.id} "
                                     "--attitude N --quality N --resolution N")
            t = self.apply_state(conn, t, target, actor, now, note, extra=extra)
            if target == State.ARCHIVED and t.satisfaction is not None:
                t = self.apply_state(conn, t, State.SURVEYED, actor, now, "satisfaction already recorded")
            return t

    @staticmethod
    def _require_closure(t: Ticket) -> None:
        if t.closure is None or not t.closure.cause.strip() or not t.closure.solution.strip():
            raise TicketConflict(f"ticket #{t.id} cannot be archived without a closure record (cause and "
                                 f"solution): patrol ticket closure {t.id} --cause … --solution … --prevention …")

    # -- engineers' actions -------------------------------------------------------------------

    def transition(self, ticket_id: int, actor: str, target: State | str, note: str = "") -> Ticket:
        return self._transition(ticket_id, actor, State(target), note)

    def ack(self, ticket_id: int, actor: str, note: str = "") -> Ticket:
        """Respond to the ticket (响应): stops the response clock."""
        t = self.get(ticket_id)
        if RANK[t.state] >= RESPONDED_RANK:
            raise TicketConflict(f"ticket #{t.id} is already {t.state.value}; nothing to acknowledge")
        extra = {} if t.assignee else {"assignee": actor}
        return self._transition(ticket_id, actor, State.RESPONDED, note, extra)

    def resolve(self, ticket_id: int, actor: str, note: str = "", closure: Closure | None = None) -> Ticket:
        if closure is not None:
            self.record_closure(ticket_id, actor, closure)
        return self._transition(ticket_id, actor, State.RESOLVED, note)

    def verify(self, ticket_id: int, actor: str, note: str = "") -> Ticket:
        return self._transition(ticket_id, actor, State.CUSTOMER_VERIFIED, note)

    def close(self, ticket_id: int, actor: str, note: str = "") -> Ticket:
        """Archive (归档) a resolved or customer-verified ticket; needs the closure record."""
        t = self.get(ticket_id)
        if t.state == State.RESOLVED and not note:
            note = "closed without customer verification"
        return self._transition(ticket_id, actor, State.ARCHIVED, note)

    def reopen(self, ticket_id: int, actor: str, reason: str = "") -> Ticket:
        with self.lock, self.engine.begin() as conn:
            now = self.now()
            t = self.get(ticket_id, conn, for_update=True)
            return self._reopen(conn, t, actor, reason or "reopened", now)

    def _reopen(self, conn: Connection, t: Ticket, actor: str, reason: str, now: datetime) -> Ticket:
        try:
            target = reopen_target(t.state, t.resume_state)
        except TransitionError as e:
            raise TicketConflict(f"ticket #{t.id}: {e}") from None
        other = repo.find_open(conn, t.fingerprint)
        if other is not None and other.id != t.id:
            raise TicketConflict(f"ticket #{other.id} is already open for the same condition; work on that one")
        t = self.apply_state(conn, t, target, actor, now, reason, reopen=True)
        self.notify(conn, t, "reopened", f"reopened: {t.title}", reason, now=now)
        return t

    def assign(self, ticket_id: int, actor: str, assignee: str, note: str = "") -> Ticket:
        if not assignee.strip():
            raise TicketError("give the engineer to assign the ticket to")
        with self.lock, self.engine.begin() as conn:
            now = self.now()
            t = self.get(ticket_id, conn, for_update=True)
            if not t.is_open:
                raise TicketConflict(f"ticket #{t.id} is {t.state.value}; reopen it before assigning")
            repo.update_ticket(conn, t.id, {"assignee": assignee, "updated_ms": to_ms(now)})
            repo.append_timeline(conn, t.id, now, actor, "assigned",
                                 {"from": t.assignee, "to": assignee, **({"note": note} if note else {})})
            t = self.get(t.id, conn)
            if RANK[t.state] < RANK[State.ASSIGNED]:
                t = self.apply_state(conn, t, State.ASSIGNED, actor, now)
            return t

    def note(self, ticket_id: int, actor: str, text: str) -> Ticket:
        if not text.strip():
            raise TicketError("the note is empty")
        with self.lock, self.engine.begin() as conn:
            now = self.now()
            t = self.get(ticket_id, conn, for_update=True)
            repo.append_timeline(conn, t.id, now, actor, "note", {"text": text})
            repo.update_ticket(conn, t.id, {"updated_ms": to_ms(now)})
            return self.get(t.id, conn)

    def classify(self, ticket_id: int, actor: str, *, fault_type: str | None = None, cause: str | None = None,
                 maintenance_type: str | None = None, billing: str | None = None,
                 severity: str | Severity | None = None, on_site_required: bool | None = None) -> Ticket:
        with self.lock, self.engine.begin() as conn:
            now = self.now()
            t = self.get(ticket_id, conn, for_update=True)
            c = Classification.from_dict(t.classification.to_dict())
            try:
                patch = {"fault_type": fault_type, "cause": cause, "maintenance_type": maintenance_type,
                         "billing": billing}
                merged = {**c.to_dict(), **{k: v for k, v in patch.items() if v is not None}}
                if on_site_required is not None:
                    merged["on_site_required"] = on_site_required
                c = Classification.from_dict(merged)
                new_sev = Severity.parse(severity) if severity is not None else t.severity
            except ValueError as e:
                raise TicketError(f"ticket #{t.id}: {e}") from None
            changes = {k: v for k, v in c.to_dict().items() if v != t.classification.to_dict().get(k)}
            values: dict[str, Any] = {"classification": c.to_dict(), "updated_ms": to_ms(now)}
            if new_sev != t.severity:
                changes["severity"] = new_sev.value
                values["severity"] = new_sev.value
                self._retarget(conn, t, new_sev)
            if c.on_site_required and not t.classification.on_site_required:
                self._arm_on_site(conn, t, new_sev)
            repo.update_ticket(conn, t.id, values)
            repo.append_timeline(conn, t.id, now, actor, "classified", changes)
            t = self.get(t.id, conn)
            if t.state == State.REGISTERED:
                t = self.apply_state(conn, t, State.CLASSIFIED, actor, now)
            return t

    def _arm_on_site(self, conn: Connection, t: Ticket, severity: Severity) -> None:
        if "on_site" in repo.load_clocks(conn, t.id):
            return
        rec = ClockRecord(clock="on_site", target_s=self.ticket_profile(t).target(severity, "on_site"))
        # The contract counts the visit from the report, not from when someone decided to go.
        rec.start(t.created_at)
        repo.save_clock(conn, t.id, rec, new=True)

    def update_registration(self, ticket_id: int, actor: str, fields: dict[str, Any]) -> Ticket:
        allowed = set(Registration.__dataclass_fields__)
        unknown = set(fields) - allowed
        if unknown:
            raise TicketError(f"unknown registration fields {sorted(unknown)}; known: {sorted(allowed)}")
        with self.lock, self.engine.begin() as conn:
            now = self.now()
            t = self.get(ticket_id, conn, for_update=True)
            merged = {**t.registration.to_dict(), **fields}
            try:
                reg = Registration.from_dict(merged)
            except ValueError as e:
                raise TicketError(f"registration: {e}") from None
            repo.update_ticket(conn, t.id, {"registration": reg.to_dict(), "updated_ms": to_ms(now)})
            repo.append_timeline(conn, t.id, now, actor, "registration", {"changed": sorted(fields)})
            return self.get(t.id, conn)

    def record_closure(self, ticket_id: int, actor: str, closure: Closure) -> Ticket:
        if not closure.cause.strip() or not closure.solution.strip():
            raise TicketError("a closure record needs the cause (问题原因) and the solution (解决方案)")
        with self.lock, self.engine.begin() as conn:
            now = self.now()
            t = self.get(ticket_id, conn, for_update=True)
            closure.recorded_by, closure.recorded_at = actor, now
            repo.update_ticket(conn, t.id, {"closure": closure.to_dict(), "updated_ms": to_ms(now)})
            repo.append_timeline(conn, t.id, now, actor, "closure", closure.to_dict())
            return self.get(t.id, conn)

    def rate(self, ticket_id: int, actor: str, rating: Satisfaction) -> Ticket:
        with self.lock, self.engine.begin() as conn:
            now = self.now()
            t = self.get(ticket_id, conn, for_update=True)
            if t.state not in (State.RESOLVED, State.CUSTOMER_VERIFIED, State.ARCHIVED):
                raise TicketConflict(f"ticket #{t.id} is {t.state.value}: the customer rates the service after "
                                     "the ticket is resolved")
            rating.rated_by, rating.rated_at = rating.rated_by or actor, now
            repo.update_ticket(conn, t.id, {"satisfaction": rating.to_dict(), "updated_ms": to_ms(now)})
            repo.append_timeline(conn, t.id, now, actor, "satisfaction", rating.to_dict())
            t = self.get(t.id, conn)
            if t.state == State.ARCHIVED:
                t = self.apply_state(conn, t, State.SURVEYED, actor, now)
            return t

    def record_plan(self, ticket_id: int, actor: str, text: str) -> Ticket:
        """The written plan and schedule sent to the customer (the "not fixed within N h" rule)."""
        if not text.strip():
            raise TicketError("describe the plan and schedule sent to the customer")
        with self.lock, self.engine.begin() as conn:
            now = self.now()
            t = self.get(ticket_id, conn, for_update=True)
            clocks = repo.load_clocks(conn, t.id)
            if "plan" in clocks:
                self._stop_clock(conn, t, clocks["plan"], now, "met")
            repo.update_ticket(conn, t.id, {"plan_sent_ms": to_ms(now), "updated_ms": to_ms(now)})
            repo.append_timeline(conn, t.id, now, actor, "plan_sent", {"text": text})
            return self.get(t.id, conn)

    def create_manual(self, actor: str, req: ManualTicket) -> Ticket:
        if not req.title.strip():
            raise TicketError("a ticket needs a title (the problem in a few words)")
        if self.customers and req.customer_id not in self.customers:
            raise TicketError(f"unknown customer {req.customer_id!r}; known: {sorted(self.customers)}")
        with self.lock, self.engine.begin() as conn:
            now = self.now()
            reg = req.registration or Registration()
            self._fill_registration(conn, reg, req.customer_id, req.host_id, now)
            if req.description and not reg.description:
                reg.description = req.description
            reg.channel = reg.channel or "web"
            sig = Signal(source=Source.MANUAL, check_id="manual", subject=uuid.uuid4().hex[:12], firing=True,
                         observed_at=reg.occurred_at or now, host_id=req.host_id, customer_id=req.customer_id,
                         severity=req.severity, title=req.title, description=req.description)
            t = self._create(conn, sig, now, req.customer_id, reg, reporter=req.reporter or actor, actor=actor,
                             classification=req.classification)
            return t

    # -- signals (system sources) -------------------------------------------------------------

    def ingest(self, signals: Iterable[Signal]) -> IngestReport:
        """Apply observations: open, repeat, clear, auto-resolve or reopen tickets, with noise control."""
        sigs = [s for s in signals if s.firing is not None]
        with self.lock:
            for attempt in range(3):
                try:
                    with self.engine.begin() as conn:
                        return self._ingest(conn, sigs)
                except IntegrityError:
                    # Another collector opened the same fingerprint first: the next pass sees it as open.
                    if attempt == 2:
                        raise
                    log.info("event=ticket_open_race retry=%d", attempt + 1)
        raise AssertionError("unreachable")

    def _ingest(self, conn: Connection, sigs: list[Signal]) -> IngestReport:
        report = IngestReport()
        now = self.now()
        open_fps = repo.open_fingerprints(conn)
        windows = self.maintenance(conn, now)
        host_cache: dict[str, dict[str, Any] | None] = {}
        for s in sigs:
            fp = s.fingerprint
            if not s.firing and fp not in open_fps:
                continue
            info = self._host(conn, s.host_id, host_cache)
            customer_id = s.customer_id or (info or {}).get("customer_id") or "unknown"
            if fp in open_fps:
                t = repo.find_open(conn, fp, for_update=True)
                if t is None:
                    open_fps.discard(fp)
                elif s.firing:
                    self._repeat(conn, t, s, now)
                    report.repeated += 1
                    continue
                else:
                    if self._clear(conn, t, s, now):
                        report.cleared += 1
                    if self.maybe_auto_resolve(conn, self.get(t.id, conn), now):
                        report.resolved.append(t.id)
                        open_fps.discard(fp)
                    continue
            if not s.firing:
                continue
            w = self.silenced_by(conn, now, customer_id, s.host_id, s.check_id, windows)
            if w is not None:
                report.suppressed += 1
                log.info("event=ticket_suppressed fingerprint=%s window=%r", fp, w.describe())
                continue
            recent = repo.latest_resolved(conn, fp, now - timedelta(seconds=self.cfg.noise.reopen_within))
            if recent is not None and recent.resolved_by == SYSTEM:
                # Back soon after resolving itself: the same fault, not a new one (and a flap).
                self.flap(conn, recent, now, changed=True)
                t = self._reopen(conn, self.get(recent.id, conn), SYSTEM, "the condition returned", now)
                repo.update_ticket(conn, t.id, {"firing": True, "clear_since_ms": None,
                                                "occurrences": t.occurrences + 1, "last_seen_ms": to_ms(now)})
                report.reopened.append(t.id)
            else:
                reg = Registration(description=s.description or s.title, occurred_at=s.observed_at, channel="system")
                self._fill_registration(conn, reg, customer_id, s.host_id, now, info)
                previous = repo.previous_ticket_id(conn, fp)
                t = self._create(conn, s, now, customer_id, reg, reporter=f"{SYSTEM}:{s.source.value}", actor=SYSTEM,
                                 repeat_of=previous)
                report.opened.append(t.id)
            open_fps.add(fp)
        return report

    def _host(self, conn: Connection, host_id: str | None, cache: dict[str, dict[str, Any] | None]
              ) -> dict[str, Any] | None:
        if not host_id:
            return None
        if host_id not in cache:
            row = conn.execute(select(hosts.c.customer_id, hosts.c.hostname, hosts.c.facts)
                               .where(hosts.c.id == host_id)).first()
            cache[host_id] = dict(row._mapping) if row else None
        return cache[host_id]

    def _fill_registration(self, conn: Connection, reg: Registration, customer_id: str, host_id: str | None,
                           now: datetime, info: dict[str, Any] | None = None) -> None:
        """Fill the registration form from what the collector knows about the customer and host."""
        c = self.customers.get(customer_id)
        if c is not None:
            reg.customer_unit = reg.customer_unit or c.name
            reg.address = reg.address or (c.address or "")
            if c.contacts:
                reg.contact = reg.contact or c.contacts[0].name
                reg.phone = reg.phone or (c.contacts[0].phone or "")
        if host_id:
            info = info if info is not None else self._host(conn, host_id, {})
            if info is not None and not reg.environment:
                f = info.get("facts") or {}
                env = " ".join(str(f[k]) for k in ("os", "kernel", "arch") if f.get(k))
                reg.environment = f"{info.get('hostname') or host_id}" + (f" ({env})" if env else "")
            name = (info or {}).get("hostname")
            reg.impact_scope = reg.impact_scope or (f"host {name} (agent id {host_id})" if name else f"host {host_id}")
        reg.occurred_at = reg.occurred_at or now

    def _create(self, conn: Connection, s: Signal, now: datetime, customer_id: str, reg: Registration, *,
                reporter: str, actor: str, repeat_of: int | None = None,
                classification: Classification | None = None) -> Ticket:
        fp = s.fingerprint
        profile_name = s.sla_profile or self.cfg.profile_name(customer_id)
        cls = classification or Classification()
        title = ((s.title_zh if s.title_zh and self.language(customer_id) == "zh" else s.title)
                 or f"{s.check_id} {s.subject}".strip() + (f" on {s.host_id}" if s.host_id else ""))
        ticket_id = repo.insert_ticket(conn, {
            "fingerprint": fp, "open_fingerprint": fp, "customer_id": customer_id, "host_id": s.host_id,
            "check_id": s.check_id, "subject": s.subject, "source": s.source.value, "title": title,
            "severity": s.severity.value, "state": State.REGISTERED.value, "sla_profile": profile_name,
            "registration": reg.to_dict(), "classification": cls.to_dict(), "details": s.details,
            "forecast": s.forecast, "assignee": None, "reporter": reporter, "created_ms": to_ms(now),
            "updated_ms": to_ms(now), "occurrences": 1, "last_seen_ms": to_ms(now), "firing": True,
            "flap_changes": [], "escalation_level": 0, "repeat_of": repeat_of, "last_repeat_note_ms": to_ms(now),
            "repeats_since_note": 0,
        })
        profile = self.profile(profile_name, customer_id)
        self._start_clocks(conn, ticket_id, s.severity, profile, now, cls.on_site_required)
        repo.append_timeline(conn, ticket_id, now, actor, "created", {
            "source": s.source.value, "severity": s.severity.value, "profile": profile_name, "reporter": reporter,
            **({"repeat_of": repeat_of} if repeat_of else {}),
            **(_eta_details(s.forecast) if s.forecast else {}),
        })
        t = self.get(ticket_id, conn)
        duty = self.cfg.escalation_for(customer_id)[:1]
        self.notify(conn, t, "opened", f"new {t.severity.value} ticket: {t.title}", now=now,
                    emails=tuple(duty[0].email) if duty else (), channels=tuple(duty[0].channels) if duty else ())
        log.info("event=ticket_opened id=%d fingerprint=%s source=%s severity=%s", t.id, fp, s.source.value,
                 s.severity.value)
        return t

    def _repeat(self, conn: Connection, t: Ticket, s: Signal, now: datetime) -> None:
        values: dict[str, Any] = {"last_seen_ms": to_ms(now), "updated_ms": to_ms(now)}
        if s.forecast is not None:
            values["forecast"] = s.forecast
        if s.details:
            values["details"] = s.details
        if not t.firing:
            values.update(firing=True, clear_since_ms=None)
            repo.append_timeline(conn, t.id, now, SYSTEM, "condition_returned",
                                 {"cleared_at": t.clear_since.isoformat() if t.clear_since else None})
            self.flap(conn, t, now, changed=True)
        if s.count_repeat:
            values["occurrences"] = t.occurrences + 1
            pending = t.repeats_since_note + 1
            due = t.last_repeat_note_at is None or \
                (now - t.last_repeat_note_at).total_seconds() >= self.cfg.noise.repeat_note_every
            if due:
                details: dict[str, Any] = {"repeats": pending, "occurrences": t.occurrences + 1}
                if s.details.get("observed") is not None:
                    details["observed"] = s.details["observed"]
                if s.forecast is not None:
                    details.update(_eta_details(s.forecast))
                repo.append_timeline(conn, t.id, now, SYSTEM, "repeat", details)
                values.update(repeats_since_note=0, last_repeat_note_ms=to_ms(now))
            else:
                values["repeats_since_note"] = pending
        repo.update_ticket(conn, t.id, values)
        if s.severity.rank < t.severity.rank and t.source != Source.MANUAL:
            self._raise_severity(conn, self.get(t.id, conn), s.severity, now)

    def _raise_severity(self, conn: Connection, t: Ticket, severity: Severity, now: datetime) -> None:
        repo.update_ticket(conn, t.id, {"severity": severity.value})
        self._retarget(conn, t, severity)
        repo.append_timeline(conn, t.id, now, SYSTEM, "severity", {"from": t.severity.value, "to": severity.value})
        t = self.get(t.id, conn)
        self.notify(conn, t, "severity_raised", f"severity raised to {severity.value} {severity.zh}: {t.title}",
                    now=now)

    def _clear(self, conn: Connection, t: Ticket, s: Signal, now: datetime) -> bool:
        if not t.firing:
            return False
        # The condition was still firing when last seen, so it cannot have cleared before that.
        since = max(min(s.observed_at, now), t.last_seen_at)
        repo.update_ticket(conn, t.id, {"firing": False, "clear_since_ms": to_ms(since), "updated_ms": to_ms(now)})
        repo.append_timeline(conn, t.id, now, SYSTEM, "condition_clear",
                             {"since": since.isoformat(), "resolves_after_s": self.cfg.noise.clear_for})
        self.flap(conn, t, now, changed=True)
        return True

    def flap(self, conn: Connection, t: Ticket, now: datetime, changed: bool) -> None:
        n = self.cfg.noise
        st = track_flapping(t.flap_changes_ms, to_ms(now), n.flap_window, n.flap_threshold, t.flapping, changed)
        repo.update_ticket(conn, t.id, {"flap_changes": list(st.changes_ms), "flapping": st.flapping})
        if st.started:
            repo.append_timeline(conn, t.id, now, SYSTEM, "flapping_started",
                                 {"changes": len(st.changes_ms), "window_s": n.flap_window,
                                  "note": "notifications about this condition are suppressed while it flaps"})
        elif st.stopped:
            repo.append_timeline(conn, t.id, now, SYSTEM, "flapping_stopped", {"changes": len(st.changes_ms)})

    def maybe_auto_resolve(self, conn: Connection, t: Ticket, now: datetime) -> bool:
        n = self.cfg.noise
        if not (n.auto_resolve and t.is_open and not t.firing and t.source != Source.MANUAL):
            return False
        if not clear_long_enough(t.clear_since, now, n.clear_for):
            return False
        note = f"condition clear since {t.clear_since.isoformat() if t.clear_since else '?'}"
        t = self.apply_state(conn, t, State.RESOLVED, SYSTEM, now, note)
        self.notify(conn, t, "resolved", f"resolved (condition clear): {t.title}", note, now=now)
        return True

    # -- maintenance windows ------------------------------------------------------------------

    def add_window(self, actor: str, w: MaintenanceWindow) -> MaintenanceWindow:
        with self.lock, self.engine.begin() as conn:
            now = self.now()
            w = MaintenanceWindow(**{**w.__dict__, "created_by": actor})
            wid = repo.insert_window(conn, w, now)
            self._stored_windows = None
            log.info("event=maintenance_added id=%d by=%s window=%r", wid, actor, w.describe())
            return MaintenanceWindow(**{**w.__dict__, "id": wid})

    def delete_window(self, actor: str, window_id: int) -> None:
        with self.lock, self.engine.begin() as conn:
            self._stored_windows = None
            if not repo.delete_window(conn, window_id, self.now()):
                raise TicketNotFound(f"no maintenance window #{window_id} (configured windows are removed in "
                                     "collector.yaml)")
            log.info("event=maintenance_deleted id=%d by=%s", window_id, actor)

    def windows(self) -> list[MaintenanceWindow]:
        with self.engine.connect() as conn:
            return self.maintenance(conn, self.now())


def _eta_details(forecast: dict[str, Any]) -> dict[str, str | None]:
    """ETA and band of a forecast payload (unix seconds) as ISO times for the timeline."""
    out: dict[str, str | None] = {}
    for key in ("eta", "eta_low", "eta_high"):
        v = forecast.get(key)
        out[key] = datetime.fromtimestamp(float(v), tz=UTC).isoformat() if isinstance(v, int | float) else None
    return out
