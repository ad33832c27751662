"""Plain values shared by the log sources (file tailer, journal) and the rule pipeline."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

Clock = Callable[[], datetime]
"""Returns the current time, tz-aware UTC. Injected so tests control time."""

Severity = Literal["info", "warning", "error", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "error", "critical")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class FileRef:
    """One generation of a log file: device and inode plus a hash of its first ``fp_len`` bytes.

    The fingerprint tells a reused inode (a new file that got the number of a deleted one) and a
    truncated-and-rewritten file apart from the generation that was read before.
    """

    dev: int
    ino: int
    fp_len: int
    fp: str


@dataclass(frozen=True, slots=True)
class FilePosition:
    """A byte offset (always at a line boundary) in one file generation."""

    file: FileRef
    offset: int


@dataclass(slots=True)
class LogLine:
    """One line (or journal entry) read from a source, before rules are applied.

    ``start``/``end`` are the byte offsets of the line in ``file`` (end includes the newline), so
    a caller that holds lines back (multi-line grouping) can commit a position before them.
    """

    source: str
    text: str
    observed: datetime
    timestamp: datetime | None = None  # known exactly by the source (journal); else parsed later
    fields: Mapping[str, str] | None = None  # source-provided fields (journal unit, priority)
    truncated: bool = False
    invalid_utf8: bool = False
    file: FileRef | None = None
    start: int = 0
    end: int = 0

    def position_before(self) -> FilePosition | None:
        return None if self.file is None else FilePosition(self.file, self.start)
