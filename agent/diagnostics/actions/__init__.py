"""The diagnostic actions an agent offers, one module per kind; the registry is data.

:func:`prepare` is the single gate: it refuses (:class:`Denied`) an unknown action, one the local
config switches off, or arguments the action or the config do not allow — before anything runs.
"""

from __future__ import annotations

from collections.abc import Mapping

from agent.diagnostics.actions.agent_state import AGENT_STATE
from agent.diagnostics.actions.base import ActionSpec, Params, Prepared
from agent.diagnostics.actions.commands import COMMAND
from agent.diagnostics.actions.disk import DISK_USAGE
from agent.diagnostics.actions.logs import GREP_LOG, TAIL_LOG
from agent.diagnostics.actions.network import LISTENING_PORTS, NETWORK_PROBE
from agent.diagnostics.actions.packages import PACKAGES
from agent.diagnostics.actions.system import SYSTEM_SNAPSHOT, TOP_PROCESSES
from agent.diagnostics.actions.systemd import SERVICE_STATUS
from agent.diagnostics.config import ActionSwitches, DiagnosticsConfig
from agent.diagnostics.context import Denied

ACTIONS: dict[str, ActionSpec] = {
    spec.name: spec
    for spec in (SYSTEM_SNAPSHOT, TOP_PROCESSES, DISK_USAGE, TAIL_LOG, GREP_LOG, LISTENING_PORTS, SERVICE_STATUS,
                 NETWORK_PROBE, AGENT_STATE, PACKAGES, COMMAND)
}
# Every built-in action except `command` has its switch in the config; keep the two lists in step.
assert set(ACTIONS) - {"command"} == set(ActionSwitches.names()), "ActionSwitches and ACTIONS disagree"


def allowed_actions(cfg: DiagnosticsConfig) -> list[str]:
    names = [name for name in ACTIONS if name != "command" and cfg.actions.enabled(name)]
    return names + (["command"] if cfg.commands else [])


def prepare(action: str, args: Mapping[str, str], cfg: DiagnosticsConfig) -> Prepared:
    spec = ACTIONS.get(action)
    if spec is None:
        raise Denied(f"unknown action {action!r}; this agent offers {', '.join(ACTIONS)}")
    if action == "command":
        if not cfg.commands:
            raise Denied("no operator commands are declared on this host (diagnostics.commands in agent.yaml)")
    elif not cfg.actions.enabled(action):
        raise Denied(f"action {action} is switched off on this host (diagnostics.actions.{action} in agent.yaml); "
                     f"allowed here: {', '.join(allowed_actions(cfg)) or 'nothing'}")
    return spec.prepare(Params(action, args, spec.args, spec.open_args), cfg)


__all__ = ["ACTIONS", "ActionSpec", "Params", "Prepared", "allowed_actions", "prepare"]
