"""``patrol forecasts``: the stored capacity forecasts of a host or of the fleet, soonest crossing first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from collector.cli.output import Format, emit
from collector.cli.tickets import when


def _rows(forecasts: list[dict[str, Any]], tz: str) -> list[dict[str, Any]]:
    out = []
    for f in forecasts:
        unit = f.get("unit") or ""
        level = f.get("level")
        what = f["display"]["en"] + (f" {f['subject']}" if f["subject"] else "")
        band = f"{when(f.get('eta_low'), tz)} … {when(f.get('eta_high'), tz)}"
        out.append({"hostname": f["hostname"], "what": what, "level": "—" if level is None else f"{level:.3g} {unit}",
                    "eta": when(f.get("eta"), tz), "band": band, "computed_at": when(f["computed_at"], tz),
                    "run_id": f["run_id"]})
    return out


def _days_left(f: dict[str, Any]) -> float:
    return (datetime.fromisoformat(f["eta"]) - datetime.fromisoformat(f["computed_at"])).total_seconds() / 86400


def register(app: typer.Typer, client_factory: Any) -> None:
    @app.command("forecasts")
    def forecasts(host: Annotated[str | None, typer.Argument(help="a host id or hostname; default: every host")] = None,
                  customer: Annotated[str | None, typer.Option(help="only this customer's hosts")] = None,
                  within: Annotated[float | None, typer.Option(help="only crossings within this many days")] = None,
                  tz: Annotated[str, typer.Option(help="time zone for the times shown")] = "UTC",
                  fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table) -> None:
        """Capacity forecasts of the newest predictions pass: the ETAs tickets and reports show."""
        client = client_factory()
        if host is not None:
            found = [f for f in client.get(f"/api/v1/hosts/{host}/forecasts")["runs"]
                     if within is None or (f["eta"] is not None and _days_left(f) <= within)]
        else:
            found = client.get("/api/v1/forecasts", customer=customer, within_days=within)["forecasts"]
        if fmt is not Format.table:
            emit(found, ["run_id", "hostname", "series", "subject", "level", "eta", "eta_low", "eta_high",
                         "computed_at"], fmt)
            return
        emit(_rows(found, tz), ["hostname", "what", "level", "eta", "band", "computed_at", "run_id"], fmt,
             title=f"{len(found)} capacity forecasts",
             headers=["host", "what", "now", "reaches its limit", "band", "computed", "run"])
