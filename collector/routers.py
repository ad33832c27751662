"""HTTP API routers contributed by features, mounted by :func:`collector.api.create_api`.

Each feature keeps its endpoints in ``collector/<feature>/api.py`` as a FastAPI ``APIRouter`` using
the role dependencies of :mod:`collector.api` (``Viewer``, ``Engineer``, ``Admin``) and reaching the
running collector through ``request.app.state.collector``.
"""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    from collector import events_api
    from collector.cluster import api as cluster_api
    from collector.diagnostics import api as diagnostics_api
    from collector.inspection import api as inspection_api
    from collector.pki import api as pki_api
    from collector.quarantine import api as quarantine_api
    from collector.reporting import api as reporting_api
    from collector.tickets import api as tickets_api

    return [
        events_api.router,
        inspection_api.router,
        tickets_api.router,
        diagnostics_api.router,
        pki_api.router,
        reporting_api.router,
        cluster_api.router,
        quarantine_api.router,
    ]
