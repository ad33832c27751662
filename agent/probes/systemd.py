"""``probe.systemd_unit_active{unit}``: 1 while a unit is active, 0 otherwise; nothing without systemd.

One ``systemctl is-active`` call for all units per round. systemd counts as present when
``systemctl`` is on the PATH and the system was booted with it (``/run/systemd/system`` exists, the
test sd_booted(3) uses): in a container, or on a host with another init, ``systemctl`` may be
installed but cannot answer, and "inactive" would be a false alarm. Absent systemd means no
samples, which the inspection treats as not applicable.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
from collections.abc import Sequence

from agent.model import Sample, labels_of
from agent.probes.config import DEFAULT_TIMEOUT
from agent.probes.transitions import TransitionLog

log = logging.getLogger(__name__)

BOOTED_MARKER = "/run/systemd/system"
# "reloading" and "refreshing" units keep running while they re-read their configuration.
_RUNNING_STATES = frozenset({"active", "reloading", "refreshing"})


class SystemdProbe:
    name = "probe_systemd"
    default_interval = 60.0

    def __init__(
        self, units: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT, booted_marker: str = BOOTED_MARKER
    ) -> None:
        self._units = list(dict.fromkeys(units))
        self._timeout = timeout
        self._booted_marker = booted_marker
        self._log = TransitionLog(self.name)
        self._absent_logged = False

    def _systemctl(self) -> str | None:
        executable = shutil.which("systemctl")
        if executable is None or not os.path.isdir(self._booted_marker):
            if not self._absent_logged:
                self._absent_logged = True
                log.info("probe systemd: this host does not run systemd; systemd units are not reported")
            return None
        return executable

    def collect(self) -> list[Sample]:
        if not self._units:
            return []
        executable = self._systemctl()
        if executable is None:
            return []
        try:
            returncode, stdout, stderr = _run([executable, "is-active", "--", *self._units], self._timeout)
        except subprocess.TimeoutExpired:
            self._log.down("systemctl", f"systemctl is-active did not answer within {self._timeout:g} s")
            return []
        except OSError as exc:
            self._log.down("systemctl", f"cannot run {executable}: {exc}")
            return []
        # One line per unit, in order; the exit status is non-zero as soon as one unit is not active.
        states = stdout.split()
        if len(states) != len(self._units):
            detail = (stderr or stdout).strip().splitlines()
            self._log.down("systemctl", f"unexpected answer from systemctl is-active: {detail[:1] or returncode}")
            return []
        self._log.up("systemctl")
        return [
            Sample("probe.systemd_unit_active", 1.0 if state in _RUNNING_STATES else 0.0, labels_of({"unit": unit}))
            for unit, state in zip(self._units, states, strict=True)
        ]


def _run(argv: list[str], timeout: float) -> tuple[int, str, str]:
    """Run ``argv`` in its own process group; on timeout kill the whole group, helpers included."""
    with subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Unit states are parsed: keep them untranslated, and never start a pager.
        env={**os.environ, "LC_ALL": "C", "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0"},
        start_new_session=True,
    ) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
    return proc.returncode, stdout, stderr
