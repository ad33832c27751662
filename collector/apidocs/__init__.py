"""The API's interactive documentation (Swagger UI) served from files shipped in the package.

Customer networks are often air-gapped, so ``/docs`` must not load anything from a CDN: the Swagger UI
bundle, stylesheet and icon live in ``static/`` (see its README for version and licence).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
ASSETS_URL = "/docs-assets"


def install_docs(api: FastAPI) -> None:
    """Serve Swagger UI at ``/docs`` from local assets (:func:`install_root` sends ``/`` there).

    ``api`` must be created with ``docs_url=None`` and ``redoc_url=None`` so FastAPI's CDN pages are off.
    """
    api.mount(ASSETS_URL, StaticFiles(directory=STATIC_DIR), name="docs-assets")

    @api.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=api.openapi_url or "/openapi.json", title=f"{api.title} — API documentation",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js", swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon-32x32.png",
            # The default validator is a public web service: an air-gapped browser would wait on it.
            swagger_ui_parameters={"validatorUrl": None})



def install_root(api: FastAPI) -> None:
    """Send ``/`` to the docs unless a router mounted before this call serves it (the web console)."""
    if any(getattr(route, "path", None) == "/" for route in api.routes):
        return

    @api.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")
