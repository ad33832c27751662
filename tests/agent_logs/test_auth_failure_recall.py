"""Every authentication-failure form in the two sample logs is flagged, and no routine line is.

Which lines are authentication failures is decided here by an explicit list of patterns, one per
form, written from reading the samples and independent of the rule pack's regexes.
"""

from __future__ import annotations

import re

import pytest

from agent.logs.rules import RuleSet, load_rules
from tests.agent_logs.helpers import LINUX_LOG, OPENSSH_LOG, sample_lines

# (form, pattern selecting its lines, the rule that must flag them)
AUTH_FAILURE_FORMS: list[tuple[str, str, str]] = [
    ("sshd password refused", r"sshd\[\d+\]: Failed password for ", "sshd.failed_password"),
    ("sshd password refused, repeated", r"message repeated \d+ times: \[ Failed password", "sshd.failed_password"),
    ("sshd 'none' method refused", r"sshd\[\d+\]: Failed none for ", "sshd.failed_auth"),
    ("sshd unknown user", r"sshd\[\d+\]: Invalid user ", "sshd.invalid_user"),
    ("sshd unknown user request", r"input_userauth_request: invalid user .* \[preauth\]$", "sshd.invalid_user_request"),
    ("sshd too many failures", r"Disconnecting: Too many authentication failures for ", "sshd.too_many_auth_failures"),
    (
        "client out of methods",
        r"Received disconnect from [\d.]+: 14: No more user authentication methods available\. \[preauth\]$",
        "sshd.auth_methods_exhausted",
    ),
    ("client 'Auth fail'", r"Received disconnect from [\d.]+: 3: com\.jcraft\.jsch\.JSchException: Auth fail ",
     "sshd.client_auth_fail"),
    ("PAM failure (sshd, new syntax)", r"pam_unix\(sshd:auth\): authentication failure;", "pam.auth_failure"),
    ("PAM failure (old syntax)", r"\w+\(pam_unix\)\[\d+\]: authentication failure;", "pam.auth_failure"),
    ("PAM repeated failures", r"PAM \d+ more authentication failures?;", "pam.more_auth_failures"),
    ("PAM unknown user (new syntax)", r"pam_unix\(sshd:auth\): check pass; user unknown$", "pam.user_unknown"),
    ("PAM unknown user (old syntax)", r"\w+\(pam_unix\)\[\d+\]: check pass; user unknown$", "pam.user_unknown"),
    ("klogind refused", r"klogind\[\d+\]: Authentication failed from ", "auth.failed"),
    ("klogind Kerberos refused", r"klogind\[\d+\]: Kerberos authentication failed", "auth.failed"),
    ("gdm refused", r"gdm-binary\[\d+\]: Couldn't authenticate user", "auth.failed"),
    ("ftpd login never completed", r"ftpd\[\d+\]: User unknown timed out after \d+ seconds", "ftpd.login_timeout"),
]

# Lines the pack flags on purpose that are not authentication failures.
OTHER_ALERTS: list[tuple[str, str]] = [
    (r"POSSIBLE BREAK-IN ATTEMPT!$", "sshd.break_in_attempt"),
    (r"logrotate: ALERT exited abnormally with \[\d+\]", "logrotate.failed"),
]

SAMPLES = {"openssh": OPENSSH_LOG, "linux": LINUX_LOG}


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules()


@pytest.fixture(scope="module")
def sample() -> dict[str, list[str]]:
    return {name: sample_lines(path) for name, path in SAMPLES.items()}


def rule_id(rules: RuleSet, line: str) -> str | None:
    found = rules.match(line, "auth.log")
    return None if found is None else found[0].id


def auth_failure_form(line: str) -> tuple[str, str] | None:
    """(form, expected rule) of an authentication-failure line, or None for any other line."""
    for form, pattern, rule in AUTH_FAILURE_FORMS:
        if re.search(pattern, line):
            return form, rule
    return None


