"""The inspections: section of collector.yaml: defaults, per-customer schedules and overrides, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.configfile import ConfigError
from collector.app import CollectorApp
from collector.config import load_collector_config
from collector.inspection.config import section
from collector.inspection.service import create_service

BASE = """\
data_dir: data
insecure: true
customers:
  - {id: acme, name: ACME, timezone: Asia/Shanghai, language: zh}
  - {id: globex, name: Globex, timezone: Europe/Berlin}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "collector.yaml"
    path.write_text(BASE + text)
    return path


def test_defaults_monthly_on_the_first_at_two_and_daily_at_six(tmp_path: Path) -> None:
    cfg = section(load_collector_config(write(tmp_path, "")))
    assert cfg.enabled
    for customer in ("acme", "globex"):
        assert [(s.profile, s.cron) for s in cfg.schedules_for(customer)] == [("monthly", "0 2 1 * *"),
                                                                              ("daily", "0 6 * * *")]
        assert cfg.default_profile(customer) == "monthly"
        assert cfg.overrides_for(customer) is None


def test_per_customer_schedules_profiles_and_overrides_files(tmp_path: Path) -> None:
    (tmp_path / "inspections").mkdir()
    (tmp_path / "inspections" / "globex.yaml").write_text("checks:\n  - {check: logs.segfaults, enabled: false}\n")
    (tmp_path / "acme-special.yaml").write_text("customer: acme\nexpect:\n  ports: [443]\n")
    (tmp_path / "quick.yaml").write_text(
        "id: quick\nname: {zh: 快速, en: Quick}\ndescription: {zh: 快, en: quick}\nwindow_days: 1\n"
        "checks: [device.heartbeat]\n")
    cfg = section(load_collector_config(write(tmp_path, """\
inspections:
  overrides_dir: inspections
  customers:
    acme:
      schedules:
        - {profile: quick.yaml, cron: "*/30  *  * * *"}
        - {profile: monthly, cron: "0 3 1 * *", enabled: false}
      overrides: acme-special.yaml
      profile: daily
""")))
    [quick] = cfg.schedules_for("acme")
    assert quick.profile == str(tmp_path / "quick.yaml") and quick.cron == "*/30 * * * *"
    assert cfg.default_profile("acme") == "daily"
    assert len(cfg.schedules_for("globex")) == 2
    acme = cfg.overrides_for("acme")
    assert acme is not None and acme.customer == "acme"
    globex = cfg.overrides_for("globex")
    assert globex is not None and globex.source == str(tmp_path / "inspections" / "globex.yaml")


@pytest.mark.parametrize(("text", "problem"), [
    ("inspections:\n  schedules: [{profile: monthly, cron: '0 25 * * *'}]\n", "invalid cron expression '0 25 * * *'"),
    ("inspections:\n  schedules: [{profile: monthly, cron: '0 2 *'}]\n", "Wrong number of fields"),
    ("inspections:\n  schedules: [{profile: weekly, cron: '0 2 * * *'}]\n", "unknown profile 'weekly'"),
    ("inspections:\n  schedulez: []\n", "field inspections.schedulez"),
    ("inspections:\n  customers: {acme: {overrides: missing.yaml}}\n", "missing.yaml: cannot read the file"),
    ("inspections:\n  misfire_grace: soon\n", "duration"),
])
def test_errors_name_the_field_and_the_problem(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_collector_config(write(tmp_path, text))
    assert problem in str(exc.value) and "collector.yaml" in str(exc.value)


def test_overrides_files_are_validated_when_the_config_loads(tmp_path: Path) -> None:
    (tmp_path / "acme.yaml").write_text("customer: globex\nchecks:\n  - {check: resources.disk_spce, warn: 90}\n")
    with pytest.raises(ConfigError) as exc:
        load_collector_config(write(tmp_path, "inspections:\n  overrides_dir: .\n"))
    assert "did you mean resources.disk_space" in str(exc.value)
    (tmp_path / "acme.yaml").write_text("customer: globex\n")
    with pytest.raises(ConfigError, match="the file is for 'globex' but is used for customer 'acme'"):
        load_collector_config(write(tmp_path, "inspections:\n  overrides_dir: .\n"))


def test_the_service_refuses_unknown_customers_and_stays_off_when_disabled(tmp_path: Path) -> None:
    app = CollectorApp(load_collector_config(write(tmp_path, "inspections:\n  customers: {initech: {}}\n")))
    with pytest.raises(ConfigError, match=r"unknown customer.*initech"):
        create_service(app)
    app.engine.dispose()
    off = CollectorApp(load_collector_config(write(tmp_path, "inspections:\n  enabled: false\n")))
    assert create_service(off) is None
    off.engine.dispose()
