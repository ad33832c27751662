"""The journal reader against a stand-in ``journalctl`` (a real child process speaking its JSON
output format), since test machines rarely run systemd."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.logs.journal import JournalReader
from agent.logs.model import LogLine
from tests.agent_logs.helpers import FakeClock

FAKE_JOURNALCTL = """\
#!{python}
# Minimal journalctl: entries come from $FAKE_JOURNAL (JSON lines), arguments are appended
# to $FAKE_JOURNAL_ARGS, and with $FAKE_JOURNAL_EXIT it exits instead of following.
import json, os, sys, time

args = sys.argv[1:]
with open(os.environ["FAKE_JOURNAL_ARGS"], "a") as fh:
    fh.write(json.dumps(args) + "\\n")
units = [a.split("=", 1)[1] for a in args if a.startswith("--unit=")]

def entries():
    with open(os.environ["FAKE_JOURNAL"]) as fh:
        out = [json.loads(x) for x in fh if x.strip()]
    return [e for e in out if not units or e.get("_SYSTEMD_UNIT") in units]

after = next((a.split("=", 1)[1] for a in args if a.startswith("--after-cursor=")), None)
cursors = [e["__CURSOR"] for e in entries()]
sent = cursors.index(after) + 1 if after in cursors else 0
if "--follow" not in args:
    if "--lines=1" in args:
        selected = entries()[-1:]
    else:
        selected = entries()[sent:]
    for e in selected:
        print(json.dumps(e))
    sys.exit(0)
while True:
    current = entries()
    for e in current[sent:]:
        sys.stdout.write(json.dumps(e) + "\\n")
    sys.stdout.flush()
    sent = len(current)
    if os.environ.get("FAKE_JOURNAL_EXIT"):
        sys.exit(3)
    time.sleep(0.02)
