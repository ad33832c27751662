"""Lines in, events out: rule matching, multi-line groups, time parsing, rate limiting, counters.

Every match counts towards ``logs.events_total{rule}``, also the ones the per-rule token bucket
suppresses (``logs.suppressed_total{rule}``), so rates can be trended even when a flood is cut
down to a trickle of events. The next event of a rule that gets through carries how many of its
kind were suppressed before it (``suppressed_before``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from agent.logs.model import Clock, FilePosition, LogLine, Severity, utc_now
from agent.logs.multiline import Group, Groups
from agent.logs.ratelimit import RateLimit, TokenBuckets
from agent.logs.rules import Rule, RuleSet
from agent.logs.timeparse import parse_time
from agent.model import Sample
from protos.patrol.v1 import agent_pb2

DEFAULT_MULTILINE_TIMEOUT_S = 2.0

_SEVERITY_PB: dict[str, int] = {
    "info": agent_pb2.SEVERITY_INFO,
    "warning": agent_pb2.SEVERITY_WARNING,
    "error": agent_pb2.SEVERITY_ERROR,
    "critical": agent_pb2.SEVERITY_CRITICAL,
}


@dataclass(slots=True)
class LogEvent:
    """A line (or multi-line group) that matched a rule."""

    timestamp: datetime  # parsed from the line, else known by the source, else when it was read
    rule: str
    severity: Severity
    host: str
    source: str  # file path or "journal"
    line: str  # the original line; lines of a group joined by "\n"
    fields: dict[str, str] = field(default_factory=dict)
    suppressed_before: int = 0
    observed: datetime | None = None  # when the agent read the (first) line


def to_proto(event: LogEvent) -> agent_pb2.Event:
    observed = event.observed or event.timestamp
    return agent_pb2.Event(
        timestamp_ms=_ms(event.timestamp),
        rule=event.rule,
        severity=_SEVERITY_PB[event.severity],  # type: ignore[arg-type]
        source=event.source,
        line=event.line,
        fields=event.fields,
        suppressed_before=event.suppressed_before,
        observed_ms=_ms(observed),
    )


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


class Pipeline:
    """Turns :class:`LogLine` batches into :class:`LogEvent` lists.

    ``rate_limit=None`` switches rate limiting off (offline analysis). ``tz`` is the zone of
    timestamps written without one (syslog): the host's for the agent.
    """

    def __init__(
        self,
        rules: RuleSet,
        *,
        host: str,
        rate_limit: RateLimit | None = RateLimit(),
        tz: tzinfo = UTC,
        clock: Clock = utc_now,
        multiline_timeout_s: float = DEFAULT_MULTILINE_TIMEOUT_S,
    ) -> None:
        self.rules = rules
        self.host = host
        self.tz = tz
        self.multiline_timeout_s = multiline_timeout_s
        self._clock = clock
        self._buckets = TokenBuckets(rate_limit) if rate_limit is not None else None
        self._groups = Groups()
        self._matches: dict[str, int] = {}
        self._suppressed: dict[str, int] = {}
        self._suppressed_since: dict[str, int] = {}
        self._truncated: dict[str, int] = {}
        self._invalid: dict[str, int] = {}

    # ------------------------------------------------------------------ processing

    def process(self, lines: Iterable[LogLine]) -> list[LogEvent]:
        """Events for ``lines``; lines that may continue in the next batch stay held (see
        :meth:`held_positions`) until :meth:`flush` or a line that does not continue them."""
        events: list[LogEvent] = []
        match = self.rules.match
        grouping = self.rules.has_multiline
        groups = self._groups
        for line in lines:
            if line.truncated:
                self._truncated[line.source] = self._truncated.get(line.source, 0) + 1
            if line.invalid_utf8:
                self._invalid[line.source] = self._invalid.get(line.source, 0) + 1
            if groups:
                group = groups.get(line.source)
                if group is not None:
                    if group.continues_with(line):
                        group.add(line)
                        continue
                    groups.close(line.source)
                    self._emit_group(group, events)
            found = match(line.text, line.source)
            if found is None:
                continue
            rule, fields = found
            if grouping and rule.continuation is not None and line.file is not None:
                groups.open(rule, fields, line)
                continue
            self._emit(rule, fields, line, line.text, events)
        return events

    def flush(self, *, force: bool = False) -> list[LogEvent]:
        """Events of groups idle for the multi-line timeout (all open groups with ``force``)."""
        events: list[LogEvent] = []
        closing = self._groups.close_all() if force else self._groups.idle(self._clock(), self.multiline_timeout_s)
        for group in closing:
            self._emit_group(group, events)
        return events

    def held_positions(self) -> dict[str, FilePosition]:
        """Per file, the position before lines held in open groups: commit no further than this."""
        return self._groups.held_positions()

    def _emit_group(self, group: Group, events: list[LogEvent]) -> None:
        self._emit(group.rule, group.fields, group.first, group.text, events)

    def _emit(self, rule: Rule, fields: dict[str, str], line: LogLine, text: str, events: list[LogEvent]) -> None:
        rule_id = rule.id
        self._matches[rule_id] = self._matches.get(rule_id, 0) + 1
        if self._buckets is not None and not self._buckets.allow(rule_id, self._clock()):
            self._suppressed[rule_id] = self._suppressed.get(rule_id, 0) + 1
            self._suppressed_since[rule_id] = self._suppressed_since.get(rule_id, 0) + 1
            return
        timestamp = line.timestamp or parse_time(line.text, line.observed, self.tz) or line.observed
        merged = {**line.fields, **fields} if line.fields else fields
        events.append(
            LogEvent(
                timestamp=timestamp,
                rule=rule_id,
                severity=rule.severity,
                host=self.host,
                source=line.source,
                line=text,
                fields=merged,
                suppressed_before=self._suppressed_since.pop(rule_id, 0),
                observed=line.observed,
            )
        )

    # ------------------------------------------------------------------ counters

    @property
    def match_counts(self) -> Mapping[str, int]:
        """Matches per rule id since start, suppressed ones included."""
        return dict(self._matches)

    @property
    def suppressed_counts(self) -> Mapping[str, int]:
        return dict(self._suppressed)

    def samples(self) -> list[Sample]:
        """Cumulative counters since start: every rule of the pack (zero included, so a rate
        starts from a known value) and every source that had a truncated or invalid line."""
        out: list[Sample] = []
        for rule in self.rules.rules:
            out.append(Sample.of("logs.events_total", self._matches.get(rule.id, 0), rule=rule.id))
            out.append(Sample.of("logs.suppressed_total", self._suppressed.get(rule.id, 0), rule=rule.id))
        for source in sorted(self._truncated.keys() | self._invalid.keys()):
            out.append(Sample.of("logs.truncated_lines_total", self._truncated.get(source, 0), source=source))
            out.append(Sample.of("logs.invalid_utf8_lines_total", self._invalid.get(source, 0), source=source))
        return out
