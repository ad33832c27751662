"""Recovery levels: a check that went bad returns to ok only once the value is clearly good again.

A value hovering around a level would otherwise flip between ok and warning from one inspection to
the next, opening and closing a ticket each time. As with Zabbix's recovery expressions (and the
"level + recovery" of Checkmk rules), a check may name recovery levels beyond its warn and crit
levels: once the previous inspection of the same host, check and subject saw warning (critical), the
status stays warning (critical) until the value has passed the recovery level for warning
(critical). Without a previous status, or without recovery levels, the levels alone decide.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from inspections.model import Direction, Status, Threshold

# (host id, check id, subject) → status of that finding in the previous inspection.
PreviousStatuses = Mapping[tuple[str, str, str], Status]

_RANK: dict[Status, int] = {"ok": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True, slots=True)
class Recovery:
    """The levels a value must pass to leave warning (``warn``) or critical (``crit``); None: the level itself."""

    warn: float | None = None
    crit: float | None = None

    def __bool__(self) -> bool:
        return self.warn is not None or self.crit is not None

    def describe(self, unit: str) -> str:
        parts = [f"{name} {level:g}{unit}" for name, level in (("warn", self.warn), ("crit", self.crit))
                 if level is not None]
        return ", ".join(parts)


def check_recovery(warn: float | None, crit: float | None, recovery: Recovery, direction: Direction) -> None:
    """Reject recovery levels that are not on the good side of their level (or have no level to recover from)."""
    for name, level, back in (("warn", warn, recovery.warn), ("crit", crit, recovery.crit)):
        if back is None:
            continue
        if level is None:
            raise ValueError(f"recovery {name} ({back:g}) has no {name} level to recover from")
        if direction == "above" and back > level:
            raise ValueError(f"recovery {name} ({back:g}) is above {name} ({level:g}); for direction 'above' the "
                             f"value recovers below its level")
        if direction == "below" and back < level:
            raise ValueError(f"recovery {name} ({back:g}) is below {name} ({level:g}); for direction 'below' the "
                             f"value recovers above its level")


def held_status(value: float, threshold: Threshold, recovery: Recovery | None, status: Status,
                previous: Status | None) -> Status:
    """``status`` (judged by the levels alone), held at the previous status while the value has not passed
    its recovery level: never better than the recovery levels say, never worse than the previous status."""
    if not recovery or previous not in ("warning", "critical") or status == "unknown":
        return status
    back = Threshold(warn=recovery.warn if recovery.warn is not None else threshold.warn,
                     crit=recovery.crit if recovery.crit is not None else threshold.crit,
                     direction=threshold.direction)
    by_recovery = back.status_of(value)
    held = by_recovery if _RANK[by_recovery] <= _RANK[previous] else previous
    return held if _RANK[held] > _RANK[status] else status
