"""``patrol diag HOST ACTION``, ``patrol diag-cancel``, ``patrol diag-key``, ``patrol diag-actions``, ``patrol audit``.

``patrol diag web-01 tail_log --arg path=/var/log/syslog --arg lines=50`` prints the output as it
streams in (stdout) and the outcome on stderr. Ctrl-C cancels the request on the host (press it
again to stop waiting for the confirmation). Exit status: 0 ok, 3 partial (timeout or output cap),
1 anything else (denied, offline, error, cancelled).
"""

from __future__ import annotations

import base64
import json
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from agent.configfile import parse_size
from collector.cli.client import ApiClient, ApiError
from collector.cli.output import Format, console, emit, err_console
from collector.cli.units import fmt_bytes

Fmt = Annotated[Format, typer.Option("--format", "-f")]
EXIT_PARTIAL = 3
_STYLE = {"ok": "green", "truncated": "yellow", "timeout": "yellow", "cancelled": "yellow", "denied": "red",
          "error": "red", "offline": "red", "running": "cyan"}


def parse_args(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{item!r} must look like key=value", param_hint="--arg")
        out[key] = value
    return out


def _http(client: ApiClient) -> httpx.Client:
    headers = {"Authorization": f"Bearer {client.token}"} if client.token else {}
    # The server sends a keep-alive line every few seconds, so a silent minute means a dead connection.
    return httpx.Client(base_url=client.url, headers=headers, timeout=httpx.Timeout(30.0, read=60.0))


def _raise_for(response: httpx.Response, client: ApiClient) -> None:
    if response.status_code < 400:
        return
    response.read()
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    if response.status_code == 401 and not client.token:
        detail = f"{detail} — set PATROL_TOKEN or pass --token"
    raise ApiError(f"{response.status_code}: {detail}")


class _Printer:
    """Writes output chunks to stdout as they come and remembers the outcome."""

    def __init__(self, as_json: bool, host_ref: str | None = None) -> None:
        self.as_json = as_json
        self.host_ref = host_ref  # the hostname (or id) the engineer typed
        self.request_id: str | None = None
        self.next_chunk = 0
        self.final: dict[str, Any] | None = None
        self.output = bytearray()
        self.started = time.monotonic()

    def handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "started":
            self.request_id = event["request_id"]
            if not self.as_json:
                host = event["host"] if self.host_ref in (None, event["host"]) else (
                    f"{self.host_ref} (agent id {event['host']})")
                err_console.print(f"[dim]→ {host} {event['action']} (request {self.request_id}, via "
                                  f"{event['via']}, timeout {event['timeout_s']} s)[/]")
        elif kind == "chunk":
            data = base64.b64decode(event["data"])
            self.next_chunk = int(event["chunk"]) + 1
            if self.as_json:
                self.output += data
            else:
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
        elif kind == "final":
            self.final = event

    def finish(self) -> int:
        final = self.final or {"status": "error", "error": "the stream ended without a final answer",
                               "total_bytes": len(self.output)}
        status = final["status"]
        if self.as_json:
            sys.stdout.write(json.dumps({"request_id": self.request_id, **{k: v for k, v in final.items()
                                                                            if k != "type"},
                                         "output": self.output.decode("utf-8", "replace")}, ensure_ascii=False)
                             + "\n")
        else:
            took = time.monotonic() - self.started
            style = _STYLE.get(status, "")
            text = f"[{style}]{status}[/] · {fmt_bytes(final.get('total_bytes') or 0)} in {took:.1f} s"
            if final.get("error"):
                text += f" · {final['error']}"
            err_console.print(text, highlight=False)
        if status == "ok":
            return 0
        return EXIT_PARTIAL if status in ("truncated", "timeout") else 1


def _events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    for line in response.iter_lines():
        if line.strip():
            yield json.loads(line)


def run_diag(client: ApiClient, body: dict[str, Any], as_json: bool = False) -> int:
    printer = _Printer(as_json, str(body.get("host") or "") or None)
    with _http(client) as http:
        try:
            with http.stream("POST", "/api/v1/diag", params={"stream": "true"}, json=body) as response:
                _raise_for(response, client)
                try:
                    for event in _events(response):
                        printer.handle(event)
                except KeyboardInterrupt:
                    if printer.request_id is None:
                        raise
                    _cancel_and_wait(http, client, printer)
        except httpx.ConnectError:
            raise ApiError(f"cannot reach the collector API at {client.url}: is patrol-collector running? "
                           "(set PATROL_URL or --url)") from None
        except (httpx.ReadTimeout, httpx.RemoteProtocolError) as e:
            if printer.request_id is None:
                raise ApiError(f"the collector API at {client.url} stopped answering: {e}") from None
            err_console.print(f"[yellow]lost the stream ({e}); request {printer.request_id} may still run: "
                              f"patrol diag-cancel {printer.request_id}[/]")
    return printer.finish()


def _cancel_and_wait(http: httpx.Client, client: ApiClient, printer: _Printer) -> None:
    rid = printer.request_id
    if not printer.as_json:
        err_console.print(f"[yellow]cancelling {rid} on the host… (Ctrl-C again to stop waiting)[/]")
    try:
        _raise_for(http.post(f"/api/v1/diag/{rid}/cancel"), client)
        with http.stream("GET", f"/api/v1/diag/{rid}/stream", params={"after": printer.next_chunk}) as response:
            _raise_for(response, client)
            for event in _events(response):
                printer.handle(event)
    except KeyboardInterrupt:
        printer.final = {"status": "cancelled", "error": "stopped waiting for the host to confirm",
                         "total_bytes": None}


def register(app: typer.Typer, client_factory: Callable[[], Any]) -> None:
    @app.command("diag")
    def diag(host: Annotated[str, typer.Argument(help="host id or hostname")],
             action: Annotated[str, typer.Argument(help="see `patrol diag-actions`")],
             arg: Annotated[list[str] | None, typer.Option("--arg", "-a", help="key=value, repeatable")] = None,
             timeout: Annotated[float | None, typer.Option(help="seconds (the host may cap it)")] = None,
             max_output: Annotated[str | None, typer.Option(help="output cap, e.g. 256KiB")] = None,
             as_json: Annotated[bool, typer.Option("--json", help="one JSON document at the end")] = False) -> None:
        """Run a diagnostic action on a host and print its output as it streams in (needs the engineer role)."""
        body: dict[str, Any] = {"host": host, "action": action, "args": parse_args(arg or [])}
        if timeout is not None:
            body["timeout_s"] = timeout
        if max_output is not None:
            try:
                body["max_output"] = parse_size(max_output)
            except ValueError as e:
                raise typer.BadParameter(str(e), param_hint="--max-output") from None
        raise typer.Exit(run_diag(client_factory(), body, as_json))

    @app.command("diag-cancel")
    def diag_cancel(request_id: str) -> None:
        """Cancel a running diagnostic request."""
        result = client_factory().post(f"/api/v1/diag/{request_id}/cancel")
        err_console.print(f"{request_id}: {result['status']}"
                          + (f" (cancel requested by {result['cancelled_by']})" if result.get("cancelled_by") else ""))

    @app.command("diag-key")
    def diag_key() -> None:
        """Print the collector's public key (PEM) for agents to pin as diagnostics.collector_key."""
        result = client_factory().get("/api/v1/diag/key")
        sys.stdout.write(result["public_key_pem"])
        err_console.print(f"# {result['fingerprint']}")

    @app.command("diag-actions")
    def diag_actions(fmt: Fmt = Format.table) -> None:
        """The diagnostic actions agents offer; each host's own config decides which it allows."""
        rows = client_factory().get("/api/v1/diag/actions")
        for r in rows:
            r["arguments"] = "; ".join(f"{k}: {v}" for k, v in r["args"].items()) or "—"
        emit(rows, ["action", "summary", "arguments", "on_by_default"], fmt)

    @app.command("audit")
    def audit(host: Annotated[str | None, typer.Option(help="only this host (hostname or agent id)")] = None,
              since: Annotated[str, typer.Option(help="e.g. 7d, 12h, or an ISO time")] = "7d",
              until: Annotated[str | None, typer.Option()] = None,
              actor: Annotated[str | None, typer.Option(help="only requests by this API token name")] = None,
              limit: int = 200,
              events: Annotated[bool, typer.Option("--events", help="every audit event, not one row per request")]
              = False,
              fmt: Fmt = Format.table) -> None:
        """The diagnostics audit log: who asked what of which host, when, and what came of it."""
        rows = client_factory().get("/api/v1/audit", host=host, since=since, until=until, actor=actor, limit=limit,
                                    events=events or None)
        for r in rows:
            r["args_text"] = " ".join(f"{k}={v}" for k, v in (r.get("args") or {}).items())
        if events:
            cols = ["at", "event", "actor", "hostname", "host_id", "action", "args_text", "outcome", "bytes",
                    "request_id", "detail"]
        else:
            cols = ["at", "actor", "hostname", "host_id", "action", "args_text", "outcome", "bytes", "request_id",
                    "detail"]
        if fmt is not Format.table:
            emit(rows, cols, fmt)
            return
        table = Table(title=f"{len(rows)} audit {'events' if events else 'entries'} since {since}", header_style="bold")
        for h in (["when (UTC)", "event"] if events else ["when (UTC)"]) + ["who", "host", "action", "args",
                                                                          "outcome", "bytes", "request", "detail"]:
            table.add_column(h, overflow="fold")
        for r in rows:
            outcome = r.get("outcome") or "—"
            style = _STYLE.get(outcome, "")
            cells = [_when(r["at"])] + ([r["event"]] if events else []) + [
                r["actor"], r.get("hostname") or r.get("host_id") or "—", r.get("action") or "—", r["args_text"] or "—",
                f"[{style}]{outcome}[/]" if style else outcome,
                fmt_bytes(r["bytes"]) if r.get("bytes") is not None else "—", (r.get("request_id") or "—")[:12],
                (r.get("detail") or "")[:200]]
            table.add_row(*cells)
        console.print(table)


def _when(iso: str | None) -> str:
    if not iso:
        return "—"
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S")
