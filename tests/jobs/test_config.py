"""The ``jobs:`` section: validated with the rest of collector.yaml, errors name the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agent.configfile import ConfigError
from collector.config import load_collector_config
from collector.scheduler.config import JobsConfig


def load(tmp_path: Path, jobs: object) -> JobsConfig:
    path = tmp_path / "collector.yaml"
    path.write_text(yaml.safe_dump({"insecure": True, "data_dir": str(tmp_path), "jobs": jobs}))
    section: JobsConfig = load_collector_config(path).section("jobs")
    return section


def test_intervals_crons_and_defaults(tmp_path: Path) -> None:
    cfg = load(tmp_path, {"misfire_grace": "2m", "keep_runs": 50, "predictions": {"every": "15m"},
                          "reports": {"cron": "*/10 * * * *", "timezone": "Asia/Shanghai"}})
    assert cfg.misfire_grace == 120 and cfg.keep_runs == 50
    assert cfg.interval_of("predictions", 3600) == 900
    assert cfg.interval_of("reports", 60) == 600  # the gap between two cron times
    assert cfg.interval_of("retention", 600) == 600
    assert load(tmp_path, {}).schedules() == {}


@pytest.mark.parametrize(("jobs", "message"), [
    ({"reports": {"cron": "61 * * * *"}}, r"jobs\.reports\.cron.*not a crontab expression"),
    ({"reports": {"cron": "daily"}}, r"jobs\.reports\.cron.*expected 5 fields"),
    ({"predictions": {"every": "30m", "cron": "0 * * * *"}}, r"jobs\.predictions.*exactly one of every or cron"),
    ({"predictions": {}}, r"jobs\.predictions.*exactly one of every or cron"),
    ({"predictions": {"every": "soon"}}, r"jobs\.predictions\.every"),
    ({"predictions": {"every": "1h", "when": 3}}, r"jobs\.predictions\.when"),
    ({"keep_runs": 0}, r"jobs\.keep_runs"),
])
def test_bad_jobs_sections_name_the_field(tmp_path: Path, jobs: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, jobs)


def test_an_unknown_section_is_named_with_the_known_ones(tmp_path: Path) -> None:
    path = tmp_path / "collector.yaml"
    path.write_text(yaml.safe_dump({"insecure": True, "job": {"predictions": {"every": "1h"}}}))
    with pytest.raises(ConfigError, match=r"unknown section 'job'; the sections are .*jobs"):
        load_collector_config(path)


def test_check_config_names_a_misspelt_job_before_anything_starts(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from collector.main import main

    path = tmp_path / "collector.yaml"

    def write(jobs: dict[str, object]) -> None:
        path.write_text(yaml.safe_dump({"insecure": True, "data_dir": str(tmp_path), "jobs": jobs}))

    write({"predictons": {"every": "1h"}})
    assert main(["--config", str(path), "check-config"]) == 2
    err = capsys.readouterr().err
    assert f"{path}: jobs.predictons: no job with this id can be scheduled here" in err
    assert "compaction" in err and "predictions" in err and "tickets-sla" in err
    write({"predictions": {"every": "1h"}, "compaction": {"every": "2h"}})
    assert main(["--config", str(path), "check-config"]) == 0
    assert capsys.readouterr().out.strip() == f"{path}: ok"
