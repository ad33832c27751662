"""The ``diagnostics:`` section of agent.yaml: safe defaults and what a bad config is told."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import load_agent_config
from agent.configfile import ConfigError
from agent.diagnostics.actions import allowed_actions
from agent.diagnostics.config import DiagnosticsConfig


def write(tmp_path: Path, diagnostics: str) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(f"customer: acme\ncollector: 127.0.0.1:4317\nspool: {{dir: spool}}\ndiagnostics:\n{diagnostics}")
    return path


def test_defaults_are_the_safe_read_only_set() -> None:
    cfg = DiagnosticsConfig()
    assert cfg.collector_key is None  # nothing runs until the customer pins the collector's key
    assert allowed_actions(cfg) == ["system_snapshot", "top_processes", "disk_usage", "tail_log", "grep_log",
                                    "listening_ports", "service_status", "agent_state", "packages"]
    assert not cfg.actions.network_probe and not cfg.commands and not cfg.log_paths and not cfg.journal_units


def test_relative_paths_resolve_next_to_agent_yaml(tmp_path: Path) -> None:
    cfg = load_agent_config(write(tmp_path, "  collector_key: keys/collector.pem\n  audit_log: audit.jsonl\n"))
    assert cfg.diagnostics.collector_key == tmp_path / "keys" / "collector.pem"
    assert cfg.diagnostics.resolved_audit_log(cfg.spool.dir) == tmp_path / "audit.jsonl"
    assert cfg.diagnostics.resolved_state_dir(cfg.spool.dir) == tmp_path / "diagnostics"


@pytest.mark.parametrize(("section", "message"), [
    ("  commands:\n    bad: {argv: ['{prog}', x], args: {prog: {pattern: '.*'}}}\n", "argv[0]"),
    ("  commands:\n    ping: {argv: [ping, '{host}']}\n", "not declared"),
    ("  commands:\n    ping: {argv: [ping], args: {host: {pattern: x}}}\n", "not used"),
    ("  commands:\n    ping: {argv: [ping, '{host}'], args: {host: {pattern: '[', default: x}}}\n",
     "not a valid regular expression"),
    ("  commands:\n    ping: {argv: [ping, '{n}'], args: {n: {choices: ['1'], default: '2'}}}\n", "default"),
    ("  commands:\n    Ping: {argv: [ping]}\n", "command name"),
    ("  actions: {reboot: true}\n", "unknown field"),
    ("  log_paths: [var/log/syslog]\n", "absolute"),
    ("  log_paths: [/var/log/../../etc/shadow]\n", "'..'"),
    ("  default_timeout: 10m\n  max_timeout: 1m\n", "default_timeout"),
])
def test_bad_sections_name_the_problem(tmp_path: Path, section: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_agent_config(write(tmp_path, section))
    assert "diagnostics" in str(info.value) and message in str(info.value)
