"""The bytes a diagnostic request's Ed25519 signature covers (shared by collector and agent).

Each field is encoded as a 4-byte big-endian length followed by its UTF-8 bytes, in this order:

1. the domain tag ``patrol.v1.DiagnosticRequest``
2. the id of the host the request is addressed to (the agent id the collector routes by)
3. ``request_id``
4. ``action``
5. the number of arguments, in decimal
6. each argument's key, then its value, sorted by the key's UTF-8 bytes
7. ``requested_by``
8. ``expires_ms`` in decimal
9. ``nonce``
10. ``timeout_s`` in decimal
11. ``max_output_bytes`` in decimal

Length prefixes make the encoding unambiguous (no separator can be smuggled inside a value), the
domain tag keeps these signatures from being valid for anything else, and the host id binds a
request to one host, so a request captured on its way to one agent is worthless on another.
"""

from __future__ import annotations

from collections.abc import Mapping

from protos.patrol.v1 import agent_pb2 as pb

DOMAIN = "patrol.v1.DiagnosticRequest"


def _field(value: str) -> bytes:
    raw = value.encode("utf-8")
    return len(raw).to_bytes(4, "big") + raw


def canonical_bytes(host_id: str, request_id: str, action: str, args: Mapping[str, str], requested_by: str,
                    expires_ms: int, nonce: str, timeout_s: int, max_output_bytes: int) -> bytes:
    items = sorted(args.items(), key=lambda kv: kv[0].encode("utf-8"))
    parts = [DOMAIN, host_id, request_id, action, str(len(items))]
    for key, value in items:
        parts += [key, value]
    parts += [requested_by, str(int(expires_ms)), nonce, str(int(timeout_s)), str(int(max_output_bytes))]
    return b"".join(_field(p) for p in parts)


def canonical_request(req: pb.DiagnosticRequest, host_id: str) -> bytes:
    """What the collector signs and the agent verifies for ``req`` addressed to ``host_id``."""
    return canonical_bytes(host_id, req.request_id, req.action, dict(req.args), req.requested_by,
                           req.expires_ms, req.nonce, req.timeout_s, req.max_output_bytes)
