"""The agent-facing wiring: config -> watcher -> events, commit and restarts."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.logs.config import LogsConfig
from agent.logs.rules import RulePackError
from agent.logs.watcher import LogWatcher
from tests.agent_logs.helpers import FakeClock, LogWriter


def config(tmp_path: Path, **extra: object) -> LogsConfig:
    raw: dict[str, object] = {
        "files": {"globs": [str(tmp_path / "logs" / "*.log")]},
        "journal": {"enabled": False},
    }
    raw.update(extra)
    return LogsConfig.model_validate(raw)


def watcher(tmp_path: Path, clock: FakeClock, cfg: LogsConfig | None = None) -> LogWatcher:
    return LogWatcher.from_config(cfg or config(tmp_path), host="web1", state_dir=tmp_path / "state", clock=clock)


@pytest.fixture
def logdir(tmp_path: Path) -> Path:
    (tmp_path / "logs").mkdir()
    return tmp_path / "logs"


def test_lines_become_events_and_counters(tmp_path: Path, logdir: Path, clock: FakeClock) -> None:
    auth = LogWriter(logdir / "auth.log")
    w = watcher(tmp_path, clock)
    assert w.poll() == []
    auth.line("Mar  1 11:59:00 web1 sshd[7]: Failed password for root from 203.0.113.9 port 4022 ssh2")
    auth.line("Mar  1 11:59:01 web1 sshd[7]: Accepted password for deploy from 10.0.0.2 port 4023 ssh2")
    (event,) = w.poll()
    assert (event.rule, event.host, event.source) == ("sshd.failed_password", "web1", str(logdir / "auth.log"))
    assert event.fields["rhost"] == "203.0.113.9"
    w.commit()
    samples = {(s.name, s.labels): s.value for s in w.samples()}
    assert samples[("logs.events_total", (("rule", "sshd.failed_password"),))] == 1
    assert samples[("logs.suppressed_total", (("rule", "sshd.failed_password"),))] == 0
    w.close()


def test_restart_while_a_group_is_held_loses_and_duplicates_nothing(
    tmp_path: Path, logdir: Path, clock: FakeClock
) -> None:
    app = LogWriter(logdir / "app.log")
    first = watcher(tmp_path, clock)
    first.poll()
    app.line("2026-03-01 12:00:00,000 ERROR worker: job failed")
    app.line("Traceback (most recent call last):")
    app.line('  File "job.py", line 3, in run')
    assert first.poll() == []  # the trace may go on
    app.line("2026-03-01 12:00:01,000 INFO worker: unrelated")
    first.commit()  # the held group's lines stay uncommitted
    first.close()  # stop without drain(): like a crash

    second = watcher(tmp_path, clock)
    app.line("2026-03-01 12:00:02,000 ERROR worker: second failure")
    app.line("2026-03-01 12:00:03,000 INFO worker: fine")
    events = second.poll()
    assert [e.line.splitlines()[0] for e in events] == [
        "2026-03-01 12:00:00,000 ERROR worker: job failed",
        "2026-03-01 12:00:02,000 ERROR worker: second failure",
    ]
    assert len(events[0].line.splitlines()) == 3
    second.commit()
    second.close()
    third = watcher(tmp_path, clock)
    assert third.poll() == []  # everything was committed
    third.close()


def test_drain_emits_open_groups_on_shutdown(tmp_path: Path, logdir: Path, clock: FakeClock) -> None:
    app = LogWriter(logdir / "app.log")
    w = watcher(tmp_path, clock)
    w.poll()
    app.line("Traceback (most recent call last):")
    assert w.poll() == []
    (event,) = w.drain()
    assert event.rule == "app.python_traceback"
    w.commit()
    w.close()


def test_rate_limit_comes_from_the_config(tmp_path: Path, logdir: Path, clock: FakeClock) -> None:
    auth = LogWriter(logdir / "auth.log")
    w = watcher(tmp_path, clock, config(tmp_path, rate_limit={"burst": 2, "per_second": 1}))
    w.poll()
    for _ in range(5):
        auth.line("sshd[7]: Invalid user x from 203.0.113.9 port 1")
    assert len(w.poll()) == 2
    counts = {(s.name, s.labels): s.value for s in w.samples()}
    assert counts[("logs.suppressed_total", (("rule", "sshd.invalid_user"),))] == 3
    w.close()


def test_config_errors_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as err:
        LogsConfig.model_validate({"files": {"glob": ["/var/log/*.log"]}})
    assert "files.glob" in str(err.value).replace("\n", ".").replace(" ", "")
    with pytest.raises(ValidationError, match="max_line_bytes"):
        LogsConfig.model_validate({"max_line_bytes": 10})


def test_bad_site_pack_fails_before_reading_anything(tmp_path: Path, logdir: Path, clock: FakeClock) -> None:
    pack = tmp_path / "site.yaml"
    pack.write_text("rules: [{id: a.b}]\n")
    with pytest.raises(RulePackError, match=r"site\.yaml"):
        watcher(tmp_path, clock, config(tmp_path, rules={"packs": [str(pack)]}))


def test_group_held_in_a_rotated_file_survives_a_restart(tmp_path: Path, logdir: Path, clock: FakeClock) -> None:
    path = logdir / "app.log"
    app = LogWriter(path)
    first = watcher(tmp_path, clock)
    first.poll()
    app.line("Traceback (most recent call last):")
    app.line('  File "a.py", line 1, in <module>')
    assert first.poll() == []
    path.rename(logdir / "app.log.1")
    app.line('  File "b.py", line 2, in f')  # the writer has not reopened yet
    assert first.poll() == []  # still the same trace, in the rotated file
    first.commit()
    first.close()  # crash

    app.line("ValueError: boom")
    app.reopen()
    app.line("2026-03-01 12:00:00,000 INFO next")
    second = watcher(tmp_path, clock)
    (event,) = second.poll()
    assert event.line.splitlines() == [
        "Traceback (most recent call last):",
        '  File "a.py", line 1, in <module>',
        '  File "b.py", line 2, in f',
        "ValueError: boom",
    ]
    second.commit()
    second.close()


def test_disabled_logs_read_nothing(tmp_path: Path, logdir: Path, clock: FakeClock) -> None:
    LogWriter(logdir / "auth.log")
    w = watcher(tmp_path, clock, config(tmp_path, enabled=False))
    assert w.tailer is None and w.journal is None
    assert w.poll() == []
    w.close()


def test_reading_says_whether_polling_can_find_anything(tmp_path: Path, logdir: Path, clock: FakeClock) -> None:
    files = watcher(tmp_path, clock)
    assert files.reading  # globs are followed even before a file matches
    files.close()
    nothing = watcher(tmp_path, clock, config(tmp_path, files={"globs": []}))
    assert not nothing.reading
    nothing.close()
    no_journal = LogWatcher.from_config(config(tmp_path, files={"globs": []}, journal={"enabled": True}),
                                        host="web1", state_dir=tmp_path / "state", clock=clock,
                                        journalctl=str(tmp_path / "no-journalctl"))
    assert no_journal.journal is not None and not no_journal.reading
    assert no_journal.poll() == []
    no_journal.close()
