"""``patrol analyze``: offline analysis of files a customer sent or series exported elsewhere."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from collector.cli.output import err_console

analyze_app = typer.Typer(help="Offline analysis of log files and CSV series.", no_args_is_help=True)

FileArg = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="input file")]


def _fail(message: str) -> None:
    err_console.print(f"[red]error:[/] {message}")
    raise typer.Exit(2)


@analyze_app.command("logs")
def logs(file: FileArg,
         rules: Annotated[Path | None, typer.Option(help="rule pack YAML (default: the built-in pack)")] = None,
         events: Annotated[bool, typer.Option("--events", help="one JSON line per event")] = False) -> None:
    """Run the agent's tailer and rules over a file: counts per rule as CSV, or events as JSON lines."""
    from agent.logs.analyze import analyze_file

    code = analyze_file(file, rules, events, sys.stdout, err=sys.stderr)
    if code:
        raise typer.Exit(code)


@analyze_app.command("forecast")
def forecast(file: FileArg,
             limit: Annotated[float, typer.Option(help="the limit the series must not cross")],
             direction: Annotated[str, typer.Option(help="up: crossing from below; down: from above")] = "up",
             every: Annotated[str, typer.Option(help="evaluate every (e.g. 1h)")] = "1h",
             horizon: Annotated[str, typer.Option(help="alert when the crossing is within (e.g. 7d)")] = "7d") -> None:
    """When will a CSV series (timestamp,value) cross a limit? One row per evaluation instant."""
    from inspections.series_csv import SeriesFormatError, forecast_csv, parse_duration

    if direction not in ("up", "down"):
        _fail(f"--direction must be up or down, not {direction!r}")
    way: Literal["up", "down"] = "up" if direction == "up" else "down"
    try:
        step, ahead = parse_duration(every), parse_duration(horizon)
    except ValueError as e:
        _fail(str(e))
    try:
        with file.open(newline="") as inp:
            forecast_csv(inp, sys.stdout, limit=limit, direction=way, every=step, horizon=ahead,
                         name=str(file))
    except SeriesFormatError as e:
        _fail(str(e))


@analyze_app.command("anomalies")
def anomalies(file: FileArg) -> None:
    """Anomaly score in [0, 1] for every row of a CSV series (timestamp,value)."""
    from inspections.series_csv import SeriesFormatError, anomalies_csv

    try:
        with file.open(newline="") as inp:
            anomalies_csv(inp, sys.stdout, name=str(file))
    except SeriesFormatError as e:
        _fail(str(e))


def register(app: typer.Typer) -> None:
    app.add_typer(analyze_app, name="analyze")
