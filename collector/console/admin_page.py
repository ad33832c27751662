"""``/console/admin`` (admins only): the audit log, the collector group and its jobs, enrollment
tokens and certificates with revocation, and the console's users (disable or enable a login).

Reads go through the parts that own the data: the audit log through
:func:`collector.diagnostics.audit.audit_events`, the group through the app's cluster, the jobs
through its scheduler, tokens and certificates through its PKI. Every write is audited.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from collector.console.auth import Admin, Console
from collector.console.routing import console_router
from collector.console.templating import render
from collector.console.users import UserError, list_users, set_disabled
from collector.diagnostics.audit import audit_events
from collector.pki.crl import RevocationError
from collector.pki.enroll import EnrollmentError

router = console_router(prefix="/console/admin")


def _pki_data(app: Any) -> dict[str, Any]:
    pki = getattr(app, "pki", None)
    if pki is None or pki.enrollment is None:
        return {"pki": False, "tokens": [], "certificates": []}
    return {"pki": True, "tokens": pki.enrollment.list_tokens(include_spent=True),
            "certificates": pki.enrollment.certificates(None)}


def _data(console: Console, actor: str, event: str, host: str, limit: int) -> dict[str, Any]:
    app = console.app
    with console.engine.connect() as conn:
        rows = audit_events(conn, actor=actor or None, host=host or None, limit=max(1, min(limit, 2000)))
        users = list_users(conn)
    if event:
        rows = [r for r in rows if r["event"].startswith(event)]
    scheduler = getattr(app, "scheduler", None)
    return {"audit": rows, "members": app.cluster.members(), "collector_id": app.collector_id,
            "jobs": scheduler.describe() if scheduler is not None else [],
            "leader": scheduler.leads() if scheduler is not None else False, "users": users, **_pki_data(app)}


@router.get("")
async def admin(request: Request, session: Admin, console: Console, actor: str = "", event: str = "",
                host: str = "", limit: int = 200, done: str = "") -> Response:
    data = await run_in_threadpool(_data, console, actor, event, host, limit)
    return render(request, session, "admin.html", active="nav.admin", actor=actor, event=event, host=host,
                  limit=limit, done=done, customers=console.customer_names(), **data)


@router.post("/revoke")
async def revoke(request: Request, session: Admin, console: Console, host: Annotated[str, Form(max_length=200)],
                 reason: Annotated[str, Form(max_length=500)] = "") -> Response:
    """Revoke every certificate of an agent: it can no longer connect until it enrolls again."""
    pki = getattr(console.app, "pki", None)
    if pki is None:
        raise HTTPException(409, "admin.no_pki")
    actor = session.user.username
    try:
        revoked = await run_in_threadpool(pki.revoke_host, host, reason or "revoked in the console", actor)
    except RevocationError as e:
        await run_in_threadpool(console.audit, "console.pki.revoke", actor, host_id=host, outcome="refused",
                                detail=str(e))
        raise HTTPException(404, str(e)) from None
    await run_in_threadpool(console.audit, "console.pki.revoke", actor, host_id=host,
                            args={"serials": ",".join(r.serial for r in revoked), "reason": reason})
    return RedirectResponse("/console/admin?done=revoke#pki", status_code=303)


@router.post("/tokens/{token_id}/withdraw")
async def withdraw_token(token_id: str, session: Admin, console: Console) -> Response:
    """End an unused enrollment token now (it leaked, or the host will not be installed)."""
    pki = getattr(console.app, "pki", None)
    if pki is None or pki.enrollment is None:
        raise HTTPException(409, "admin.no_pki")
    actor = session.user.username
    try:
        await run_in_threadpool(pki.enrollment.withdraw_token, token_id[:32], actor)
    except EnrollmentError as e:
        await run_in_threadpool(console.audit, "console.pki.withdraw", actor, outcome="refused",
                                args={"token": token_id[:32]}, detail=str(e))
        raise HTTPException(e.status, str(e)) from None
    await run_in_threadpool(console.audit, "console.pki.withdraw", actor, args={"token": token_id[:32]})
    return RedirectResponse("/console/admin?done=withdraw#pki", status_code=303)


@router.post("/users/{username}/disabled")
async def disable_user(username: str, session: Admin, console: Console,
                       disabled: Annotated[str, Form()] = "true") -> Response:
    flag = disabled == "true"
    if username == session.user.username and flag:
        raise HTTPException(400, "you cannot disable your own login")
    try:
        await run_in_threadpool(set_disabled, console.engine, username, flag)
    except UserError as e:
        raise HTTPException(404, str(e)) from None
    await run_in_threadpool(console.audit, "console.user.disable" if flag else "console.user.enable",
                            session.user.username, args={"username": username})
    return RedirectResponse("/console/admin?done=user#users", status_code=303)
