"""Lines to events: rate limits, counters, multi-line groups, timestamps, the wire format."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.logs.model import LogLine
from agent.logs.pipeline import LogEvent, Pipeline, to_proto
from agent.logs.ratelimit import RateLimit
from agent.logs.rules import RuleSet, load_rules
from agent.logs.tailer import Tailer
from protos.patrol.v1 import agent_pb2
from tests.agent_logs.helpers import FakeClock, LogWriter

PACK = """
version: 1
rules:
  - id: test.disk
    name: {zh: 磁盘, en: Disk}
    severity: error
    match: {regex: 'disk (?P<disk>\\w+) failed'}
  - id: test.other
    name: {zh: 其他, en: Other}
    severity: info
    match: {contains: 'other thing'}
"""


@pytest.fixture
def small_rules(tmp_path: Path) -> RuleSet:
    path = tmp_path / "pack.yaml"
    path.write_text(PACK)
    return load_rules([path], include_default=False)


def line(text: str, clock: FakeClock, source: str = "/var/log/app.log", **kw: object) -> LogLine:
    return LogLine(source, text, clock(), **kw)  # type: ignore[arg-type]


def counters(pipeline: Pipeline) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, s.labels): s.value for s in pipeline.samples()}


def test_rate_limit_suppresses_and_counts(small_rules: RuleSet, clock: FakeClock) -> None:
    pipeline = Pipeline(small_rules, host="web1", rate_limit=RateLimit(burst=3, per_second=1.0), clock=clock)
    events = pipeline.process([line(f"disk sd{i} failed", clock) for i in range(10)])
    assert [e.fields["disk"] for e in events] == ["sd0", "sd1", "sd2"]
    assert all(e.suppressed_before == 0 for e in events)
    clock.advance(2)  # two tokens back
    events = pipeline.process(
        [line("disk sdx failed", clock), line("disk sdy failed", clock), line("disk sdz failed", clock)]
    )
    assert [(e.fields["disk"], e.suppressed_before) for e in events] == [("sdx", 7), ("sdy", 0)]
    c = counters(pipeline)
    assert c[("logs.events_total", (("rule", "test.disk"),))] == 13
    assert c[("logs.suppressed_total", (("rule", "test.disk"),))] == 8
    assert c[("logs.events_total", (("rule", "test.other"),))] == 0  # every rule, zero included


def test_rate_limits_are_per_rule(small_rules: RuleSet, clock: FakeClock) -> None:
    pipeline = Pipeline(small_rules, host="h", rate_limit=RateLimit(burst=1, per_second=0.001), clock=clock)
    events = pipeline.process([line("disk a failed", clock), line("disk b failed", clock), line("other thing", clock)])
    assert [e.rule for e in events] == ["test.disk", "test.other"]


def test_without_rate_limit_every_match_is_an_event(small_rules: RuleSet, clock: FakeClock) -> None:
    pipeline = Pipeline(small_rules, host="h", rate_limit=None, clock=clock)
    assert len(pipeline.process([line("disk a failed", clock)] * 1000)) == 1000


def test_source_counters_for_truncated_and_invalid_lines(small_rules: RuleSet, clock: FakeClock) -> None:
    pipeline = Pipeline(small_rules, host="h", clock=clock)
    pipeline.process(
        [
            line("x", clock, source="/a.log", truncated=True),
            line("y", clock, source="/a.log", truncated=True, invalid_utf8=True),
            line("z", clock, source="journal", invalid_utf8=True),
        ]
    )
    c = counters(pipeline)
    assert c[("logs.truncated_lines_total", (("source", "/a.log"),))] == 2
    assert c[("logs.invalid_utf8_lines_total", (("source", "/a.log"),))] == 1
    assert c[("logs.invalid_utf8_lines_total", (("source", "journal"),))] == 1
    assert c[("logs.truncated_lines_total", (("source", "journal"),))] == 0


def test_event_time_from_the_line_else_from_the_source_else_observed(small_rules: RuleSet, clock: FakeClock) -> None:
    pipeline = Pipeline(small_rules, host="web1", clock=clock)
    journal_time = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)
    events = pipeline.process(
        [
            line("2026-02-28T10:00:00Z disk a failed", clock),
            line("disk b failed", clock, source="journal", timestamp=journal_time, fields={"unit": "x.service"}),
            line("disk c failed", clock),
        ]
    )
    assert [e.timestamp for e in events] == [datetime(2026, 2, 28, 10, tzinfo=UTC), journal_time, clock.now]
    assert events[1].fields == {"unit": "x.service", "disk": "b"}
    assert events[0].host == "web1" and events[0].source == "/var/log/app.log"


def test_to_proto(clock: FakeClock) -> None:
    event = LogEvent(
        timestamp=datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
        rule="sshd.failed_password",
        severity="warning",
        host="web1",
        source="/var/log/auth.log",
        line="Failed password for root",
        fields={"user": "root"},
        suppressed_before=4,
        observed=datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC),
    )
    msg = to_proto(event)
    assert isinstance(msg, agent_pb2.Event)
    assert msg.timestamp_ms == 1767323045678
    assert msg.observed_ms == 1767323046000
    assert msg.severity == agent_pb2.SEVERITY_WARNING
    assert (msg.rule, msg.source, msg.line, dict(msg.fields), msg.suppressed_before) == (
        "sshd.failed_password",
        "/var/log/auth.log",
        "Failed password for root",
        {"user": "root"},
        4,
    )
    assert agent_pb2.Event.FromString(msg.SerializeToString()) == msg


# ---------------------------------------------------------------------------- multi-line groups

PYTHON_LOG = """\
2026-03-01 12:00:00,001 INFO app: starting
2026-03-01 12:00:01,002 ERROR app: request failed
Traceback (most recent call last):
  File "/srv/app/handler.py", line 10, in handle
    result = compute(x)
