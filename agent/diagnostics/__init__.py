"""Remote diagnostics on the agent: signed requests from the collector, run only with local consent.

- :mod:`agent.diagnostics.config` — the ``diagnostics:`` section of agent.yaml (the customer's consent);
- :mod:`agent.diagnostics.canonical` — the bytes a request's signature covers;
- :mod:`agent.diagnostics.verify` — Ed25519 verification, expiry and the replay cache;
- :mod:`agent.diagnostics.actions` — the actions, one module per kind;
- :mod:`agent.diagnostics.executor` — timeouts, output caps, chunking, cancellation;
- :mod:`agent.diagnostics.audit` — the local append-only audit log;
- :mod:`agent.diagnostics.handler` — :class:`DiagnosticsHandler`, the transport's ``on_message``.

This package's ``__init__`` imports nothing: agent.config imports the config model from here, and
the handler pulls in the collectors and probes.
"""
