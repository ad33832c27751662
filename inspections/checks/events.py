"""The declarative event check: how many log-rule events of some rules happened in the window."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from inspections.checks.base import Check, CheckInputs, CheckOutput, Observation
from inspections.checks.context import CheckContext
from inspections.checks.definition import EventCheckSpec
from inspections.log_rules import ranked
from inspections.model import Evidence


class EventCountCheck(Check):
    spec: EventCheckSpec

    @property
    def per_subject(self) -> bool:
        return False

    def inputs(self) -> CheckInputs:
        return CheckInputs()

    def evaluate(self, ctx: CheckContext) -> Iterator[CheckOutput]:
        evidence = Evidence(
            source="events",
            since=ctx.since,
            until=ctx.until,
            aggregation="count per hour" if self.spec.per_hour else "count",
            rules=tuple(self.spec.rules),
        )
        # Zero events only means "nothing happened" while the agent was reporting.
        reason = ctx.host_stale_reason()
        if reason is not None:
            yield Observation("", None, evidence, unknown_reason=reason)
            return
        counts = ranked(ctx.event_counts(), self.spec.rules)
        total = float(sum(n for _, n in counts))
        if self.spec.per_hour:
            total /= max(ctx.window_hours, 1e-9)
        yield Observation("", total, replace(evidence, counts=counts))
