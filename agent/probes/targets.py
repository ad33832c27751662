"""``host:port`` targets as written in ``agent.yaml`` (``db.internal:5432``, ``[2001:db8::1]:443``)."""

from __future__ import annotations

import ipaddress
from typing import NamedTuple


class HostPort(NamedTuple):
    host: str  # without the brackets of an IPv6 literal
    port: int

    def is_ip_literal(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True


def parse_host_port(text: str) -> HostPort:
    """Split ``host:port``; raises ``ValueError`` saying what a valid target looks like."""
    hint = "expected host:port such as db.internal:5432 or [2001:db8::1]:443"
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{hint}, got {text!r}")
    host, sep, port = text.strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{hint}; {host!r} in brackets is not an IPv6 address") from None
    elif ":" in host:
        # An unbracketed IPv6 address is ambiguous: is the last group the port or part of the address?
        raise ValueError(f"{hint}; write IPv6 addresses in brackets, got {text!r}")
    if not sep or not host or any(c.isspace() for c in host):
        raise ValueError(f"{hint}, got {text!r}")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{hint} with a port from 1 to 65535, got {text!r}")
    return HostPort(host, int(port))
