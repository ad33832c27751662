"""Login, logout, the start page and the language switch."""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Form, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from collector.console.auth import AnyLogin, Console, OptionalSession, session_of
from collector.console.i18n import preferred_language
from collector.console.routing import console_router, error_response
from collector.console.security import LOGIN_CSRF_COOKIE, same_origin
from collector.console.service import console_of
from collector.console.sessions import COOKIE, Session, close_session, open_session
from collector.console.templating import render
from collector.console.users import UserError, authenticate, set_language

router = console_router()


def home_of(session: Session) -> str:
    return "/portal" if session.user.role == "customer" else "/console"


def _safe_next(target: str | None, session: Session) -> str:
    """Where to go after the login: a local path of the login's own side, else its start page."""
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return home_of(session)
    side = "/portal" if session.user.role == "customer" else "/console"
    return target if target == side or target.startswith(side + "/") else home_of(session)


def secure_cookie(request: Request, console: Console) -> bool:
    mode = console.settings.secure_cookie
    return mode == "always" or (mode == "auto" and request.url.scheme == "https")


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/")
def root(request: Request) -> RedirectResponse:
    """The start page of the login (console or portal), the login page without one; the API docs
    when the console is disabled."""
    if console_of(request.app.state.collector) is None:
        return RedirectResponse("/docs")
    session = session_of(request)
    return RedirectResponse(home_of(session) if session else "/login", status_code=303)


def _login_page(request: Request, console: Console, *, status: int = 200, error: str = "", username: str = "",
                next_url: str = "", headers: dict[str, str] | None = None,
                error_values: dict[str, object] | None = None) -> Response:
    token = secrets.token_urlsafe(24)
    lang = preferred_language(request.headers.get("accept-language"))
    response = render(request, None, "login.html", status_code=status, lang=lang, login_csrf=token, error=error,
                      error_values=error_values or {},
                      username=username, next_url=next_url, headers=headers)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/login",
                        secure=secure_cookie(request, console))
    return response


@router.get("/login")
def login_form(request: Request, console: Console, session: OptionalSession, next: str = "") -> Response:
    if session is not None:
        return RedirectResponse(_safe_next(next, session), status_code=303)
    return _login_page(request, console, next_url=next)


@router.post("/login")
async def login(request: Request, console: Console, username: Annotated[str, Form(max_length=64)] = "",
                password: Annotated[str, Form(max_length=1024)] = "",
                csrf_token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "") -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not same_origin(request) or not cookie or not secrets.compare_digest(cookie, csrf_token):
        return error_response(request, 403, "login.expired")
    client = client_of(request)
    wait = console.limiter.retry_after(username, client)
    if wait:
        await run_in_threadpool(console.audit, "console.login", username or "-", outcome="locked",
                                args={"client": client})
        return _login_page(request, console, status=429, username=username, next_url=next,
                           error="login.locked", error_values={"seconds": wait}, headers={"Retry-After": str(wait)})
    user = await run_in_threadpool(authenticate, console.engine, username, password)
    if user is None:
        console.limiter.failed(username, client)
        await run_in_threadpool(console.audit, "console.login", username or "-", outcome="denied",
                                args={"client": client})
        return _login_page(request, console, username=username, next_url=next, error="login.failed")
    console.limiter.succeeded(username, client)
    sid, session = await run_in_threadpool(open_session, console.engine, user, client, console.now_ms())
    await run_in_threadpool(console.audit, "console.login", user.username, args={"client": client})
    response = RedirectResponse(_safe_next(next, session), status_code=303)
    response.set_cookie(COOKIE, sid, httponly=True, samesite="strict", path="/",
                        secure=secure_cookie(request, console))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, console: Console, session: AnyLogin) -> Response:
    await run_in_threadpool(close_session, console.engine, request.cookies.get(COOKIE, ""))
    await run_in_threadpool(console.audit, "console.logout", session.user.username)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.post("/session/language")
async def language(request: Request, console: Console, session: AnyLogin,
                   lang: Annotated[str, Form()] = "") -> Response:
    try:
        await run_in_threadpool(set_language, console.engine, session.user.id, lang)
    except UserError as e:
        return error_response(request, 400, str(e))
    await run_in_threadpool(console.audit, "console.user.language", session.user.username,
                            args={"language": lang})
    back = request.headers.get("referer", "")
    path = urlsplit(back).path if back and same_origin(request) else ""
    return RedirectResponse(path or home_of(session), status_code=303)
