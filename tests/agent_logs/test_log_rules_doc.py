"""docs/log-rules.md lists every rule of the default pack, and each example line is flagged by its rule."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.logs.rules import RuleSet, load_rules

DOC = Path(__file__).resolve().parents[2] / "docs" / "log-rules.md"
ROW = re.compile(r"^\| `(?P<rule>[a-z0-9_.-]+)` \| (?P<severity>\w+) \| .+ \| `(?P<example>.+)` \|$")


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules()


def documented() -> list[tuple[str, str, str]]:
    rows = [ROW.match(line) for line in DOC.read_text(encoding="utf-8").splitlines()]
    return [(m["rule"], m["severity"], m["example"]) for m in rows if m]


def test_every_rule_is_documented_once(rules: RuleSet) -> None:
    ids = [rule for rule, _, _ in documented()]
    assert sorted(ids) == sorted(rule.id for rule in rules.rules)


@pytest.mark.parametrize(("rule", "severity", "example"), documented(), ids=[row[0] for row in documented()])
def test_each_example_is_flagged_by_its_rule(rules: RuleSet, rule: str, severity: str, example: str) -> None:
    found = rules.match(example, "/var/log/syslog")
    assert found is not None and found[0].id == rule, example
    assert found[0].severity == severity
