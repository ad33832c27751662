"""Checks over log-rule events that need more than a count: error rates and login bursts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from inspections.checks.base import CheckInputs, CheckOutput, Observation, PythonCheck
from inspections.checks.context import CheckContext
from inspections.data import EventStamps
from inspections.log_rules import ranked
from inspections.model import Evidence


class ErrorRateParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    severities: list[str] = Field(default_factory=lambda: ["error", "critical"], min_length=1)


class ErrorRateCheck(PythonCheck):
    """Events of severity error or critical, per hour averaged over the window."""

    Params = ErrorRateParams
    HOST_LEVEL = True
    params: ErrorRateParams

    def inputs(self) -> CheckInputs:
        return CheckInputs()

    def evaluate(self, ctx: CheckContext) -> Iterator[CheckOutput]:
        severities = self.params.severities
        evidence = Evidence(
            source="events",
            since=ctx.since,
            until=ctx.until,
            aggregation=f"events of severity {'/'.join(severities)} per hour",
        )
        reason = ctx.host_stale_reason()
        if reason is not None:
            yield Observation("", None, evidence, unknown_reason=reason)
            return
        counts = ranked(ctx.event_counts(severities))
        total = sum(n for _, n in counts)
        evidence = Evidence(
            source="events",
            since=ctx.since,
            until=ctx.until,
            aggregation=evidence.aggregation,
            rules=tuple(sorted(rule for rule, _ in counts)),
            counts=counts,
        )
        yield Observation("", total / max(ctx.window_hours, 1e-9), evidence)


class FailedLoginParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[str] = Field(min_length=1)
    burst_minutes: int = Field(default=60, gt=0)
    limit: int = Field(default=50_000, gt=0)


def peak_in_window(events: EventStamps, width: timedelta) -> int:
    """The most events (by weight) within any span of ``width`` — a sliding window, not fixed
    buckets, so a burst straddling the hour is not cut in half."""
    if not len(events):
        return 0
    # The window ending at each event holds the events after ``ts - width`` up to it.
    cumulative = np.concatenate(([0], np.cumsum(events.weight)))
    starts = np.searchsorted(events.ts, events.ts - width.total_seconds(), side="right")
    return int((cumulative[1:] - cumulative[starts]).max())


class FailedLoginCheck(PythonCheck):
    """The worst burst of failed logins (attempts within ``burst_minutes``)."""

    Params = FailedLoginParams
    HOST_LEVEL = True
    params: FailedLoginParams

    def inputs(self) -> CheckInputs:
        return CheckInputs()

    def evaluate(self, ctx: CheckContext) -> Iterator[CheckOutput]:
        evidence = Evidence(
            source="events",
            since=ctx.since,
            until=ctx.until,
            aggregation=f"most events within {self.params.burst_minutes} min",
            rules=tuple(self.params.rules),
        )
        reason = ctx.host_stale_reason()
        if reason is not None:
            yield Observation("", None, evidence, unknown_reason=reason)
            return
        counts = ranked(ctx.event_counts(), self.params.rules)
        if not counts:
            yield Observation("", 0.0, evidence)  # nothing to fetch: no failed login at all
            return
        evidence = replace(evidence, counts=counts)
        events = ctx.event_stamps(list(self.params.rules), None, self.params.limit)
        note = None
        if len(events) >= self.params.limit:
            note = {
                "zh": f"事件数已达查询上限 {self.params.limit},峰值可能更高",
                "en": "query limit reached: the peak may be higher",
            }
        peak = peak_in_window(events, timedelta(minutes=self.params.burst_minutes))
        yield Observation("", float(peak), evidence, note=note)
