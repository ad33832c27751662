"""No argument can become shell syntax: command lines and diagnostic arguments are checked before sending."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.ssh.actions import ACTIONS, ActionDenied, plan
from collector.ssh.client import CommandResult, SshPool
from collector.ssh.commands import POLL_COMMANDS, UnsafeCommand, command_line
from collector.ssh.config import SshTarget
from collector.ssh.poller import _wants_fallback


def test_poll_commands_are_fixed_and_safe() -> None:
    assert command_line(("df", "-P", "-l")) == "df -P -l"
    names = [c.name for c in POLL_COMMANDS]
    assert len(names) == len(set(names))
    for c in POLL_COMMANDS:
        for argv in c.alternatives:
            assert command_line(argv) == " ".join(argv)


@pytest.mark.parametrize("token", ["a b", "x;id", "$(id)", "`id`", "a|b", "a&b", "a>b", "'q'", '"q"', "a\nb",
                                   "~root", "*", "a\\b", "", "!x", "{a,b}"])
def test_unsafe_tokens_are_refused_not_quoted(token: str) -> None:
    with pytest.raises(UnsafeCommand):
        command_line(("du", "-d", "1", token))


@pytest.fixture
def target(tmp_path: Path) -> SshTarget:
    key = tmp_path / "id"
    key.write_text("x")
    kh = tmp_path / "known_hosts"
    kh.write_text("")
    return SshTarget(host_id="h", customer="c", address="127.0.0.1", user="u", key_file=key, known_hosts=kh,
                     du_paths=["/var", "/srv/data"])


@pytest.mark.parametrize(("action", "args", "words"), [
    ("rm", {}, "not available over SSH"),
    ("shell", {"cmd": "id"}, "not available"),
    ("top_processes", {"limit": "5; reboot"}, "whole number"),
    ("top_processes", {"limit": "-1"}, "whole number"),
    ("top_processes", {"limit": "1e3"}, "whole number"),
    ("top_processes", {"limit": " 5"}, "whole number"),
    ("top_processes", {"limit": "101"}, "out of range"),
    ("top_processes", {"sort": "pid"}, "one of cpu, mem"),
    ("top_processes", {"user": "root"}, "does not take"),
    ("disk_usage", {}, "needs path"),
    ("disk_usage", {"path": "/etc"}, "not allowed"),
    ("disk_usage", {"path": "/var/../etc"}, "not allowed"),
    ("disk_usage", {"path": "/var $(id)"}, "not allowed"),
    ("disk_usage", {"path": "/var", "depth": "9"}, "out of range"),
    ("disk_usage", {"path": "/var", "depth": "1 /etc"}, "whole number"),
    ("listening_ports", {"port": "22"}, "does not take"),
])
def test_bad_actions_are_denied_before_anything_runs(target: SshTarget, action: str, args: dict[str, str],
                                                      words: str) -> None:
    with pytest.raises(ActionDenied, match=words.replace("(", r"\(").replace("$", r"\$")):
        plan(target, action, args)


def test_good_actions_plan(target: SshTarget) -> None:
    assert plan(target, "disk_usage", {"path": "/srv/data/", "depth": "2", "limit": "5"}).action == "disk_usage"
    assert plan(target, "top_processes", {"sort": "mem", "limit": "100"}).action == "top_processes"
    assert set(ACTIONS) == {"system_snapshot", "top_processes", "disk_usage", "listening_ports"}
    # Denied requests never touch the pool: nothing was dialled.
    pool = SshPool()
    with pytest.raises(ActionDenied):
        __import__("collector.ssh.actions", fromlist=["run_action"]).run_action(pool, target, "rm", {})
    assert pool.connects == 0


def test_fallback_rules() -> None:
    tcp = next(c for c in POLL_COMMANDS if c.name == "tcp")
    df = next(c for c in POLL_COMMANDS if c.name == "df")
    assert _wants_fallback(CommandResult(("x",), 127), df)  # not installed
    assert _wants_fallback(CommandResult(("x",), 1, stderr=b"df: invalid option -- 'l'"), df)
    assert not _wants_fallback(CommandResult(("x",), 1, stdout=b"partial but useful\n"), df)
    assert not _wants_fallback(CommandResult(("x",), None, timed_out=True), df)  # would wait as long again
    assert _wants_fallback(CommandResult(("x",), None, stdout=b"x" * 10, truncated=True), tcp)
    assert not _wants_fallback(CommandResult(("x",), None, stdout=b"x" * 10, truncated=True), df)
