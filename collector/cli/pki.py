"""``patrol enroll-token``, ``patrol enroll-tokens``, ``patrol revoke``, ``patrol certs``: agent certificates.

Creating tokens and revoking need an admin API token; listing certificates needs a viewer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from collector.cli.output import Format, console, emit

Fmt = Annotated[Format, typer.Option("--format", "-f")]


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _short(rows: list[dict[str, Any]], fmt: Format, *fields: str) -> list[dict[str, Any]]:
    """ISO times as ``YYYY-MM-DD HH:MM`` (UTC) in tables; CSV and JSON keep them exact."""
    if fmt is not Format.table:
        return rows
    return [{**r, **{f: r[f][:16].replace("T", " ") for f in fields if r.get(f)}} for r in rows]


def enroll_command(t: dict[str, Any]) -> str:
    url = t.get("enroll_url") or "https://COLLECTOR:4318"
    return f"patrol-agent enroll --collector {url} --token {t['token']} --ca-fingerprint {t['ca_fingerprint']}"


def register(app: typer.Typer, client_factory: Callable[[], Any]) -> None:
    @app.command("enroll-token")
    def enroll_token(customer: Annotated[str, typer.Argument(help="customer id the agent will belong to")],
                     ttl: Annotated[str | None, typer.Option(help="token lifetime, e.g. 24h (default: "
                                                                   "tls.pki.token_ttl)")] = None,
                     host: Annotated[str | None, typer.Option(help="only for this agent id; replaces (and revokes) "
                                                                    "its current certificate")] = None,
                     fmt: Fmt = Format.table) -> None:
        """A one-time enrollment token for one agent of CUSTOMER (admin)."""
        t = client_factory().post("/api/v1/pki/tokens", json={"customer": customer, "ttl": ttl, "host": host})
        if fmt is not Format.table:
            emit([{**t, "command": enroll_command(t)}],
                 ["id", "customer", "host", "expires_ms", "ca_fingerprint", "token", "command"], fmt)
            return
        console.print(f"enrollment token for customer [bold]{t['customer']}[/]"
                      + (f", host [bold]{t['host']}[/]" if t["host"] else "")
                      + f" — single use, expires {_when(t['expires_ms'])}")
        console.print(t["token"], markup=False, highlight=False, soft_wrap=True)
        console.print(f"CA fingerprint: {t['ca_fingerprint']}", highlight=False)
        console.print("on the agent's machine, as root:", style="dim")
        console.print(enroll_command(t) + " --owner patrol-agent", markup=False, highlight=False, soft_wrap=True)

    @app.command("enroll-tokens")
    def enroll_tokens(all_: Annotated[bool, typer.Option("--all", help="include used and expired tokens")] = False,
                      fmt: Fmt = Format.table) -> None:
        """Enrollment tokens (admin); secrets are never shown again."""
        rows = client_factory().get("/api/v1/pki/tokens", all=str(all_).lower())
        emit(_short(rows, fmt, "created", "expires", "used"),
             ["id", "customer_id", "host_id", "state", "created", "expires", "created_by", "used", "used_by_host"],
             fmt, title="enrollment tokens (times in UTC)")

    @app.command("revoke")
    def revoke(host: Annotated[str | None, typer.Argument(help="agent id: revoke all its certificates")] = None,
               serial: Annotated[str | None, typer.Option(help="revoke one certificate by serial instead")] = None,
               reason: Annotated[str, typer.Option(help="recorded with the revocation")] = "revoked by an "
                                                                                           "administrator",
               fmt: Fmt = Format.table) -> None:
        """Revoke a host's certificates (admin): its stream ends and it cannot connect again."""
        if bool(host) == bool(serial):
            raise typer.BadParameter("name a HOST or --serial, not both")
        data = client_factory().post("/api/v1/pki/revoke", json={"host": host, "serial": serial, "reason": reason})
        rows = data["revoked"]
        if fmt is Format.json:
            print(json.dumps(rows, indent=2))
            return
        if not rows and fmt is Format.table:
            console.print(f"host {host} has no certificate left to revoke (all were already revoked)")
            return
        emit([{**r, "revoked": _when(r["revoked_ms"])} for r in rows],
             ["host_id", "serial", "revoked", "revoked_by", "reason"], fmt, title="revoked certificates")

    @app.command("certs")
    def certs(host: Annotated[str | None, typer.Option(help="only this agent id")] = None,
              fmt: Fmt = Format.table) -> None:
        """Agent certificates the collector's CA issued, with their state."""
        rows = client_factory().get("/api/v1/pki/certificates", host=host)
        emit(_short(rows, fmt, "issued", "not_after", "revoked"),
             ["host_id", "customer_id", "serial", "state", "issued", "not_after", "revoked", "revoke_reason"],
             fmt, title="agent certificates (times in UTC)")
