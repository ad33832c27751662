"""Tables of the PKI: enrollment tokens, the certificates the CA issued, and the revocation list.

Times are unix milliseconds. Serials are lowercase hex (they are up to 159 bits, more than any
integer column holds). Token secrets are stored only as SHA-256 hashes: they are 256-bit random
values, so a plain hash is as good as a slow one and a stolen database enrolls nobody.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, String, Table, Text

from collector.store.schema import metadata

enroll_tokens = Table(
    "pki_enroll_tokens",
    metadata,
    Column("id", String(32), primary_key=True),  # the public part of the token, for lookup and listing
    Column("secret_sha256", String(64), nullable=False),
    Column("customer_id", String(128), nullable=False),
    Column("host_id", String(128), nullable=True),  # set: the token enrolls (or re-enrolls) only this host
    Column("created_by", String(128), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Column("used_ms", BigInteger, nullable=True),
    Column("used_by_host", String(128), nullable=True),
    Column("cert_serial", String(64), nullable=True),
)

certificates = Table(
    "pki_certificates",
    metadata,
    Column("serial", String(64), primary_key=True),
    Column("host_id", String(128), nullable=False),
    Column("customer_id", String(128), nullable=False),
    Column("fingerprint", String(80), nullable=False),
    Column("not_before_ms", BigInteger, nullable=False),
    Column("not_after_ms", BigInteger, nullable=False),
    Column("issued_ms", BigInteger, nullable=False),
    Column("token_id", String(32), nullable=True),
    Index("ix_pki_certificates_host", "host_id"),
)

# The revocation list. A row may name a certificate this CA never issued (one from another PKI
# trusted through tls.client_ca), so it does not reference pki_certificates.
revocations = Table(
    "pki_revocations",
    metadata,
    Column("serial", String(64), primary_key=True),
    Column("host_id", String(128), nullable=True),
    Column("revoked_ms", BigInteger, nullable=False),
    Column("revoked_by", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("not_after_ms", BigInteger, nullable=True),  # past this the TLS handshake refuses it anyway
)
