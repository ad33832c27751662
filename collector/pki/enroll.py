"""Enrollment: one-time tokens bound to a customer, traded by an agent for a client certificate.

A token reads ``pte1.<id>.<secret>``. The id is public (listing, logs); only the SHA-256 of the
secret is stored. A token is single-use, expires, and binds the certificate to its customer; a token
made with ``--host`` also fixes the agent id and may replace (and revokes) that host's earlier
certificates — the way to re-enroll a host that lost its key. Without ``--host`` the agent proposes
its id in the CSR's common name, and an id that already holds a valid certificate is refused, so
one customer's token cannot take over a host that is already enrolled.

The collector builds the certificate itself from the CSR's public key: nothing else in the CSR
(other names, extensions, the subject beyond the proposed id) reaches the certificate.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID
from sqlalchemy import Engine, and_, insert, select, update

from collector.pki.ca import CertificateAuthority, cert_pem, check_public_key, fingerprint, serial_hex
from collector.pki.crl import Revocation, record
from collector.pki.tables import certificates, enroll_tokens, revocations
from collector.pki_config import PkiConfig
from collector.store.schema import hosts

log = logging.getLogger("patrol.pki.enroll")

TOKEN_PREFIX = "pte1"
HOST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_TOKEN = re.compile(rf"^{TOKEN_PREFIX}\.([0-9a-f]{{16}})\.([A-Za-z0-9_-]{{43}})$")
MAX_CSR_BYTES = 16 * 1024


class EnrollmentError(Exception):
    """A refused token or CSR. ``status`` is the HTTP status to answer with; the message says what to do."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class NewToken:
    token: str = field(repr=False)  # shown once, never stored or logged
    id: str
    customer_id: str
    host_id: str | None
    expires_ms: int


@dataclass(frozen=True)
class Issued:
    agent_id: str
    customer_id: str
    serial: str
    certificate_pem: str
    not_after_ms: int
    superseded: list[Revocation]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_token(text: str) -> tuple[str, str]:
    m = _TOKEN.match(text.strip())
    if not m:
        raise EnrollmentError(400, f"malformed enrollment token: expected {TOKEN_PREFIX}.<16 hex>.<43 characters>, "
                                   "exactly as 'patrol enroll-token' printed it")
    return m.group(1), m.group(2)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="seconds")


def _requested_id(csr: x509.CertificateSigningRequest) -> str | None:
    names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def load_csr(pem: str) -> x509.CertificateSigningRequest:
    if len(pem) > MAX_CSR_BYTES:
        raise EnrollmentError(413, f"the CSR is larger than {MAX_CSR_BYTES} bytes")
    try:
        csr = x509.load_pem_x509_csr(pem.encode())
    except ValueError:
        raise EnrollmentError(400, "the CSR is not a PEM certificate signing request") from None
    if not csr.is_signature_valid:
        raise EnrollmentError(400, "the CSR's signature does not match its key")
    try:
        check_public_key(csr.public_key())
    except ValueError as e:
        raise EnrollmentError(400, f"the CSR's key: {e}") from None
    return csr


