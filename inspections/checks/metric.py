"""The declarative check: a threshold over a metric window, one subject per label set."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence

from inspections.checks.aggregate import aggregate
from inspections.checks.base import Check, CheckInputs, CheckOutput, NotApplicable, Observation
from inspections.checks.context import CheckContext
from inspections.checks.definition import MetricCheckSpec
from inspections.data import LatestValue, SeriesRollup
from inspections.model import Evidence, SeriesRef

SUBJECT_SEPARATOR = " / "


class MetricCheck(Check):
    spec: MetricCheckSpec

    def __init__(self, spec: MetricCheckSpec) -> None:
        super().__init__(spec)
        self._match = {label: re.compile(p) for label, p in spec.match.items()}
        self._exclude = {label: re.compile(p) for label, p in spec.exclude.items()}

    @property
    def per_subject(self) -> bool:
        return bool(self.spec.subject)

    def inputs(self) -> CheckInputs:
        names = frozenset(self.spec.series) | frozenset(self.spec.per)
        if self.spec.source == "latest":
            return CheckInputs(latest=names)
        return CheckInputs(rollups=names)

    # -- selection ---------------------------------------------------------------------------------

    def _selected(self, labels: dict[str, str]) -> bool:
        for label, pattern in self._match.items():
            if not pattern.fullmatch(labels.get(label, "")):
                return False
        return all(not pattern.fullmatch(labels.get(label, "")) for label, pattern in self._exclude.items())

    def _subject(self, labels: dict[str, str]) -> str:
        return SUBJECT_SEPARATOR.join(labels.get(label, "") for label in self.spec.subject)

    def _expected_labels(self, subject: str) -> dict[str, str]:
        return {self.spec.subject[0]: subject} if self.spec.subject else {}

    # -- evaluation --------------------------------------------------------------------------------

    def evaluate(self, ctx: CheckContext) -> Iterable[CheckOutput]:
        if self.spec.source == "latest":
            return self._evaluate_latest(ctx)
        return self._evaluate_rollups(ctx)

    def _absent(self, ctx: CheckContext, evidence: Evidence) -> Iterator[CheckOutput]:
        names = ", ".join(self.spec.series)
        if self.spec.when_absent == "not_applicable":
            yield NotApplicable(f"the host reports no {names} series")
        else:
            yield Observation("", None, evidence, unknown_reason=f"no {names} data in the window")

    def _missing_expected(self, ctx: CheckContext, seen: Iterable[str]) -> Iterator[Observation]:
        if self.spec.expected is None:
            return
        seen_set = set(seen)
        for subject in ctx.expectations.subjects(self.spec.expected):
            if subject in seen_set:
                continue
            yield Observation(
                subject,
                None,
                self._evidence(ctx, subject_labels=self._expected_labels(subject)),
                unknown_reason=(
                    f"{subject!r} is expected ({self.spec.expected}) but the host reports no "
                    f"{', '.join(self.spec.series)} for it: add it to the agent's probes in agent.yaml"
                ),
            )

    def _evidence(
        self,
        ctx: CheckContext,
        series: Sequence[SeriesRollup | LatestValue] = (),
        subject_labels: dict[str, str] | None = None,
    ) -> Evidence:
        refs = tuple(SeriesRef(s.name, dict(s.labels)) for s in series) or tuple(
            SeriesRef(name, dict(subject_labels or {})) for name in self.spec.series
        )
        if self.spec.source == "latest":
            newest = max((s.ts for s in series if isinstance(s, LatestValue)), default=None)
            return Evidence(source="latest", series=refs, aggregation="last", latest_ts=newest)
        points = sum(len(s.points) for s in series if isinstance(s, SeriesRollup))
        return Evidence(
            source="rollups",
            series=refs,
            since=ctx.since,
            until=ctx.until,
            aggregation=self.spec.aggregation,
            rollup=self.spec.rollup,
            points=points,
        )

    def _evaluate_rollups(self, ctx: CheckContext) -> Iterator[CheckOutput]:
        groups = self._groups(ctx, self.spec.series)
        if not groups and not (self.spec.expected and ctx.expectations.subjects(self.spec.expected)):
            yield from self._absent(ctx, self._evidence(ctx))
            return
        denominators = self._groups(ctx, self.spec.per)
        for subject, members in groups.items():
            evidence = self._evidence(ctx, members)
            values, reason = self._aggregates(ctx, members)
            if reason is None and self.spec.per:
                below, reason = self._aggregates(ctx, denominators.get(subject, []))
                if reason is None and not below:
                    reason = f"no {', '.join(self.spec.per)} data for {subject or 'the host'} in the window"
            if reason is not None:
                yield Observation(subject, None, evidence, unknown_reason=reason)
                continue
            value = self._combine(values)
            if self.spec.per:
                value /= max(sum(below), self.spec.per_floor) or 1.0
            yield Observation(subject, value, evidence)
        yield from self._missing_expected(ctx, groups)

    def _groups(self, ctx: CheckContext, names: Sequence[str]) -> dict[str, list[SeriesRollup]]:
        groups: dict[str, list[SeriesRollup]] = {}
        for name in names:
            for series in ctx.rollups(name):
                if self._selected(series.labels):
                    groups.setdefault(self._subject(series.labels), []).append(series)
        return groups

    def _aggregates(self, ctx: CheckContext, members: Sequence[SeriesRollup]) -> tuple[list[float], str | None]:
        """Each member's window aggregate, or the reason one of them has none."""
        values: list[float] = []
        for series in members:
            reason = ctx.rollup_stale_reason(series)
            if reason is not None:
                return values, reason
            value = aggregate(series.columns(), self.spec.rollup, self.spec.aggregation)
            if value is None:
                return values, f"{series.name} has no finite values in the window"
            values.append(value)
        return values, None

    def _evaluate_latest(self, ctx: CheckContext) -> Iterator[CheckOutput]:
        groups: dict[str, list[LatestValue]] = {}
        for name in self.spec.series:
            for value in ctx.latest(name):
                if self._selected(value.labels):
                    groups.setdefault(self._subject(value.labels), []).append(value)
        if not groups and not (self.spec.expected and ctx.expectations.subjects(self.spec.expected)):
            yield from self._absent(ctx, self._evidence(ctx))
            return
        for subject, members in groups.items():
            evidence = self._evidence(ctx, members)
            reasons = [r for r in (ctx.latest_stale_reason(v) for v in members) if r is not None]
            if reasons:
                yield Observation(subject, None, evidence, unknown_reason=reasons[0])
                continue
            yield Observation(subject, self._combine([v.value for v in members]), evidence)
        yield from self._missing_expected(ctx, groups)

    def _combine(self, values: list[float]) -> float:
        combined = sum(values) if self.spec.combine == "sum" else max(values)
        return combined * self.spec.scale
