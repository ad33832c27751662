"""``patrol demo``: the whole pipeline on this machine in a few minutes, with nothing to install."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from agent.configfile import parse_duration
from collector.cli.client import ApiClient
from collector.cli.output import console, err_console
from collector.demo import Demo


def _customers(n_customers: int) -> list[dict[str, object]]:
    from collector.simulator.fleet import customers_for

    return [{"id": c.id, "name": c.name, "timezone": c.timezone, "language": c.language}
            for c in customers_for(n_customers)]


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        data_dir: Annotated[Path, typer.Option(help="where the demo keeps everything")] = Path("demo-data"),
        serve: Annotated[bool, typer.Option("--serve", help="keep running until Ctrl-C")] = False,
        agents: Annotated[int, typer.Option(help="simulated agents")] = 12,
        customers: Annotated[int, typer.Option(help="simulated customers")] = 3,
        history: Annotated[str, typer.Option(help="history to load")] = "90d",
        seed: Annotated[int, typer.Option(help="simulation seed")] = 1,
    ) -> None:
        """Start an embedded collector (SQLite), a real local agent and a simulated fleet with history."""
        from collector.demo import DemoPaths
        from collector.simulator import SimulationError

        t0 = time.monotonic()
        d = Demo(DemoPaths(data_dir.resolve()), _customers(customers))
        d.prepare()
        console.rule("[bold]Patrol demo")
        try:
            with console.status("starting the collector (SQLite, loopback)…"):
                d.start_collector()
            console.print(f"collector up: gRPC {d.grpc_target}, API {d.api_url}")
            d.start_agent()
            console.print("local agent started, watching this machine")
            client = ApiClient(d.api_url, d.token)

            def while_live(summary: object) -> None:
                client.post("/api/v1/admin/flush")
                _report(client, summary, d)
                runs = _inspections(d)
                _predictive_tickets(client)
                _reports(client, d, runs)
                console.print(f"[dim]demo took {time.monotonic() - t0:.0f}s[/]")

            asyncio.run(_simulate(d.grpc_target, agents, customers, timedelta(seconds=parse_duration(history)),
                                  seed, serve, while_live))
            if serve:
                console.print("[bold]serving[/] — press Ctrl-C to stop")
                stop = False

                def _stop(*_: object) -> None:
                    nonlocal stop
                    stop = True

                signal.signal(signal.SIGTERM, _stop)
                with contextlib.suppress(KeyboardInterrupt):
                    while not stop:
                        time.sleep(1)
        except (SimulationError, RuntimeError, TimeoutError) as e:
            err_console.print(f"[red]demo failed:[/] {e}")
            raise typer.Exit(1) from None
        finally:
            with console.status("stopping…"):
                d.stop()


async def _simulate(target: str, agents: int, customers: int, history: timedelta, seed: int,
                    serve: bool, while_live: Callable[[object], None]) -> None:
    """Load history, then run ``while_live`` (in a thread) while the fleet streams live."""
    from collector.cli.simulate import run_simulation

    stop = asyncio.Event()
    backfilled = asyncio.Event()
    task = asyncio.create_task(run_simulation(target, agents, customers, history,
                                              timedelta(days=365) if serve else timedelta(minutes=30),
                                              seed, stop=stop, backfilled=backfilled))
    waiter = asyncio.create_task(backfilled.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()  # the simulation ended early: raise its error
    await asyncio.sleep(3)  # a live round, so fresh values are in
    await asyncio.get_running_loop().run_in_executor(None, while_live, None)
    if serve:
        await task
        return
    stop.set()
    await task


def _inspections(d: Demo) -> dict[str, int]:
    """A monthly full inspection of every simulated customer; the run id per customer."""
    from collector.cli.inspections import run_demo_inspection
    runs: dict[str, int] = {}
    for customer in d.customers:
        cid = str(customer["id"])
        console.rule(f"monthly inspection (巡检) — {customer['name']}")
        runs[cid] = run_demo_inspection(d.api_url, d.token, cid, profile="monthly")
    return runs


def _reports(client: ApiClient, d: Demo, runs: dict[str, int]) -> None:
    """The monthly inspection report and the quarterly health report of one customer, HTML and PDF."""
    from collector.cli.reports import write_demo_reports
    # The customer whose language is Chinese shows the reports as most of our users' customers read them.
    customer = next((c for c in d.customers if c["language"] == "zh"), d.customers[0])
    cid = str(customer["id"])
    console.rule(f"reports — {customer['name']}")
    with console.status("rendering the monthly (巡检报告) and quarterly (季度健康报告) reports…"):
        paths = write_demo_reports(client, cid, d.paths.reports, inspect=False, run_id=runs.get(cid))
    for p in paths:
        console.print(f"  {p}  ({p.stat().st_size / 1024:,.0f} KiB)")


def _predictive_tickets(client: ApiClient) -> None:
    from collector.cli.tickets import print_tickets

    console.rule("predictive tickets")
    with console.status("forecasting capacity and scoring anomalies over the fleet…"):
        result = client.post("/api/v1/admin/predict")
    console.print(f"{result['forecasts']} capacity series forecast, {result['crossings']} with a crossing ahead; "
                  f"{result['anomalies']} anomalous points in the last hour")
    rows = [t for t in client.get("/api/v1/tickets", open=True, limit=500) if t["source"] == "forecast"]
    print_tickets(rows, title=f"{len(rows)} predictive tickets, raised before anything failed")


def _report(client: ApiClient, summary: object, d: Demo) -> None:
    from collector.cli.fleet import print_hosts
    if summary is not None:
        for line in summary.lines():  # type: ignore[attr-defined]
            console.print(line, style="dim", markup=False, highlight=False)
    console.rule("patrol hosts")
    print_hosts(client)
    p = d.paths
    console.rule("where everything lives")
    for label, value in (("data folder", p.root), ("state store (SQLite)", p.database),
                         ("collector config", p.collector_config), ("agent config", p.agent_config),
                         ("agent spool", p.spool), ("logs", p.logs), ("reports", p.reports),
                         ("HTTP API", d.api_url), ("gRPC", d.grpc_target), ("metrics", f"{d.api_url}/metrics"),
                         ("API token", p.root / "token")):
        console.print(f"  {label:<22} {value}")
    console.print(f"\nTry: PATROL_URL={d.api_url} PATROL_TOKEN=$(cat {p.root / 'token'}) "
                  ".venv/bin/patrol hosts   (while `make serve` runs)")
