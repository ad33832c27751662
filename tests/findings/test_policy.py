"""The ticket policy file: validation that names the file, the rule and the field; first match decides;
the CLI that reviews a file before it is deployed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from agent.configfile import ConfigError
from collector.cli import app as patrol
from collector.config import load_collector_config
from collector.tickets.config import TicketsConfig
from collector.tickets.model import Severity
from collector.tickets.policy import BUILTIN_POLICY, PolicyError, load_policy
from collector.tickets.sources import FindingBatch, checklist_signals, finding_signals
from inspections import blank_rows
from tests.tickets.test_sources import finding

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "examples" / "ticket-policy.yaml"


def write(tmp_path: Path, text: str, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(("text", "expected"), [
    ("rules:\n  - {states: [critical], severity: L2}\n  - {name: disks, checkz: [disk.*], severity: L3}\n",
     "rule 1 (disks): field checkz: unknown field"),
    ("rules:\n  - {name: loud, states: [critical]}\n",
     "rule 0 (loud): a rule that opens tickets needs severity"),
    ("rules:\n  - {states: [critical], severity: L5}\n", "rule 0: field severity: unknown severity 'L5'"),
    ("rules:\n  - {states: [fatal], severity: L1}\n", "rule 0: field states.0: Input should be"),
    ("rules:\n  - {categories: [storage], severity: L1}\n", "rule 0: field categories.0: Input should be"),
    ("rules:\n  - {action: ignore, severity: L1}\n", "rule 0: an ignore rule opens no ticket"),
    ("rules: []\n", "field rules: List should have at least 1 item"),
    ("rules:\n  - {states: [critical], severity: L1\n", "invalid YAML (line"),
])
def test_a_bad_policy_file_names_the_file_the_rule_and_the_field(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    assert str(err.value).startswith(f"{path}: ") and expected in str(err.value)


def test_the_collector_refuses_a_bad_policy_before_doing_anything(tmp_path: Path) -> None:
    write(tmp_path, "rules:\n  - {states: [critical], severity: L1, sla_profile: platinum}\n", "ticket-policy.yaml")
    cfg = {"insecure": True, "data_dir": "data", "tickets": {"policy_file": "ticket-policy.yaml"}}
    (tmp_path / "collector.yaml").write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError) as err:
        load_collector_config(tmp_path / "collector.yaml")
    text = str(err.value)
    assert "tickets.policy_file" in text and str(tmp_path / "ticket-policy.yaml") in text
    assert "rule 0: sla_profile 'platinum' is not a profile" in text
    # A profile defined in the same collector.yaml is known.
    cfg["tickets"]["profiles"] = {"platinum": {"targets": {"L1": {"respond": "10m"}}}}
    (tmp_path / "collector.yaml").write_text(yaml.safe_dump(cfg))
    policy = load_collector_config(tmp_path / "collector.yaml").section("tickets").policy
    assert policy.decide("any.check", "resources", "critical", "low", "acme").rule.sla_profile == "platinum"


def test_the_first_matching_rule_decides() -> None:
    policy = load_policy(EXAMPLE)
    assert not policy.decide("resources.disk_space", "resources", "critical", "high", "lab").opens
    security = policy.decide("security.failed_logins", "data_security", "critical", "medium", "acme")
    assert (security.index, security.severity, security.rule.sla_profile) == (1, Severity.L1, "hotline")
    disk = policy.decide("resources.disk_space", "resources", "critical", "high", "acme")
    assert (disk.index, disk.severity) == (2, Severity.L2)
    assert policy.decide("resources.cpu_busy", "resources", "warning", "high", "acme").severity == Severity.L3
    quiet = policy.decide("resources.cpu_busy", "resources", "warning", "low", "acme")
    assert (quiet.index, quiet.opens) == (5, False) and quiet.describe().endswith("ignore: no ticket")
    assert policy.decide("resources.cpu_busy", "resources", "unknown", "low", "acme").rule is None


def test_the_builtin_policy_keeps_severity_by_state_and_importance() -> None:
    policy = TicketsConfig().policy
    assert policy.source == str(BUILTIN_POLICY)
    table = {(state, imp): policy.decide("x.y", "resources", state, imp, "c").severity
             for state in ("critical", "warning") for imp in ("high", "medium", "low")}
    assert table == {("critical", "high"): Severity.L2, ("critical", "medium"): Severity.L2,
                     ("critical", "low"): Severity.L3, ("warning", "high"): Severity.L3,
                     ("warning", "medium"): Severity.L3, ("warning", "low"): Severity.L4}


def test_what_the_policy_does_not_open_clears_and_an_unknown_says_nothing() -> None:
    policy = load_policy(EXAMPLE)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    batch = FindingBatch(1, "acme", now, [finding("warning", 85), finding("critical", 95, subject="/"),
                                          finding("unknown", float("nan"), subject="/var")])
    warning, critical, unknown = finding_signals(batch, policy)
    assert (warning.firing, critical.firing, unknown.firing) == (True, True, None)  # high importance warns
    low = FindingBatch(1, "lab", now, [finding("critical", 95)])
    assert finding_signals(low, policy)[0].firing is False
    rows = blank_rows()
    rows[0].result, rows[1].result, rows[0].remark = "issue", "ok", "scratched panel"
    issue, ok = checklist_signals(rows, 3, "acme", "ACME", policy, now)
    assert (issue.firing, issue.severity, issue.subject, ok.firing) == (True, Severity.L3, "acme", False)
    assert "scratched panel" in issue.title and len(checklist_signals(rows, 3, "acme", "ACME", policy, now)) == 2


def test_policy_check_and_explain_on_the_command_line(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(patrol, ["tickets", "policy", "check", str(EXAMPLE)])
    assert ok.exit_code == 0, ok.output
    assert "7 rules" in ok.output and "note:" not in ok.output
    explained = runner.invoke(patrol, ["tickets", "policy", "explain", str(EXAMPLE), "--check",
                                       "security.failed_logins", "--state", "critical", "--customer", "acme"])
    assert explained.exit_code == 0, explained.output
    assert "rule 1 (security findings" in explained.output and "L1 (一级) under SLA profile hotline" in explained.output
    builtin = runner.invoke(patrol, ["tickets", "policy", "explain", "--check", "manual.cabling", "--state", "issue"])
    assert "manual checklist rows marked abnormal" in builtin.output
    typo = write(tmp_path, "rules:\n  - {checks: [resources.disk_spcae], severity: L2}\n")
    noted = runner.invoke(patrol, ["tickets", "policy", "check", str(typo)])
    assert noted.exit_code == 0 and "matches no built-in check" in noted.output
    bad = write(tmp_path, "rules:\n  - {name: x, states: [critical], severity: urgent}\n", "bad.yaml")
    failed = runner.invoke(patrol, ["tickets", "policy", "check", str(bad)])
    assert failed.exit_code == 2 and "rule 0 (x): field severity" in failed.output
