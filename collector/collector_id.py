"""The collector's id in its group: configured, or generated once and kept in the data folder."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collector.config import CollectorConfig


def collector_id_for(cfg: CollectorConfig) -> str:
    """The configured id, else one generated once and kept in the data folder."""
    if cfg.collector_id:
        return cfg.collector_id
    path = cfg.data_dir / "collector-id"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        cid = f"collector-{uuid.uuid4().hex[:12]}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(cid + "\n")
        return cid
