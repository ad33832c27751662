"""Turning the ``probes:`` section of ``agent.yaml`` into collectors and their intervals.

Each probe kind is imported only when configured: the HTTP probe alone brings in ``http.client``
and the ``email`` package (about 1 MB in a process that stays up for months) for nothing on hosts
that probe no URL.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from agent.model import Collector
from agent.probes.config import ProbesConfig


def build_probes(cfg: ProbesConfig, *, clock: Callable[[], float] = time.time) -> list[tuple[Collector, float]]:
    """One collector per configured probe kind (none for an empty list), with its interval.

    Raises ``ValueError`` when something named in the config cannot be used (a CA file that does
    not load), so the agent stops at start-up rather than reporting every endpoint as down.
    """
    intervals = cfg.intervals
    built: list[tuple[Collector, float]] = []
    if cfg.processes:
        from agent.probes.processes import ProcessProbe

        built.append((ProcessProbe(cfg.processes), intervals.processes))
    if cfg.ports:
        from agent.probes.ports import PortProbe

        built.append((PortProbe(cfg.ports), intervals.ports))
    if cfg.http:
        from agent.probes.http_endpoint import HttpProbe

        built.append((HttpProbe(cfg.http, default_timeout=cfg.timeout), intervals.http))
    if cfg.tcp:
        from agent.probes.tcp_connect import TcpProbe

        built.append((TcpProbe(cfg.tcp, timeout=cfg.timeout), intervals.tcp))
    if cfg.tls:
        from agent.probes.tls import TlsProbe

        built.append((TlsProbe(cfg.tls, default_timeout=cfg.timeout, clock=clock), intervals.tls))
    if cfg.backups:
        from agent.probes.backups import BackupProbe

        built.append((BackupProbe(cfg.backups, clock=clock), intervals.backups))
    if cfg.ntp.server is not None:
        from agent.probes.ntp import NtpProbe

        ntp = NtpProbe(cfg.ntp.server, port=cfg.ntp.port, timeout=cfg.ntp.timeout or cfg.timeout, clock=clock)
        built.append((ntp, intervals.ntp))
    if cfg.systemd_units:
        from agent.probes.systemd import SystemdProbe

        built.append((SystemdProbe(cfg.systemd_units, timeout=cfg.timeout), intervals.systemd_units))
    return built
