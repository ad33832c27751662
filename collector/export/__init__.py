"""Export of raw samples and log events to InfluxDB (or anything speaking its v2 write API).

The schema is in docs/influxdb.md. Public API:

- :class:`ExportConfig` — the ``export`` section of collector.yaml;
- :func:`collector.export.service.export_service` — the collector service factory (kept out of this
  module so that importing the tables does not import the InfluxDB client);
- :func:`raw_keep_from` / :func:`events_keep_from` — the retention floors the ingest writer must
  respect while export runs.
"""

from collector.export.config import ExportConfig, InfluxExport
from collector.export.cursors import events_keep_from, raw_keep_from

__all__ = ["ExportConfig", "InfluxExport", "events_keep_from", "raw_keep_from"]
