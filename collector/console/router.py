"""The console's router: every page router of the console and the portal, assembled in one.

The feature (``collector.console.feature``) names :data:`router`. A package adding pages builds its
router with :func:`collector.console.routing.console_router` and adds its module path to
:data:`PAGE_ROUTERS`.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from collector.console.auth import OptionalSession
from collector.console.routing import console_router
from collector.features import resolve

# "module:attribute" of each router, in mounting order.
PAGE_ROUTERS: tuple[str, ...] = (
    "collector.console.static_files:router",
    "collector.console.login:router",
    "collector.console.users_api:router",
    "collector.console.fleet_page:router",
    "collector.console.host_page:router",
    "collector.console.tickets_page:router",
    "collector.console.problems_page:router",
    "collector.console.diagnostics_page:router",
    "collector.console.inspections_page:router",
    "collector.console.admin_page:router",
    "collector.console.portal:router",
    "collector.console.reports_page:router",
)


# Mounted after every page router: unknown paths of the console's URL space get its error page.
fallback = console_router()


@fallback.api_route("/console/{rest:path}", methods=["GET", "POST"])
@fallback.api_route("/portal/{rest:path}", methods=["GET", "POST"])
@fallback.api_route("/portal", methods=["GET", "POST"])
def not_found(rest: str = "", session: OptionalSession = None) -> None:
    raise HTTPException(404, "error.not_found")


def assemble() -> APIRouter:
    out = APIRouter()
    for ref in PAGE_ROUTERS:
        out.include_router(resolve(ref))
    out.include_router(fallback)
    return out


router = assemble()
