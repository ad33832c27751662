"""HTTP API routers contributed by features, mounted by :func:`collector.api.create_api`.

Each feature keeps its endpoints in ``collector/<feature>/api.py`` as a FastAPI ``APIRouter`` using
the role dependencies of :mod:`collector.api` (``Viewer``, ``Engineer``, ``Admin``), reaches the
running collector through ``request.app.state.collector``, and names the router in its ``feature``
module.
"""

from __future__ import annotations

from fastapi import APIRouter

from collector.features import features, resolve


def routers() -> list[APIRouter]:
    return [resolve(f.router) for f in features() if f.router is not None]