class Enrollment:
    def __init__(self, engine: Engine, ca: CertificateAuthority, settings: PkiConfig, customers: Collection[str],
                 clock: Callable[[], float]) -> None:
        self.engine = engine
        self.ca = ca
        self.settings = settings
        self.customers = customers
        self.clock = clock

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    # ------------------------------------------------------------------ tokens

    def create_token(self, customer_id: str, actor: str, ttl_s: float | None = None,
                     host_id: str | None = None) -> NewToken:
        if customer_id not in self.customers:
            raise EnrollmentError(404, f"unknown customer {customer_id!r}: the collector's configuration defines "
                                       f"{sorted(self.customers)}")
        if host_id is not None and not HOST_ID.match(host_id):
            raise EnrollmentError(400, f"host id {host_id!r} is not valid (1-128 letters, digits, '.', '_', ':', '-')")
        ttl = self.settings.token_ttl if ttl_s is None else ttl_s
        if not 0 < ttl <= self.settings.max_token_ttl:
            raise EnrollmentError(400, f"the token lifetime must be positive and at most "
                                       f"{self.settings.max_token_ttl / 86400:g} days (tls.pki.max_token_ttl)")
        token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        now = self._now_ms()
        expires = now + int(ttl * 1000)
        with self.engine.begin() as conn:
            conn.execute(insert(enroll_tokens).values(
                id=token_id, secret_sha256=_hash(secret), customer_id=customer_id, host_id=host_id, created_by=actor,
                created_ms=now, expires_ms=expires))
        log.info("event=enroll_token_created token_id=%s customer=%s host=%s by=%s expires=%s", token_id,
                 customer_id, host_id or "-", actor, _iso(expires))
        return NewToken(token=f"{TOKEN_PREFIX}.{token_id}.{secret}", id=token_id, customer_id=customer_id,
                        host_id=host_id, expires_ms=expires)

    def list_tokens(self, include_spent: bool = False) -> list[dict[str, Any]]:
        now = self._now_ms()
        q = select(enroll_tokens).order_by(enroll_tokens.c.created_ms)
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        out = []
        for r in rows:
            state = "used" if r["used_ms"] is not None else ("expired" if r["expires_ms"] <= now else "valid")
            if state != "valid" and not include_spent:
                continue
            out.append({"id": r["id"], "customer_id": r["customer_id"], "host_id": r["host_id"], "state": state,
                        "created_by": r["created_by"], "created": _iso(r["created_ms"]),
                        "expires": _iso(r["expires_ms"]), "used": _iso(r["used_ms"]) if r["used_ms"] else None,
                        "used_by_host": r["used_by_host"]})
        return out

    def withdraw_token(self, token_id: str, actor: str) -> dict[str, Any]:
        """End an unused token now (it leaked, or the host will not be installed); returns it as listed."""
        now = self._now_ms()
        with self.engine.begin() as conn:
            done = conn.execute(update(enroll_tokens)
                                .where(enroll_tokens.c.id == token_id, enroll_tokens.c.used_ms.is_(None),
                                       enroll_tokens.c.expires_ms > now)
                                .values(expires_ms=now)).rowcount
            row = conn.execute(select(enroll_tokens.c.id, enroll_tokens.c.used_ms)
                               .where(enroll_tokens.c.id == token_id)).first()
        if row is None:
            raise EnrollmentError(404, f"no enrollment token {token_id!r}: see 'patrol enroll-token --list'")
        if not done:
            raise EnrollmentError(409, f"enrollment token {token_id} is already "
                                       f"{'used' if row.used_ms is not None else 'expired'}: nothing to withdraw")
        log.info("event=enroll_token_withdrawn token_id=%s by=%s", token_id, actor)
        return next(t for t in self.list_tokens(include_spent=True) if t["id"] == token_id)

    # ------------------------------------------------------------------ enrolling

    def enroll(self, token: str, csr_pem: str) -> Issued:
        token_id, secret = parse_token(token)
        csr = load_csr(csr_pem)
        now_ms = self._now_ms()
        with self.engine.begin() as conn:
            row = conn.execute(select(enroll_tokens).where(enroll_tokens.c.id == token_id)).mappings().first()
            # The same answer for an unknown id and a wrong secret: the id alone reveals nothing.
            if row is None or not hmac.compare_digest(row["secret_sha256"], _hash(secret)):
                raise EnrollmentError(403, "unknown enrollment token: ask an admin for one "
                                           "(patrol enroll-token CUSTOMER)")
            if row["used_ms"] is not None:
                raise EnrollmentError(403, f"enrollment token {token_id} was already used at {_iso(row['used_ms'])} "
                                           f"(host {row['used_by_host']}); tokens are single-use: ask for a new one")
            if row["expires_ms"] <= now_ms:
                raise EnrollmentError(403, f"enrollment token {token_id} expired at {_iso(row['expires_ms'])}; "
                                           "ask for a new one")
            customer = row["customer_id"]
            if customer not in self.customers:
                raise EnrollmentError(409, f"enrollment token {token_id} is for customer {customer!r}, which the "
                                           "collector's configuration no longer defines")
            agent_id = row["host_id"] or _requested_id(csr)
            if not agent_id or not HOST_ID.match(agent_id):
                raise EnrollmentError(400, f"the CSR's common name {agent_id!r} is not a valid agent id "
                                           "(1-128 letters, digits, '.', '_', ':', '-'): pass --agent-id")
            active = self._active_certificates(conn, agent_id, now_ms)
            elsewhere = sorted({c["customer_id"] for c in active if c["customer_id"] != customer})
            if elsewhere:
                raise EnrollmentError(409, f"host {agent_id!r} is enrolled for customer {elsewhere[0]!r}, not "
                                           f"{customer!r}: revoke it first (patrol revoke {agent_id})")
            if active and row["host_id"] is None:
                raise EnrollmentError(409, f"host {agent_id!r} is already enrolled: to replace its certificate use a "
                                           f"token made for it (patrol enroll-token {customer} --host {agent_id}), "
                                           f"or revoke it first (patrol revoke {agent_id})")
            known = conn.execute(select(hosts.c.customer_id).where(hosts.c.id == agent_id)).scalar()
            if known is not None and known != customer:
                raise EnrollmentError(409, f"host {agent_id!r} already reports for customer {known!r}, not "
                                           f"{customer!r}: choose another agent id (--agent-id)")
            claimed = conn.execute(update(enroll_tokens)
                                   .where(and_(enroll_tokens.c.id == token_id, enroll_tokens.c.used_ms.is_(None)))
                                   .values(used_ms=now_ms, used_by_host=agent_id))
            if claimed.rowcount != 1:
                raise EnrollmentError(403, f"enrollment token {token_id} was used by a concurrent request")
            now = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
            cert = self.ca.issue_agent(check_public_key(csr.public_key()), agent_id, customer, now,
                                       timedelta(seconds=self.settings.cert_validity))
            serial = serial_hex(cert)
            not_after_ms = int(cert.not_valid_after_utc.timestamp() * 1000)
            conn.execute(insert(certificates).values(
                serial=serial, host_id=agent_id, customer_id=customer, fingerprint=fingerprint(cert),
                not_before_ms=int(cert.not_valid_before_utc.timestamp() * 1000), not_after_ms=not_after_ms,
                issued_ms=now_ms, token_id=token_id))
            conn.execute(update(enroll_tokens).where(enroll_tokens.c.id == token_id).values(cert_serial=serial))
            superseded = [record(conn, Revocation(serial=c["serial"], host_id=agent_id, revoked_ms=now_ms,
                                                  revoked_by=f"enrollment:{token_id}",
                                                  reason=f"superseded by certificate {serial}",
                                                  not_after_ms=c["not_after_ms"]))
                          for c in active]
        log.info("event=enrolled host=%s customer=%s serial=%s token_id=%s superseded=%d", agent_id, customer,
                 serial, token_id, len(superseded))
        return Issued(agent_id=agent_id, customer_id=customer, serial=serial,
                      certificate_pem=cert_pem(cert).decode(), not_after_ms=not_after_ms,
                      superseded=superseded)

    @staticmethod
    def _active_certificates(conn: Any, agent_id: str, now_ms: int) -> list[dict[str, Any]]:
        revoked = select(revocations.c.serial)
        q = select(certificates).where(and_(certificates.c.host_id == agent_id, certificates.c.not_after_ms > now_ms,
                                            certificates.c.serial.not_in(revoked)))
        return [dict(r) for r in conn.execute(q).mappings()]

    # ------------------------------------------------------------------ listing

    def certificates(self, host_id: str | None = None) -> list[dict[str, Any]]:
        now_ms = self._now_ms()
        q = (select(certificates, revocations.c.revoked_ms, revocations.c.reason)
             .join(revocations, revocations.c.serial == certificates.c.serial, isouter=True)
             .order_by(certificates.c.host_id, certificates.c.issued_ms))
        if host_id is not None:
            q = q.where(certificates.c.host_id == host_id)
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        out = []
        for r in rows:
            state = "revoked" if r["revoked_ms"] else ("expired" if r["not_after_ms"] <= now_ms else "valid")
            out.append({"serial": r["serial"], "host_id": r["host_id"], "customer_id": r["customer_id"],
                        "state": state, "issued": _iso(r["issued_ms"]), "not_after": _iso(r["not_after_ms"]),
                        "fingerprint": r["fingerprint"], "revoked": _iso(r["revoked_ms"]) if r["revoked_ms"] else None,
                        "revoke_reason": r["reason"]})
        return out
