"""What a customer expects to find on a host, resolved for one host.

A customer's overrides file lists expected processes, ports, endpoints… optionally scoped to hosts;
the engine resolves them per host into :class:`HostExpectations`, and checks read them from their
context. An expected item without probe data is ``unknown`` (the agent is not probing it), never
``ok``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ExpectedProcess:
    """Matched against the ``name`` label of ``probe.process_count``: either the probe's name or
    its command-line pattern, as configured in the agent's probes."""

    name: str
    cmdline: str | None = None
    min_count: int = 1

    def matches(self, label: str) -> bool:
        return label == self.name or (self.cmdline is not None and label == self.cmdline)


@dataclass(frozen=True, slots=True)
class ExpectedHttp:
    url: str
    status: int | None = None  # None: any 2xx or 3xx answer is healthy


@dataclass(frozen=True, slots=True)
class HostExpectations:
    processes: tuple[ExpectedProcess, ...] = ()
    ports: tuple[int, ...] = ()
    http: tuple[ExpectedHttp, ...] = ()
    systemd_units: tuple[str, ...] = ()
    backups: tuple[str, ...] = ()
    tls: tuple[str, ...] = ()
    tcp: tuple[str, ...] = ()
    ntp_servers: tuple[str, ...] = ()

    def subjects(self, name: str) -> tuple[str, ...]:
        """The expected subjects of one list, as the label values the probes use."""
        if name == "processes":
            return tuple(p.name for p in self.processes)
        if name == "ports":
            return tuple(str(p) for p in self.ports)
        if name == "http":
            return tuple(h.url for h in self.http)
        values: tuple[str, ...] = getattr(self, name)
        return values


NO_EXPECTATIONS = HostExpectations()
