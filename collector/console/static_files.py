"""The console's static files (``collector/console/static``) under ``/static/console/``.

Served by a route rather than a mount so they travel in the feature's router; only files inside the
static folder are served, with a long cache (URLs carry a version, see ``templating.static_url``).
"""

from __future__ import annotations

from fastapi import HTTPException
from fastapi.responses import FileResponse

from collector.console.routing import console_router
from collector.console.templating import STATIC, STATIC_PREFIX

router = console_router()
_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png",
          ".ico": "image/x-icon", ".woff2": "font/woff2"}


@router.get(STATIC_PREFIX + "/{path:path}")
def static_file(path: str) -> FileResponse:
    target = (STATIC / path).resolve()
    if not target.is_relative_to(STATIC) or not target.is_file() or target.suffix not in _TYPES:
        raise HTTPException(404, "error.not_found")
    return FileResponse(target, media_type=_TYPES[target.suffix],
                        headers={"Cache-Control": "public, max-age=86400"})


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    """Browsers ask for it whatever the page says: the console's icon."""
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml",
                        headers={"Cache-Control": "public, max-age=86400"})
