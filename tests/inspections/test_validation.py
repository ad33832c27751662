"""Bad YAML gets errors that name the file, the item and the field, and say what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from inspections import (
    CheckDefinitionError,
    OverrideError,
    ProfileError,
    load_library,
    load_overrides,
    load_profile,
    parse_overrides_text,
)
from inspections.checks.library import BUILTIN_DIR
from inspections.profiles import parse_profile


def _override_error(text: str) -> str:
    with pytest.raises(OverrideError) as exc:
        parse_overrides_text(text, "acme.yaml")
    return str(exc.value)


def test_unknown_check_id_suggests_the_right_one() -> None:
    message = _override_error("checks:\n  - {check: resources.disk_spce, warn: 90}")
    assert message.startswith("acme.yaml: checks[0].check: unknown check id 'resources.disk_spce'")
    assert "did you mean resources.disk_space" in message


def test_misspelt_field_names_rule_and_check() -> None:
    message = _override_error("checks:\n  - {check: resources.cpu_busy, wran: 90}")
    assert "acme.yaml: checks[0].wran (check resources.cpu_busy): unknown field" in message


def test_levels_in_the_wrong_order_after_merging_with_defaults() -> None:
    message = _override_error("checks:\n  - {check: resources.disk_space, warn: 97}")
    assert "acme.yaml: checks[0] (check resources.disk_space)" in message
    assert "warn (97.0) is above crit (95.0)" in message
    below = _override_error("checks:\n  - {check: security.tls_expiry, crit: 40}")
    assert "warn (30.0) is below crit (40.0)" in below


def test_scoped_rule_checked_on_top_of_customer_levels() -> None:
    message = _override_error(
        "checks:\n  - {check: resources.disk_space, warn: 70, crit: 80}\n"
        "  - {check: resources.disk_space, hosts: [db-01], warn: 85}"
    )
    assert "checks[1]" in message and "warn (85.0) is above crit (80.0)" in message


def test_subjects_on_a_host_level_check() -> None:
    message = _override_error("checks:\n  - {check: device.heartbeat, subjects: [/], warn: 60}")
    assert "checks[0] (check device.heartbeat): subjects:" in message
    assert "remove 'subjects'" in message


def test_rule_that_changes_nothing() -> None:
    message = _override_error("checks:\n  - {check: resources.cpu_busy}")
    assert "at least one of warn, crit, enabled, recover_warn or recover_crit" in message


@pytest.mark.parametrize(
    ("expect", "where", "what"),
    [
        ("ports: [70000]", "expect.ports[0].port", "less than or equal to 65535"),
        ("tcp: [db.internal]", "expect.tcp[0].target", "host:port"),
        ("http: ['ftp://x/']", "expect.http[0].url", "not an http:// or https:// URL"),
        ("processes: [{name: app, min_count: 0}]", "expect.processes[0].min_count", "greater than or equal to 1"),
        ("printers: [x]", "expect.printers", "unknown field"),
    ],
)
def test_bad_expectations(expect: str, where: str, what: str) -> None:
    message = _override_error(f"expect:\n  {expect}")
    assert f"acme.yaml: {where}" in message and what in message


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text("checks:\n  - check: resources.cpu_busy\n    warn: [90\n", encoding="utf-8")
    with pytest.raises(OverrideError) as exc:
        load_overrides(path)
    assert str(path) in str(exc.value) and "invalid YAML (line" in str(exc.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(OverrideError, match="cannot read the file"):
        load_overrides(tmp_path / "nope.yaml")


def test_valid_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text("customer: acme\nchecks:\n  - {check: resources.cpu_busy, warn: 70}\n", encoding="utf-8")
    assert load_overrides(path).customer == "acme"


# -- check definitions ---------------------------------------------------------------------------

GOOD = """
  - id: test.cpu
    kind: metric
    name: {zh: 测试, en: Test}
    description: {zh: 测试, en: Test}
    category: resources
    severity: low
    unit: "%"
    direction: above
    warn: 80
    crit: 90
    series: cpu.busy_percent
    recommendation: {zh: 处理, en: Fix it}
