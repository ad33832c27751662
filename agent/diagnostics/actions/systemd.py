"""``service_status``: ``systemctl status`` of a unit and, if the customer allows, its recent journal.

Without ``unit`` it lists the failed units. The journal can hold anything a service logs, so it is
shown only for units matching ``diagnostics.journal_units``; the status itself is always shown
(``--lines=0`` keeps systemctl from appending journal lines of its own). Where the host was not
booted with systemd the action says so instead of guessing.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
from collections.abc import Iterator

from agent.diagnostics.actions.base import ActionSpec, Params, Prepared
from agent.diagnostics.config import DiagnosticsConfig
from agent.diagnostics.context import ActionContext, ActionError, Denied

BOOTED_MARKER = "/run/systemd/system"
_UNIT = re.compile(r"^[A-Za-z0-9:_.@\\-]{1,255}$")
_UNIT_TYPES = (".service", ".socket", ".timer", ".mount", ".target", ".path", ".slice", ".scope", ".device",
               ".automount", ".swap")


def full_unit_name(unit: str) -> str:
    return unit if unit.endswith(_UNIT_TYPES) else f"{unit}.service"


def journal_allowed(unit: str, patterns: list[str]) -> bool:
    name = full_unit_name(unit)
    return any(fnmatch.fnmatchcase(name, full_unit_name(p)) or fnmatch.fnmatchcase(name, p) for p in patterns)


def _require_systemd() -> str:
    systemctl = shutil.which("systemctl", path="/usr/bin:/bin:/usr/sbin:/sbin")
    if systemctl is None or not os.path.isdir(BOOTED_MARKER):
        raise ActionError("this host does not run systemd (no systemctl, or not booted with systemd)")
    return systemctl


def prepare(params: Params, cfg: DiagnosticsConfig) -> Prepared:
    unit = params.text("unit")
    lines = params.integer("lines", 50, 1, 1000)
    if unit is not None and (not _UNIT.match(unit) or unit.startswith("-")):
        raise Denied(f"unit {unit!r} is not a systemd unit name (e.g. nginx or nginx.service)")
    show_journal = unit is not None and journal_allowed(unit, cfg.journal_units)

    def run(ctx: ActionContext) -> Iterator[bytes]:
        systemctl = _require_systemd()
        if unit is None:
            yield b"# failed units\n"
            yield from ctx.stream([systemctl, "--failed", "--no-pager", "--no-legend", "--full"])
            return
        rc: list[int] = []
        yield from ctx.stream([systemctl, "status", "--no-pager", "--full", "--lines=0", "--", unit], result=rc)
        if rc and rc[0] == 4:
            raise ActionError(f"systemd knows no unit {unit!r}")
        if not show_journal:
            yield (f"\n# journal of {full_unit_name(unit)} not shown: the unit is not in diagnostics.journal_units "
                   "on this host\n").encode()
            return
        journalctl = shutil.which("journalctl", path="/usr/bin:/bin")
        if journalctl is None:
            yield b"\n# journalctl is not installed: no journal\n"
            return
        yield f"\n# last {lines} journal lines of {full_unit_name(unit)}\n".encode()
        yield from ctx.stream([journalctl, "--no-pager", "-o", "short-iso", "-n", str(lines), "-u",
                               full_unit_name(unit)])

    return Prepared(run)


SERVICE_STATUS = ActionSpec("service_status", "systemctl status of a unit and its recent journal (if allowed); "
                                              "without unit: the failed units",
                            {"unit": "unit name, e.g. nginx", "lines": "journal lines 1..1000 (default 50)"},
                            prepare)
