"""The PKI of a running collector: its CA, enrollment, the revocation list and the identity hook.

Built by :class:`collector.app.CollectorApp` whenever the gRPC port has TLS. The identity hook is
installed only when agents must present certificates (``tls.client_ca``); enrollment and the CA work
either way, so that agents can be enrolled before mutual TLS is switched on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from sqlalchemy import Engine

from collector.config import CollectorConfig
from collector.pki.ca import CaError, CertificateAuthority, fingerprint, server_names
from collector.pki.crl import Revocation, RevocationList
from collector.pki.enroll import Enrollment, Issued
from collector.pki.identity import CertificateIdentity
from collector.pki.pemfiles import check_private
from collector.pki_config import PkiConfig

log = logging.getLogger("patrol.pki")


class PkiUnavailable(Exception):
    """This collector has no CA to enroll with; the message says how to configure one."""


class Pki:
    def __init__(self, cfg: CollectorConfig, engine: Engine, collector_id: str, clock: Callable[[], float]) -> None:
        tls = cfg.tls
        if tls is None:
            raise ValueError("the PKI needs tls in the configuration")
        self.settings: PkiConfig = tls.pki
        self.clock = clock
        self.grpc_port = int(cfg.listen.rpartition(":")[2])
        for what, path in (("tls.cert", tls.cert), ("tls.key", tls.key)):
            if not Path(path).exists():
                raise CaError(f"{what} {path} does not exist: create the server certificate with "
                              f"'patrol-collector -c <collector.yaml> pki init --name <host name>' "
                              "(see deploy/pki/README.md)")
        self.server_names = _names_of(Path(tls.cert))
        self.crl = RevocationList(engine, clock)
        self.crl.refresh()
        self.ca: CertificateAuthority | None = None
        self.enrollment: Enrollment | None = None
        if self.settings.enabled:
            cert_path, key_path = self.settings.ca_paths(cfg.data_dir)
            now = datetime.fromtimestamp(clock(), tz=UTC)
            self.ca, created = CertificateAuthority.load_or_create(cert_path, key_path, f"Patrol CA {collector_id}",
                                                                   now)
            if created:
                log.warning("event=ca_created cert=%s key=%s fingerprint=%s (back up the key: a lost CA means "
                            "enrolling every agent again)", cert_path, key_path, self.ca.fingerprint)
            warning = check_private(key_path)
            if warning:
                log.warning("event=ca_key_exposed detail=%r", warning)
            self.enrollment = Enrollment(engine, self.ca, self.settings, {c.id for c in cfg.customers},
                                         clock)
            if tls.client_ca is not None and self.ca.fingerprint not in _fingerprints(Path(tls.client_ca)):
                log.warning("event=client_ca_without_own_ca client_ca=%s ca=%s detail='agents enrolled here will be "
                            "refused: add the collector CA to tls.client_ca'", tls.client_ca, cert_path)
        self.identify = CertificateIdentity(self.crl) if tls.client_ca is not None else None
        # Set by the PKI service once the event loop runs: ends the live streams of revoked certificates.
        self.on_revoked: Callable[[list[Revocation]], None] | None = None
        log.info("event=pki_ready mutual_tls=%s enrollment=%s revoked=%d", self.identify is not None,
                 self.enrollment is not None, len(self.crl))

    @classmethod
    def for_collector(cls, cfg: CollectorConfig, engine: Engine, collector_id: str,
                      clock: Callable[[], float]) -> Pki | None:
        """The PKI when the gRPC port has TLS; None for a plaintext (demo, loopback test) collector."""
        return cls(cfg, engine, collector_id, clock) if cfg.tls is not None else None

    def require_enrollment(self) -> Enrollment:
        if self.enrollment is None:
            raise PkiUnavailable("enrollment is off on this collector (tls.pki.enabled: false): agent certificates "
                                 "come from another PKI")
        return self.enrollment

    def enroll(self, token: str, csr_pem: str) -> Issued:
        issued = self.require_enrollment().enroll(token, csr_pem)
        self._revoked(issued.superseded)
        return issued

    def revoke_host(self, host_id: str, reason: str, actor: str) -> list[Revocation]:
        revoked = self.crl.revoke_host(host_id, reason, actor)
        self._revoked(revoked)
        return revoked

    def revoke_serial(self, serial: str, reason: str, actor: str) -> Revocation:
        rev = self.crl.revoke_serial(serial, reason, actor)
        self._revoked([rev])
        return rev

    def _revoked(self, revoked: list[Revocation]) -> None:
        if not revoked:
            return
        self.crl.add(revoked)
        for r in revoked:
            log.warning("event=cert_revoked host=%s serial=%s by=%s reason=%r", r.host_id or "-", r.serial,
                        r.revoked_by, r.reason)
        if self.on_revoked is not None:
            self.on_revoked(revoked)


def _fingerprints(path: Path) -> set[str]:
    try:
        return {fingerprint(c) for c in x509.load_pem_x509_certificates(path.read_bytes())}
    except (OSError, ValueError):
        return set()


def _names_of(path: Path) -> list[str]:
    try:
        return server_names(x509.load_pem_x509_certificate(path.read_bytes()))
    except (OSError, ValueError):
        return []
