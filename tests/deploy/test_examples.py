"""The shipped example configurations validate, and the systemd units are hardened."""

from __future__ import annotations

import configparser
from pathlib import Path

from agent.config import load_agent_config
from collector.config import load_collector_config

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_example_configs_validate() -> None:
    agent = load_agent_config(DEPLOY / "examples/agent.yaml")
    assert agent.tls is not None and not agent.insecure
    collector = load_collector_config(DEPLOY / "examples/collector.yaml")
    assert collector.tls is not None and collector.tls.client_ca is not None
    assert {c.id for c in collector.customers} == {"acme", "globex"}


def test_units_are_hardened() -> None:
    for unit in (DEPLOY / "systemd").glob("*.service"):
        cp = configparser.ConfigParser(strict=False, interpolation=None)
        cp.optionxform = str  # type: ignore[assignment,method-assign]
        cp.read(unit)
        svc = cp["Service"]
        assert svc["User"] not in ("", "root"), unit.name
        assert svc["NoNewPrivileges"] == "yes", unit.name
        assert svc["ProtectSystem"] == "strict", unit.name
        assert "check-config" in svc["ExecStartPre"], unit.name
