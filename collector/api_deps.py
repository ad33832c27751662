"""What every router of the HTTP API shares: the role dependencies and the lookup of a host by reference.

Kept apart from :mod:`collector.api` (which mounts the routers) so that the routers of features
import only this, and the API module can import them without an import cycle.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from sqlalchemy import Connection

from collector.store import queries

ROLES = {"viewer": 0, "engineer": 1, "admin": 2}


def lookup_host(conn: Connection, ref: str) -> dict[str, Any] | None:
    """The host a request names by id or hostname, None when unknown; 409 when the name is ambiguous."""
    try:
        return queries.find_host(conn, ref)
    except queries.AmbiguousHost as e:
        raise HTTPException(409, str(e)) from None


def resolve_host(conn: Connection, ref: str) -> dict[str, Any]:
    """The host an API path names by id or hostname: 404 when unknown, 409 when the name is ambiguous."""
    row = lookup_host(conn, ref)
    if row is None:
        raise HTTPException(404, f"unknown host {ref!r}: see 'patrol hosts' for the known ones")
    return row


def require(role: str) -> Callable[[Request], str]:
    """A dependency admitting API tokens with at least ``role``; returns the token's name."""

    def check(request: Request) -> str:
        cfg = request.app.state.collector.cfg
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise HTTPException(401, "missing API token: send 'Authorization: Bearer <token>' "
                                     "(PATROL_TOKEN for the CLI)")
        for t in cfg.api.tokens:
            secret = t.secret()
            if secret and hmac.compare_digest(secret.encode(), token.encode()):
                if ROLES[t.role] < ROLES[role]:
                    raise HTTPException(403, f"token {t.name!r} has role {t.role}; this needs {role}")
                return str(t.name)
        raise HTTPException(401, "unknown API token")

    return check


Viewer = Annotated[str, Depends(require("viewer"))]
Engineer = Annotated[str, Depends(require("engineer"))]
Admin = Annotated[str, Depends(require("admin"))]
