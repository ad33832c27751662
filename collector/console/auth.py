"""Who is asking: the session dependencies of console and portal routes.

``Viewer``, ``Engineer`` and ``Admin`` admit staff logins of at least that role (admin > engineer >
viewer); ``Customer`` admits a customer login (its ``user.customer_id`` is the only customer it may
see). Each resolves to the :class:`~collector.console.sessions.Session`, and on a write (any method
but GET/HEAD/OPTIONS) also checks the CSRF token and the origin. ``OptionalSession`` is the session
or None, for pages that show either way.

Without a session a page GET redirects to ``/login?next=…`` and anything else is 401; a session of
the wrong kind or role is 403.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from collector.console.security import check_csrf
from collector.console.service import ConsoleService, console_of
from collector.console.sessions import COOKIE, Session, load_session

STAFF_ROLES = {"viewer": 0, "engineer": 1, "admin": 2}
_UNSET = object()


class LoginRequired(Exception):
    """No live session: the console's route class answers with a redirect to the login page."""


def service(request: Request) -> ConsoleService:
    svc = console_of(request.app.state.collector)
    if svc is None:
        raise HTTPException(404, "the web console is disabled (console.enabled in collector.yaml)")
    return svc


def session_of(request: Request) -> Session | None:
    """The request's live session (cached on the request), None without one."""
    cached = getattr(request.state, "console_session", _UNSET)
    if cached is _UNSET:
        svc = service(request)
        sid = request.cookies.get(COOKIE, "")
        cached = load_session(svc.engine, sid, svc.policy, svc.now_ms()) if sid else None
        request.state.console_session = cached
    return cached if isinstance(cached, Session) else None


def _checked(allow: Callable[[Session], bool]) -> Callable[[Request], Awaitable[Session]]:
    async def dependency(request: Request) -> Session:
        session = session_of(request)
        if session is None:
            raise LoginRequired()
        if not allow(session):
            raise HTTPException(403, "error.forbidden")
        await check_csrf(request, session.csrf_token)
        return session

    return dependency


def staff(role: str) -> Callable[[Request], Awaitable[Session]]:
    """A dependency admitting staff logins with at least ``role``."""
    need = STAFF_ROLES[role]
    return _checked(lambda s: s.user.role in STAFF_ROLES and STAFF_ROLES[s.user.role] >= need)


def customer() -> Callable[[Request], Awaitable[Session]]:
    """A dependency admitting customer logins."""
    return _checked(lambda s: s.user.role == "customer" and bool(s.user.customer_id))


def any_login() -> Callable[[Request], Awaitable[Session]]:
    """A dependency admitting any login (staff or customer)."""
    return _checked(lambda s: True)


Viewer = Annotated[Session, Depends(staff("viewer"))]
Engineer = Annotated[Session, Depends(staff("engineer"))]
Admin = Annotated[Session, Depends(staff("admin"))]
Customer = Annotated[Session, Depends(customer())]
AnyLogin = Annotated[Session, Depends(any_login())]
OptionalSession = Annotated[Session | None, Depends(session_of)]
Console = Annotated[ConsoleService, Depends(service)]
