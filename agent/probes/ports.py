"""``probe.port_listening{port}``: 1 while some socket listens on the TCP port (IPv4 or IPv6), else 0."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import psutil

from agent.collectors import procfs
from agent.collectors.procfs import read_tcp_tables
from agent.model import Sample, labels_of

log = logging.getLogger(__name__)

# "   0: 0100007F:1F90 00000000:0000 0A ..." -> the local port of every LISTEN (0A) row. A regex over
# the whole table, as in the tcp collector: a busy server has tens of thousands of rows.
_LISTEN_PORT = re.compile(rb"^\s*\d+:\s+[0-9A-Fa-f]+:([0-9A-Fa-f]{4})\s+[0-9A-Fa-f]+:[0-9A-Fa-f]+\s+0A\b", re.M)


class PortProbe:
    """Whether each configured port has a listening TCP socket, on any address of this host.

    On Linux it reads ``/proc/net/tcp`` and ``tcp6`` of the agent's network namespace (no
    privileges needed); elsewhere psutil, and nothing where that needs privileges the agent lacks
    (macOS) — an unknown port state is not reported as closed.
    """

    name = "probe_ports"
    default_interval = 60.0

    def __init__(self, ports: Sequence[int], *, proc_root: str | None = None) -> None:
        self._ports = list(dict.fromkeys(ports))
        self._proc_root = proc_root or procfs.default_root()
        self._warned = False

    def collect(self) -> list[Sample]:
        if not self._ports:
            return []
        listening = self._from_procfs()
        if listening is None:
            listening = self._from_psutil()
        if listening is None:
            return []
        return [
            Sample("probe.port_listening", 1.0 if port in listening else 0.0, labels_of({"port": str(port)}))
            for port in self._ports
        ]

    def _from_procfs(self) -> set[int] | None:
        tables = read_tcp_tables(self._proc_root)
        if tables is None:
            return None
        return {int(port, 16) for data in tables for port in _LISTEN_PORT.findall(data)}

    def _from_psutil(self) -> set[int] | None:
        try:
            connections = psutil.net_connections(kind="tcp")
        except psutil.AccessDenied:
            if not self._warned:
                self._warned = True
                log.warning("probe ports: listing sockets needs privileges on this platform; ports not reported")
            return None
        return {c.laddr.port for c in connections if c.status == psutil.CONN_LISTEN and c.laddr}
