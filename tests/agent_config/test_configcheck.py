"""agent.yaml is validated in a child process; the agent gets the same configuration and errors back."""

from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from agent.config import AgentConfig, load_agent_config, load_agent_config_in_process, validate_agent_config
from agent.configcheck import check_in_child
from agent.configfile import ConfigError
from agent.diagnostics.config import DiagnosticsConfig
from agent.logs.rules import RuleSet, load_rules
from agent.logs.watcher import LogWatcher

REPO = Path(__file__).resolve().parents[2]

SITE_PACK = """\
version: 1
disable: [kernel.oom_kill]
rules:
  - id: site.disk_full
    name: {zh: 磁盘满, en: Disk full}
    severity: critical
    match: {contains: 'No space left on device'}
"""

BAD_PACK = """\
version: 1
rules:
  - id: site.broken
    name: {zh: 坏, en: Broken}
    severity: warning
    match: {regex: 'unclosed ('}
"""


def write_config(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "agent.yaml"
    path.write_text(text)
    return path


FULL = """\
customer: acme
collector: collector.example:7443
spool: {dir: data/spool, max_bytes: 64MiB}
trace_file: trace.txt
labels: {role: web}
logs:
  files: {globs: [/var/log/app/*.log]}
  rules: {packs: [site.yaml]}
probes:
  processes: [nginx]
  http: [{url: "https://127.0.0.1/health", ca_file: ca.pem}]
  backups: [backups]
  intervals: {tls: 2h}
diagnostics:
  collector_key: keys/collector.pem
  commands:
    ping: {argv: [/usr/bin/ping, -c, "{count}"], args: {count: {pattern: "[1-9]", default: "3"}}}
"""


def test_child_and_in_process_give_the_same_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the packs' relative paths are taken from the working directory, as before
    (tmp_path / "site.yaml").write_text(SITE_PACK)
    path = write_config(tmp_path / "etc", FULL)
    child = load_agent_config(path)
    here = load_agent_config_in_process(path)
    assert child == here
    assert child.logs.rules.loaded == here.logs.rules.loaded
    # Relative paths resolved next to agent.yaml, the log state directory defaulted beside the spool.
    assert child.spool.dir == tmp_path / "etc" / "data" / "spool"
    assert child.spool.max_bytes == 64 * 2**20
    assert child.trace_file == tmp_path / "etc" / "trace.txt"
    assert child.logs.state_dir == tmp_path / "etc" / "data" / "spool-log-state"
    assert child.probes.http[0].ca_file == tmp_path / "etc" / "ca.pem"
    assert child.diagnostics.collector_key == tmp_path / "etc" / "keys" / "collector.pem"
    assert child.probes.intervals.tls == 7200.0


def test_the_rule_packs_travel_with_the_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    pack = tmp_path / "site.yaml"
    pack.write_text(SITE_PACK)
    cfg = load_agent_config(write_config(tmp_path / "etc", FULL))
    assert cfg.logs.rules.loaded is not None
    compiled = RuleSet.compile(cfg.logs.rules.loaded)
    expected = load_rules([pack])
    assert [r.id for r in compiled.rules] == [r.id for r in expected.rules]
    assert compiled.by_id("site.disk_full") is not None and compiled.by_id("kernel.oom_kill") is None
    # The watcher compiles what the check loaded; it does not read the packs again.
    pack.unlink()
    watcher = LogWatcher.from_config(cfg.logs, host="web1", state_dir=tmp_path / "state")
    assert [r.id for r in watcher.pipeline.rules.rules] == [r.id for r in expected.rules]
    watcher.close()


def test_logs_switched_off_reads_no_packs(tmp_path: Path) -> None:
    cfg = load_agent_config(write_config(tmp_path, "customer: acme\ncollector: c:1\n"
                                                   "logs: {enabled: false, rules: {packs: [/nonexistent.yaml]}}\n"))
    assert not cfg.logs.enabled and cfg.logs.rules.loaded is None


def test_a_bad_rule_pack_is_a_configuration_error(tmp_path: Path) -> None:
    pack = tmp_path / "site.yaml"
    pack.write_text(BAD_PACK)
    path = write_config(tmp_path, f"customer: acme\ncollector: c:1\nlogs: {{rules: {{packs: [{pack}]}}}}\n")
    with pytest.raises(ConfigError) as err:
        load_agent_config(path)
    message = str(err.value)
    assert str(pack) in message and "rule 'site.broken'" in message and "invalid regex" in message
    proc = subprocess.run([sys.executable, "-m", "agent.main", "-c", str(path), "check-config"],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 2
    assert str(pack) in proc.stderr and "site.broken" in proc.stderr


@pytest.mark.parametrize("text", [
    "customer: acme\ncollector: nohost\n",
    "customer: acme\ncollector: h:1\nprobes: {ports: [0, 70000], prots: [1]}\n",
    "customer: acme\ncollector: h:1\ndiagnostics: {default_timeout: 10m, max_timeout: 1m}\n",
    "customer: acme\ncollector: h:1\nlogs: {rate_limit: {burst: 0}}\n",
    "collector: h:1\n",
    "customer: [unclosed\n",
    "- a list\n",
])
def test_errors_from_the_child_are_the_operators_message(tmp_path: Path, text: str) -> None:
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as here:
        load_agent_config_in_process(path)
    with pytest.raises(ConfigError) as child:
        load_agent_config(path)
    assert str(child.value) == str(here.value)
    assert str(path) in str(child.value)


def test_missing_file_and_a_checker_that_does_not_answer(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_agent_config(tmp_path / "nope.yaml")
    path = write_config(tmp_path, "customer: acme\ncollector: h:1\n")
    with pytest.raises(ConfigError, match="took longer than"):
        check_in_child(path, timeout=0.001)  # no interpreter starts in a millisecond


def test_the_configuration_is_frozen_and_pickles(tmp_path: Path) -> None:
    cfg = validate_agent_config({"customer": "acme", "collector": "h:1", "probes": {"ports": [22]}},
                                config_dir=tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.customer = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.spool.dir = tmp_path  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(cfg)) == cfg
    # Built in code, a section takes its defaults and runs its own cross-field checks.
    assert AgentConfig(customer="acme", collector="h:1").log_level == "INFO"
    with pytest.raises(ValueError, match="default_timeout"):
        DiagnosticsConfig(default_timeout=600, max_timeout=60)


def test_in_process_validation_names_source_and_field() -> None:
    with pytest.raises(ConfigError) as err:
        validate_agent_config({"customer": "acme", "collector": "h:1", "spool": {"max_bytes": "lots"}}, "inline")
    assert "invalid configuration in inline:" in str(err.value)
    assert "field spool.max_bytes:" in str(err.value)
    cfg = validate_agent_config({"customer": "acme", "collector": "h:1", "spool": {"dir": "rel"}})
    assert cfg.spool.dir == Path("rel")  # without config_dir, paths stay as written
