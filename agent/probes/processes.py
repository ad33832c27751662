"""``probe.process_count{name}``: how many processes match each configured process probe."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import psutil

from agent.collectors import procfs
from agent.model import Sample, labels_of
from agent.probes.config import ProcessProbeConfig

# The kernel truncates a process's command name to 15 characters (TASK_COMM_LEN - 1).
_COMM_LEN = 15
# Not running: a zombie has exited and only waits for its parent to reap it.
_NOT_RUNNING = frozenset({"Z", "X", "x"})


@dataclass(frozen=True, slots=True)
class ProcessMatcher:
    """One configured probe, compiled."""

    label: str
    name: str | None
    pattern: re.Pattern[str] | None
    cmdline: re.Pattern[str] | None

    @classmethod
    def of(cls, cfg: ProcessProbeConfig) -> ProcessMatcher:
        return cls(
            label=cfg.label,
            name=cfg.name if cfg.pattern is None and cfg.cmdline is None else None,
            pattern=re.compile(cfg.pattern) if cfg.pattern else None,
            cmdline=re.compile(cfg.cmdline) if cfg.cmdline else None,
        )

    @property
    def needs_name(self) -> bool:
        return self.name is not None or self.pattern is not None

    def matches(self, name: str, cmdline: str | None) -> bool:
        if self.name is not None and name != self.name:
            return False
        if self.pattern is not None and not self.pattern.search(name):
            return False
        return self.cmdline is None or (cmdline is not None and self.cmdline.search(cmdline) is not None)


class ProcessProbe:
    """Counts matching processes; a probe with no match reports 0, which the inspection calls down.

    The agent itself and zombies are never counted. On Linux it reads ``/proc`` directly (the
    command line only when a probe needs it); elsewhere it asks psutil.
    """

    name = "probe_processes"
    default_interval = 60.0

    def __init__(self, probes: Sequence[ProcessProbeConfig], *, proc_root: str | None = None) -> None:
        self._matchers = [ProcessMatcher.of(p) for p in probes]
        self._proc_root = proc_root or procfs.default_root()
        self._use_procfs = proc_root is not None or (psutil.LINUX and procfs.available(self._proc_root))
        self._want_cmdline = any(m.cmdline is not None for m in self._matchers)
        self._want_name = any(m.needs_name for m in self._matchers)

    def collect(self) -> list[Sample]:
        if not self._matchers:
            return []
        counts = dict.fromkeys((m.label for m in self._matchers), 0)
        processes = self._from_procfs() if self._use_procfs else self._from_psutil()
        for name, cmdline in processes:
            for matcher in self._matchers:
                if matcher.matches(name, cmdline):
                    counts[matcher.label] += 1
        return [Sample("probe.process_count", float(n), labels_of({"name": label})) for label, n in counts.items()]

    def _from_procfs(self) -> Iterator[tuple[str, str | None]]:
        own = os.getpid()
        for stat in procfs.scan(self._proc_root):
            if stat.pid == own or stat.state in _NOT_RUNNING:
                continue
            truncated = self._want_name and len(stat.comm) >= _COMM_LEN
            argv = self._argv(stat.pid) if self._want_cmdline or truncated else None
            if argv is None and (self._want_cmdline or truncated):
                continue  # exited between the scan and reading its command line
            name = stat.comm
            if truncated and argv:
                # As psutil does: a long name is the basename of argv[0] when it extends the comm.
                base = os.path.basename(argv[0])
                if base.startswith(stat.comm):
                    name = base
            # Kernel threads have no command line; like `pgrep -f`, match their name instead.
            cmdline = (" ".join(argv) or name) if argv is not None else None
            yield name, cmdline

    def _argv(self, pid: int) -> list[str] | None:
        try:
            with open(f"{self._proc_root}/{pid}/cmdline", "rb") as f:
                data = f.read()
        except OSError:
            return None
        return [a.decode("utf-8", "replace") for a in data.rstrip(b"\0").split(b"\0")] if data else []

    def _from_psutil(self) -> Iterator[tuple[str, str | None]]:
        own = os.getpid()
        attrs = ["pid", "name", "status"] + (["cmdline"] if self._want_cmdline else [])
        for proc in psutil.process_iter(attrs):
            info = proc.info
            if info["pid"] == own or info["status"] in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
                continue
            name = info["name"] or ""
            # cmdline is None where access is denied (other users' processes on macOS).
            argv = info.get("cmdline")
            cmdline = (" ".join(argv) or name) if argv is not None else None
            yield name, cmdline
