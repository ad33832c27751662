"""The collector's certificate authority: it signs agents' client certificates and the server's own.

Agent certificates name their holder twice, and the collector trusts nothing else about who an
agent is: ``CN=<agent id>, OU=<customer id>`` for people reading them, and a SAN URI
``patrol://customer/<customer id>/agent/<agent id>`` that :mod:`collector.pki.identity` reads.
Keys are ECDSA P-256: small, fast to generate on a weak customer machine, accepted everywhere.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote, unquote

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from collector.pki.pemfiles import write_private, write_public

CA_VALIDITY = timedelta(days=3650)
SERVER_VALIDITY = timedelta(days=825)
# Certificates start a little in the past so that an agent whose clock is slightly behind accepts them.
BACKDATE = timedelta(minutes=5)
URI_PREFIX = "patrol://customer/"

IssuablePublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey
_CURVES = (ec.SECP256R1, ec.SECP384R1)


class CaError(OSError):
    """The CA's files are missing, unreadable or inconsistent; the message says which and what to do.

    An OSError, so that ``patrol-collector`` reports it like any other file it cannot use.
    """


@dataclass(frozen=True)
class AgentName:
    agent_id: str
    customer_id: str


def agent_uri(agent_id: str, customer_id: str) -> str:
    return f"{URI_PREFIX}{quote(customer_id, safe='')}/agent/{quote(agent_id, safe='')}"


def parse_agent_uri(uri: str) -> AgentName | None:
    if not uri.startswith(URI_PREFIX):
        return None
    parts = uri[len(URI_PREFIX):].split("/")
    if len(parts) != 3 or parts[1] != "agent" or not parts[0] or not parts[2]:
        return None
    return AgentName(agent_id=unquote(parts[2]), customer_id=unquote(parts[0]))


def fingerprint(cert: x509.Certificate) -> str:
    """``sha256:<hex>`` of the certificate's DER encoding (what ``--ca-fingerprint`` pins)."""
    return "sha256:" + hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def serial_hex(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "x")


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def check_public_key(key: object) -> IssuablePublicKey:
    """The key if the CA will certify it; else ValueError saying which keys are accepted."""
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, _CURVES):
        return key
    if isinstance(key, rsa.RSAPublicKey) and key.key_size >= 2048:
        return key
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    raise ValueError("unsupported key: use ECDSA P-256/P-384, RSA of at least 2048 bits or Ed25519")


def _name(*attrs: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attrs])


