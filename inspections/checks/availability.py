"""Expected things that are up or down: processes, ports, systemd units, TCP targets, HTTP endpoints.

The observed value is the availability over the window (share of probe samples that were up, in
percent), judged by the warn/crit levels; a subject that is down *right now* is critical whatever
its availability. Subjects are the union of what the customer expects and what the agent probes:
an expected subject without probe data is unknown, never ok.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict

from inspections.checks.aggregate import share_at_least, up_fraction
from inspections.checks.base import CheckInputs, CheckOutput, NotApplicable, Observation, PythonCheck
from inspections.checks.context import CheckContext
from inspections.checks.definition import ExpectationList, Text
from inspections.data import LatestValue, SeriesRollup
from inspections.expectations import ExpectedHttp
from inspections.model import Evidence, SeriesRef

NON_SYSTEMD_PLATFORMS = ("windows", "darwin", "macos", "mac os", "freebsd", "openbsd", "netbsd", "aix", "solaris")


class AvailabilityParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    series: str
    label: str
    expected: ExpectationList
    what: str
    down_note: Text
    requires_systemd: bool = False


class AvailabilityCheck(PythonCheck):
    """A 1/0 probe series per subject (``probe.port_listening{port}`` and the like)."""

    Params = AvailabilityParams
    params: AvailabilityParams

    def inputs(self) -> CheckInputs:
        names = frozenset({self.params.series})
        return CheckInputs(rollups=names, latest=names)

    # Hooks the variants override.

    def _expected_subjects(self, ctx: CheckContext) -> list[str]:
        return list(ctx.expectations.subjects(self.params.expected))

    def _label_matches(self, ctx: CheckContext, subject: str, label: str) -> bool:
        return subject == label

    def _availability(self, ctx: CheckContext, series: SeriesRollup, subject: str) -> float | None:
        return up_fraction(series.columns())

    def _down_now(self, ctx: CheckContext, subject: str, latest: LatestValue) -> dict[str, str] | None:
        return self.params.down_note.as_dict() if latest.value < 0.5 else None

    def _extra_refs(self, label: str) -> tuple[SeriesRef, ...]:
        return ()

    # The shared evaluation.

    def _not_applicable(self, ctx: CheckContext) -> str | None:
        if self.params.requires_systemd:
            os_name = str(ctx.host.facts.get("os", "")).lower()
            if any(platform in os_name for platform in NON_SYSTEMD_PLATFORMS):
                return f"{ctx.host.facts.get('os')} does not run systemd"
        return None

    def evaluate(self, ctx: CheckContext) -> Iterator[CheckOutput]:
        rollups = {s.labels.get(self.params.label, ""): s for s in ctx.rollups(self.params.series)}
        latest = {v.labels.get(self.params.label, ""): v for v in ctx.latest(self.params.series)}
        probed = list(dict.fromkeys([*latest, *rollups]))
        expected = self._expected_subjects(ctx)
        if not probed:
            reason = self._not_applicable(ctx)
            if reason is not None:
                yield NotApplicable(reason)
                return
        if not probed and not expected:
            yield NotApplicable(f"no {self.params.what} is expected or probed on this host")
            return
        subjects: dict[str, str | None] = {}  # subject -> label of its series (None: not probed)
        for subject in expected:
            subjects[subject] = next((label for label in probed if self._label_matches(ctx, subject, label)), None)
        matched = {label for label in subjects.values() if label is not None}
        for label in probed:
            if label not in matched:
                subjects[label] = label
        for subject, series_label in subjects.items():
            yield self._observe(ctx, subject, series_label, rollups, latest)

    def _observe(
        self,
        ctx: CheckContext,
        subject: str,
        label: str | None,
        rollups: dict[str, SeriesRollup],
        latest: dict[str, LatestValue],
    ) -> Observation:
        labels = {self.params.label: label if label is not None else subject}
        refs = (SeriesRef(self.params.series, labels), *self._extra_refs(labels[self.params.label]))
        series = rollups.get(label) if label is not None else None
        current = latest.get(label) if label is not None else None
        evidence = Evidence(
            source="rollups",
            series=refs,
            since=ctx.since,
            until=ctx.until,
            aggregation="share of samples up, percent",
            rollup="avg",
            points=len(series.points) if series is not None else 0,
            latest_ts=current.ts if current is not None else None,
        )
        if label is None:
            reason = (
                f"{self.params.what} {subject!r} is expected but the agent does not probe it: add it to "
                "the probes in the agent's agent.yaml"
            )
            return Observation(subject, None, evidence, unknown_reason=reason)
        if current is None:
            reason = f"no current {self.params.series} value for {subject!r}"
            return Observation(subject, None, evidence, unknown_reason=reason)
        stale = ctx.latest_stale_reason(current)
        if stale is not None:
            return Observation(subject, None, evidence, unknown_reason=stale)
        if series is None:
            reason = f"no {self.params.series} data for {subject!r} in the window"
            return Observation(subject, None, evidence, unknown_reason=reason)
        share = self._availability(ctx, series, subject)
        if share is None:
            reason = f"{self.params.series} for {subject!r} has no samples in the window"
            return Observation(subject, None, evidence, unknown_reason=reason)
        down = self._down_now(ctx, subject, current)
        return Observation(
            subject,
            share * 100.0,
            evidence,
            min_status="critical" if down is not None else None,
            note=down,
        )


class ProcessCheck(AvailabilityCheck):
    """``probe.process_count{name}``: up while at least ``min_count`` processes run."""

    def _expected_subjects(self, ctx: CheckContext) -> list[str]:
        return [p.name for p in ctx.expectations.processes]

    def _required(self, ctx: CheckContext, subject: str) -> int:
        for process in ctx.expectations.processes:
            if process.name == subject:
                return process.min_count
        return 1

    def _label_matches(self, ctx: CheckContext, subject: str, label: str) -> bool:
        # The probe may be named after the command-line pattern rather than the process name.
        return any(p.name == subject and p.matches(label) for p in ctx.expectations.processes)

    def _availability(self, ctx: CheckContext, series: SeriesRollup, subject: str) -> float | None:
        return share_at_least(series.columns(), self._required(ctx, subject))

    def _down_now(self, ctx: CheckContext, subject: str, latest: LatestValue) -> dict[str, str] | None:
        required = self._required(ctx, subject)
        if latest.value >= required:
            return None
        note = self.params.down_note
        running = int(latest.value)
        return {
            "zh": f"{note.zh}(运行 {running} 个,至少需要 {required} 个)",
            "en": f"{note.en} ({running} running, at least {required} required)",
        }


class SystemdUnitCheck(AvailabilityCheck):
    """``probe.systemd_unit_active{unit}``; ``nginx`` and ``nginx.service`` name the same unit."""

    def _label_matches(self, ctx: CheckContext, subject: str, label: str) -> bool:
        return label in (subject, f"{subject}.service") or subject == f"{label}.service"


class HttpEndpointCheck(AvailabilityCheck):
    """``probe.http_up{url}`` for availability; ``probe.http_status{url}`` against the expected code."""

    STATUS_SERIES = "probe.http_status"

    def inputs(self) -> CheckInputs:
        base = super().inputs()
        return CheckInputs(rollups=base.rollups, latest=base.latest | {self.STATUS_SERIES})

    def _extra_refs(self, label: str) -> tuple[SeriesRef, ...]:
        return (SeriesRef(self.STATUS_SERIES, {self.params.label: label}),)

    def _expectation(self, ctx: CheckContext, url: str) -> ExpectedHttp | None:
        return next((h for h in ctx.expectations.http if h.url == url), None)

    def _down_now(self, ctx: CheckContext, subject: str, latest: LatestValue) -> dict[str, str] | None:
        note = self.params.down_note
        if latest.value < 0.5:
            return note.as_dict()
        status = next((v for v in ctx.latest(self.STATUS_SERIES) if v.labels.get(self.params.label) == subject), None)
        if status is None or ctx.latest_stale_reason(status) is not None:
            return None
        code = int(status.value)
        expectation = self._expectation(ctx, subject)
        wanted = expectation.status if expectation is not None else None
        if wanted is not None and code != wanted:
            return {
                "zh": f"{note.zh}(状态码 {code},期望 {wanted})",
                "en": f"{note.en} (status {code}, expected {wanted})",
            }
        if wanted is None and not 200 <= code < 400:
            return {
                "zh": f"{note.zh}(状态码 {code},期望 2xx/3xx)",
                "en": f"{note.en} (status {code}, expected 2xx/3xx)",
            }
        return None
