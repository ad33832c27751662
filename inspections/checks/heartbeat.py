"""Heartbeat age: how long ago the collector last heard from the host's agent."""

from __future__ import annotations

from collections.abc import Iterator

from inspections.checks.base import CheckInputs, CheckOutput, Observation, PythonCheck
from inspections.checks.context import CheckContext
from inspections.model import Evidence


class HeartbeatCheck(PythonCheck):
    HOST_LEVEL = True

    def inputs(self) -> CheckInputs:
        return CheckInputs()

    def evaluate(self, ctx: CheckContext) -> Iterator[CheckOutput]:
        last_seen = ctx.host.last_seen
        evidence = Evidence(source="host", aggregation="now - last_seen", latest_ts=last_seen)
        if last_seen is None:
            yield Observation(
                "",
                None,
                evidence,
                unknown_reason="the collector has never heard from this host: check that its agent is "
                "installed, enrolled and can reach the collector",
            )
            return
        # A last-seen slightly in the future is clock skew between collectors, not a negative age.
        yield Observation("", max(0.0, (ctx.now - last_seen).total_seconds()), evidence)
