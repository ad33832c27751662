"""Cheap scan of every process's ``/proc/<pid>/stat`` on Linux.

One read per process gives state, thread count, CPU time, start time, RSS and the command name,
where ``psutil.process_iter`` would open two or three files per process (and, for long names,
``cmdline`` too). The process and top collectors run every 10 and 60 seconds on every host, so
this is where most of the agent's CPU budget would otherwise go.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import psutil


class ProcStat(NamedTuple):
    # A NamedTuple, not a dataclass: built once per process per scan, it is twice as fast to create.
    pid: int
    comm: str  # kernel command name, at most 15 characters, as `ps -e` and `top` show it
    state: str  # one letter: R S D I Z T t X ...
    num_threads: int
    cpu_ticks: int  # user + system, in clock ticks (os.sysconf("SC_CLK_TCK") per second)
    start_ticks: int  # clock ticks after boot; with pid it identifies a process across pid reuse
    rss_pages: int


def parse_stat(pid: int, data: bytes) -> ProcStat | None:
    """Parse one ``/proc/<pid>/stat`` line (see proc(5)); ``None`` if it is not one."""
    # comm may itself contain spaces and parentheses, so split at the first "(" and last ")".
    open_paren = data.find(b"(")
    close_paren = data.rfind(b")")
    if open_paren < 0 or close_paren < open_paren:
        return None
    # fields[0] is field 3 (state) of proc(5); utime=14, stime=15, num_threads=20, starttime=22,
    # rss=24.
    fields = data[close_paren + 2 :].split(None, 22)  # the 30 fields after rss are not needed
    if len(fields) < 22:
        return None
    try:
        return ProcStat(
            pid=pid,
            comm=data[open_paren + 1 : close_paren].decode("utf-8", "replace"),
            state=fields[0].decode("ascii", "replace"),
            num_threads=int(fields[17]),
            cpu_ticks=int(fields[11]) + int(fields[12]),
            start_ticks=int(fields[19]),
            rss_pages=int(fields[21]),
        )
    except ValueError:
        return None


def scan(proc_root: str = "/proc") -> list[ProcStat]:
    """Every process that is still there when its stat file is read."""
    result: list[ProcStat] = []
    with os.scandir(proc_root) as entries:
        for entry in entries:
            name = entry.name
            if not name.isdigit():
                continue
            try:
                fd = os.open(f"{proc_root}/{name}/stat", os.O_RDONLY)
                try:
                    data = os.read(fd, 4096)
                finally:
                    os.close(fd)
            except OSError:
                continue  # exited since the directory listing, or hidden by hidepid
            stat = parse_stat(int(name), data)
            if stat is not None:
                result.append(stat)
    return result


def available(proc_root: str = "/proc") -> bool:
    return os.path.exists(f"{proc_root}/self/stat")


def default_root() -> str:
    """Where /proc is: psutil's setting, which a containerised agent points at the host's /proc."""
    return str(getattr(psutil, "PROCFS_PATH", "/proc"))


def read_tcp_tables(proc_root: str = "/proc") -> list[bytes] | None:
    """The raw ``net/tcp`` and ``net/tcp6`` tables; None where neither exists (not Linux)."""
    tables: list[bytes] = []
    for table in ("tcp", "tcp6"):  # tcp6 is absent when IPv6 is disabled
        try:
            with open(f"{proc_root}/net/{table}", "rb") as f:
                tables.append(f.read())
        except FileNotFoundError:
            continue
    return tables or None
