"""``GET /api/v1/cluster``: the collectors of the group, which are alive, and which one leads."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request

from collector.api_deps import Viewer

router = APIRouter()


@router.get("/api/v1/cluster")
async def cluster(request: Request, _: Viewer) -> dict[str, Any]:
    app = request.app.state.collector
    members = await asyncio.to_thread(app.cluster.members)
    return {"collector_id": app.collector_id, "leader": next((m.id for m in members if m.leader), None),
            "lease_ttl_s": app.cluster.ttl_ms / 1000, "members": [m.to_dict() for m in members]}
