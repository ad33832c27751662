"""One validation layer at the door of ingest: bounds, checks, series caps and drop counts.

Every upstream message is checked by :class:`Door` before it reaches the ingest writer, so the
same bounds hold on SQLite and PostgreSQL; ``docs/ingest-bounds.md`` lists them.
"""

from collector.ingest_validation.bounds import IngestBounds
from collector.ingest_validation.door import Door
from collector.ingest_validation.rejections import InvalidMessage, Rejections
from collector.ingest_validation.series_budget import SeriesBudget, stored_series

__all__ = ["Door", "IngestBounds", "InvalidMessage", "Rejections", "SeriesBudget", "stored_series"]
