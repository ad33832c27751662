"""Remote diagnostics on the collector: signing, routing over agents' streams (or SSH), audit, API.

- :mod:`collector.diagnostics.signing` — :class:`Signer`, the Ed25519 key (``python -m … DATA_DIR``
  prints the public key);
- :mod:`collector.diagnostics.router` — :class:`DiagnosticsRouter`: submit, results, cancel, follow;
- :mod:`collector.diagnostics.tables`, :mod:`collector.diagnostics.audit` — the append-only audit log;
- :mod:`collector.diagnostics.service` — the collector service (``diagnostics_service(app)``);
- :mod:`collector.diagnostics.api` — the HTTP endpoints. See docs/diagnostics.md.
"""
