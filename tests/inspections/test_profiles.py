"""The shipped profiles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from inspections import builtin_library, builtin_profile_names, load_profile


def test_shipped_profiles() -> None:
    assert builtin_profile_names() == ["daily", "monthly"]


def test_monthly_is_the_full_catalogue_over_a_calendar_month() -> None:
    monthly = load_profile("monthly")
    assert monthly.check_ids() == builtin_library().ids()
    assert monthly.period == "month" and monthly.window == timedelta(days=31)
    assert monthly.name == {"zh": "月度全面巡检", "en": "Monthly full inspection"}


def test_daily_is_a_quick_subset_over_a_day() -> None:
    daily = load_profile("daily")
    ids = set(daily.check_ids())
    assert ids < set(load_profile("monthly").check_ids())
    assert daily.window == timedelta(days=1)
    for must in (
        "device.heartbeat",
        "resources.disk_space",
        "app.processes",
        "app.http_endpoints",
        "logs.oom_kills",
        "security.backup_freshness",
        "security.tls_expiry",
        "security.failed_logins",
    ):
        assert must in ids
    assert "app.http_latency" not in ids  # excluded again after the app.* glob
    assert "resources.cpu_busy" not in ids  # tuning items stay monthly


def test_window_ending() -> None:
    until = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
    assert load_profile("daily").window_ending(until) == (until - timedelta(days=1), until)


def test_profile_from_a_path(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "weekly.yaml"
    path.write_text(
        "id: weekly\nname: {zh: 每周巡检, en: Weekly}\ndescription: {zh: 每周, en: Weekly}\n"
        "window_days: 7\nchecks: ['resources.*']\nexclude: [resources.swap_used]\n",
        encoding="utf-8",
    )
    weekly = load_profile(path)
    assert weekly.id == "weekly" and weekly.window == timedelta(days=7)
    assert all(i.startswith("resources.") for i in weekly.check_ids())
    assert "resources.swap_used" not in weekly.check_ids()
