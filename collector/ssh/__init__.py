"""Agentless inspection over SSH (paramiko): the collector polls hosts that run no agent.

A fixed set of read-only commands is run on each target on its interval; the output becomes the
same series and facts an agent sends and goes through the same ingest path, so inspections and
reports treat an SSH host like any other. See docs/ssh.md.

Public API (imported lazily, so that loading the store's tables does not load paramiko):

- :class:`SshConfig`, :class:`SshTarget` — the ``ssh:`` section of collector.yaml;
- :class:`SshPoller` — the collector service (``poll(target)``, ``run_action(host_id, action, args)``),
  created by :func:`ssh_service` and found on a running collector with :func:`find_poller`;
- :func:`run_action`, :class:`ActionStream`, :class:`ActionDenied`, :data:`ACTIONS` — diagnostics;
- :func:`ssh_findings`, :func:`findings_for` — ``ssh.reachable`` and ``ssh.host_key`` findings.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collector.ssh.actions import ACTIONS, ActionDenied, ActionStream, run_action
    from collector.ssh.config import SshConfig, SshTarget
    from collector.ssh.findings import findings_for, ssh_findings
    from collector.ssh.poller import PollReport, SshPoller, find_poller, ssh_service

_EXPORTS = {
    "ACTIONS": "actions", "ActionDenied": "actions", "ActionStream": "actions", "run_action": "actions",
    "SshConfig": "config", "SshTarget": "config",
    "findings_for": "findings", "ssh_findings": "findings",
    "PollReport": "poller", "SshPoller": "poller", "find_poller": "poller", "ssh_service": "poller",
}  # fmt: skip

__all__ = [
    "ACTIONS",
    "ActionDenied",
    "ActionStream",
    "PollReport",
    "SshConfig",
    "SshPoller",
    "SshTarget",
    "find_poller",
    "findings_for",
    "run_action",
    "ssh_findings",
    "ssh_service",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'collector.ssh' has no attribute {name!r}")
    return getattr(importlib.import_module(f"collector.ssh.{module}"), name)
