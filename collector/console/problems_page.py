"""``/console/problems``: the problem board — open tickets by SLA urgency with live countdowns — and
``/console/api/problems/stream``, the server-sent events that update it without a reload.

The stream looks at the open tickets every :data:`POLL_S` seconds and sends the board's rows
(``event: board``) whenever a ticket appears, goes, or changes state, severity, assignee or next
deadline; a comment line keeps the connection alive in between. The countdowns tick in the browser.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from collector.console.auth import Console, Viewer
from collector.console.routing import console_router
from collector.console.sessions import Session
from collector.console.templating import render, render_fragment
from collector.console.ticketdata import next_deadline, tickets_of, urgency_key
from collector.store import queries
from collector.tickets import repository as repo

router = console_router(prefix="/console")
POLL_S = 2.0
KEEPALIVE_S = 15.0
STREAM_FOR_S = 1800.0  # the browser reconnects on its own after this


def board(console: Console) -> dict[str, Any]:
    """The open tickets, most urgent first, with what the rows show and a digest of it."""
    svc = tickets_of(console.app)
    with svc.engine.connect() as conn:
        rows = repo.list_tickets(conn, open_only=True, limit=2000)
        names = queries.hostnames(conn, [t.host_id for t in rows])
    pairs = sorted(((t, next_deadline(svc, t)) for t in rows), key=lambda td: urgency_key(*td))
    digest = hashlib.sha256(repr([(t.id, t.state.value, t.severity.value, t.assignee, t.title,
                                   d and (d.clock, d.at and d.at.isoformat(), d.status)) for t, d in pairs])
                            .encode()).hexdigest()
    return {"rows": pairs, "hostnames": names, "customers": console.customer_names(), "digest": digest}


@router.get("/problems")
async def problems(request: Request, session: Viewer, console: Console) -> Response:
    data = await run_in_threadpool(board, console)
    return render(request, session, "problems.html", active="nav.problems", **data)


def _event(name: str, text: str) -> bytes:
    lines = text.splitlines() or [""]
    return (f"event: {name}\n" + "".join(f"data: {line}\n" for line in lines) + "\n").encode()


async def _stream(request: Request, session: Session, console: Console, last: str) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    started = quiet_since = loop.time()
    yield b"retry: 3000\n\n"
    while loop.time() - started < STREAM_FOR_S and not await request.is_disconnected():
        data = await run_in_threadpool(console.memo, "problem-board", POLL_S / 2, lambda: board(console))
        if data["digest"] != last:
            last = data["digest"]
            html = render_fragment(session, "problems_rows.html", **data)
            yield _event("board", html)
            quiet_since = loop.time()
        elif loop.time() - quiet_since >= KEEPALIVE_S:
            yield b": keep-alive\n\n"
            quiet_since = loop.time()
        await asyncio.sleep(POLL_S)


@router.get("/api/problems/stream")
async def stream(request: Request, session: Viewer, console: Console, digest: str = "") -> StreamingResponse:
    """Server-sent events: ``board`` with the rows' HTML whenever the board changes (at once when
    ``digest`` is not the current one)."""
    return StreamingResponse(_stream(request, session, console, digest), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
