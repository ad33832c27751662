"""``probe.tls_expiry_days{target}``: days until a certificate's notAfter, negative once expired.

Targets are certificate files (PEM, or DER) and ``host:port`` endpoints. Certificates are decoded
with the standard library's ``ssl`` module (``_test_decode_cert``, the decoder behind
``SSLSocket.getpeercert``), so the agent needs no cryptography package. An endpoint's certificate
is fetched without verifying it: an expired or self-signed certificate is exactly what this probe
must still be able to read.
"""

from __future__ import annotations

import os
import socket
import ssl
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from agent.model import Sample, labels_of
from agent.probes.config import DEFAULT_TIMEOUT, TlsProbeConfig
from agent.probes.deadline import BoundedRounds
from agent.probes.targets import parse_host_port
from agent.probes.transitions import TransitionLog

_GRACE_SECONDS = 0.5
_DAY = 86400.0


class CertificateError(Exception):
    """A certificate could not be read or decoded; the message says which and why."""


def _decoder() -> Callable[[str], dict[str, Any]]:
    decode = getattr(getattr(ssl, "_ssl", None), "_test_decode_cert", None)
    if decode is None:
        raise CertificateError("this Python's ssl module cannot decode certificates (no _ssl._test_decode_cert)")
    return decode  # type: ignore[no-any-return]


def not_after_of_pem_file(path: str) -> float:
    """notAfter (unix seconds) of the first certificate in a PEM file; other PEM blocks (keys) are skipped."""
    try:
        decoded = _decoder()(path)
    except ssl.SSLError:
        # The decoder's own message is only "Error decoding PEM-encoded file".
        raise CertificateError(f"{path} holds no readable certificate (expected PEM or DER)") from None
    not_after = decoded.get("notAfter")
    if not not_after:
        raise CertificateError(f"the certificate in {path} has no notAfter date")
    try:
        return float(ssl.cert_time_to_seconds(not_after))
    except ValueError:
        raise CertificateError(f"cannot parse notAfter {not_after!r} of the certificate in {path}") from None


def not_after_of_der(der: bytes, origin: str) -> float:
    """notAfter of a DER certificate; the decoder only reads files, so it goes through a private temp file."""
    fd, temp = tempfile.mkstemp(prefix="patrol-cert-", suffix=".pem")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(ssl.DER_cert_to_PEM_cert(der))
        try:
            return not_after_of_pem_file(temp)
        except CertificateError as exc:
            raise CertificateError(f"the certificate of {origin} cannot be decoded: {exc}") from None
    finally:
        os.unlink(temp)


def not_after_of_file(path: Path) -> float:
    try:
        with open(path, "rb") as f:
            head = f.read(64 * 1024)
    except OSError as exc:
        raise CertificateError(f"cannot read {path}: {exc.strerror or exc}") from None
    if b"-----BEGIN" in head:
        return not_after_of_pem_file(str(path))
    return not_after_of_der(path.read_bytes(), str(path))


def not_after_of_endpoint(target: str, server_name: str | None, timeout: float) -> float:
    """Handshake with ``host:port`` and read the certificate it presents (unverified, on purpose)."""
    endpoint = parse_host_port(target)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # SNI picks the certificate on shared hosts; it is never sent for an IP address.
    sni = server_name or (None if endpoint.is_ip_literal() else endpoint.host)
    try:
        with (
            socket.create_connection((endpoint.host, endpoint.port), timeout=timeout) as sock,
            context.wrap_socket(sock, server_hostname=sni) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except TimeoutError:
        raise CertificateError(f"{target}: no TLS handshake within {timeout:g} s") from None
    except (OSError, ssl.SSLError) as exc:
        raise CertificateError(f"{target}: TLS handshake failed: {exc}") from None
    if not der:
        raise CertificateError(f"{target} presented no certificate")
    return not_after_of_der(der, target)


class TlsProbe:
    """Days left on each configured certificate; no sample when it cannot be read (the check says unknown)."""

    name = "probe_tls"
    default_interval = 3600.0

    def __init__(
        self,
        targets: Sequence[TlsProbeConfig],
        *,
        default_timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        _decoder()  # a Python without the decoder is found at start-up, not on every round
        self._files = [(t.label, t.file) for t in targets if t.file is not None]
        # label -> (server name, timeout)
        self._endpoints = {
            t.label: (t.server_name, t.timeout or default_timeout) for t in targets if t.endpoint is not None
        }
        self._clock = clock
        self._rounds: BoundedRounds[str, float | CertificateError] = BoundedRounds(self.name)
        self._log = TransitionLog(self.name)

    def collect(self) -> list[Sample]:
        results: dict[str, float | CertificateError] = {}
        for label, path in self._files:
            try:
                results[label] = not_after_of_file(path)
            except CertificateError as exc:
                results[label] = exc
        if self._endpoints:
            calls = {
                label: partial(_endpoint_outcome, label, server_name, timeout)
                for label, (server_name, timeout) in self._endpoints.items()
            }
            waits = {label: timeout + _GRACE_SECONDS for label, (_, timeout) in self._endpoints.items()}
            results.update(self._rounds.run(calls, waits))
        now = self._clock()
        samples: list[Sample] = []
        for label in [*(label for label, _ in self._files), *self._endpoints]:
            outcome = results.get(label, CertificateError(f"{label}: no certificate within the time allowed"))
            if isinstance(outcome, CertificateError):
                self._log.down(label, str(outcome))
                continue
            self._log.up(label)
            samples.append(Sample("probe.tls_expiry_days", (outcome - now) / _DAY, labels_of({"target": label})))
        return samples


def _endpoint_outcome(target: str, server_name: str | None, timeout: float) -> float | CertificateError:
    try:
        return not_after_of_endpoint(target, server_name, timeout)
    except CertificateError as exc:
        return exc
