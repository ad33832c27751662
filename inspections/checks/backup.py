"""Backups under configured paths: the newest file is fresh, and its size has not collapsed.

Both checks read the agent's backup probe (``probe.backup_*{path}``, latest values). Paths are the
union of the customer's expected backup paths and the paths the agent probes.
"""

from __future__ import annotations

from collections.abc import Iterator

from inspections.checks.base import CheckInputs, CheckOutput, NotApplicable, Observation, PythonCheck
from inspections.checks.context import CheckContext
from inspections.data import LatestValue
from inspections.model import Evidence, SeriesRef

AGE = "probe.backup_newest_age_seconds"
FILES = "probe.backup_files"
NEWEST_SIZE = "probe.backup_newest_size_bytes"
PREVIOUS_SIZE = "probe.backup_previous_size_bytes"

NO_FILES = {"zh": "目录下没有任何备份文件", "en": "no backup files under this path"}
EMPTY_NEWEST = {"zh": "最新的备份文件大小为 0", "en": "the newest backup file is empty"}


def _by_path(ctx: CheckContext, name: str) -> dict[str, LatestValue]:
    return {v.labels.get("path", ""): v for v in ctx.latest(name)}


def _paths(ctx: CheckContext, *probed: dict[str, LatestValue]) -> list[str]:
    paths = list(ctx.expectations.backups)
    for values in probed:
        paths.extend(values)
    return list(dict.fromkeys(paths))


def _evidence(path: str, values: list[LatestValue | None], names: tuple[str, ...]) -> Evidence:
    present = [v for v in values if v is not None]
    return Evidence(
        source="latest",
        series=tuple(SeriesRef(name, {"path": path}) for name in names),
        aggregation="last",
        latest_ts=max((v.ts for v in present), default=None),
    )


def _not_probed(path: str) -> str:
    return (
        f"backup path {path!r} is expected but the agent does not probe it: add it to the backup "
        "probe's paths in the agent's agent.yaml"
    )


class BackupFreshnessCheck(PythonCheck):
    """Age of the newest backup file, in hours."""

    def inputs(self) -> CheckInputs:
        return CheckInputs(latest=frozenset({AGE, FILES}))

    def evaluate(self, ctx: CheckContext) -> Iterator[CheckOutput]:
        ages, files = _by_path(ctx, AGE), _by_path(ctx, FILES)
        paths = _paths(ctx, ages, files)
        if not paths:
            yield NotApplicable("no backup path is expected or probed on this host")
            return
        for path in paths:
            age, count = ages.get(path), files.get(path)
            evidence = _evidence(path, [age, count], (AGE, FILES))
            if age is None and count is None:
                yield Observation(path, None, evidence, unknown_reason=_not_probed(path))
                continue
            stale = next((r for r in (ctx.latest_stale_reason(v) for v in (age, count) if v) if r), None)
            if stale is not None:
                yield Observation(path, None, evidence, unknown_reason=stale)
            elif count is not None and count.value <= 0:
                yield Observation(path, None, evidence, min_status="critical", note=NO_FILES)
            elif age is None:
                reason = f"the agent reports backup files under {path!r} but not the newest one's age"
                yield Observation(path, None, evidence, unknown_reason=reason)
            else:
                yield Observation(path, max(0.0, age.value) / 3600.0, evidence)


class BackupSizeCheck(PythonCheck):
    """Newest backup size as a percentage of the previous one: a collapse means a broken backup."""

    def inputs(self) -> CheckInputs:
        return CheckInputs(latest=frozenset({FILES, NEWEST_SIZE, PREVIOUS_SIZE}))

    def evaluate(self, ctx: CheckContext) -> Iterator[CheckOutput]:
        files, newest, previous = _by_path(ctx, FILES), _by_path(ctx, NEWEST_SIZE), _by_path(ctx, PREVIOUS_SIZE)
        paths = _paths(ctx, files, newest)
        if not paths:
            yield NotApplicable("no backup path is expected or probed on this host")
            return
        observed = 0
        for path in paths:
            observation = self._observe(ctx, path, files.get(path), newest.get(path), previous.get(path))
            if observation is not None:
                observed += 1
                yield observation
        if not observed:
            yield NotApplicable("no backup path holds two files to compare yet")

    def _observe(
        self,
        ctx: CheckContext,
        path: str,
        count: LatestValue | None,
        new: LatestValue | None,
        old: LatestValue | None,
    ) -> Observation | None:
        evidence = _evidence(path, [count, new, old], (NEWEST_SIZE, PREVIOUS_SIZE, FILES))
        if count is None and new is None:
            return Observation(path, None, evidence, unknown_reason=_not_probed(path))
        stale = next((r for r in (ctx.latest_stale_reason(v) for v in (count, new, old) if v) if r), None)
        if stale is not None:
            return Observation(path, None, evidence, unknown_reason=stale)
        if count is not None and count.value < 2:
            return None  # nothing to compare against; the freshness check reports a missing backup
        if new is None or old is None:
            missing = NEWEST_SIZE if new is None else PREVIOUS_SIZE
            return Observation(path, None, evidence, unknown_reason=f"no current {missing} for {path!r}")
        if new.value <= 0:
            return Observation(path, 0.0, evidence, min_status="critical", note=EMPTY_NEWEST)
        if old.value <= 0:
            return Observation(path, 100.0, evidence)  # grew from an empty file: not a collapse
        return Observation(path, new.value / old.value * 100.0, evidence)
