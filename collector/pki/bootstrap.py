"""``patrol-collector -c collector.yaml pki init|show``: the CA and the server certificate, on the collector host.

``init`` creates the CA (unless it exists) and a certificate for the gRPC port (and the HTTPS
enrollment endpoint) valid for the given names, then prints the ``tls:`` section to use. Run it as
the collector's user (``sudo -u patrol ...``) so that the keys belong to that user.
"""

from __future__ import annotations

import argparse
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509

from collector.config import CollectorConfig
from collector.pki.ca import CaError, CertificateAuthority, cert_pem, fingerprint, key_pem, server_names
from collector.pki.pemfiles import check_private, write_private, write_public
from collector.pki_config import PkiConfig


def _paths(cfg: CollectorConfig) -> tuple[PkiConfig, Path, Path, Path, Path]:
    settings = cfg.tls.pki if cfg.tls is not None else PkiConfig.model_validate({})
    ca_cert, ca_key = settings.ca_paths(cfg.data_dir)
    if cfg.tls is not None:
        cert, key = Path(cfg.tls.cert), Path(cfg.tls.key)
    else:
        cert, key = ca_cert.parent / "server.crt", ca_cert.parent / "server.key"
    return settings, ca_cert, ca_key, cert, key


def _default_names() -> list[str]:
    names = [socket.getfqdn(), socket.gethostname(), "localhost", "127.0.0.1"]
    return list(dict.fromkeys(n for n in names if n))


def init(cfg: CollectorConfig, names: list[str], days: int, force: bool) -> int:
    settings, ca_cert, ca_key, cert_path, key_path = _paths(cfg)
    if not settings.enabled:
        print("patrol-collector: tls.pki.enabled is false: agent certificates come from another PKI")
        return 2
    now = datetime.now(tz=UTC)
    from collector.collector_id import collector_id_for

    ca, created = CertificateAuthority.load_or_create(ca_cert, ca_key, f"Patrol CA {collector_id_for(cfg)}", now)
    print(f"{'created' if created else 'using existing'} CA {ca_cert} ({ca.fingerprint})")
    if created:
        print(f"  back up {ca_key}: losing it means enrolling every agent again")
    if cert_path.exists() and key_path.exists() and not force:
        print(f"kept the server certificate {cert_path} (use --force to issue a new one)")
    else:
        key, cert = ca.issue_server(names or _default_names(), now, timedelta(days=days))
        write_private(key_path, key_pem(key))
        write_public(cert_path, cert_pem(cert))
        print(f"issued the server certificate {cert_path} for {', '.join(server_names(cert))}, "
              f"valid until {cert.not_valid_after_utc:%Y-%m-%d}")
    print("\n# collector.yaml")
    print("tls:")
    print(f"  cert: {cert_path.resolve()}")
    print(f"  key: {key_path.resolve()}")
    print(f"  client_ca: {ca_cert.resolve()}      # agents must present a certificate from this CA")
    print("  pki:")
    print("    enroll_listen: 0.0.0.0:4318     # HTTPS enrollment endpoint for agents")
    print(f"\nCA fingerprint (agents pin it when they enroll): {ca.fingerprint}")
    return 0


def show(cfg: CollectorConfig) -> int:
    settings, ca_cert, ca_key, cert_path, key_path = _paths(cfg)
    problems = 0
    if settings.enabled:
        try:
            ca = CertificateAuthority.load(ca_cert, ca_key)
        except CaError as e:
            print(f"CA: {e}")
            problems += 1
            ca = None
        if ca is not None:
            print(f"CA {ca_cert}\n  subject {ca.cert.subject.rfc4514_string()}\n  fingerprint {ca.fingerprint}\n"
                  f"  valid until {ca.cert.not_valid_after_utc:%Y-%m-%d}")
    else:
        ca = None
        print("CA: off (tls.pki.enabled: false)")
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError) as e:
        print(f"server certificate {cert_path}: cannot read it ({e})")
        return 1
    issuer = "this CA" if ca is not None and ca.issued(cert) else cert.issuer.rfc4514_string()
    print(f"server certificate {cert_path}\n  names {', '.join(server_names(cert)) or '(none)'}\n"
          f"  issued by {issuer}\n  valid until {cert.not_valid_after_utc:%Y-%m-%d}\n  fingerprint {fingerprint(cert)}")
    if cert.not_valid_after_utc < datetime.now(tz=UTC) + timedelta(days=30):
        print("  expires within 30 days: renew it with 'pki init --force --name ...'")
        problems += 1
    for path in (ca_key, key_path):
        warning = check_private(path)
        if warning:
            print(f"warning: {warning}")
            problems += 1
    return 1 if problems else 0


def main(cfg: CollectorConfig, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="patrol-collector pki", description="The collector's CA and certificates.")
    sub = parser.add_subparsers(dest="action", required=True)
    p_init = sub.add_parser("init", help="create the CA (if missing) and the server certificate")
    p_init.add_argument("--name", action="append", default=[],
                        help="DNS name or IP address agents use to reach the collector (repeatable); "
                             "default: this host's names, localhost and 127.0.0.1")
    p_init.add_argument("--days", type=int, default=825, help="server certificate validity (default 825)")
    p_init.add_argument("--force", action="store_true", help="replace an existing server certificate")
    sub.add_parser("show", help="the CA and server certificate in use, and problems with them")
    args = parser.parse_args(argv)
    try:
        if args.action == "init":
            return init(cfg, args.name, args.days, args.force)
        return show(cfg)
    except CaError as e:
        print(f"patrol-collector: {e}")
        return 1
