"""Who an agent is, under mutual TLS: read from its verified client certificate, never from ``Hello``.

gRPC has already verified the certificate chain and validity period during the TLS handshake
(an agent without a certificate, or with one from another CA, never gets this far). This hook, run
on every connect, refuses revoked certificates and takes the agent id and customer from the
certificate. When ``Hello`` claims something else, the certificate wins; the mismatch is logged and
counted (a misconfigured agent.yaml, or an agent trying to speak for another host).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import grpc
from cryptography import x509
from cryptography.x509.oid import NameOID
from prometheus_client import Counter

from collector.metrics import REGISTRY
from collector.pki.ca import AgentName, parse_agent_uri, serial_hex
from collector.pki.crl import RevocationList
from collector.server import Identity, StreamError
from protos.patrol.v1 import agent_pb2 as pb

log = logging.getLogger("patrol.pki.identity")

identity_mismatch = Counter(
    "patrol_agent_identity_mismatch_total",
    "Hello claims that differed from the client certificate and were corrected, by field",
    ["field"], registry=REGISTRY,
)


def peer_certificate(context: Any) -> x509.Certificate | None:
    """The client certificate of a gRPC call, as verified in the TLS handshake; None without one."""
    pem = (context.auth_context() or {}).get("x509_pem_cert")
    if not pem:
        return None
    try:
        return x509.load_pem_x509_certificate(pem[0])
    except ValueError:
        return None


def certificate_identity(cert: x509.Certificate) -> AgentName | None:
    """Agent and customer from the ``patrol://`` SAN URI, else from ``CN`` and ``OU`` (certificates made
    with openssl by another PKI); None when the certificate names neither."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    except x509.ExtensionNotFound:
        uris = []
    for uri in uris:
        name = parse_agent_uri(uri)
        if name is not None:
            return name
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    ou = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    if cn and ou:
        return AgentName(agent_id=str(cn[0].value), customer_id=str(ou[0].value))
    return None


class CertificateIdentity:
    """The ``identify`` hook of :class:`collector.server.AgentService` when agents present certificates."""

    def __init__(self, crl: RevocationList) -> None:
        self.crl = crl

    def __call__(self, hello: pb.Hello, context: Any) -> Identity:
        cert = peer_certificate(context)
        if cert is None:
            raise StreamError(grpc.StatusCode.UNAUTHENTICATED, "no_client_cert",
                              "this collector requires a client certificate: enroll the agent "
                              "(patrol-agent enroll) and set tls.cert and tls.key in agent.yaml")
        serial = serial_hex(cert)
        name = certificate_identity(cert)
        revoked = self.crl.get(serial)
        if revoked is not None:
            when = datetime.fromtimestamp(revoked.revoked_ms / 1000, tz=UTC).isoformat(timespec="seconds")
            host = name.agent_id if name else revoked.host_id
            raise StreamError(grpc.StatusCode.PERMISSION_DENIED, "cert_revoked",
                              f"the client certificate of host {host} (serial {serial}) was revoked at {when} "
                              f"({revoked.reason}); enroll this agent again with a new token")
        if name is None:
            raise StreamError(grpc.StatusCode.PERMISSION_DENIED, "cert_without_identity",
                              f"the client certificate {cert.subject.rfc4514_string()!r} (serial {serial}) names no "
                              "Patrol agent: it needs a patrol://customer/<id>/agent/<id> URI, or CN and OU")
        wrong = [f for f, claimed, actual in (("agent_id", hello.agent_id, name.agent_id),
                                              ("customer", hello.customer, name.customer_id)) if claimed != actual]
        if wrong:
            for f in wrong:
                identity_mismatch.labels(f).inc()
            log.warning("event=identity_corrected host=%s customer=%s hello_agent_id=%r hello_customer=%r serial=%s "
                        "peer=%s", name.agent_id, name.customer_id, hello.agent_id, hello.customer, serial,
                        context.peer())
        return Identity(host_id=name.agent_id, customer_id=name.customer_id, from_certificate=True)
