"""Offline analysis of a log file with the agent's own tailer and rules (``patrol analyze logs``).

Engineers run it on logs a customer sent; we run it to measure the rule pack on logs kept outside
the project. The file is read from its beginning with nothing persisted and no rate limiting, so
every matching line is counted.

Output: CSV ``rule_id,count`` (a header, then one row per rule that matched, by rule id), or with
``events`` one JSON object per line: ``timestamp`` (ISO 8601, UTC), ``rule``, ``severity``
(info | warning | error | critical), ``source``, ``line`` (the original line; a multi-line group
joined by ``\\n``) and ``fields``.
"""

from __future__ import annotations

import csv
import glob
import json
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, TextIO

from agent.logs.pipeline import LogEvent, Pipeline
from agent.logs.rules import RulePackError, RuleSet, load_rules
from agent.logs.tailer import DEFAULT_MAX_LINE_BYTES, Tailer

EXIT_OK = 0
EXIT_USAGE = 2


def analyze_file(
    path: Path,
    rules: Path | None,
    events: bool,
    out: TextIO,
    *,
    err: TextIO | None = None,
    with_default: bool = False,
    tz: tzinfo = UTC,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> int:
    """Run the rules over ``path`` and write the report to ``out``; returns the exit code.

    ``rules`` is a pack to use instead of the default pack (``with_default`` keeps the default
    pack in front of it, as the agent does). Times without a zone are read in ``tz``; a syslog
    line without a year gets the latest year that does not put it after the file's modification
    time. Problems (missing file, bad pack) go to ``err`` (stderr) with exit code 2.
    """
    err = err if err is not None else sys.stderr
    path = Path(path)
    if not path.is_file():
        print(f"analyze logs: {path}: no such file (or not a regular file)", file=err)
        return EXIT_USAGE
    try:
        ruleset = load_rules([rules], include_default=with_default) if rules is not None else load_rules()
    except RulePackError as exc:
        print(f"analyze logs: {exc}", file=err)
        return EXIT_USAGE
    counts: Counter[str] = Counter()
    for event in scan(path, ruleset, tz=tz, max_line_bytes=max_line_bytes):
        counts[event.rule] += 1
        if events:
            out.write(json.dumps(event_record(event), ensure_ascii=False) + "\n")
    if not events:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["rule_id", "count"])
        for rule_id in sorted(counts):
            writer.writerow([rule_id, counts[rule_id]])
    return EXIT_OK


def scan(
    path: Path, ruleset: RuleSet, *, tz: tzinfo = UTC, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
) -> Iterator[LogEvent]:
    """Every event of ``path`` in file order, as the agent would produce them without rate limits."""
    written = datetime.fromtimestamp(path.stat().st_mtime, UTC)

    def clock() -> datetime:
        # "Observed" is when the file was last written: the reference for syslog's missing year,
        # and the time of lines that carry none.
        return written

    pipeline = Pipeline(ruleset, host="", rate_limit=None, tz=tz, clock=clock)
    with Tailer(
        [glob.escape(str(path))], state_path=None, from_beginning=True, max_line_bytes=max_line_bytes, clock=clock
    ) as tailer:
        while True:
            lines = tailer.poll(flush_partial=True)
            yield from pipeline.process(lines)
            if not lines and tailer.at_end():
                break
    yield from pipeline.flush(force=True)


def event_record(event: LogEvent) -> dict[str, Any]:
    return {
        "timestamp": event.timestamp.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "rule": event.rule,
        "severity": event.severity,
        "source": event.source,
        "line": event.line,
        "fields": event.fields,
    }
