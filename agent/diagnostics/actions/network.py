"""``listening_ports`` (sockets and their processes, connection counts) and ``network_probe``.

The probe reuses the agent's own probe code (TCP connect, HTTP GET) and adds name resolution with
a timeout; ``getaddrinfo`` has none of its own, so it runs on a helper thread that is given up on
at the deadline. It is off by default: it makes connections from inside the customer's network.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

import psutil

from agent.diagnostics.actions.base import ActionSpec, Params, Prepared
from agent.diagnostics.actions.text import columns
from agent.diagnostics.config import DiagnosticsConfig
from agent.diagnostics.context import ActionContext, ActionError, Denied
from agent.probes.targets import parse_host_port
from agent.probes.tcp_connect import connect

if TYPE_CHECKING:
    from agent.probes.http_endpoint import HttpTarget

T = TypeVar("T")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$")


def _endpoint(addr: object) -> str:
    if not addr:
        return "*"
    ip, port = addr[0], addr[1]  # type: ignore[index]
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _proto(c: object) -> str:
    kind = "tcp" if c.type == socket.SOCK_STREAM else "udp"  # type: ignore[attr-defined]
    return kind + ("6" if c.family == socket.AF_INET6 else "")  # type: ignore[attr-defined]


def _process_names(pids: set[int]) -> dict[int, str]:
    names = {}
    for pid in pids:
        try:
            names[pid] = psutil.Process(pid).name()
        except psutil.Error:
            names[pid] = "?"
    return names


def prepare_ports(params: Params, _cfg: DiagnosticsConfig) -> Prepared:
    show_connections = params.flag("connections")
    limit = params.integer("limit", 50, 1, 1000)

    def run(ctx: ActionContext) -> Iterator[bytes]:
        try:
            conns = psutil.net_connections(kind="inet")
        except psutil.AccessDenied:
            raise ActionError("the agent may not list sockets on this platform (needs more privileges)") from None
        ctx.check()
        names = _process_names({c.pid for c in conns if c.pid})
        listening = [c for c in conns if c.status == psutil.CONN_LISTEN
                     or (c.type == socket.SOCK_DGRAM and not c.raddr)]
        listening.sort(key=lambda c: (c.laddr.port if c.laddr else 0, c.type, _endpoint(c.laddr)))
        unknown = sum(1 for c in listening if not c.pid)
        yield f"# {len(listening)} listening sockets\n".encode()
        yield columns(("PROTO", "LOCAL", "PID", "PROCESS"),
                      [(_proto(c), _endpoint(c.laddr), c.pid or "-", names.get(c.pid, "-") if c.pid else "-")
                       for c in listening])
        if unknown:
            yield (f"# {unknown} sockets belong to processes the agent's user may not inspect "
                   "(run the agent with CAP_SYS_PTRACE or as root to see them)\n").encode()
        tcp = [c for c in conns if c.type == socket.SOCK_STREAM and c.status != psutil.CONN_LISTEN]
        states = Counter(c.status for c in tcp)
        yield ("\n# TCP connections by state: " + (", ".join(f"{s} {n}" for s, n in states.most_common()) or "none")
               + "\n").encode()
        peers = Counter(c.raddr[0] for c in tcp if c.raddr and c.status == psutil.CONN_ESTABLISHED)
        if peers:
            yield ("# busiest remote peers (established): "
                   + ", ".join(f"{ip} {n}" for ip, n in peers.most_common(10)) + "\n").encode()
        if show_connections:
            established = sorted((c for c in tcp if c.raddr), key=lambda c: (c.status, _endpoint(c.raddr)))
            yield f"\n# {min(limit, len(established))} of {len(established)} connections\n".encode()
            yield columns(("STATE", "LOCAL", "REMOTE", "PID", "PROCESS"),
                          [(c.status, _endpoint(c.laddr), _endpoint(c.raddr), c.pid or "-",
                            names.get(c.pid, "-") if c.pid else "-") for c in established[:limit]])

    return Prepared(run)


def _within(ctx: ActionContext, timeout: float, call: Callable[[], T]) -> T | None:
    """``call()`` on a helper thread; None if it has not returned within ``timeout`` (or the deadline)."""
    box: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            box.append(call())
        except BaseException as e:
            errors.append(e)

    t = threading.Thread(target=target, name="patrol-diag-probe", daemon=True)
    t.start()
    t.join(max(0.0, min(timeout, ctx.remaining())))
    ctx.check()
    if errors:
        raise errors[0]
    return box[0] if box else None


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return bool(_HOSTNAME.match(host))


def prepare_probe(params: Params, _cfg: DiagnosticsConfig) -> Prepared:
    tcp = params.text("tcp")
    dns = params.text("dns")
    url = params.text("http", max_len=2048)
    timeout = float(params.integer("timeout", 5, 1, 30))
    if not (tcp or dns or url):
        raise Denied("network_probe needs at least one of tcp=host:port, dns=name, http=URL")
    if tcp:
        try:
            hp = parse_host_port(tcp)
        except ValueError as e:
            raise Denied(f"tcp: {e}") from None
        if not _valid_host(hp.host):
            raise Denied(f"tcp: {hp.host!r} is not a host name or IP address")
    if dns and not _valid_host(dns):
        raise Denied(f"dns: {dns!r} is not a host name")
    target: HttpTarget | None = None
    if url:
        # Imported here: http.client and the email package would otherwise sit in every agent's memory.
        from agent.probes.http_endpoint import HttpTarget, fetch, tls_context

        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            raise Denied(f"http: the port of {url!r} is not a number from 1 to 65535") from None
        if parts.scheme not in ("http", "https") or not parts.hostname or not _valid_host(parts.hostname):
            raise Denied(f"http: expected an http:// or https:// URL with a host, got {url!r}")
        https = parts.scheme == "https"
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        target = HttpTarget(url=url, https=https, host=parts.hostname, port=port or (443 if https else 80),
                            path=path, expect_status=200, timeout=timeout,
                            context=tls_context(None, False) if https else None)

    def run(ctx: ActionContext) -> Iterator[bytes]:
        if dns:
            start = time.perf_counter()
            try:
                infos = _within(ctx, timeout, lambda: socket.getaddrinfo(dns, None, type=socket.SOCK_STREAM))
            except OSError as e:
                yield f"dns  {dns}: FAILED {e}\n".encode()
            else:
                if infos is None:
                    yield f"dns  {dns}: FAILED no answer within {timeout:g} s\n".encode()
                else:
                    took = (time.perf_counter() - start) * 1000
                    addresses = sorted({str(i[4][0]) for i in infos})
                    yield f"dns  {dns}: {', '.join(addresses)} ({took:.1f} ms)\n".encode()
        if tcp:
            outcome = _within(ctx, timeout + 0.5, lambda: connect(tcp, timeout))
            if outcome is None or outcome.latency_ms is None:
                error = outcome.error if outcome is not None else f"no answer within {timeout:g} s"
                yield f"tcp  {tcp}: FAILED {error}\n".encode()
            else:
                yield f"tcp  {tcp}: connected in {outcome.latency_ms:.1f} ms\n".encode()
        if target is not None:
            http = _within(ctx, timeout + 0.5, lambda: fetch(target))
            if http is None or http.status is None:
                error = http.error if http is not None else f"no answer within {timeout:g} s"
                yield f"http {target.url}: FAILED {error}\n".encode()
            else:
                yield f"http {target.url}: status {http.status} in {http.latency_ms or 0:.1f} ms\n".encode()

    return Prepared(run)


LISTENING_PORTS = ActionSpec("listening_ports", "listening sockets with their processes, TCP connection counts",
                             {"connections": "true: also list connections", "limit": "1..1000 (default 50)"},
                             prepare_ports)
NETWORK_PROBE = ActionSpec("network_probe", "TCP connect and latency, DNS resolution, HTTP GET status from this host",
                           {"tcp": "host:port", "dns": "host name", "http": "http(s):// URL",
                            "timeout": "1..30 s each (default 5)"}, prepare_probe)
