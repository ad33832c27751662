"""A bad config names the file and the field, and the process exits non-zero before doing anything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agent.config import load_agent_config
from agent.configfile import ConfigError, parse_duration, parse_size
from collector.config import load_collector_config

REPO = Path(__file__).resolve().parents[2]


def run(module: str, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", module, "-c", str(config)], capture_output=True, text=True,
                          cwd=REPO, timeout=60)


@pytest.mark.parametrize(("text", "field", "problem"), [
    ("customer: acme\ncollector: 'nohost'\n", "collector", "expected host:port"),
    ("customer: acme\ncollector: 'h:1'\nbatch_interval: soon\n", "batch_interval", "duration"),
    ("customer: acme\ncollector: 'h:1'\nspool: {max_bytes: lots}\n", "spool.max_bytes", "size"),
    ("customer: acme\ncollector: 'h:1'\nspoool: {}\n", "spoool", "unknown field"),
    ("collector: 'h:1'\n", "customer", "Field required"),
    ("customer: 'bad id!'\ncollector: 'h:1'\n", "customer", "letters, digits"),
])
def test_agent_config_errors_name_file_and_field(tmp_path: Path, text: str, field: str, problem: str) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_agent_config(path)
    msg = str(exc.value)
    assert str(path) in msg
    assert f"field {field}:" in msg
    assert problem in msg
    proc = run("agent.main", path)
    assert proc.returncode == 2
    assert f"field {field}:" in proc.stderr and str(path) in proc.stderr
    assert not (tmp_path / "spool").exists()


@pytest.mark.parametrize(("text", "field", "problem"), [
    ("insecure: true\ncustomers: [{id: a, name: A, timezone: Mars/Base}]\n", "customers.0.timezone",
     "unknown time zone"),
    ("insecure: true\ncustomers: [{id: a, name: A}, {id: a, name: B}]\n", "(top level)", "defined twice"),
    ("insecure: true\nlisten: localhost\n", "listen", "host:port"),
    ("insecure: true\napi: {tokens: [{name: x, role: root, token: t}]}\n", "api.tokens.0.role", "viewer"),
    ("customers: []\n", "(top level)", "insecure: true"),
])
def test_collector_config_errors_name_file_and_field(tmp_path: Path, text: str, field: str, problem: str) -> None:
    path = tmp_path / "collector.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_collector_config(path)
    msg = str(exc.value)
    assert str(path) in msg and f"field {field}:" in msg and problem in msg
    proc = run("collector.main", path)
    assert proc.returncode == 2
    assert f"field {field}:" in proc.stderr


def test_yaml_syntax_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text("customer: [unclosed\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+"):
        load_agent_config(path)
    with pytest.raises(ConfigError, match="does not exist"):
        load_agent_config(tmp_path / "nope.yaml")
    path.write_text("- a list\n")
    with pytest.raises(ConfigError, match="mapping at the top level"):
        load_agent_config(path)


def test_durations_and_sizes() -> None:
    assert parse_duration("7d") == 7 * 86400
    assert parse_duration("1.5h") == 5400
    assert parse_duration(10) == 10
    assert parse_size("256MiB") == 256 * 2**20
    assert parse_size("1GB") == 10**9
    with pytest.raises(ValueError):
        parse_duration("tomorrow")
    with pytest.raises(ValueError):
        parse_size("big")
