"""Reboots since the last inspection (or since the window start for a first run).

Boot times come from ``system.boot_time_seconds`` (its rollups over the period and its newest
value) and from the host's facts. Each distinct boot time after the reference point is a reboot.
The agent derives boot time from uptime, which jitters by a second or two, so boot times closer
than ``BOOT_JITTER`` are one boot.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from inspections.checks.base import CheckInputs, CheckOutput, Observation, PythonCheck
from inspections.checks.context import CheckContext
from inspections.data import from_epoch, to_epoch
from inspections.model import Evidence, SeriesRef

BOOT_TIME = "system.boot_time_seconds"
BOOT_JITTER = 120.0
MAX_LISTED = 5


def distinct_boots(stamps: list[float]) -> list[float]:
    """Boot times with jitter merged; each cluster is represented by its earliest value."""
    boots: list[float] = []
    for stamp in sorted(stamps):
        if not boots or stamp - boots[-1] > BOOT_JITTER:
            boots.append(stamp)
    return boots


class RebootCheck(PythonCheck):
    HOST_LEVEL = True

    def inputs(self) -> CheckInputs:
        return CheckInputs(rollups=frozenset({BOOT_TIME}), latest=frozenset({BOOT_TIME}))

    def evaluate(self, ctx: CheckContext) -> Iterator[CheckOutput]:
        reference = ctx.previous_run_at or ctx.since
        series = ctx.rollups(BOOT_TIME, since=min(reference, ctx.since))
        stamps: list[float] = []
        for rollup in series:
            columns = rollup.columns()
            for column in (columns.min, columns.max, columns.last):
                values = np.asarray(column, dtype=np.float64)
                stamps.extend(float(v) for v in np.unique(values[np.isfinite(values) & (values > 0)]))
        stamps.extend(v.value for v in ctx.latest(BOOT_TIME) if v.value > 0)
        if ctx.host.boot_time is not None:
            stamps.append(to_epoch(ctx.host.boot_time))
        evidence = Evidence(
            source="rollups",
            series=(SeriesRef(BOOT_TIME),),
            since=reference,
            until=ctx.until,
            aggregation="distinct boot times after the previous inspection",
            rollup="min/max/last",
            points=sum(len(s.points) for s in series),
        )
        if not stamps:
            reason = f"no boot time known: the host reports no {BOOT_TIME} and its facts have no boot time"
            yield Observation("", None, evidence, unknown_reason=reason)
            return
        stale = ctx.host_stale_reason()
        if stale is not None:
            yield Observation("", None, evidence, unknown_reason=stale)
            return
        after = to_epoch(reference)
        reboots = [b for b in distinct_boots(stamps) if b > after]
        note = None
        if reboots:
            listed = ", ".join(from_epoch(b).strftime("%Y-%m-%d %H:%M UTC") for b in reboots[-MAX_LISTED:])
            note = {"zh": f"启动时间:{listed}", "en": f"booted at {listed}"}
        yield Observation("", float(len(reboots)), evidence, note=note)
