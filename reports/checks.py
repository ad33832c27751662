"""The monthly report's checks section as the customer reads it: each check and its thresholds once,
then per device only what was not ok, the ok checks as one sentence.

A per-device table of every check repeats the same thresholds and the same "ok" on every row of
every device; this view keeps every fact of :class:`~reports.model.HostChecks` (each check of each
device with its status and observed value, every threshold) in a form that states each once. A
threshold a device has of its own (a per-host override) stays beside that device's value.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from reports.model import CATEGORY_ORDER, CheckRow, HostChecks, Text

Threshold = tuple[float | None, float | None, str, str]  # warn, crit, direction, unit


def threshold_of(row: CheckRow) -> Threshold:
    return (row.warn, row.crit, row.direction, row.unit)


@dataclass(frozen=True)
class CheckDefinition:
    """A check as the run applied it: its name and the threshold most of its rows were judged by."""

    check_id: str
    name: Text
    warn: float | None
    crit: float | None
    direction: str
    unit: str
    varies: bool  # some device was judged by a threshold of its own


@dataclass(frozen=True)
class DefinitionGroup:
    category: str
    title: Text
    checks: tuple[CheckDefinition, ...]


@dataclass(frozen=True)
class DeviceChecks:
    checks: HostChecks
    problems: tuple[CheckRow, ...]  # warning, critical and unknown, in the section's order
    ok: tuple[CheckRow, ...]
    skipped: tuple[str, ...]  # check ids that do not apply to this device but do to others
    # (check id, subject) of the rows judged by a threshold of the device's own, not the common one
    own_thresholds: frozenset[tuple[str, str]] = frozenset()

    def own_threshold(self, row: CheckRow) -> bool:
        return (row.check_id, row.subject) in self.own_thresholds


@dataclass(frozen=True)
class ChecksOverview:
    groups: tuple[DefinitionGroup, ...]
    skipped_everywhere: tuple[str, ...]  # check ids that apply to no device
    devices: tuple[DeviceChecks, ...]


def overview(hosts: Sequence[HostChecks]) -> ChecksOverview:
    """The checks of ``hosts`` once, with the threshold most rows share, and each device's results."""
    thresholds: dict[str, Counter[Threshold]] = {}
    first: dict[str, CheckRow] = {}
    titles: dict[str, Text] = {}
    members: dict[str, list[str]] = {}
    for hc in hosts:
        for g in hc.groups:
            titles.setdefault(g.category, g.title)
            for row in g.rows:
                if row.check_id not in first:
                    first[row.check_id] = row
                    members.setdefault(g.category, []).append(row.check_id)
                thresholds.setdefault(row.check_id, Counter())[threshold_of(row)] += 1
    common = {check_id: counts.most_common(1)[0][0] for check_id, counts in thresholds.items()}
    groups = []
    for category in (*CATEGORY_ORDER, *sorted(set(members) - set(CATEGORY_ORDER))):
        if category not in members:
            continue
        defs = []
        for check_id in members[category]:
            warn, crit, direction, unit = common[check_id]
            defs.append(CheckDefinition(check_id, first[check_id].name, warn, crit, direction, unit,
                                        varies=len(thresholds[check_id]) > 1))
        groups.append(DefinitionGroup(category, titles[category], tuple(defs)))
    skip_sets = [{check_id for check_id, _ in hc.skipped} for hc in hosts]
    everywhere = set.intersection(*skip_sets) if skip_sets else set()
    ordered_skips = list(dict.fromkeys(check_id for hc in hosts for check_id, _ in hc.skipped))
    devices = []
    for hc in hosts:
        rows = [row for g in hc.groups for row in g.rows]
        devices.append(DeviceChecks(
            checks=hc,
            problems=tuple(r for r in rows if r.status != "ok"),
            ok=tuple(r for r in rows if r.status == "ok"),
            skipped=tuple(c for c, _ in hc.skipped if c not in everywhere),
            own_thresholds=frozenset((r.check_id, r.subject) for r in rows
                                     if threshold_of(r) != common[r.check_id])))
    return ChecksOverview(groups=tuple(groups),
                          skipped_everywhere=tuple(c for c in ordered_skips if c in everywhere),
                          devices=tuple(devices))
