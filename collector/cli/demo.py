"""``patrol demo``: the whole pipeline on this machine in a few minutes, with nothing to install.

``patrol demo`` builds ``demo-data/`` afresh (collector, local agent, simulated fleet with history,
inspections, predictive tickets, reports) and stops. ``patrol demo --serve`` keeps it running on the
fixed ports 4317 (gRPC) and 8080 (HTTP); it reuses a ``demo-data/`` that holds history (``--fresh``
rebuilds it) and streams the simulated fleet live. SIGINT or SIGTERM stops every process it started.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from agent.configfile import parse_duration
from collector.cli.client import ApiClient, ApiError
from collector.cli.output import console, err_console
from collector.demo import (
    DEFAULT_API_PORT,
    DEFAULT_GRPC_PORT,
    Demo,
    DemoPaths,
    FleetSettings,
    choose_port,
    demo_customers,
    new_token,
    saved_token,
    serving_url,
)

# The simulator's finest history step: a reuse backfills at least this, so the fleet has a point now.
_MIN_CATCH_UP = timedelta(minutes=5)


class Stopped(Exception):
    """SIGINT or SIGTERM arrived: unwind, stopping what the demo started."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def _stop_on_signals(demo: Demo) -> Iterator[None]:
    """SIGINT and SIGTERM stop the agent and collector at once, then unwind the demo as ``Stopped``.

    Stopping the children first also ends any API call a worker thread is waiting on, so nothing
    keeps the process (or an orphaned child) alive after the signal.
    """
    def handler(signum: int, _frame: FrameType | None) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        demo.stop()
        raise Stopped(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        data_dir: Annotated[Path, typer.Option(help="where the demo keeps everything")] = Path("demo-data"),
        serve: Annotated[bool, typer.Option("--serve", help="keep running until Ctrl-C (or SIGTERM)")] = False,
        fresh: Annotated[bool, typer.Option("--fresh", help="with --serve: rebuild the data folder even if it "
                                                            "holds a demo")] = False,
        grpc_port: Annotated[int, typer.Option(help="gRPC port (0: any free port)", min=0, max=65535)]
        = DEFAULT_GRPC_PORT,
        api_port: Annotated[int, typer.Option(help="HTTP API port (0: any free port)", min=0, max=65535)]
        = DEFAULT_API_PORT,
        agents: Annotated[int, typer.Option(help="simulated agents", min=1)] = 12,
        customers: Annotated[int, typer.Option(help="simulated customers", min=1)] = 3,
        history: Annotated[str, typer.Option(help="history to load")] = "90d",
        seed: Annotated[int, typer.Option(help="simulation seed (same seed, same fleet and trouble)")] = 1,
    ) -> None:
        """Start an embedded collector (SQLite), a real local agent and a simulated fleet with history."""
        from collector.simulator import SimulationError

        t0 = time.monotonic()
        d, settings, reuse = _open(data_dir.resolve(), serve, serve and not fresh, grpc_port, api_port,
                                   FleetSettings(agents, customers, history, seed))
        history_s = parse_duration(settings.history)
        console.rule("[bold]Patrol demo")
        if reuse:
            console.print(f"reusing {d.paths.root} (seed {settings.seed}, {settings.agents} simulated agents); "
                          "--fresh rebuilds it")
        try:
            with _stop_on_signals(d):
                if not reuse:
                    with console.status("writing 90 days of service history (tickets worked, closed and rated)…"):
                        count = d.write_service_history(settings, datetime.now(UTC))
                    console.print(f"service history: {count} tickets of the last 90 days, worked and closed")
                with console.status("starting the collector (SQLite, loopback)…"):
                    d.start_collector()
                console.print(f"collector up: gRPC {d.grpc_target}, API {d.api_url}")
                d.start_agent()
                console.print("local agent started, watching this machine")
                client = ApiClient(d.api_url, d.token)
                backfill = (_catch_up(client, d, timedelta(seconds=history_s)) if reuse
                            else timedelta(seconds=history_s))

                def tour(summary: object) -> None:
                    live_since = time.monotonic()
                    settings.save(d.paths.fleet)  # the history is in: a later --serve can reuse it
                    if not reuse:
                        client.post("/api/v1/admin/flush")
                    _how_to_use(client, summary, d)
                    if not reuse:
                        past = _past_inspections(client, d, backfill)
                        runs = _inspections(d)
                        _tickets(client, live_since)
                        # The last whole month's inspection: its report is the one a customer receives.
                        _reports(client, d, past or runs)
                    console.print(f"[dim]demo took {time.monotonic() - t0:.0f}s[/]")

                asyncio.run(_simulate(d.grpc_target, settings, backfill, serve, tour))
        except Stopped as s:
            console.print(f"{s.args[0]}: stopped the collector and the agent")
            raise typer.Exit(128 + s.signum) from None
        except (SimulationError, RuntimeError, TimeoutError, ApiError) as e:
            err_console.print(f"[red]demo failed:[/] {e}")
            raise typer.Exit(1) from None
        finally:
            with console.status("stopping…"):
                d.stop()