@pytest.mark.parametrize(("form", "pattern", "rule"), AUTH_FAILURE_FORMS, ids=[f[0] for f in AUTH_FAILURE_FORMS])
def test_each_form_is_flagged_by_its_rule(
    rules: RuleSet, sample: dict[str, list[str]], form: str, pattern: str, rule: str
) -> None:
    lines = [line for name in SAMPLES for line in sample[name] if re.search(pattern, line)]
    assert lines, f"no real line of the form {form!r} in the samples"
    assert rule_id(rules, lines[0]) == rule, lines[0]


@pytest.mark.parametrize("name", list(SAMPLES))
def test_auth_failure_recall_is_complete_and_nothing_routine_is_flagged(
    rules: RuleSet, sample: dict[str, list[str]], name: str
) -> None:
    failures = [line for line in sample[name] if auth_failure_form(line) is not None]
    other_alerts = [line for line in sample[name] if any(re.search(p, line) for p, _ in OTHER_ALERTS)]
    routine = [line for line in sample[name] if line not in failures and line not in other_alerts]
    assert failures and routine

    flagged = [line for line in failures if rule_id(rules, line) == auth_failure_form(line)[1]]  # type: ignore[index]
    recall = len(flagged) / len(failures)
    assert recall == 1.0, [line for line in failures if line not in flagged][:5]
    assert [line for line in routine if rules.match(line, "auth.log") is not None] == []
    for line in other_alerts:
        assert rule_id(rules, line) == next(rule for p, rule in OTHER_ALERTS if re.search(p, line))


def test_the_samples_hold_the_counts_the_forms_were_read_from(sample: dict[str, list[str]]) -> None:
    openssh = sample["openssh"]
    assert sum("No more user authentication methods available" in line for line in openssh) == 45
    assert sum(": Auth fail [preauth]" in line for line in openssh) == 2
    assert sum("User unknown timed out" in line for line in sample["linux"]) == 1


@pytest.mark.parametrize(
    "line",
    [
        "Dec 10 09:32:20 LabSZ sshd[24680]: Received disconnect from 5.36.59.76: 11: Bye Bye [preauth]",
        "Dec 10 10:17:09 LabSZ sshd[25109]: Received disconnect from 52.80.34.196: 11: Closed due to user request. "
        "[preauth]",
        "Dec 10 11:04:43 LabSZ sshd[25539]: Received disconnect from 183.62.140.253: 11: disconnected by user",
        "Jun 18 02:23:10 combo ftpd[31277]: User alice timed out after 900 seconds at Sat Jun 18 02:23:10 2005",
    ],
)
def test_ordinary_disconnects_and_idle_sessions_are_not_failures(rules: RuleSet, line: str) -> None:
    assert rules.match(line, "auth.log") is None


@pytest.mark.parametrize(
    ("line", "rule", "fields"),
    [
        (
            "Mar  1 10:00:00 web1 sshd[811]: Received disconnect from 203.0.113.9 port 52113:14: No more user "
            "authentication methods available. [preauth]",
            "sshd.auth_methods_exhausted",
            {"rhost": "203.0.113.9", "port": "52113", "code": "14"},
        ),
        (
            "Dec 10 07:51:15 LabSZ sshd[24324]: error: Received disconnect from 195.154.37.122: 3: "
            "com.jcraft.jsch.JSchException: Auth fail [preauth]",
            "sshd.client_auth_fail",
            {"rhost": "195.154.37.122", "code": "3"},
        ),
        (
            "Jun 18 02:23:10 combo ftpd[31277]: User unknown timed out after 900 seconds at Sat Jun 18 02:23:10 2005 ",
            "ftpd.login_timeout",
            {"seconds": "900"},
        ),
    ],
)
def test_fields_of_the_new_forms(rules: RuleSet, line: str, rule: str, fields: dict[str, str]) -> None:
    found = rules.match(line, "auth.log")
    assert found is not None
    assert found[0].id == rule
    assert {k: v for k, v in found[1].items() if v is not None} == fields
