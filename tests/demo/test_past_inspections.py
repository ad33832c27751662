"""Which months the demo inspects after loading its history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from collector.cli.demo_inspections import CHECKLIST, past_months
from inspections import load_checklist


def test_whole_months_inside_the_history_in_the_customers_zone() -> None:
    now = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    assert past_months(now, timedelta(days=90), "Asia/Shanghai") == ["2026-10", "2026-11"]
    # Back to 31 August 20:00 UTC: September began at 22:00 UTC in Berlin, but at 16:00 UTC in Shanghai.
    back = timedelta(days=97, hours=14)
    assert past_months(now, back, "Europe/Berlin") == ["2026-09", "2026-10", "2026-11"]
    assert past_months(now, back, "Asia/Shanghai") == ["2026-10", "2026-11"]
    assert past_months(now, timedelta(days=2), "UTC") == []


def test_the_filled_in_checklist_covers_every_manual_item() -> None:
    assert [row[0] for row in CHECKLIST] == [item.id for item in load_checklist()]
    assert all(result in ("ok", "issue", "not_applicable") and zh and en for _, result, zh, en in CHECKLIST)