def _open(root: Path, serve: bool, reuse_if_there: bool, grpc_port: int, api_port: int,
          asked: FleetSettings) -> tuple[Demo, FleetSettings, bool]:
    """The demo in ``root`` with its configs written: reused (same fleet and token) when asked and
    there is one, else fresh. Exits when a demo still serves from ``root`` or the settings are bad."""
    paths = DemoPaths(root)
    running = serving_url(paths)
    if running:
        err_console.print(f"[red]error:[/] a demo collector is serving from {paths.root} at {running}; stop it "
                          "(Ctrl-C where `make serve` runs) or give another --data-dir")
        raise typer.Exit(1)
    reuse = reuse_if_there and paths.has_history()
    settings = FleetSettings.load(paths.fleet) if reuse else asked
    try:
        parse_duration(settings.history)
    except ValueError as e:
        err_console.print(f"[red]error:[/] --history: {e}")
        raise typer.Exit(2) from None
    ports = {what: choose_port(port, what) for what, port in (("gRPC", grpc_port), ("HTTP API", api_port))}
    for _, note in ports.values():
        if note:
            err_console.print(f"[yellow]note:[/] {note}")
    d = Demo(paths, demo_customers(settings.customers), grpc_port=ports["gRPC"][0], api_port=ports["HTTP API"][0],
             token=(saved_token(paths) if reuse else None) or new_token(), serving=serve)
    d.prepare(fresh=not reuse)
    return d, settings, reuse


def _catch_up(client: ApiClient, d: Demo, history: timedelta) -> timedelta:
    """The history a reused demo still lacks: from the fleet's newest data to now (bounded by ``history``)."""
    newest = [datetime.fromisoformat(str(h["last_data"])) for h in client.get("/api/v1/hosts")
              if h["id"] != d.local_agent_id and h.get("last_data")]
    if not newest:
        return history
    return min(history, max(datetime.now(UTC) - max(newest), _MIN_CATCH_UP))


