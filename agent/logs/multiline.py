"""Multi-line groups: a stack trace and the line that announced it become one event.

A line matching a rule with ``multiline`` opens a group for its source; following lines of the
same file that match the rule's continuation pattern join it. The group closes on the first line
that does not continue it, at ``max_lines``/``max_bytes``, when the file changes (rotation), or
when its source was quiet for the idle timeout (the writer may never write another line).
Journal entries are records of their own and never grouped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from agent.logs.model import FilePosition, LogLine
from agent.logs.rules import Rule

MAX_GROUP_BYTES = 64 * 1024


@dataclass(slots=True)
class Group:
    rule: Rule
    fields: dict[str, str]
    first: LogLine
    texts: list[str] = field(default_factory=list)
    size: int = 0
    last_seen: datetime | None = None

    @property
    def text(self) -> str:
        return "\n".join(self.texts)

    def continues_with(self, line: LogLine) -> bool:
        first, continuation = self.first.file, self.rule.continuation
        return (
            continuation is not None
            and line.file is not None
            and first is not None
            and (line.file.dev, line.file.ino) == (first.dev, first.ino)
            and len(self.texts) < self.rule.max_lines
            and self.size + len(line.text) <= MAX_GROUP_BYTES
            and continuation.match(line.text) is not None
        )

    def add(self, line: LogLine) -> None:
        self.texts.append(line.text)
        self.size += len(line.text) + 1
        self.last_seen = line.observed


class Groups:
    """The open group of each source."""

    def __init__(self) -> None:
        self._open: dict[str, Group] = {}

    def __bool__(self) -> bool:
        return bool(self._open)

    def get(self, source: str) -> Group | None:
        return self._open.get(source)

    def open(self, rule: Rule, fields: dict[str, str], line: LogLine) -> None:
        group = Group(rule, fields, line)
        group.add(line)
        self._open[line.source] = group

    def close(self, source: str) -> Group | None:
        return self._open.pop(source, None)

    def idle(self, now: datetime, timeout_s: float) -> list[Group]:
        """Close and return the groups whose last line is at least ``timeout_s`` old."""
        stale = [
            src
            for src, g in self._open.items()
            if g.last_seen is None or (now - g.last_seen).total_seconds() >= timeout_s
        ]
        return [self._open.pop(src) for src in stale]

    def close_all(self) -> list[Group]:
        groups = list(self._open.values())
        self._open.clear()
        return groups

    def held_positions(self) -> dict[str, FilePosition]:
        """Per source, the position before the first line still held in an open group."""
        out: dict[str, FilePosition] = {}
        for source, group in self._open.items():
            pos = group.first.position_before()
            if pos is not None:
                out[source] = pos
        return out
