"""The route class of every console and portal router: security headers, login redirects, error pages.

Build routers with :func:`console_router` (or ``APIRouter(route_class=ConsoleRoute)``). Every
response of such a route carries :data:`~collector.console.security.SECURITY_HEADERS`; a missing
login on a page GET becomes a redirect to ``/login?next=…``; ``HTTPException`` and
:class:`~collector.console.security.CsrfError` become an error page in the user's language (JSON
``{"detail": …}`` under ``/console/api/`` and ``/portal/api/``). A ``detail`` that is a message key
(``error.forbidden``) is translated.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.routing import APIRoute

from collector.console.auth import LoginRequired, session_of
from collector.console.i18n import preferred_language, translate
from collector.console.messages import EN
from collector.console.security import SAFE_METHODS, SECURITY_HEADERS, CsrfError
from collector.console.templating import render


def wants_json(request: Request) -> bool:
    path = request.url.path
    return "/api/" in path or "application/json" in request.headers.get("accept", "")


def error_response(request: Request, status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    try:
        session = session_of(request)
    except HTTPException:
        session = None
    lang = session.user.language if session else preferred_language(request.headers.get("accept-language"))
    if wants_json(request):
        text = translate(lang or "en", detail) if detail in EN else detail
        return JSONResponse({"detail": text}, status_code=status, headers=headers)
    return render(request, session, "error.html", status_code=status, headers=headers, error_status=status,
                  detail=detail, detail_is_key=detail in EN)


class ConsoleRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
            except LoginRequired:
                if request.method in SAFE_METHODS and not wants_json(request):
                    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                    response = RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
                else:
                    response = error_response(request, 401, "not logged in (or the session expired)")
            except CsrfError as e:
                response = error_response(request, 403, str(e))
            except HTTPException as e:
                response = error_response(request, e.status_code, str(e.detail), dict(e.headers or {}))
            for name, value in SECURITY_HEADERS.items():
                if name not in response.headers:
                    response.headers[name] = value
            return response

        return handler


def console_router(**kwargs: Any) -> APIRouter:
    """An APIRouter whose routes are :class:`ConsoleRoute` and stay out of the API docs."""
    return APIRouter(route_class=ConsoleRoute, include_in_schema=False, **kwargs)
