"""Rule pack loading: validation errors that name file, rule and field; order; overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.logs import prefilter
from agent.logs.rules import DEFAULT_PACK, RulePackError, load_pack, load_rules


def write(tmp_path: Path, text: str, name: str = "site.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


RULE = """
  - id: {id}
    name: {{zh: 测试, en: Test}}
    severity: {severity}
    priority: {priority}
    match: {match}
"""


def pack(*rules: str, extra: str = "") -> str:
    return "version: 1\n" + extra + "rules:\n" + "".join(rules)


def rule(rule_id: str, match: str, severity: str = "warning", priority: int = 100) -> str:
    return RULE.format(id=rule_id, match=match, severity=severity, priority=priority)


# ---------------------------------------------------------------------------- errors


def test_default_pack_is_valid() -> None:
    spec = load_pack(DEFAULT_PACK)
    assert len(spec.rules) >= 30
    assert load_pack("default") == spec


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (rule("app.bad", "{regex: 'broken (group'}"), ["rule 'app.bad'", "'match.regex'", "invalid regex"]),
        (rule("app.bad", "{regex: 'x', contains: 'y'}"), ["rule 'app.bad'", "exactly one of 'regex' or 'contains'"]),
        (rule("app.bad", "{contains: 'x'}", severity="fatal"), ["rule 'app.bad'", "'severity'", "'info'"]),
        (rule("Bad Id!", "{contains: 'x'}"), ["rules[0]", "'id'"]),
        (rule("app.a", "{contains: 'x'}") + rule("app.a", "{contains: 'y'}"), ["defined twice", "app.a"]),
        (
            rule("app.ml", "{contains: 'x'}") + "    multiline: {continuation: '(unclosed'}\n",
            ["rule 'app.ml'", "'multiline.continuation'", "invalid regex"],
        ),
        (rule("app.x", "{contains: 'x'}") + "    colour: red\n", ["rule 'app.x'", "'colour'", "Extra inputs"]),
    ],
)
def test_bad_pack_error_names_file_rule_and_field(tmp_path: Path, body: str, expected: list[str]) -> None:
    path = write(tmp_path, pack(body))
    with pytest.raises(RulePackError) as err:
        load_rules([path])
    message = str(err.value)
    assert str(path) in message
    for part in expected:
        assert part in message


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "rules:\n  - id: x\n    name: [unclosed\n")
    with pytest.raises(RulePackError, match=r"invalid YAML at line \d+"):
        load_pack(path)


def test_missing_pack_file(tmp_path: Path) -> None:
    with pytest.raises(RulePackError, match="cannot read"):
        load_pack(tmp_path / "nope.yaml")


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(RulePackError, match="mapping"):
        load_pack(write(tmp_path, "- a\n- b\n"))


# ---------------------------------------------------------------------------- semantics


def test_first_match_by_priority_then_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        pack(
            rule("site.late", "{contains: 'disk'}", priority=200),
            rule("site.first", "{contains: 'disk'}", priority=100),
            rule("site.second", "{contains: 'disk'}", priority=100),
        ),
    )
    rules = load_rules([path], include_default=False)
    assert [r.id for r in rules.rules] == ["site.first", "site.second", "site.late"]
    assert rules.match("the disk is full", "x")[0].id == "site.first"  # type: ignore[index]


def test_later_pack_overrides_and_disables_default_rules(tmp_path: Path) -> None:
    line = "sshd[1]: Failed password for root from 1.2.3.4 port 22 ssh2"
    path = write(
        tmp_path,
        pack(
            rule("sshd.failed_password", "{contains: 'Failed password'}", severity="critical", priority=50),
            extra="disable: [pam.auth_failure]\n",
        ),
    )
    rules = load_rules([path])
    found = rules.match(line, "x")
    assert found is not None and found[0].severity == "critical"
    assert rules.by_id("pam.auth_failure") is None
    assert rules.by_id("kernel.oom_kill") is not None


def test_contains_is_a_plain_substring_and_can_ignore_case(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        pack(rule("site.dot", "{contains: 'a.b'}"), rule("site.ci", "{contains: 'Disk Full', ignore_case: true}")),
    )
    rules = load_rules([path], include_default=False)
    assert rules.match("xa.bx", "s")[0].id == "site.dot"  # type: ignore[index]
    assert rules.match("axb", "s") is None
    assert rules.match("DISK FULL now", "s")[0].id == "site.ci"  # type: ignore[index]


def test_sources_and_exclude(tmp_path: Path) -> None:
    body = rule("site.nginx", "{regex: 'upstream timed out'}") + (
        "    sources: ['/var/log/nginx/*']\n    exclude: {contains: 'health-check'}\n"
    )
    rules = load_rules([write(tmp_path, pack(body))], include_default=False)
    assert rules.match("upstream timed out x", "/var/log/nginx/error.log") is not None
    assert rules.match("upstream timed out x", "/var/log/syslog") is None
    assert rules.match("upstream timed out health-check", "/var/log/nginx/error.log") is None


def test_suffixed_group_names_fill_one_field(tmp_path: Path) -> None:
    body = rule("site.alt", "{regex: 'user=(?P<user__a>\\w+)|login (?P<user__b>\\w+)'}")
    rules = load_rules([write(tmp_path, pack(body))], include_default=False)
    assert rules.match("login alice", "s")[1] == {"user": "alice"}  # type: ignore[index]
    assert rules.match("user=bob", "s")[1] == {"user": "bob"}  # type: ignore[index]


# ---------------------------------------------------------------------------- prefilter extraction


@pytest.mark.parametrize(
    ("pattern", "tokens", "substrings"),
    [
        (r"Failed password for (?P<user>\S+)", ("password",), ()),
        (r"\bERROR\b|\[error\]", ("ERROR", "error"), ()),
        (r"(?P<x>\w+)\(pam_unix\): authentication failure;", ("authentication",), ()),
        (r"(?:foo)+barbaz", (), ("barbaz",)),
        (r"IOException|Error", (), ("Error", "IOException")),
    ],
)
def test_prefilter_extraction(pattern: str, tokens: tuple[str, ...], substrings: tuple[str, ...]) -> None:
    pre = prefilter.for_regex(pattern)
    assert pre is not None
    assert (pre.tokens, pre.substrings) == (tokens, substrings)


@pytest.mark.parametrize("pattern", [r"a.b", r"\d+", r"(?:ab)?c", r"x|\w+"])
def test_no_prefilter_when_nothing_is_required(pattern: str) -> None:
    assert prefilter.for_regex(pattern) is None


def test_rule_without_prefilter_is_still_tried(tmp_path: Path) -> None:
    rules = load_rules([write(tmp_path, pack(rule("site.num", "{regex: '^\\d+$'}")))], include_default=False)
    assert rules.match("12345", "s")[0].id == "site.num"  # type: ignore[index]
    assert rules.match("12a45", "s") is None