"""


def _definition_error(tmp_path: Path, body: str, replace: tuple[str, str] | None = None) -> str:
    text = "checks:" + body
    if replace:
        assert replace[0] in text
        text = text.replace(*replace)
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CheckDefinitionError) as exc:
        load_library([path])
    message = str(exc.value)
    assert str(path) in message
    return message


def test_good_definition_loads(tmp_path: Path) -> None:
    path = tmp_path / "good.yaml"
    path.write_text("checks:" + GOOD, encoding="utf-8")
    assert load_library([path]).ids() == ["test.cpu"]


@pytest.mark.parametrize(
    ("replace", "expected"),
    [
        (("category: resources", "category: power"), "checks[0].category (id test.cpu): Input should be"),
        (("warn: 80", "warn: 95"), "warn (95.0) is above crit (90.0)"),
        (("id: test.cpu", "id: CPU"), "must be dotted lower-case words"),
        (("kind: metric", "kind: magic"), "checks[0] (id test.cpu)"),
        (("    series: cpu.busy_percent\n", "    series: cpu.busy_percent\n    aggregation: median\n"), "p1..p99"),
        (("{zh: 处理, en: Fix it}", "{en: Fix it}"), "checks[0].recommendation.zh (id test.cpu): required field"),
        (("    series: cpu.busy_percent\n", "    series: cpu.busy_percent\n    expected: tls\n"), "exactly one"),
        (("    series: cpu.busy_percent\n", "    series: cpu.busy_percent\n    match: {mount: '('}\n"), "regular"),
        (("warn: 80\n    crit: 90", "warn: null\n    crit: null"), "set at least one of warn and crit"),
    ],
)
def test_bad_definitions(tmp_path: Path, replace: tuple[str, str], expected: str) -> None:
    assert expected in _definition_error(tmp_path, GOOD, replace)


def test_unknown_python_implementation(tmp_path: Path) -> None:
    body = GOOD.replace("kind: metric", "kind: python\n    implementation: teleport").replace(
        "    series: cpu.busy_percent\n", ""
    )
    message = _definition_error(tmp_path, body)
    assert "check test.cpu: implementation 'teleport' is not registered" in message


def test_bad_python_params(tmp_path: Path) -> None:
    body = GOOD.replace("kind: metric", "kind: python\n    implementation: availability").replace(
        "    series: cpu.busy_percent\n", "    params: {series: probe.tcp_up, label: target}\n"
    )
    message = _definition_error(tmp_path, body)
    assert "check test.cpu: params.expected: required field is missing" in message


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("checks:" + GOOD, encoding="utf-8")
    (tmp_path / "b.yaml").write_text("checks:" + GOOD, encoding="utf-8")
    with pytest.raises(CheckDefinitionError, match=r"b.yaml: check id 'test.cpu' is already defined in .*a.yaml"):
        load_library([tmp_path])


def test_builtin_catalogue_is_valid() -> None:
    assert len(load_library([BUILTIN_DIR])) >= 30


# -- profiles ------------------------------------------------------------------------------------


def test_profile_pattern_matching_nothing() -> None:
    data = {
        "id": "weekly",
        "name": {"zh": "周", "en": "Weekly"},
        "description": {"zh": "周", "en": "Weekly"},
        "window_days": 7,
        "checks": ["resources.*", "resources.disk_spce"],
    }
    with pytest.raises(ProfileError) as exc:
        parse_profile(data, "weekly.yaml")
    assert "weekly.yaml: checks[1]: unknown check id 'resources.disk_spce'" in str(exc.value)


def test_profile_bad_field() -> None:
    with pytest.raises(ProfileError, match=r"weekly\.yaml: window_days: Input should be greater than 0"):
        parse_profile(
            {
                "id": "weekly",
                "name": {"zh": "周", "en": "W"},
                "description": {"zh": "周", "en": "W"},
                "window_days": 0,
                "checks": ["*"],
            },
            "weekly.yaml",
        )


def test_unknown_profile_name() -> None:
    with pytest.raises(ProfileError, match="unknown profile 'quarterly'; shipped profiles: daily, monthly"):
        load_profile("quarterly")
