"""The Grafana host dashboard queries exactly the measurements, fields and tags the export writes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from collector.export.lineprotocol import IDENTITY_TAGS, split_series_name
from inspections.catalogue import catalogue as metric_catalogue

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "deploy" / "grafana" / "host-dashboard.json"


def catalogue() -> dict[str, set[str]]:
    """series name -> its labels, from the metric catalogue."""
    return {m.name: set(m.labels) for m in metric_catalogue().metrics.values()}


def queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p["title"], t["query"]) for p in dashboard["panels"] for t in p["targets"]]


def test_dashboard_is_importable_json_with_customer_and_host_variables() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    names = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"customer", "host", "bucket"} <= names
    assert dashboard["__inputs"][0]["pluginId"] == "influxdb"
    titles = {p["title"] for p in dashboard["panels"]}
    for wanted in ("CPU", "Load per core", "Memory and swap used", "Disk used % per mount", "Disk I/O", "Network",
                   "TCP connections by state"):
        assert wanted in titles
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_every_query_uses_catalogue_series_and_their_tags() -> None:
    known = catalogue()
    assert "disk.used_percent" in known and "mount" in known["disk.used_percent"]
    dashboard = json.loads(DASHBOARD.read_text())
    for title, query in queries(dashboard):
        assert 'r.customer == "${customer}"' in query and 'r.host == "${host}"' in query, title
        (measurement,) = re.findall(r'r\._measurement == "([^"]+)"', query)
        fields = re.findall(r'r\._field == "([^"]+)"', query)
        assert fields, title
        for field in fields:
            series = f"{measurement}.{field}"
            assert series in known, f"{title}: {series} is not in docs/metrics.md"
            assert split_series_name(series) == (measurement, field)
            group = re.search(r"group\(columns: (\[[^\]]*\])\)", query)
            for column in json.loads(group.group(1)) if group else []:
                assert column == "_field" or column in known[series] or column in IDENTITY_TAGS, (
                    f"{title}: {series} has no tag {column}")
