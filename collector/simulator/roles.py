"""What kinds of hosts the simulated fleet has, and how each kind behaves over a day and a week.

A role's traits are the knobs the signal generators read: when the host is busy (office hours,
shop opening hours, around the clock), how busy it gets, what its memory and network look like and
whether it runs a nightly backup. The numbers are typical of small customer sites, not of a cloud.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    WEB = "web"
    APP = "app"
    DB = "db"
    FILE = "file"
    KIOSK = "kiosk"


@dataclass(frozen=True, slots=True)
class RoleTraits:
    hostname_prefix: str
    opens: float  # local hour when the daily load ramps up
    closes: float  # local hour when it has ramped down
    night: float  # activity floor outside opening hours, 0..1
    evening: float  # extra evening bump (private users of a web shop), 0..1
    saturday: float  # activity factor on Saturdays relative to a weekday
    sunday: float
    busy_base: float  # cpu.busy_percent at zero activity
    busy_peak: float  # additional cpu.busy_percent at full activity
    mem_base: float  # fraction of memory in use at zero activity
    mem_swing: float  # additional fraction at full activity
    backup_hour: float | None  # local hour of the nightly backup, None when the host has none
    net_tx_peak: float  # bytes/s at full activity
    net_rx_peak: float
    disk_write_peak: float  # bytes/s at full activity
    disk_read_peak: float
    connections_peak: float  # established TCP connections at full activity
    time_wait_ratio: float  # time_wait per established connection
    listen_sockets: int
    procs_base: int
    threads_per_proc: float
    fd_base: float  # open file handles at zero activity
    fd_peak: float


TRAITS: dict[Role, RoleTraits] = {
    Role.WEB: RoleTraits(
        hostname_prefix="web", opens=7.5, closes=22.5, night=0.08, evening=0.25, saturday=0.75, sunday=0.7,
        busy_base=2.0, busy_peak=42.0, mem_base=0.28, mem_swing=0.12, backup_hour=None,
        net_tx_peak=18e6, net_rx_peak=3.5e6, disk_write_peak=2.5e6, disk_read_peak=1.2e6,
        connections_peak=1400.0, time_wait_ratio=1.8, listen_sockets=6, procs_base=170,
        threads_per_proc=2.6, fd_base=2500.0, fd_peak=9000.0,
    ),
    Role.APP: RoleTraits(
        hostname_prefix="app", opens=8.5, closes=18.5, night=0.06, evening=0.0, saturday=0.25, sunday=0.15,
        busy_base=3.0, busy_peak=55.0, mem_base=0.5, mem_swing=0.07, backup_hour=None,
        net_tx_peak=6e6, net_rx_peak=4e6, disk_write_peak=3e6, disk_read_peak=1.5e6,
        connections_peak=420.0, time_wait_ratio=0.6, listen_sockets=9, procs_base=210,
        threads_per_proc=7.5, fd_base=4000.0, fd_peak=14000.0,
    ),
    Role.DB: RoleTraits(
        hostname_prefix="db", opens=8.0, closes=19.0, night=0.1, evening=0.0, saturday=0.3, sunday=0.2,
        busy_base=4.0, busy_peak=38.0, mem_base=0.62, mem_swing=0.08, backup_hour=1.5,
        net_tx_peak=9e6, net_rx_peak=2.5e6, disk_write_peak=22e6, disk_read_peak=35e6,
        connections_peak=180.0, time_wait_ratio=0.1, listen_sockets=4, procs_base=190,
        threads_per_proc=5.5, fd_base=6000.0, fd_peak=11000.0,
    ),
    Role.FILE: RoleTraits(
        hostname_prefix="fs", opens=8.0, closes=18.0, night=0.04, evening=0.0, saturday=0.15, sunday=0.1,
        busy_base=1.5, busy_peak=14.0, mem_base=0.18, mem_swing=0.1, backup_hour=23.0,
        net_tx_peak=28e6, net_rx_peak=16e6, disk_write_peak=14e6, disk_read_peak=30e6,
        connections_peak=90.0, time_wait_ratio=0.2, listen_sockets=11, procs_base=160,
        threads_per_proc=2.2, fd_base=1800.0, fd_peak=6500.0,
    ),
    Role.KIOSK: RoleTraits(
        hostname_prefix="kiosk", opens=8.5, closes=21.5, night=0.03, evening=0.0, saturday=1.25, sunday=1.15,
        busy_base=3.0, busy_peak=22.0, mem_base=0.38, mem_swing=0.12, backup_hour=None,
        net_tx_peak=0.15e6, net_rx_peak=0.6e6, disk_write_peak=0.4e6, disk_read_peak=0.3e6,
        connections_peak=14.0, time_wait_ratio=0.5, listen_sockets=3, procs_base=230,
        threads_per_proc=3.1, fd_base=1500.0, fd_peak=2500.0,
    ),
}
