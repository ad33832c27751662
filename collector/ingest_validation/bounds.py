"""The bounds every upstream field is checked against before it reaches the store.

Lengths follow the store's columns (``collector/store/schema.py``), so a value that passes can be
written on SQLite and on PostgreSQL alike; values follow the rollup arithmetic
(:data:`collector.store.rollup.MAX_ABS_VALUE`). The table in ``docs/ingest-bounds.md`` lists them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from agent.configfile import parse_duration
from collector.store.rollup import MAX_ABS_VALUE

MAX_SEQ = 2**63 - 1  # agent_streams.last_seq is a signed 64-bit integer
MAX_ID = 128  # hosts.id, customers.id
MAX_EPOCH = 64  # agent_streams.epoch
MAX_HOSTNAME = 255
MAX_VERSION = 64  # hosts.agent_version
MAX_SERIES_NAME = 200  # series.name
MAX_LABELS = 32
MAX_LABEL_KEY = 128
MAX_LABEL_VALUE = 1024
MAX_RULE = 200  # events.rule
MAX_SOURCE = 4096
MAX_LINE = 65536
MAX_EVENT_FIELDS = 64
MAX_FIELD_VALUE = 4096
MAX_SUPPRESSED = 2**31 - 1  # events.suppressed_before is a 32-bit integer on PostgreSQL
MAX_REQUEST_ID = 64  # diag_relay.request_id
MAX_FACT_TEXT = 1024
TIMESTAMP_MS_MIN = 0

__all__ = ["MAX_ABS_VALUE", "IngestBounds"]

Seconds = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]


class IngestBounds(BaseModel):
    """The ``ingest:`` section of ``collector.yaml``: time window and series caps."""

    model_config = ConfigDict(extra="forbid")

    max_clock_skew: Seconds = Field(
        600.0, description="points and events stamped further than this in the future are dropped")
    max_age: Seconds = Field(
        8 * 86400.0, description="points and events older than this are dropped: the agent's spool max_age "
                                 "(7d by default) plus a margin for an outage at the edge of it")
    max_series_per_collector: int = Field(
        2_000_000, ge=1, description="series of all connected hosts together; new ones past it are dropped")
