"""``/console``: the fleet overview — hosts by customer, problems first, search and filters."""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool

from collector.console.auth import Console, Viewer
from collector.console.fleet import FleetHost, filter_hosts, fleet
from collector.console.routing import console_router
from collector.console.templating import render

router = console_router(prefix="/console")


def load_fleet(console: Console) -> list[FleetHost]:
    app = console.app
    with console.engine.connect() as conn:
        return fleet(conn, app.clock(), app.cfg.offline_after, app.ingestor.retention_s, console.customer_names(),
                     cache=console.sparks)


@router.get("")
async def fleet_page(request: Request, session: Viewer, console: Console, q: str = "", customer: str = "",
                     status: str = "") -> Response:
    hosts = await run_in_threadpool(load_fleet, console)
    shown = filter_hosts(hosts, text=q, customer=customer, status=status)
    summary = {"online": sum(h.status == "online" for h in hosts), "offline": sum(h.status != "online" for h in hosts),
               "problems": sum(h.problem for h in hosts)}
    return render(request, session, "fleet.html", active="nav.fleet", hosts=shown, total=len(hosts),
                  summary=summary, q=q, customer=customer, status=status, customers=console.customer_names(),
                  zones=console.customer_zones())
