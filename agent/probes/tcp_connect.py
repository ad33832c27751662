"""``probe.tcp_up{target}``, ``probe.tcp_latency_ms{target}``: can this host open a TCP connection to ``host:port``."""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from agent.model import Sample, labels_of
from agent.probes.config import DEFAULT_TIMEOUT
from agent.probes.deadline import BoundedRounds
from agent.probes.targets import parse_host_port
from agent.probes.transitions import TransitionLog

_GRACE_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class ConnectOutcome:
    latency_ms: float | None  # None: no connection
    error: str | None = None


def connect(target: str, timeout: float) -> ConnectOutcome:
    """Resolve, then connect to each address in turn until one accepts; the latency is that connect's.

    Name resolution is left out of the latency: it is the network path to the service that is
    measured, and a slow resolver shows in the HTTP latency already.
    """
    host, port = parse_host_port(target)
    deadline = time.monotonic() + timeout
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return ConnectOutcome(None, f"cannot resolve {host!r}: {exc}")
    errors: list[str] = []
    for family, kind, proto, _, address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            errors.append(f"no answer within {timeout:g} s")
            break
        with socket.socket(family, kind, proto) as sock:
            sock.settimeout(remaining)
            start = time.perf_counter()
            try:
                sock.connect(address)
            except TimeoutError:
                errors.append(f"{address[0]}: no answer within {timeout:g} s")
                continue
            except OSError as exc:
                errors.append(f"{address[0]}: {exc.strerror or exc}")
                continue
            return ConnectOutcome((time.perf_counter() - start) * 1000.0)
    return ConnectOutcome(None, "; ".join(errors) or f"{host!r} resolved to no address")


class TcpProbe:
    """A TCP connect per configured ``host:port``, closed at once; 0 and no latency when it fails."""

    name = "probe_tcp"
    default_interval = 60.0

    def __init__(self, targets: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT) -> None:
        for target in targets:
            parse_host_port(target)  # fail at start-up, not on every round
        self._targets = list(dict.fromkeys(targets))
        self._timeout = timeout
        self._rounds: BoundedRounds[str, ConnectOutcome] = BoundedRounds(self.name)
        self._log = TransitionLog(self.name)

    def collect(self) -> list[Sample]:
        if not self._targets:
            return []
        wait = self._timeout + _GRACE_SECONDS
        outcomes = self._rounds.run({t: partial(connect, t, self._timeout) for t in self._targets}, wait)
        samples: list[Sample] = []
        for target in self._targets:
            outcome = outcomes.get(target) or ConnectOutcome(None, f"no answer within {wait:g} s")
            labels = labels_of({"target": target})
            samples.append(Sample("probe.tcp_up", 0.0 if outcome.latency_ms is None else 1.0, labels))
            if outcome.latency_ms is None:
                self._log.down(target, outcome.error or "connect failed")
            else:
                samples.append(Sample("probe.tcp_latency_ms", outcome.latency_ms, labels))
                self._log.up(target)
        return samples
