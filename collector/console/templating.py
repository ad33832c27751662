"""Rendering console and portal pages: one Jinja2 environment over ``collector/console/templates``.

``render(request, session, "fleet.html", active="fleet", **context)`` gives an HTML response. Every
template extends ``base.html`` and sees:

- ``user`` (the :class:`~collector.console.users.User`, or None on the login page), ``lang``;
- ``t(key, **values)`` — the message in the user's language (:mod:`collector.console.messages`);
- ``csrf_token`` — for the hidden ``csrf_token`` field every form posting to the console needs
  (``{{ csrf_field() }}`` writes the field);
- ``static(path)`` — the URL of a file under ``collector/console/static``;
- ``fmt_time(ms, tz)``, ``fmt_iso(text, tz)``, ``fmt_duration(seconds)``, ``fmt_value(value, unit)``,
  ``fmt_number(value)``, ``metric_title(name)``,
  ``metric_unit(name)``;
- ``nav`` — the header's entries for this login (:data:`NAV`), ``active`` — the current one.

Templates hold no inline script, no inline event handler and no ``style`` attribute (the CSP
forbids them): behaviour lives in ``static/console.js``, looks in ``static/console.css``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from collector.console import i18n
from collector.console.sessions import Session

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
STATIC_PREFIX = "/static/console"


@dataclass(frozen=True)
class NavEntry:
    key: str  # the message key of its label, and the ``active`` value of its pages
    href: str
    roles: frozenset[str]


_STAFF = frozenset({"admin", "engineer", "viewer"})
# The header's entries, in order; a login sees those its role is in.
NAV: list[NavEntry] = [
    NavEntry("nav.fleet", "/console", _STAFF),
    NavEntry("nav.problems", "/console/problems", _STAFF),
    NavEntry("nav.tickets", "/console/tickets", _STAFF),
    NavEntry("nav.inspections", "/console/inspections", _STAFF),
    NavEntry("nav.diagnostics", "/console/diagnostics", frozenset({"admin", "engineer"})),
    NavEntry("nav.reports", "/console/reports", _STAFF),
    NavEntry("nav.admin", "/console/admin", frozenset({"admin"})),
    NavEntry("nav.portal_status", "/portal", frozenset({"customer"})),
    NavEntry("nav.portal_tickets", "/portal/tickets", frozenset({"customer"})),
    NavEntry("nav.portal_request", "/portal/requests/new", frozenset({"customer"})),
    NavEntry("nav.portal_reports", "/portal/reports", frozenset({"customer"})),
]


def _static_version() -> str:
    """Changes when any static file changes, so browsers fetch the new one (URLs carry ``?v=``)."""
    newest = max((p.stat().st_mtime_ns for p in STATIC.rglob("*") if p.is_file()), default=0)
    return format(newest // 1_000_000_000, "x")


env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True),
                  undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_VERSION = _static_version()


def static_url(path: str) -> str:
    return f"{STATIC_PREFIX}/{path}?v={_VERSION}"


def context_for(session: Session | None, lang: str | None = None, tz: str | None = None) -> dict[str, Any]:
    """What every template sees (see the module docstring)."""
    user = session.user if session else None
    language = lang or (user.language if user else i18n.DEFAULT_LANGUAGE)
    csrf = session.csrf_token if session else ""

    def t(key: str, **values: object) -> str:
        return i18n.translate(language, key, **values)

    def csrf_field() -> Markup:
        return Markup('<input type="hidden" name="csrf_token" value="{}">').format(csrf)

    return {
        "user": user, "lang": language, "t": t, "csrf_token": csrf, "csrf_field": csrf_field,
        "static": static_url, "tz": tz or "UTC",
        "fmt_time": lambda ms, zone=None, seconds=False: i18n.format_time(ms, zone or tz, seconds=seconds,
                                                                        lang=language),
        "fmt_iso": lambda text, zone=None, seconds=False: i18n.format_iso(text, zone or tz, seconds=seconds,
                                                                         lang=language),
        "fmt_duration": i18n.format_duration,
        "fmt_value": i18n.format_value, "fmt_number": i18n.format_number,
        "metric_title": lambda name: i18n.metric_title(name, language), "metric_unit": i18n.metric_unit,
        "nav": [n for n in NAV if user and user.role in n.roles], "active": "",
    }


def render_fragment(session: Session | None, template: str, *, tz: str | None = None, **values: Any) -> str:
    """A template rendered to text outside a page response (server-sent updates)."""
    context = context_for(session, None, tz)
    context.update(values)
    return env.get_template(template).render(context)


def render(request: Request, session: Session | None, template: str, *, status_code: int = 200,
           lang: str | None = None, tz: str | None = None, headers: dict[str, str] | None = None,
           **values: Any) -> HTMLResponse:
    context = context_for(session, lang, tz)
    context.update(request=request, path=request.url.path, **values)
    return HTMLResponse(env.get_template(template).render(context), status_code=status_code, headers=headers)
