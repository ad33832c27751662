"""Export of raw samples and log events to InfluxDB (or anything speaking its v2 write API).

The schema is in docs/influxdb.md. Public API:

- :class:`ExportConfig` — the ``export`` section of collector.yaml;
- :func:`collector.export.service.export_service` — the collector service factory (kept out of this
  module so that importing the configuration does not import the InfluxDB client).

The export's cursors, and the retention floors they impose, live in :mod:`collector.store.cursors`.
"""

from collector.export.config import ExportConfig, InfluxExport

__all__ = ["ExportConfig", "InfluxExport"]
