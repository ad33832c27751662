"""The export section of collector.yaml: validation that names the field, and a token that never leaks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agent.configfile import ConfigError
from collector.config import load_collector_config
from collector.export.config import ExportConfig, InfluxExport


def write_config(tmp_path: Path, export: dict[str, object]) -> Path:
    path = tmp_path / "collector.yaml"
    path.write_text(yaml.safe_dump({"insecure": True, "data_dir": "data", "export": export}))
    return path


def test_section_is_validated_when_the_config_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATROL_TEST_INFLUX_TOKEN", "abc")
    cfg = load_collector_config(write_config(tmp_path, {"influx": {
        "url": "http://influxdb:8086/", "org": "provider", "bucket": "patrol", "token_env": "PATROL_TEST_INFLUX_TOKEN",
        "batch_size": 2000, "flush_interval": "500ms", "max_queue": 50000, "timeout": "5s"}}))
    influx = cfg.section("export").influx
    assert influx.url == "http://influxdb:8086"
    assert influx.flush_interval == 0.5
    assert influx.secret() == "abc"


def test_no_section_means_no_export(tmp_path: Path) -> None:
    cfg = load_collector_config(write_config(tmp_path, {}))
    assert cfg.section("export").influx is None


@pytest.mark.parametrize(("influx", "field", "problem"), [
    ({"url": "influxdb:8086", "org": "o", "bucket": "b"}, "export.influx.url", "http://"),
    ({"url": "http://i:8086", "org": "o"}, "export.influx.bucket", "Field required"),
    ({"url": "http://i:8086", "bucket": "b"}, "export.influx.org", "Field required"),
    ({"url": "http://i:8086", "org": " ", "bucket": "b"}, "export.influx.org", "must not be empty"),
    ({"url": "http://i:8086", "org": "o", "bucket": "b", "token": "x", "token_env": "Y"}, "export.influx",
     "at most one"),
    ({"url": "http://i:8086", "org": "o", "bucket": "b", "token_env": "PATROL_TEST_UNSET_VARIABLE"},
     "export.influx", "PATROL_TEST_UNSET_VARIABLE"),
    ({"url": "http://i:8086", "org": "o", "bucket": "b", "batch_size": 0}, "export.influx.batch_size",
     "greater than"),
    ({"url": "http://i:8086", "org": "o", "bucket": "b", "flush_interval": "soon"}, "export.influx.flush_interval",
     "duration"),
    ({"url": "http://i:8086", "org": "o", "bucket": "b", "bukket": "c"}, "export.influx.bukket", "unknown field"),
])
def test_bad_values_name_the_field(tmp_path: Path, influx: dict[str, object], field: str, problem: str) -> None:
    path = write_config(tmp_path, {"influx": influx})
    with pytest.raises(ConfigError) as exc:
        load_collector_config(path)
    text = str(exc.value)
    assert str(path) in text
    assert f"field {field}" in text
    assert problem in text


def test_token_is_not_shown() -> None:
    cfg = ExportConfig.model_validate({"influx": {"url": "http://i:8086", "org": "o", "bucket": "b",
                                                  "token": "s3cr3t"}})
    assert isinstance(cfg.influx, InfluxExport)
    assert cfg.influx.secret() == "s3cr3t"
    assert "s3cr3t" not in repr(cfg) and "s3cr3t" not in str(cfg.model_dump())


def test_factory_without_export_releases_the_cursors(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from collector.export.service import ExportService, export_service
    from collector.store import cursors
    from collector.store.engine import open_engine

    engine = open_engine(f"sqlite:///{tmp_path / 'patrol.sqlite'}")
    with engine.begin() as conn:
        cursors.save(conn, "c1", cursors.SAMPLES, 5, 0)
    on = SimpleNamespace(cfg=load_collector_config(write_config(tmp_path, {"influx": {
        "url": "http://127.0.0.1:9", "org": "o", "bucket": "b"}})), engine=engine, collector_id="c1", clock=lambda: 0.0)
    service = export_service(on)  # type: ignore[arg-type]
    assert isinstance(service, ExportService)
    service.exporter.writer.close()
    off = SimpleNamespace(cfg=load_collector_config(write_config(tmp_path, {})), engine=engine, collector_id="c1",
                          clock=lambda: 0.0)
    assert export_service(off) is None  # type: ignore[arg-type]
    with engine.connect() as conn:
        assert cursors.raw_keep_from(conn, "c1") is None
