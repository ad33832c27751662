"""The agent process never loads pydantic or PyYAML: its configuration arrives validated from a child."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from agent.config import load_agent_config_in_process
from agent.configtypes import plain
from agent.diagnostics.redact import redact_value

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("pydantic", "pydantic_core", "yaml")

# What agent.main does up to Agent.run(), then the agent_state diagnostic (which shows the config as
# YAML), in a fresh interpreter; prints the action's output and the loaded modules.
SCRIPT = """
import sys, time
from agent.config import load_agent_config
cfg = load_agent_config(sys.argv[1])
from agent.runner import Agent
agent = Agent(cfg)
from agent.diagnostics import actions
from agent.diagnostics.context import ActionContext, AgentRuntime
prepared = actions.prepare("agent_state", {}, cfg.diagnostics)
ctx = ActionContext(time.monotonic() + 30, AgentRuntime("a1", cfg, agent.spool.stats, time.time()))
out = b"".join(prepared.run(ctx)).decode()
agent.diagnostics.close()
agent.spool.close()
sys.stdout.write(out + "\\n=== modules\\n" + "\\n".join(sorted(sys.modules)))
"""

CONFIG = """\
customer: acme
collector: 127.0.0.1:1
insecure: true
spool: {{dir: spool}}
logs:
  files: {{globs: ["{logs}/*.log"]}}
  journal: {{enabled: false}}
  rules: {{packs: ["{pack}"]}}
probes:
  processes: [nginx]
  ports: [22]
  http: ["http://127.0.0.1:1/health"]
  tcp: ["127.0.0.1:1"]
  tls: ["127.0.0.1:1"]
  backups: ["{logs}"]
  ntp: {{server: 127.0.0.1}}
diagnostics:
  commands:
    db: {{argv: [mysql, "--password=hunter2", -e, "select 1"]}}
"""

PACK = """\
version: 1
rules:
  - id: site.marker
    name: {zh: 标记, en: Marker}
    severity: warning
    match: {contains: PATROLTEST}
"""


def test_a_built_agent_has_neither_pydantic_nor_yaml_loaded(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "site.yaml").write_text(PACK)
    path = tmp_path / "agent.yaml"
    path.write_text(CONFIG.format(logs=tmp_path / "logs", pack=tmp_path / "site.yaml"))
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(path)], capture_output=True, text=True, cwd=REPO,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    shown, _, listing = proc.stdout.partition("\n=== modules\n")
    modules = set(listing.splitlines())
    assert {"agent.runner", "agent.logs.rules", "agent.probes.http_endpoint", "grpc"} <= modules  # really built
    loaded = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert loaded == [], f"the agent process imported {loaded}"
    # The effective configuration it shows is YAML that reads back as the configuration, redacted.
    assert "hunter2" not in shown
    config_text = shown.split("# effective configuration (credential-like values redacted)\n", 1)[1]
    expected = redact_value("", plain(load_agent_config_in_process(path)))
    assert yaml.safe_load(config_text) == expected