class CertificateAuthority:
    def __init__(self, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        if cert.public_key() != key.public_key():
            raise CaError("the CA certificate and key do not belong together")
        self.cert = cert
        self.key = key

    # ------------------------------------------------------------------ creating and loading

    @classmethod
    def create(cls, common_name: str, now: datetime, validity: timedelta = CA_VALIDITY) -> CertificateAuthority:
        key = new_key()
        subject = _name((NameOID.ORGANIZATION_NAME, "Patrol"), (NameOID.COMMON_NAME, common_name))
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (x509.CertificateBuilder()
                .subject_name(subject).issuer_name(subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - BACKDATE).not_valid_after(now + validity)
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False,
                                             encipher_only=False, decipher_only=False), critical=True)
                .add_extension(ski, critical=False)
                .sign(key, hashes.SHA256()))
        return cls(cert, key)

    @classmethod
    def load(cls, cert_path: Path, key_path: Path) -> CertificateAuthority:
        try:
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        except OSError as e:
            raise CaError(f"cannot read the CA certificate {cert_path}: {e.strerror}") from None
        except ValueError:
            raise CaError(f"{cert_path} is not a PEM certificate") from None
        try:
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        except OSError as e:
            raise CaError(f"cannot read the CA key {key_path}: {e.strerror} (the collector's user must own it)") \
                from None
        except (ValueError, TypeError):
            raise CaError(f"{key_path} is not an unencrypted PEM private key") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise CaError(f"{key_path}: the CA key must be an ECDSA key")
        basic = _extension(cert, x509.BasicConstraints)
        if basic is None or not basic.ca:
            raise CaError(f"{cert_path} is not a CA certificate (basicConstraints CA:TRUE is missing)")
        return cls(cert, key)

    @classmethod
    def load_or_create(cls, cert_path: Path, key_path: Path, common_name: str,
                       now: datetime) -> tuple[CertificateAuthority, bool]:
        """The CA from its files, or a new one written there when neither file exists yet."""
        have_cert, have_key = cert_path.exists(), key_path.exists()
        if have_cert and have_key:
            return cls.load(cert_path, key_path), False
        if have_cert or have_key:
            missing = key_path if have_cert else cert_path
            raise CaError(f"the CA is incomplete: {missing} is missing. Restore it from backup; creating a new CA "
                          "would invalidate every enrolled agent")
        ca = cls.create(common_name, now)
        ca.save(cert_path, key_path)
        return ca, True

    def save(self, cert_path: Path, key_path: Path) -> None:
        write_private(key_path, key_pem(self.key))
        write_public(cert_path, cert_pem(self.cert))

    # ------------------------------------------------------------------ facts

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.cert)

    @property
    def pem(self) -> bytes:
        return cert_pem(self.cert)

    def issued(self, cert: x509.Certificate) -> bool:
        """True when ``cert`` carries this CA's signature."""
        try:
            cert.verify_directly_issued_by(self.cert)
        except (ValueError, TypeError, InvalidSignature):
            return False
        return True

    # ------------------------------------------------------------------ issuing

    def _leaf(self, subject: x509.Name, public_key: IssuablePublicKey, now: datetime,
              validity: timedelta) -> x509.CertificateBuilder:
        not_after = min(now + validity, self.cert.not_valid_after_utc)
        rsa_key = isinstance(public_key, rsa.RSAPublicKey)
        return (x509.CertificateBuilder()
                .subject_name(subject).issuer_name(self.cert.subject).public_key(public_key)
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - BACKDATE).not_valid_after(not_after)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=rsa_key,
                                             content_commitment=False, data_encipherment=False,
                                             key_agreement=False, key_cert_sign=False, crl_sign=False,
                                             encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                               critical=False))

    def issue_agent(self, public_key: IssuablePublicKey, agent_id: str, customer_id: str, now: datetime,
                    validity: timedelta) -> x509.Certificate:
        subject = _name((NameOID.ORGANIZATION_NAME, "Patrol agent"),
                        (NameOID.ORGANIZATIONAL_UNIT_NAME, customer_id), (NameOID.COMMON_NAME, agent_id))
        return (self._leaf(subject, public_key, now, validity)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .add_extension(x509.SubjectAlternativeName(
                    [x509.UniformResourceIdentifier(agent_uri(agent_id, customer_id))]), critical=False)
                .sign(self.key, hashes.SHA256()))

    def issue_server(self, names: list[str], now: datetime, validity: timedelta = SERVER_VALIDITY
                     ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        """A key and certificate for the collector's endpoints, valid for these DNS names and IP addresses."""
        if not names:
            raise ValueError("a server certificate needs at least one DNS name or IP address")
        sans: list[x509.GeneralName] = []
        for n in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                sans.append(x509.DNSName(n))
        key = new_key()
        cert = (self._leaf(_name((NameOID.ORGANIZATION_NAME, "Patrol"), (NameOID.COMMON_NAME, names[0])),
                           key.public_key(), now, validity)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                .sign(self.key, hashes.SHA256()))
        return key, cert


E = TypeVar("E", bound=x509.ExtensionType)


def _extension(cert: x509.Certificate, ext: type[E]) -> E | None:
    try:
        return cert.extensions.get_extension_for_class(ext).value
    except x509.ExtensionNotFound:
        return None


def server_names(cert: x509.Certificate) -> list[str]:
    """The DNS names and IP addresses a server certificate is valid for."""
    san = _extension(cert, x509.SubjectAlternativeName)
    if san is None:
        return []
    return [*san.get_values_for_type(x509.DNSName), *(str(ip) for ip in san.get_values_for_type(x509.IPAddress))]
