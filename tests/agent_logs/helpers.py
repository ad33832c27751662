"""Helpers for the log collection tests: a controllable clock, a log writer, the sample logs."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.logs.model import LogLine
from agent.logs.tailer import Tailer

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "data" / "logs"
OPENSSH_LOG = SAMPLE_DIR / "OpenSSH_2k.log"
LINUX_LOG = SAMPLE_DIR / "Linux_2k.log"


class FakeClock:
    """Time that only moves when the test says so."""

    def __init__(self, start: datetime = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class LogWriter:
    """A program writing its log the way daemons do: one descriptor opened with O_APPEND, kept
    open until told to reopen (the HUP after logrotate)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self.written: list[str] = []
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def line(self, text: str | None = None) -> str:
        self.count += 1
        text = text if text is not None else f"line {self.count:06d} of the service log"
        os.write(self.fd, (text + "\n").encode())
        self.written.append(text)
        return text

    def lines(self, n: int) -> list[str]:
        return [self.line() for _ in range(n)]

    def raw(self, data: bytes) -> None:
        os.write(self.fd, data)

    def reopen(self) -> None:
        os.close(self.fd)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def close(self) -> None:
        os.close(self.fd)


def texts(lines: list[LogLine]) -> list[str]:
    return [line.text for line in lines]


def drain(tailer: Tailer, polls: int = 3) -> list[LogLine]:
    """Poll a few times (each poll reads a bounded amount) and return everything."""
    out: list[LogLine] = []
    for _ in range(polls):
        out.extend(tailer.poll())
    return out


def sample_lines(path: Path) -> list[str]:
    """The lines of a sample log as a reader sees them: without CRLF terminators."""
    lines = path.read_bytes().decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


# What a person reading the sample logs calls each line, written with plain substring checks
# independently of the rule pack's regexes.


def expected_openssh(line: str) -> str | None:
    """What a person reading the auth log would call each line."""
    if "POSSIBLE BREAK-IN ATTEMPT" in line:
        return "sshd.break_in_attempt"
    if "Failed password for " in line:
        return "sshd.failed_password"
    if "Failed none for " in line or "Failed publickey for " in line:
        return "sshd.failed_auth"
    if ": Invalid user " in line:
        return "sshd.invalid_user"
    if "input_userauth_request: invalid user " in line:
        return "sshd.invalid_user_request"
    if "Too many authentication failures" in line:
        return "sshd.too_many_auth_failures"
    if "more authentication failure" in line:
        return "pam.more_auth_failures"
    if "pam_unix(sshd:auth): authentication failure;" in line:
        return "pam.auth_failure"
    if "pam_unix(sshd:auth): check pass; user unknown" in line:
        return "pam.user_unknown"
    if "No more user authentication methods available" in line:
        return "sshd.auth_methods_exhausted"
    if "Received disconnect from " in line and ": Auth fail" in line:
        return "sshd.client_auth_fail"
    return None


def expected_linux(line: str) -> str | None:
    if "(pam_unix)[" in line and ": authentication failure;" in line:
        return "pam.auth_failure"
    if "(pam_unix)[" in line and ": check pass; user unknown" in line:
        return "pam.user_unknown"
    if "Authentication failed from" in line or "Kerberos authentication failed" in line:
        return "auth.failed"
    if "Couldn't authenticate user" in line:
        return "auth.failed"
    if "ftpd[" in line and ": User unknown timed out after " in line:
        return "ftpd.login_timeout"
    if "logrotate: ALERT exited abnormally" in line:
        return "logrotate.failed"
    return None
