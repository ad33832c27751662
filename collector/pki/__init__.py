"""Transport security for agents: the collector's CA, enrollment, revocation and certificate identity.

- :mod:`collector.pki.ca` — the CA; issues agent (client) and collector (server) certificates.
- :mod:`collector.pki.enroll` — one-time enrollment tokens and the signing of agents' CSRs.
- :mod:`collector.pki.crl` — the revocation list, checked on every connect.
- :mod:`collector.pki.identity` — the gRPC identify hook: agent id and customer from the certificate.
- :mod:`collector.pki.runtime` / :mod:`collector.pki.service` — wiring into a running collector.
- :mod:`collector.pki.api`, :mod:`collector.pki.bootstrap` — HTTP API and ``patrol-collector pki``.

Its settings (``tls.pki``) are :class:`collector.pki_config.PkiConfig`, part of the core configuration.
"""
