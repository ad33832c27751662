"""The ``patrol`` command line: engineers' view of the fleet, plus offline analysis and the demo."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from collector.cli import fleet
from collector.cli.client import ApiClient, ApiError
from collector.cli.output import err_console

app = typer.Typer(name="patrol", help="Patrol: remote inspection for IT service providers.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
_conn: dict[str, str | None] = {"url": None, "token": None}


@app.callback()
def _global(url: Annotated[str | None, typer.Option(help="collector API URL (env PATROL_URL)")] = None,
            token: Annotated[str | None, typer.Option(help="API token (env PATROL_TOKEN)")] = None) -> None:
    _conn["url"], _conn["token"] = url, token


def client() -> ApiClient:
    return ApiClient(_conn["url"], _conn["token"])


fleet.register(app, client)


def _register_optional() -> None:
    from collector.cli import analyze, commands, demo, simulate

    analyze.register(app)
    simulate.register(app)
    demo.register(app)
    commands.register_all(app, client)


_register_optional()


def main() -> None:
    try:
        app()
    except ApiError as e:
        err_console.print(f"[red]error:[/] {e}")
        sys.exit(1)