ZeroDivisionError: division by zero
2026-03-01 12:00:02,003 INFO app: next request
Traceback (most recent call last):
  File "/srv/app/worker.py", line 3, in <module>
KeyError: 'job'
2026-03-01 12:00:03,004 INFO app: done
"""

JAVA_LOG = """\
Exception in thread "main" java.lang.IllegalStateException: pool exhausted
\tat com.example.Pool.take(Pool.java:42)
\tat com.example.Main.main(Main.java:7)
Caused by: java.net.SocketTimeoutException: connect timed out
\tat java.base/java.net.Socket.connect(Socket.java:633)
\t... 2 more
12:00:05 INFO back to normal
"""


def run_file(tmp_path: Path, content: str, clock: FakeClock) -> list[LogEvent]:
    path = tmp_path / "app.log"
    path.write_text(content)
    tailer = Tailer([str(path)], from_beginning=True, clock=clock)
    pipeline = Pipeline(load_rules(), host="h", rate_limit=None, clock=clock)
    events = pipeline.process(tailer.poll())
    return events + pipeline.flush(force=True)


def test_python_tracebacks_are_grouped_with_their_line(tmp_path: Path, clock: FakeClock) -> None:
    events = run_file(tmp_path, PYTHON_LOG, clock)
    lines = PYTHON_LOG.splitlines()
    assert [(e.rule, e.line) for e in events] == [
        ("generic.error", "\n".join(lines[1:6])),
        ("app.python_traceback", "\n".join(lines[7:10])),
    ]
    assert events[0].timestamp == datetime(2026, 3, 1, 12, 0, 1, 2000, tzinfo=UTC)


def test_java_stack_trace_is_one_event(tmp_path: Path, clock: FakeClock) -> None:
    (event,) = run_file(tmp_path, JAVA_LOG, clock)
    assert event.rule == "app.java_exception"
    assert event.line == "\n".join(JAVA_LOG.splitlines()[:6])
    assert event.fields == {"thread": "main", "exception": "java.lang.IllegalStateException"}


def test_open_group_is_held_then_closed_by_the_idle_timeout(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "app.log"
    writer = LogWriter(path)
    tailer = Tailer([str(path)], clock=clock)
    tailer.poll()
    pipeline = Pipeline(load_rules(), host="h", clock=clock, multiline_timeout_s=2.0)
    writer.line("Traceback (most recent call last):")
    writer.line('  File "x.py", line 1, in <module>')
    assert pipeline.process(tailer.poll()) == []
    held = pipeline.held_positions()[str(path)]
    assert (held.file.ino, held.offset) == (path.stat().st_ino, 0)  # before the traceback's first line
    writer.line("ValueError: bad")
    assert pipeline.process(tailer.poll()) == []  # still open: the writer may add more
    clock.advance(1)
    assert pipeline.flush() == []
    clock.advance(1.5)
    (event,) = pipeline.flush()
    assert event.line.splitlines()[-1] == "ValueError: bad"
    assert pipeline.held_positions() == {}


def test_group_closes_when_the_file_is_rotated(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "app.log"
    writer = LogWriter(path)
    tailer = Tailer([str(path)], clock=clock)
    tailer.poll()
    pipeline = Pipeline(load_rules(), host="h", clock=clock)
    writer.line("Traceback (most recent call last):")
    assert pipeline.process(tailer.poll()) == []
    path.rename(tmp_path / "app.log.1")
    writer.reopen()
    writer.line("  indented line of the new file")
    events = pipeline.process(tailer.poll())
    assert [e.line for e in events] == ["Traceback (most recent call last):"]


def test_max_lines_bounds_a_group(tmp_path: Path, clock: FakeClock) -> None:
    content = "Traceback (most recent call last):\n" + "  frame\n" * 500
    (event,) = run_file(tmp_path, content, clock)
    assert len(event.line.splitlines()) == 200
