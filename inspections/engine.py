"""The inspection engine: a profile's checks over hosts and a window, to findings and scores.

The engine owns what every check shares: iterating hosts, asking the data source once per series
name and host, applying the customer's overrides (disabled checks and subjects, thresholds),
turning observations into statuses, and scoring. Checks only observe.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from inspections.checks.base import Check, CheckInputs, NotApplicable, Observation
from inspections.checks.context import CheckContext
from inspections.data import HostInfo, InspectionData, PrefetchingData
from inspections.hysteresis import PreviousStatuses, Recovery, held_status
from inspections.model import (
    CustomerScore,
    Evidence,
    Finding,
    HostResult,
    InspectionResult,
    Skipped,
    Status,
    status_counts,
    worst_status,
)
from inspections.overrides import HostOverrides, OverridesArg, overrides_for_customer
from inspections.profiles import Profile
from inspections.scoring import DEFAULT_WEIGHTS, ScoreWeights, customer_score, host_score

log = logging.getLogger(__name__)

PREFETCH_CHUNK = 200


@dataclass(frozen=True, slots=True)
class InspectionProgress:
    done: int
    total: int
    host_id: str
    hostname: str


ProgressCallback = Callable[[InspectionProgress], None]


class _CheckTexts:
    """Per-check dicts built once per run and shared by all of that check's findings."""

    __slots__ = ("name", "recommendation")

    def __init__(self, check: Check) -> None:
        self.name = check.spec.name.as_dict()
        self.recommendation = check.spec.recommendation.as_dict()


def _require_aware(name: str, value: datetime | None) -> None:
    if value is not None and value.tzinfo is None:
        raise ValueError(f"{name} is a naive datetime; pass tz-aware UTC times (datetime.now(UTC))")


def run_inspection(
    data: InspectionData,
    hosts: Sequence[HostInfo],
    profile: Profile,
    window: tuple[datetime, datetime] | None = None,
    overrides: OverridesArg = None,
    now: datetime | None = None,
    previous_run_at: datetime | None = None,
    progress: ProgressCallback | None = None,
    weights: ScoreWeights = DEFAULT_WEIGHTS,
    previous: PreviousStatuses | None = None,
) -> InspectionResult:
    """Evaluate ``profile`` for every host over ``window`` (default: the profile's window ending
    at ``now``). ``overrides`` is one customer's :class:`Overrides` or a mapping customer id →
    overrides. ``previous_run_at`` is when the previous inspection of these hosts ran (reboot
    detection); ``previous`` holds that inspection's statuses, which checks with recovery levels
    keep while the value has not recovered (:mod:`inspections.hysteresis`); ``progress`` is called
    after each host."""
    now = now or datetime.now(UTC)
    _require_aware("now", now)
    _require_aware("previous_run_at", previous_run_at)
    since, until = window or profile.window_ending(now)
    _require_aware("window start", since)
    _require_aware("window end", until)
    if since >= until:
        raise ValueError(f"empty window: start {since.isoformat()} is not before end {until.isoformat()}")

    checks = profile.checks
    texts = {c.id: _CheckTexts(c) for c in checks}
    inputs = _union_inputs(c.inputs() for c in checks)
    results: list[HostResult] = []
    for start in range(0, len(hosts), PREFETCH_CHUNK):
        chunk = hosts[start : start + PREFETCH_CHUNK]
        if isinstance(data, PrefetchingData):
            data.prefetch([h.host_id for h in chunk], sorted(inputs.rollups), sorted(inputs.latest), since, until)
        for host in chunk:
            host_overrides = overrides_for_customer(overrides, host.customer_id).for_host(host)
            ctx = CheckContext(
                data, host, since, until, now, previous_run_at, profile.stale_after, host_overrides.expectations
            )
            results.append(inspect_host(ctx, checks, host_overrides, profile.stale_after, texts, weights, previous))
            if progress is not None:
                progress(InspectionProgress(len(results), len(hosts), host.host_id, host.hostname))

    return InspectionResult(
        profile=profile.id,
        since=since,
        until=until,
        evaluated_at=now,
        previous_run_at=previous_run_at,
        hosts=results,
        customers=_customer_scores(results, weights),
        checks=profile.check_ids(),
    )


def _union_inputs(inputs: Iterable[CheckInputs]) -> CheckInputs:
    rollups: set[str] = set()
    latest: set[str] = set()
    for item in inputs:
        rollups |= item.rollups
        latest |= item.latest
    return CheckInputs(frozenset(rollups), frozenset(latest))


