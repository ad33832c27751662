"""TCP connection counts by state, IPv4 and IPv6 together."""

from __future__ import annotations

import logging
import re
from collections import Counter
from typing import ClassVar

import psutil

from agent.collectors import procfs
from agent.collectors.options import OptionSpec
from agent.collectors.procfs import read_tcp_tables
from agent.collectors.sockdiag import tcp_state_counts
from agent.model import Sample, labels_of

log = logging.getLogger(__name__)

# Kernel TCP states as numbered in include/net/tcp_states.h and shown in /proc/net/tcp.
# NEW_SYN_RECV (12) is a pending connection request that `ss` shows as SYN-RECV.
_PROC_STATES: dict[bytes, str] = {
    b"01": "established",
    b"02": "syn_sent",
    b"03": "syn_recv",
    b"04": "fin_wait1",
    b"05": "fin_wait2",
    b"06": "time_wait",
    b"07": "close",
    b"08": "close_wait",
    b"09": "last_ack",
    b"0A": "listen",
    b"0B": "closing",
    b"0C": "syn_recv",
}
_STATE_NUMBERS: dict[int, str] = {int(code, 16): state for code, state in _PROC_STATES.items()}
# Always reported, so that "no connections in this state" is a 0 rather than a gap.
STATES: tuple[str, ...] = tuple(dict.fromkeys(_PROC_STATES.values()))
# "  12: 0100007F:1F90 00000000:0000 0A ..." -> the state column, found without splitting lines;
# a host with 100k connections would otherwise spend most of this collector's time in Python.
_STATE_COLUMN = re.compile(
    rb"^\s*\d+:\s+[0-9A-Fa-f]+:[0-9A-Fa-f]+\s+[0-9A-Fa-f]+:[0-9A-Fa-f]+\s+([0-9A-Fa-f]{2})", re.M
)


class TcpCollector:
    """``tcp.connections`` labelled ``state`` (``established``, ``time_wait``, ``listen``, ...).

    On Linux it asks the kernel through netlink ``sock_diag`` (see :mod:`agent.collectors.sockdiag`)
    and, where that is unavailable or ``proc_root`` points elsewhere, reads ``/proc/net/tcp`` and
    ``/proc/net/tcp6``: both cover the agent's network namespace, need no privileges and are far
    cheaper than building psutil connection objects. Elsewhere it asks psutil, and reports nothing
    where that needs privileges the agent lacks.
    """

    name = "tcp"
    default_interval = 10.0
    options: ClassVar[OptionSpec] = {}

    def __init__(self, *, proc_root: str | None = None) -> None:
        self._proc_root = proc_root or procfs.default_root()
        # Netlink answers for the agent's own namespace, as /proc/net/tcp does; a /proc mounted from
        # elsewhere (a container reading its host's) is read as files.
        self._netlink = psutil.LINUX and proc_root is None and self._proc_root == "/proc"

    def collect(self) -> list[Sample]:
        counts = self._from_netlink() if self._netlink else None
        if counts is None:
            counts = self._from_procfs()
        if counts is None:
            counts = self._from_psutil()
        if counts is None:
            return []
        states = list(STATES) + sorted(set(counts) - set(STATES))
        return [Sample("tcp.connections", float(counts[s]), labels_of({"state": s})) for s in states]

    def _from_netlink(self) -> Counter[str] | None:
        numbers = tcp_state_counts()
        if numbers is None:
            log.debug("tcp: netlink sock_diag is unavailable; reading /proc/net/tcp from now on")
            self._netlink = False
            return None
        counts: Counter[str] = Counter()
        for number, n in numbers.items():
            counts[_STATE_NUMBERS.get(number, f"unknown_{number:02x}")] += n
        return counts

    def _from_procfs(self) -> Counter[str] | None:
        tables = read_tcp_tables(self._proc_root)
        if tables is None:
            return None
        counts: Counter[str] = Counter()
        for data in tables:
            for code, n in Counter(_STATE_COLUMN.findall(data)).items():
                counts[_PROC_STATES.get(code.upper(), f"unknown_{code.decode().lower()}")] += n
        return counts

    def _from_psutil(self) -> Counter[str] | None:
        try:
            connections = psutil.net_connections(kind="tcp")
        except psutil.AccessDenied:
            log.debug("tcp: listing connections needs privileges on this platform; not reported")
            return None
        return Counter(c.status.lower() for c in connections if c.status != psutil.CONN_NONE)