async def _simulate(target: str, settings: FleetSettings, history: timedelta, serve: bool,
                    while_live: Callable[[object], None]) -> None:
    """Load history, then run ``while_live`` (in a thread) while the fleet streams live.

    Without ``serve`` the fleet stops once ``while_live`` returns; with it, it streams until a signal.
    """
    from collector.cli.simulate import run_simulation
    from collector.simulator import TroubleSpec

    stop = asyncio.Event()
    backfilled = asyncio.Event()
    task = asyncio.create_task(run_simulation(target, settings.agents, settings.customers, history,
                                              timedelta(days=365) if serve else timedelta(minutes=30),
                                              settings.seed, stop=stop, backfilled=backfilled,
                                              # last month's incidents: its inspection has something to fix
                                              trouble=TroubleSpec(past_month_incidents=True)))
    waiter = asyncio.create_task(backfilled.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()  # the simulation ended early: raise its error
    await asyncio.sleep(3)  # a live round, so fresh values are in
    await asyncio.get_running_loop().run_in_executor(None, while_live, None)
    if serve:
        console.print("[bold]serving[/] — press Ctrl-C (or send SIGTERM) to stop")
        await task
        return
    stop.set()
    await task


def _past_inspections(client: ApiClient, d: Demo, history: timedelta) -> dict[str, int]:
    """The monthly inspections of each whole month the history holds, checklists filled in."""
    from collector.cli.demo_inspections import run_past_inspections

    with console.status("inspecting every whole month of the history (月度巡检), filling in the checklists…"):
        runs = run_past_inspections(client, d.customers, datetime.now(UTC), history)
    console.print(f"past monthly inspections: {len(runs)} customers, checklists filled in, last month's fixes "
                  "recorded and follow-ups noted")
    return runs


# The headings above what the demo prints for one customer, in the customer's language.
_HEADINGS = {"zh": {"inspection": "月度巡检", "reports": "巡检报告与季度健康报告"},
             "en": {"inspection": "monthly inspection", "reports": "reports"}}


def _language(customer: dict[str, object]) -> str:
    return "zh" if customer.get("language") == "zh" else "en"


def _inspections(d: Demo) -> dict[str, int]:
    """A monthly full inspection of every simulated customer; the run id per customer."""
    from collector.cli.inspections import run_demo_inspection
    runs: dict[str, int] = {}
    for customer in d.customers:
        cid = str(customer["id"])
        console.rule(f"{_HEADINGS[_language(customer)]['inspection']} — {customer['name']}")
        runs[cid] = run_demo_inspection(d.api_url, d.token, cid, profile="monthly")
    return runs


def _reports(client: ApiClient, d: Demo, runs: dict[str, int]) -> None:
    """The monthly inspection report and the quarterly health report of one customer, HTML and PDF."""
    from collector.cli.reports import write_demo_reports
    # The customer whose language is Chinese shows the reports as most of our users' customers read them.
    customer = next((c for c in d.customers if c["language"] == "zh"), d.customers[0])
    cid = str(customer["id"])
    console.rule(f"{_HEADINGS[_language(customer)]['reports']} — {customer['name']}")
    with console.status("rendering the monthly (巡检报告) and quarterly (季度健康报告) reports…"):
        paths = write_demo_reports(client, cid, d.paths.reports, inspect=False, run_id=runs.get(cid))
    for p in paths:
        console.print(f"  {p}  ({p.stat().st_size / 1024:,.0f} KiB)")


def _tickets(client: ApiClient, live_since: float) -> None:
    from collector.cli.tickets import print_tickets
    from collector.demo import DEMO_OFFLINE_AFTER_S

    console.rule("tickets")
    with console.status("forecasting capacity and scoring anomalies over the fleet…"):
        result = client.post("/api/v1/admin/predict")
    console.print(f"{result['forecasts']} capacity series forecast, {result['crossings']} with a crossing ahead; "
                  f"{result['anomalies']} series behaving unusually right now")
    # The silent host stopped before the live phase began: once the offline limit has passed since
    # then, the SLA pass sees it offline while every streaming host stays fresh.
    wait = live_since + DEMO_OFFLINE_AFTER_S - time.monotonic()
    if wait > 0:
        with console.status(f"waiting {wait:.0f}s until a host silent for {DEMO_OFFLINE_AFTER_S}s counts as "
                            "offline…"):
            time.sleep(wait)
    client.post("/api/v1/jobs/tickets-sla/run")
    rows = client.get("/api/v1/tickets", open=True, limit=500)
    counts = {source: sum(1 for t in rows if t["source"] == source) for source in ("inspection", "forecast", "offline")}
    print_tickets(rows, title=f"{len(rows)} open tickets: {counts['inspection']} from inspection findings, "
                              f"{counts['forecast']} predictive (raised before anything failed), "
                              f"{counts['offline']} for agents gone quiet")


def _how_to_use(client: ApiClient, summary: object, d: Demo) -> None:
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
                         ("HTTP API", d.api_url), ("API docs", f"{d.api_url}/docs"), ("gRPC", d.grpc_target),
                         ("metrics", f"{d.api_url}/metrics"), ("CLI environment", p.env)):
        console.print(f"  {label:<22} {value}")
    from collector.demo import console_lines, console_logins, create_console_logins

    logins = console_logins(p, d.customers)
    create_console_logins(d.api_url, d.token, logins)
    console.rule("web console")
    for line in console_lines(d.api_url, logins):
        console.print(line, markup=False, highlight=False)
    console.print(f"\nTry (while `make serve` runs):\n  source {p.env}\n  .venv/bin/patrol hosts\n"
                  f"  .venv/bin/patrol tickets\n  .venv/bin/patrol diag {socket.gethostname()} top_processes")
