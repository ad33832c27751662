"""``patrol tickets policy check|explain``: review a ticket policy file before deploying it.

Both work on the file alone, without a collector: ``check`` validates it (errors name the file, the
rule and the field) and lists its rules; ``explain`` says which rule decides a finding of a check in
a state for a customer. Category and importance default to the check's own in the check library.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from collector.cli.output import console, err_console
from collector.tickets.config import TicketsConfig
from collector.tickets.policy import POLICY_STATES, PolicyError, TicketPolicy, load_policy
from inspections import builtin_library, load_checklist

app = typer.Typer(help="Review a ticket policy for inspection findings (docs/tickets.md).", no_args_is_help=True)
PolicyFile = Annotated[Path | None, typer.Argument(help="policy YAML; default: the built-in policy")]


def _load(path: Path | None, config: Path | None) -> TicketPolicy:
    try:
        policy = load_policy(path)
        profiles = set(TicketsConfig.model_validate({}).all_profiles())
        if config is not None:
            from collector.config import load_collector_config

            profiles = set(load_collector_config(config).section("tickets").all_profiles())
        policy.check_profiles(profiles)
    except (PolicyError, ValueError) as exc:
        err_console.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    return policy


def _known_items() -> dict[str, tuple[str, str]]:
    """Check and checklist ids with their (category, importance)."""
    known: dict[str, tuple[str, str]] = {c.id: (c.spec.category, c.spec.severity) for c in builtin_library()}
    known.update({i.id: (i.category, "medium") for i in load_checklist()})
    return known


def _matchers(values: list[str]) -> str:
    return ", ".join(values) if values else "any"


@app.command("check")
def check(path: Annotated[Path, typer.Argument(help="policy YAML")],
          config: Annotated[Path | None, typer.Option("--config", "-c", help="collector.yaml, for its SLA profiles")]
          = None) -> None:
    """Validate a policy file and list its rules in the order they are tried."""
    policy = _load(path, config)
    known = _known_items()
    table = Table(title=f"{path}: {len(policy.rules)} rules, first match decides", header_style="bold")
    for col in ("#", "name", "checks", "categories", "states", "importance", "customers", "decision"):
        table.add_column(col, overflow="fold")
    for i, r in enumerate(policy.rules):
        decision = (f"ticket {r.severity.value} {r.severity.zh}" + (f", SLA {r.sla_profile}" if r.sla_profile else "")
                    if r.severity is not None else "ignore")
        table.add_row(str(i), r.name, _matchers(r.checks), _matchers(list(r.categories)), ", ".join(r.states),
                      _matchers(list(r.importance)), _matchers(r.customers), decision)
    console.print(table)
    for i, r in enumerate(policy.rules):
        for pattern in r.checks:
            if not any(fnmatch.fnmatchcase(k, pattern) for k in known):
                console.print(f"note: {r.describe(i)}: checks pattern {pattern!r} matches no built-in check or "
                              "checklist item (a custom check library may define it)", markup=False, soft_wrap=True)


@app.command("explain")
def explain(path: PolicyFile = None,
            check_id: Annotated[str, typer.Option("--check", help="check id, e.g. security.failed_logins")] = "",
            state: Annotated[str, typer.Option(help=", ".join(POLICY_STATES))] = "critical",
            customer: Annotated[str, typer.Option(help="customer id")] = "",
            category: Annotated[str | None, typer.Option(help="default: the check's category")] = None,
            importance: Annotated[str | None, typer.Option(help="high, medium or low; default: the check's")] = None,
            config: Annotated[Path | None, typer.Option("--config", "-c", help="collector.yaml")] = None) -> None:
    """Which rule decides a finding of CHECK in STATE for CUSTOMER, and what it does."""
    if not check_id:
        raise typer.BadParameter("name the check: --check security.failed_logins", param_hint="--check")
    if state not in POLICY_STATES:
        raise typer.BadParameter(f"{state!r} is not one of {', '.join(POLICY_STATES)}", param_hint="--state")
    policy = _load(path, config)
    own = _known_items().get(check_id)
    if own is None and (category is None or importance is None):
        raise typer.BadParameter(f"{check_id!r} is not a built-in check or checklist item: give --category and "
                                 "--importance", param_hint="--check")
    cat = category or own[0] if own is not None else str(category)
    imp = importance or own[1] if own is not None else str(importance)
    decision = policy.decide(check_id, cat, state, imp, customer)
    console.print(f"{check_id} ({cat}, importance {imp}) {state} for customer {customer or '(any)'}:",
                  markup=False, soft_wrap=True)
    console.print(f"  {decision.describe()}", markup=False, soft_wrap=True)
