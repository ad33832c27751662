"""``probe.http_up{url}``, ``probe.http_status{url}``, ``probe.http_latency_ms{url}``: HTTP(S) health endpoints.

The standard library's ``http.client`` only, so the agent stays small: one GET per URL, no redirects
followed (the 301 is the endpoint's answer), no proxy (the agent checks the endpoint from this host,
as the service's own users on the LAN reach it), ``Connection: close``.
"""

from __future__ import annotations

import http.client
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

from agent import __version__
from agent.model import Sample, labels_of
from agent.probes.config import DEFAULT_TIMEOUT, HttpProbeConfig
from agent.probes.deadline import BoundedRounds
from agent.probes.transitions import TransitionLog

# Enough for any health page; a large body is not read to the end, the status is already known.
MAX_BODY_BYTES = 64 * 1024
# A thread still inside its socket timeouts gets this long past them before the round gives up on it.
_GRACE_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class HttpTarget:
    url: str
    https: bool
    host: str
    port: int
    path: str  # path and query, as sent in the request line
    expect_status: int
    timeout: float
    context: ssl.SSLContext | None


@dataclass(frozen=True, slots=True)
class HttpOutcome:
    status: int | None  # None: no HTTP answer at all
    latency_ms: float | None
    error: str | None = None


def tls_context(ca_file: Path | None, insecure: bool) -> ssl.SSLContext:
    """The context an HTTPS probe verifies with; ``ValueError`` naming the file if the CA cannot be loaded."""
    if insecure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    try:
        return ssl.create_default_context(cafile=str(ca_file) if ca_file is not None else None)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(
            f"cannot load the CA file {ca_file}: {exc}; check the path and that it holds PEM certificates"
        ) from None


def fetch(target: HttpTarget) -> HttpOutcome:
    """One GET; never raises for network or protocol trouble, which is an outcome with an error."""
    conn: http.client.HTTPConnection
    if target.https:
        conn = http.client.HTTPSConnection(target.host, target.port, timeout=target.timeout, context=target.context)
    else:
        conn = http.client.HTTPConnection(target.host, target.port, timeout=target.timeout)
    start = time.perf_counter()
    try:
        conn.request(
            "GET",
            target.path,
            headers={"User-Agent": f"patrol-agent/{__version__}", "Accept": "*/*", "Connection": "close"},
        )
        response = conn.getresponse()
        response.read(MAX_BODY_BYTES)
        latency = (time.perf_counter() - start) * 1000.0
        return HttpOutcome(response.status, latency)
    except ssl.SSLCertVerificationError as exc:
        return HttpOutcome(None, None, f"certificate not trusted: {exc.verify_message}")
    except TimeoutError:
        return HttpOutcome(None, None, f"no answer within {target.timeout:g} s")
    except (OSError, http.client.HTTPException) as exc:
        return HttpOutcome(None, None, f"{type(exc).__name__}: {exc}")
    finally:
        conn.close()


def http_target(cfg: HttpProbeConfig, default_timeout: float, shared: ssl.SSLContext | None) -> HttpTarget:
    parts = urlsplit(cfg.url)
    https = parts.scheme == "https"
    context: ssl.SSLContext | None = None
    if https:
        if cfg.ca_file is None and not cfg.insecure and shared is not None:
            context = shared  # loading the system CAs once, not once per URL
        else:
            context = tls_context(cfg.ca_file, cfg.insecure)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return HttpTarget(
        url=cfg.url,
        https=https,
        host=parts.hostname or "",
        port=parts.port or (443 if https else 80),
        path=path,
        expect_status=cfg.expect_status,
        timeout=cfg.timeout or default_timeout,
        context=context,
    )


class HttpProbe:
    """A GET per configured URL; up when the answer has the expected status.

    Without an answer (refused, timed out, certificate not trusted…) ``http_up`` is 0 and there is
    no status or latency sample. With one, the status and the latency (request start, name lookup
    and handshakes included, to the end of the headers and up to 64 KiB of body) are reported
    whatever the status.
    """

    name = "probe_http"
    default_interval = 60.0

    def __init__(self, probes: Sequence[HttpProbeConfig], *, default_timeout: float = DEFAULT_TIMEOUT) -> None:
        needs_default = any(urlsplit(p.url).scheme == "https" and p.ca_file is None and not p.insecure for p in probes)
        shared = tls_context(None, False) if needs_default else None
        problems: list[str] = []
        self._targets: list[HttpTarget] = []
        for i, cfg in enumerate(probes):
            try:
                self._targets.append(http_target(cfg, default_timeout, shared))
            except ValueError as exc:
                problems.append(f"probes.http[{i}] ({cfg.url}): {exc}")
        if problems:
            raise ValueError("; ".join(problems))
        self._rounds: BoundedRounds[str, HttpOutcome] = BoundedRounds(self.name)
        self._log = TransitionLog(self.name)

    def collect(self) -> list[Sample]:
        if not self._targets:
            return []
        waits = {t.url: t.timeout + _GRACE_SECONDS for t in self._targets}
        outcomes = self._rounds.run({t.url: partial(fetch, t) for t in self._targets}, waits)
        samples: list[Sample] = []
        for target in self._targets:
            outcome = outcomes.get(target.url) or HttpOutcome(None, None, f"no answer within {target.timeout:g} s")
            labels = labels_of({"url": target.url})
            up = outcome.status == target.expect_status
            samples.append(Sample("probe.http_up", 1.0 if up else 0.0, labels))
            if outcome.status is not None:
                samples.append(Sample("probe.http_status", float(outcome.status), labels))
            if outcome.latency_ms is not None:
                samples.append(Sample("probe.http_latency_ms", outcome.latency_ms, labels))
            if up:
                self._log.up(target.url)
            else:
                self._log.down(target.url, outcome.error or f"status {outcome.status}, expected {target.expect_status}")
        return samples
