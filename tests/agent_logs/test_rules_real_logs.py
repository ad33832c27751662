"""The default pack on real logs (loghub samples). Expected counts are derived here with plain
substring checks, independently of the pack's regexes."""

from __future__ import annotations

from collections import Counter

import pytest

from agent.logs.rules import RuleSet, load_rules
from tests.agent_logs.helpers import LINUX_LOG, OPENSSH_LOG, expected_linux, expected_openssh


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules()


def rule_of(rules: RuleSet, line: str, source: str) -> str | None:
    found = rules.match(line, source)
    return None if found is None else found[0].id


def test_openssh_every_failure_line_is_found_per_rule(rules: RuleSet, openssh_lines: list[str]) -> None:
    got = Counter(rule_of(rules, line, str(OPENSSH_LOG)) for line in openssh_lines)
    want = Counter(expected_openssh(line) for line in openssh_lines)
    assert got == want
    # the categories the issue names, with their exact counts in this sample
    assert want["sshd.failed_password"] == sum("Failed password" in line for line in openssh_lines) == 520
    assert want["sshd.break_in_attempt"] == sum("BREAK-IN" in line for line in openssh_lines) == 85
    assert want["sshd.invalid_user"] == sum(" Invalid user " in line for line in openssh_lines) == 113
    assert want["pam.auth_failure"] == 494


def test_openssh_line_by_line_agrees(rules: RuleSet, openssh_lines: list[str]) -> None:
    disagreements = [
        (line, rule_of(rules, line, "auth.log"), expected_openssh(line))
        for line in openssh_lines
        if rule_of(rules, line, "auth.log") != expected_openssh(line)
    ]
    assert disagreements == []


def test_linux_syslog_failures_are_found_per_rule(rules: RuleSet, linux_lines: list[str]) -> None:
    got = Counter(rule_of(rules, line, str(LINUX_LOG)) for line in linux_lines)
    want = Counter(expected_linux(line) for line in linux_lines)
    assert got == want
    assert want["pam.auth_failure"] == sum("authentication failure;" in line for line in linux_lines)


def test_every_auth_failure_mention_becomes_an_event(
    rules: RuleSet, openssh_lines: list[str], linux_lines: list[str]
) -> None:
    phrases = ("failed password", "invalid user", "authentication failure", "break-in attempt")
    for line in openssh_lines + linux_lines:
        if any(p in line.lower() for p in phrases):
            found = rules.match(line, "auth.log")
            assert found is not None, line
            assert found[0].severity in ("warning", "error", "critical"), line


def test_lines_that_are_not_failures_produce_no_events(
    rules: RuleSet, openssh_lines: list[str], linux_lines: list[str]
) -> None:
    benign_markers = (
        ": 11: Bye Bye [preauth]",  # a client's ordinary goodbyes
        ": 11: Closed due to user request. [preauth]",
        ": 11: disconnected by user",
        "Connection closed by",
        "Did not receive identification string",
        "Accepted password",
        "session opened",
        "session closed",
        "fatal: Write failed",
        "PAM service(sshd) ignoring max retries",  # follows the failures it counts, which are flagged
        ": connection from ",  # ftpd
        "ANONYMOUS FTP LOGIN",
        "cups:",
        "syslogd",
        "kernel:",
        "startup succeeded",
    )
    benign = [line for line in openssh_lines + linux_lines if any(m in line for m in benign_markers)]
    assert len(benign) > 1000
    assert [line for line in benign if rules.match(line, "syslog") is not None] == []


def test_fields_are_extracted_from_real_lines(rules: RuleSet, openssh_lines: list[str]) -> None:
    line = next(x for x in openssh_lines if "Failed password for invalid user webmaster" in x)
    rule, fields = rules.match(line, "auth.log")  # type: ignore[misc]
    assert rule.id == "sshd.failed_password"
    assert fields == {"user": "webmaster", "rhost": "173.234.31.186", "port": "38926"}
    repeated = next(x for x in openssh_lines if "message repeated" in x)
    rule, fields = rules.match(repeated, "auth.log")  # type: ignore[misc]
    assert rule.id == "sshd.failed_password" and fields["repeated"] == "5" and fields["user"] == "root"
    pam = next(x for x in openssh_lines if "authentication failure;" in x and "user=root" in x)
    rule, fields = rules.match(pam, "auth.log")  # type: ignore[misc]
    assert rule.id == "pam.auth_failure"
    assert fields["user"] == "root" and fields["service"] == "sshd" and fields["rhost"]