"""


class FakeJournal:
    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.data = tmp_path / "journal.jsonl"
        self.data.write_text("")
        self.args_file = tmp_path / "args.jsonl"
        self.binary = tmp_path / "journalctl"
        self.binary.write_text(FAKE_JOURNALCTL.format(python=sys.executable))
        self.binary.chmod(0o755)
        self.count = 0
        monkeypatch.setenv("FAKE_JOURNAL", str(self.data))
        monkeypatch.setenv("FAKE_JOURNAL_ARGS", str(self.args_file))

    def add(self, message: object, unit: str = "ssh.service", ident: str = "sshd", pid: str = "123") -> None:
        self.count += 1
        entry = {
            "__CURSOR": f"s=abc;i={self.count}",
            "__REALTIME_TIMESTAMP": str(1767225600_000000 + self.count * 1_000_000),
            "MESSAGE": message,
            "PRIORITY": "5",
            "SYSLOG_IDENTIFIER": ident,
            "_PID": pid,
            "_SYSTEMD_UNIT": unit,
        }
        with self.data.open("a") as fh:
            fh.write(json.dumps(entry) + "\n")

    def calls(self) -> list[list[str]]:
        return [json.loads(x) for x in self.args_file.read_text().splitlines()]


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeJournal:
    return FakeJournal(tmp_path, monkeypatch)


def reader(fake: FakeJournal, tmp_path: Path, clock: FakeClock, **kw: object) -> JournalReader:
    kw.setdefault("state_path", tmp_path / "state" / "journal.json")
    return JournalReader(journalctl=str(fake.binary), require_systemd=False, clock=clock, **kw)  # type: ignore[arg-type]


def poll_until(r: JournalReader, done: Callable[[list[LogLine]], bool], timeout: float = 15.0) -> list[LogLine]:
    """Poll until ``done`` holds for what arrived (the child is a real process)."""
    got: list[LogLine] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got += r.poll()
        if done(got):
            return got
        time.sleep(0.02)
    return got


def test_missing_journalctl_is_reported_once_and_yields_nothing(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    r = JournalReader(state_path=None, journalctl=str(tmp_path / "no-journalctl"), clock=clock)
    assert r.poll() == [] and r.poll() == []
    assert not r.available
    warnings = [rec.getMessage() for rec in caplog.records if "journal_unavailable" in rec.getMessage()]
    assert len(warnings) == 1 and "not found" in warnings[0]


@pytest.mark.ci_may_skip
@pytest.mark.skipif(Path("/run/systemd/system").is_dir(), reason="this host runs systemd")
def test_host_without_systemd_has_no_journal(
    fake: FakeJournal, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    r = JournalReader(state_path=None, journalctl=str(fake.binary), clock=clock)
    assert not r.available
    assert "systemd is not running" in caplog.text


def test_first_start_follows_from_the_newest_entry_and_resumes_from_the_cursor(
    fake: FakeJournal, tmp_path: Path, clock: FakeClock
) -> None:
    fake.add("old entry one")
    fake.add("old entry two")
    r = reader(fake, tmp_path, clock)
    assert r.poll() == []
    fake.add("Failed password for root from 1.2.3.4 port 22 ssh2")
    fake.add("Accepted password for deploy from 10.0.0.1 port 22 ssh2")
    got = poll_until(r, lambda g: len(g) >= 2)
    assert [line.text for line in got] == [
        "sshd[123]: Failed password for root from 1.2.3.4 port 22 ssh2",
        "sshd[123]: Accepted password for deploy from 10.0.0.1 port 22 ssh2",
    ]
    first = got[0]
    assert first.source == "journal"
    assert first.fields == {"identifier": "sshd", "unit": "ssh.service", "priority": "5"}
    assert first.timestamp == datetime.fromtimestamp(1767225600 + 3, UTC)
    r.commit()
    r.close()
    assert json.loads((tmp_path / "state" / "journal.json").read_text()) == {"cursor": "s=abc;i=4"}

    fake.add("written while the agent was down")
    again = reader(fake, tmp_path, clock)
    got = poll_until(again, lambda g: len(g) >= 1 and again._proc is not None and not again._catching_up)
    fake.add("written after the restart")
    got += poll_until(again, lambda g: len(g) >= 1)
    again.close()
    assert [line.text for line in got] == [
        "sshd[123]: written while the agent was down",
        "sshd[123]: written after the restart",
    ]
    # Catch up without --follow (which would mean "this boot only"), then follow from there.
    catch_up, follow = fake.calls()[-2:]
    assert "--after-cursor=s=abc;i=4" in catch_up and "--follow" not in catch_up
    assert "--after-cursor=s=abc;i=5" in follow and "--follow" in follow


def test_uncommitted_entries_are_read_again_after_a_restart(
    fake: FakeJournal, tmp_path: Path, clock: FakeClock
) -> None:
    r = reader(fake, tmp_path, clock)
    r.poll()
    fake.add("one")
    assert len(poll_until(r, lambda g: len(g) >= 1)) == 1
    r.commit()
    fake.add("two")
    assert len(poll_until(r, lambda g: len(g) >= 1)) == 1
    r.close()  # crash: "two" was never committed
    again = reader(fake, tmp_path, clock)
    got = poll_until(again, lambda g: len(g) >= 1)
    again.close()
    assert [line.text for line in got] == ["sshd[123]: two"]


def test_binary_messages_and_unit_filter(fake: FakeJournal, tmp_path: Path, clock: FakeClock) -> None:
    r = reader(fake, tmp_path, clock, units=["ssh.service"])
    r.poll()
    fake.add(list(b"bad \xff byte"))
    fake.add("other unit", unit="cron.service")
    fake.add("x" * 100, ident="kernel", pid="")
    got = poll_until(r, lambda g: len(g) >= 2)
    r.close()
    assert [line.text for line in got] == ["sshd[123]: bad \ufffd byte", "kernel: " + "x" * 100]
    assert [line.invalid_utf8 for line in got] == [True, False]
    assert any("--unit=ssh.service" in call for call in fake.calls())


def test_long_messages_are_truncated(fake: FakeJournal, tmp_path: Path, clock: FakeClock) -> None:
    r = reader(fake, tmp_path, clock, max_line_bytes=1000)
    r.poll()
    fake.add("y" * 5000)
    (line,) = poll_until(r, lambda g: len(g) >= 1)
    r.close()
    assert line.truncated and line.text == "sshd[123]: " + "y" * 1000


def test_child_that_exits_is_restarted_after_the_backoff_without_duplicates(
    fake: FakeJournal, tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_JOURNAL_EXIT", "1")  # print what there is, then exit
    r = reader(fake, tmp_path, clock, restart_backoff_s=30)
    poll_until(r, lambda g: r._proc is None)  # empty journal: the child found nothing and exited
    fake.add("first")
    assert r.poll() == []  # backing off
    clock.advance(31)
    got = poll_until(r, lambda g: len(g) >= 1 and r._proc is None)
    fake.add("second")
    clock.advance(31)
    got += poll_until(r, lambda g: len(g) >= 1 and r._proc is None)
    r.close()
    assert [line.text for line in got] == ["sshd[123]: first", "sshd[123]: second"]
    assert not any("--after-cursor" in arg for arg in fake.calls()[1])  # empty at the start: read it all
    assert "--after-cursor=s=abc;i=1" in fake.calls()[-2]  # catching up after the first entry


def test_unusable_saved_cursor_is_given_up_after_repeated_failures(
    fake: FakeJournal, tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "state" / "journal.json"
    state.parent.mkdir()
    state.write_text(json.dumps({"cursor": "garbage"}))
    fake.add("old")
    failing = tmp_path / "failing-journalctl"
    # a journalctl that rejects the cursor, as the real one does for a malformed cursor
    failing.write_text(
        f"#!{sys.executable}\nimport os, sys\n"
        "if any(a.startswith('--after-cursor=garbage') for a in sys.argv):\n"
        "    sys.stderr.write('Failed to seek to cursor: Invalid argument\\n'); sys.exit(1)\n"
        f"os.execv({str(fake.binary)!r}, [{str(fake.binary)!r}] + sys.argv[1:])\n"
    )
    failing.chmod(0o755)
    r = JournalReader(
        state_path=state, journalctl=str(failing), require_systemd=False, clock=clock, restart_backoff_s=1
    )
    for _ in range(3):
        poll_until(r, lambda g: r._proc is None)
        clock.advance(2)
    assert "journal_cursor_unusable" in caplog.text
    poll_until(r, lambda g: r._proc is not None)  # restarted from the newest entry
    fake.add("new")
    got = poll_until(r, lambda g: len(g) >= 1)
    r.close()
    assert [line.text for line in got] == ["sshd[123]: new"]
