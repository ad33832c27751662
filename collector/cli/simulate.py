"""``patrol simulate``: many agents speaking the real protocol, with history and injected trouble."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from agent.configfile import parse_duration
from collector.cli.output import console, err_console

if TYPE_CHECKING:
    from collector.simulator import TroubleSpec


def progress_bar() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
                    TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), console=console, transient=False)


async def run_simulation(target: str, agents: int, customers: int, history: timedelta, live: timedelta | None,
                         seed: int, stop: asyncio.Event | None = None,
                         backfilled: asyncio.Event | None = None, trouble: TroubleSpec | None = None) -> object:
    from collector.simulator import ProgressInfo, simulate

    with progress_bar() as bar:
        task = bar.add_task("loading history", total=1.0, detail="connecting")

        def on_progress(p: ProgressInfo) -> None:
            rate = p.samples_acked / p.elapsed_s if p.elapsed_s > 0 else 0.0
            bar.update(task, completed=p.backfill_fraction,
                       detail=f"{p.agents_backfilled}/{p.agents} agents, {p.samples_acked:,} samples "
                              f"({rate:,.0f}/s), {p.events_acked:,} events")
            if p.phase != "backfill" and backfilled is not None and not backfilled.is_set():
                backfilled.set()

        summary = await simulate(target, agents=agents, customers=customers, history=history, live=live,
                                 seed=seed, progress=on_progress, stop=stop, trouble=trouble)
    if backfilled is not None:
        backfilled.set()
    return summary


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    def simulate_cmd(
        target: Annotated[str, typer.Option(help="collector gRPC address host:port")] = "127.0.0.1:4317",
        agents: Annotated[int, typer.Option(help="simulated agents")] = 12,
        customers: Annotated[int, typer.Option(help="customers they belong to")] = 3,
        history: Annotated[str, typer.Option(help="history to backfill, e.g. 90d")] = "90d",
        live: Annotated[str | None, typer.Option(help="keep streaming live this long after the backfill")] = None,
        seed: Annotated[int, typer.Option(help="random seed (same seed, same fleet)")] = 1,
    ) -> None:
        """Simulate a fleet against a collector (the collector must know the simulated customers)."""
        from collector.simulator import SimulationError

        try:
            summary = asyncio.run(run_simulation(
                target, agents, customers, timedelta(seconds=parse_duration(history)),
                timedelta(seconds=parse_duration(live)) if live else None, seed))
        except SimulationError as e:
            err_console.print(f"[red]error:[/] {e}")
            raise typer.Exit(1) from None
        except ValueError as e:
            err_console.print(f"[red]error:[/] {e}")
            raise typer.Exit(2) from None
        for line in summary.lines():  # type: ignore[attr-defined]
            console.print(line)
