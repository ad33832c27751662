"""The action gate (local consent, argument checks) and what the actions produce, run in-process."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agent.config import AgentConfig
from agent.diagnostics import actions
from agent.diagnostics.context import ActionContext, ActionError, AgentRuntime, Denied
from agent.diagnostics.redact import REDACTED, redact_text, redact_value
from agent.spool import Spool


def config(tmp_path: Path, **diagnostics: object) -> AgentConfig:
    return AgentConfig.model_validate({"customer": "acme", "collector": "127.0.0.1:1",
                                       "spool": {"dir": str(tmp_path / "spool")}, "diagnostics": diagnostics})


def run(cfg: AgentConfig, action: str, args: dict[str, str] | None = None, timeout: float = 20) -> bytes:
    prepared = actions.prepare(action, args or {}, cfg.diagnostics)
    with Spool(cfg.spool.dir) as spool:
        ctx = ActionContext(time.monotonic() + timeout, AgentRuntime("a1", cfg, spool.stats, time.time()))
        return b"".join(prepared.run(ctx))


def denied(cfg: AgentConfig, action: str, args: dict[str, str] | None = None) -> str:
    with pytest.raises(Denied) as info:
        actions.prepare(action, args or {}, cfg.diagnostics)
    return str(info.value)


def test_switched_off_unknown_and_stray_arguments_are_refused(tmp_path: Path) -> None:
    cfg = config(tmp_path, actions={"packages": False})
    assert "switched off" in denied(cfg, "packages")
    assert "switched off" in denied(cfg, "network_probe")  # off unless the customer turns it on
    assert "unknown action" in denied(cfg, "reboot")
    assert "does not take" in denied(cfg, "top_processes", {"shell": "rm -rf /"})
    assert "1..100" in denied(cfg, "top_processes", {"limit": "1000"})
    assert "no operator commands" in denied(cfg, "command", {"name": "x"})


def test_a_hard_link_to_a_file_outside_the_allowed_logs_is_refused(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_text("ordinary line\n")
    (tmp_path / "shadow").write_text("secret\n")
    (logs / "copy.log").hardlink_to(tmp_path / "shadow")
    (logs / "evil.log").symlink_to(tmp_path / "shadow")
    cfg = config(tmp_path, log_paths=[str(logs / "*.log")])
    for action, extra in (("tail_log", {}), ("grep_log", {"pattern": "secret"})):
        reason = denied(cfg, action, {"path": str(logs / "copy.log"), **extra})
        assert "hard link" in reason and str(logs / "copy.log") in reason
        assert "links to" in denied(cfg, action, {"path": str(logs / "evil.log"), **extra})
    assert run(cfg, "tail_log", {"path": str(logs / "app.log")}).endswith(b"ordinary line\n")
    assert b"1:ordinary line" in run(cfg, "grep_log", {"path": str(logs / "app.log"), "pattern": "ordinary"})


def test_a_log_swapped_for_a_hard_link_after_the_check_is_not_read(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_text("ordinary line\n")
    (tmp_path / "shadow").write_text("secret\n")
    cfg = config(tmp_path, log_paths=[str(logs / "*.log")])
    for action, extra in (("tail_log", {}), ("grep_log", {"pattern": "secret"})):
        prepared = actions.prepare(action, {"path": str(logs / "app.log"), **extra}, cfg.diagnostics)
        # Between the check and the read, the file is replaced by a hard link to the secret.
        (logs / "app.log").unlink()
        (logs / "app.log").hardlink_to(tmp_path / "shadow")
        with Spool(cfg.spool.dir) as spool, pytest.raises(Denied, match="replaced between its check and its read"):
            ctx = ActionContext(time.monotonic() + 20, AgentRuntime("a1", cfg, spool.stats, time.time()))
            b"".join(prepared.run(ctx))
        (logs / "app.log").unlink()
        (logs / "app.log").write_text("ordinary line\n")


def test_log_files_must_be_on_the_allow_list_also_after_links(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_text("".join(f"line {i}\n" for i in range(1000)))
    (tmp_path / "shadow").write_text("secret\n")
    (logs / "evil.log").symlink_to(tmp_path / "shadow")
    (logs / "nested").mkdir()
    (logs / "nested" / "deep.log").write_text("x\n")
    cfg = config(tmp_path, log_paths=[str(logs / "*.log")])
    assert run(cfg, "tail_log", {"path": str(logs / "app.log"), "lines": "2"}).endswith(b"line 998\nline 999\n")
    assert "links to" in denied(cfg, "tail_log", {"path": str(logs / "evil.log")})
    assert "not an allowed" in denied(cfg, "tail_log", {"path": str(logs / "nested" / "deep.log")})
    assert "not an allowed" in denied(cfg, "tail_log", {"path": str(logs / ".." / "shadow")})
    assert "diagnostics.log_paths is empty" in denied(config(tmp_path), "tail_log", {"path": str(logs / "app.log")})
    listing = denied(cfg, "tail_log", {})
    assert str(logs / "app.log") in listing


def test_grep_refuses_backreferences_and_finds_lines(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("".join(f"{'ERROR' if i % 100 == 0 else 'INFO'} request {i}\n" for i in range(1000)))
    cfg = config(tmp_path, log_paths=[str(log)])
    assert "backreferences" in denied(cfg, "grep_log", {"path": str(log), "pattern": r"(a+)\1"})
    out = run(cfg, "grep_log", {"path": str(log), "pattern": "^ERROR", "lines": "3"}).decode().splitlines()
    assert out[0].startswith("# last 3 of 10 lines")
    assert out[1:] == ["701:ERROR request 700", "801:ERROR request 800", "901:ERROR request 900"]
    first = run(cfg, "grep_log", {"path": str(log), "pattern": "error request 1", "ignore_case": "true",
                                  "from": "start", "lines": "1"}).decode().splitlines()
    assert first[1:] == ["101:ERROR request 100"]
    none = run(cfg, "grep_log", {"path": str(log), "pattern": "a.b", "fixed": "true"})
    assert none.endswith(b"# no line matches\n")


def test_disk_usage_stays_below_the_allowed_roots(tmp_path: Path) -> None:
    tree = tmp_path / "data"
    (tree / "big").mkdir(parents=True)
    (tree / "small").mkdir()
    (tree / "big" / "blob").write_bytes(b"x" * 300_000)
    (tree / "small" / "note").write_bytes(b"x" * 10)
    (tree / "escape").symlink_to("/")
    cfg = config(tmp_path, du_roots=[str(tree)])
    lines = run(cfg, "disk_usage", {"path": str(tree), "depth": "1"}).decode().splitlines()
    rows = [line.split()[-1] for line in lines if line.strip() and not line.startswith("#")][1:]  # after the header
    assert rows[:2] == [str(tree), str(tree / "big")]  # largest first; the symlink to / is not followed
    assert "not below an allowed root" in denied(cfg, "disk_usage", {"path": str(tmp_path)})
    assert "not below an allowed root" in denied(cfg, "disk_usage", {"path": str(tree / "escape" / "etc")})


def test_operator_command_placeholders_are_validated(tmp_path: Path) -> None:
    cfg = config(tmp_path, commands={
        "greet": {"argv": ["echo", "hello {who}!", "{n}"],
                  "args": {"who": {"pattern": "[a-z]+"}, "n": {"choices": ["1", "2"], "default": "1"}}}})
    assert run(cfg, "command", {"name": "greet", "who": "bob"}) == b"hello bob! 1\n"
    assert "not allowed" in denied(cfg, "command", {"name": "greet", "who": "bob; reboot"})
    assert "not allowed" in denied(cfg, "command", {"name": "greet", "who": "bob", "n": "3"})
    assert "needs who" in denied(cfg, "command", {"name": "greet"})
    assert "does not take" in denied(cfg, "command", {"name": "greet", "who": "bob", "argv": "rm"})
    assert "no command 'sh'" in denied(cfg, "command", {"name": "sh"})


def test_a_failing_command_is_an_error_with_its_output(tmp_path: Path) -> None:
    cfg = config(tmp_path, commands={"fail": {"argv": ["sh", "-c", "echo oops; exit 3"]}})
    prepared = actions.prepare("command", {"name": "fail"}, cfg.diagnostics)
    ctx = ActionContext(time.monotonic() + 10, AgentRuntime("a1", cfg, lambda: None, time.time()))
    out = []
    with pytest.raises(ActionError, match="status 3"):
        for piece in prepared.run(ctx):
            out.append(piece)
    assert b"".join(out) == b"oops\n"


def test_agent_state_redacts_credentials(tmp_path: Path) -> None:
    cfg = config(tmp_path, commands={"db": {"argv": ["mysql", "--password=hunter2", "-e", "select 1"]}})
    text = run(cfg, "agent_state").decode()
    assert "hunter2" not in text and REDACTED in text
    assert "depth_batches: 0" in text
    assert redact_text("https://bob:pw@example.com/x?token=abc&x=1") == (
        f"https://bob:{REDACTED}@example.com/x?token={REDACTED}&x=1")
    assert redact_value("", {"tls": {"key": "/etc/k.pem"}, "api_token": "s3cret"}) == {
        "tls": {"key": "/etc/k.pem"}, "api_token": REDACTED}