def inspect_host(
    ctx: CheckContext,
    checks: Sequence[Check],
    overrides: HostOverrides,
    stale_after: timedelta,
    texts: dict[str, _CheckTexts] | None = None,
    weights: ScoreWeights = DEFAULT_WEIGHTS,
    previous: PreviousStatuses | None = None,
) -> HostResult:
    host = ctx.host
    findings: list[Finding] = []
    skipped: list[Skipped] = []
    for check in checks:
        if not overrides.enabled(check.id):
            skipped.append(Skipped(check.id, "disabled by the customer's overrides"))
            continue
        minutes = check.spec.stale_after_minutes
        ctx.stale_after = timedelta(minutes=minutes) if minutes else stale_after
        text = texts[check.id] if texts is not None else _CheckTexts(check)
        observations, not_applicable = _observe(check, ctx)
        if not observations:
            reason = not_applicable.reason if not_applicable else "the check found no subject on this host"
            skipped.append(Skipped(check.id, reason))
            continue
        for observation in observations:
            if observation.subject and not overrides.enabled(check.id, observation.subject):
                skipped.append(Skipped(check.id, f"subject {observation.subject!r} disabled by overrides"))
                continue
            before = previous.get((host.host_id, check.id, observation.subject)) if previous else None
            findings.append(_finding(host.host_id, check, observation, overrides, text, before))
    return HostResult(
        host_id=host.host_id,
        hostname=host.hostname,
        customer_id=host.customer_id,
        score=host_score(findings, weights),
        findings=findings,
        skipped=skipped,
    )


def _observe(check: Check, ctx: CheckContext) -> tuple[list[Observation], NotApplicable | None]:
    observations: list[Observation] = []
    not_applicable: NotApplicable | None = None
    try:
        for output in check.evaluate(ctx):
            if isinstance(output, NotApplicable):
                not_applicable = output
            else:
                observations.append(output)
    except Exception as exc:
        # One broken check or odd series must not sink a thousand-host run: it becomes an unknown
        # finding that names the failure, and the traceback goes to the log.
        log.exception("check failed: check=%s host=%s", check.id, ctx.host.host_id)
        reason = f"the check failed: {type(exc).__name__}: {exc}; see the collector log"
        return [Observation("", None, Evidence(source="host"), unknown_reason=reason)], None
    return observations, not_applicable


def _finding(
    host_id: str,
    check: Check,
    observation: Observation,
    overrides: HostOverrides,
    text: _CheckTexts,
    previous: Status | None = None,
) -> Finding:
    spec = check.spec
    threshold = overrides.threshold(check, observation.subject)
    status, reason = _status(observation, threshold.status_of)
    note = observation.note
    if previous is not None and status != "unknown" and observation.value is not None:
        recovery = overrides.recovery(check, observation.subject)
        held = held_status(observation.value, threshold, recovery, status, previous)
        if held != status:
            status, note = held, _held_note(held, recovery, spec.unit, note)
    return Finding(
        host_id=host_id,
        check_id=check.id,
        subject=observation.subject,
        status=status,
        unknown_reason=reason,
        observed=observation.value if status != "unknown" else None,
        threshold=threshold,
        unit=spec.unit,
        evidence=observation.evidence,
        recommendation=text.recommendation,
        category=spec.category,
        severity=spec.severity,
        name=text.name,
        note=note,
    )


_STATUS_ZH = {"warning": "警告", "critical": "严重"}


def _held_note(status: Status, recovery: Recovery, unit: str, note: dict[str, str] | None) -> dict[str, str]:
    """Why a value on the good side of its level still has the previous inspection's status."""
    level = recovery.crit if status == "critical" else recovery.warn
    shown = f"{level:g}{unit if unit in ('%', '') else ' ' + unit}" if level is not None else ""
    zh = f"上次巡检为{_STATUS_ZH[status]}，数值尚未回到恢复值 {shown} 以内，维持{_STATUS_ZH[status]}"
    en = f"{status} at the previous inspection and not yet back past the recovery level {shown}: still {status}"
    if note:
        return {"zh": f"{note.get('zh', '')}；{zh}".lstrip("；"), "en": f"{note.get('en', '')}; {en}".lstrip("; ")}
    return {"zh": zh, "en": en}


def _status(observation: Observation, judge: Callable[[float], Status]) -> tuple[Status, str | None]:
    if observation.unknown_reason is not None:
        return "unknown", observation.unknown_reason
    value = observation.value
    if value is None:
        if observation.min_status is not None:
            return observation.min_status, None
        return "unknown", "the check produced no value"
    if not math.isfinite(value):
        return "unknown", f"the observed value is not a number ({value})"
    status = judge(value)
    if observation.min_status is not None:
        status = worst_status([status, observation.min_status])
    return status, None


def _customer_scores(hosts: Sequence[HostResult], weights: ScoreWeights) -> list[CustomerScore]:
    by_customer: dict[str, list[HostResult]] = {}
    for host in hosts:
        by_customer.setdefault(host.customer_id, []).append(host)
    out = []
    for customer_id, members in by_customer.items():
        worst = min(members, key=lambda h: h.score)
        out.append(
            CustomerScore(
                customer_id=customer_id,
                score=customer_score([h.score for h in members], weights),
                hosts=len(members),
                worst_host_id=worst.host_id,
                counts=status_counts([f for h in members for f in h.findings]),
            )
        )
    return out
