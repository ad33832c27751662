"""``patrol users add|list|passwd|disable``: logins of the web console (admin API token)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer

from collector.cli.output import Format, console, emit

Fmt = Annotated[Format, typer.Option("--format", "-f")]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))


def register(app: typer.Typer, client_factory: Callable[[], Any]) -> None:
    users = typer.Typer(help="Logins of the web console (/console for staff, /portal for customers).",
                        no_args_is_help=True)
    app.add_typer(users, name="users")

    @users.command("add")
    def add(username: str,
            role: Annotated[str, typer.Option(help="admin | engineer | viewer | customer")] = "engineer",
            customer: Annotated[str | None, typer.Option(help="the customer id a customer login sees")] = None,
            name: Annotated[str | None, typer.Option(help="display name (default: the username)")] = None,
            lang: Annotated[str, typer.Option(help="zh | en")] = "zh",
            password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                         help="read the password from stdin")] = False) -> None:
        """Create a login (admin)."""
        u = client_factory().post("/api/v1/console/users", json={
            "username": username, "password": _password(password_stdin), "role": role, "customer": customer,
            "display_name": name, "language": lang})
        console.print(f"created {u['role']} login [bold]{u['username']}[/]"
                      + (f" for customer {u['customer_id']}" if u["customer_id"] else ""))

    @users.command("list")
    def list_(fmt: Fmt = Format.table) -> None:
        """Every login (viewer)."""
        emit(client_factory().get("/api/v1/console/users"),
             ["username", "display_name", "role", "customer_id", "language", "disabled"], fmt, title="console users")

    @users.command("passwd")
    def passwd(username: str,
               password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                            help="read the password from stdin")] = False) -> None:
        """Set a new password; the user's sessions end (admin)."""
        client_factory().post(f"/api/v1/console/users/{username}/password",
                              json={"password": _password(password_stdin)})
        console.print(f"password of {username} changed; its sessions ended")

    @users.command("disable")
    def disable(username: str, enable: Annotated[bool, typer.Option("--enable", help="enable it again")] = False
                ) -> None:
        """Disable a login, ending its sessions (admin); --enable undoes it."""
        client_factory().post(f"/api/v1/console/users/{username}/disabled", json={"disabled": not enable})
        console.print(f"{username} {'enabled' if enable else 'disabled'}")
