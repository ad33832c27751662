"""The fixed, read-only commands run on SSH targets, and the one way a command line is built.

SSH runs a command line through the remote user's login shell, so anything that reaches it must be
inert in a shell. Command lines here are built only by :func:`command_line` from argv tokens that
match :data:`SAFE_TOKEN` (letters, digits and ``/._,=%:+@-``): no quoting, no metacharacters, no
spaces inside a token. A token that does not match raises instead of being quoted, so a bug can
never become an injection. Variable parts (a depth, a limit, a path) come only from validated
integers and allow-listed paths.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

SAFE_TOKEN = re.compile(r"^[A-Za-z0-9/._,=%:+@-]+$")


class UnsafeCommand(ValueError):
    """A command token would need shell quoting: a programming error, never sent."""


def command_line(argv: Sequence[str]) -> str:
    """``("df", "-P")`` -> ``"df -P"``; raises :class:`UnsafeCommand` for anything a shell would interpret."""
    if not argv:
        raise UnsafeCommand("empty command")
    for token in argv:
        if not SAFE_TOKEN.match(token) or token.startswith("~"):
            raise UnsafeCommand(f"refusing command token {token!r}: only [A-Za-z0-9/._,=%:+@-] may be sent")
    return " ".join(argv)


@dataclass(frozen=True, slots=True)
class Command:
    """A named read-only command with fallbacks tried in order when it is missing or fails empty."""

    name: str
    argv: tuple[str, ...]
    fallbacks: tuple[tuple[str, ...], ...] = ()
    facts_only: bool = False  # inventory: run on the first poll of a connection and every facts_interval
    max_output: int | None = None  # overrides the target's max_output (bigger for connection tables)
    needs_complete: bool = False  # truncated output is useless: try the fallback instead
    alternatives: tuple[tuple[str, ...], ...] = field(init=False)

    def __post_init__(self) -> None:
        alternatives = (self.argv, *self.fallbacks)
        for argv in alternatives:
            command_line(argv)  # validate once at import time
        object.__setattr__(self, "alternatives", alternatives)


# The poll's command set. Order matters a little: /proc/stat comes early and net counters late, but
# rates are computed from the collector's receive time of each output, so order does not skew them.
POLL_COMMANDS: tuple[Command, ...] = (
    Command("uname", ("uname", "-a"), facts_only=True),
    Command("hostname", ("hostname",), fallbacks=(("cat", "/proc/sys/kernel/hostname"),), facts_only=True),
    Command("nproc", ("nproc",), facts_only=True),
    Command("os_release", ("cat", "/etc/os-release"), fallbacks=(("cat", "/usr/lib/os-release"),), facts_only=True),
    Command("cpuinfo", ("cat", "/proc/cpuinfo"), facts_only=True),
    Command("addresses", ("ip", "-o", "addr", "show"), facts_only=True),
    Command("uptime", ("cat", "/proc/uptime"), fallbacks=(("uptime",),)),
    Command("stat", ("cat", "/proc/stat")),
    Command("meminfo", ("cat", "/proc/meminfo")),
    Command("loadavg", ("cat", "/proc/loadavg")),
    Command("mounts", ("cat", "/proc/mounts")),
    # -l keeps df away from network filesystems (a hung NFS server would hang it); busybox has no -l.
    Command("df", ("df", "-P", "-l"), fallbacks=(("df", "-P"),)),
    Command("df_inodes", ("df", "-P", "-i", "-l"), fallbacks=(("df", "-P", "-i"),)),
    Command("net", ("ip", "-s", "link"), fallbacks=(("cat", "/proc/net/dev"),)),
    # /proc/net/tcp{,6} give every TCP state like the agent reports; on a host with so many
    # connections that the tables pass the output cap, `ss -s` still gives the main counts.
    Command("tcp", ("cat", "/proc/net/tcp", "/proc/net/tcp6"), fallbacks=(("ss", "-s"),),
            max_output=16 * 2**20, needs_complete=True),
    Command("failed_units", ("systemctl", "--failed", "--no-legend", "--plain", "--no-pager")),
    Command("file_nr", ("cat", "/proc/sys/fs/file-nr")),
)
COMMANDS_BY_NAME: dict[str, Command] = {c.name: c for c in POLL_COMMANDS}
