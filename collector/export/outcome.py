"""What one write request's outcome means for the exporter (kept apart from the InfluxDB client, so the
collector imports that client only when export is configured)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

Precision = Literal["ms", "ns"]


class Verdict(enum.Enum):
    OK = "ok"
    RETRY = "retry"  # transient (network, 5xx, 429) or a configuration problem (401, 403, 404): keep the data
    SPLIT = "split"  # the request was refused as a whole (400 malformed, 413 too large): retry smaller halves
    DROP = "drop"  # the target took what it could and refused the rest for good (422, e.g. beyond retention)


@dataclass(frozen=True, slots=True)
class WriteResult:
    verdict: Verdict
    status: str  # HTTP status code, or "network"
    message: str = ""
    retry_after: float | None = None  # seconds, from the server's Retry-After header


def classify(status: int) -> Verdict:
    if 200 <= status < 300:
        return Verdict.OK
    if status in (400, 413):
        return Verdict.SPLIT
    if status == 422:
        return Verdict.DROP
    return Verdict.RETRY
