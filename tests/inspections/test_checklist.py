"""The manual checklist template."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from inspections import CATEGORIES, ChecklistRow, blank_rows, load_checklist
from inspections.checklist import ChecklistError


def test_template_items() -> None:
    items = load_checklist()
    ids = [i.id for i in items]
    for must in (
        "manual.device_appearance",
        "manual.indicator_lights",
        "manual.cabling",
        "manual.screen",
        "manual.cleaning",
    ):
        assert must in ids
    for item in items:
        assert item.category in CATEGORIES
        assert item.title["zh"] and item.title["en"] and item.guidance["zh"] and item.guidance["en"]


def test_blank_rows_round_trip() -> None:
    rows = blank_rows()
    assert all(r.result is None and r.remark == "" for r in rows)
    row = rows[0]
    row.result, row.remark, row.checked_by = "issue", "左侧风扇异响", "zhang.wei"
    row.checked_at = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert ChecklistRow.from_dict(row.to_dict()) == row


def test_bad_template(tmp_path: Path) -> None:
    path = tmp_path / "checklist.yaml"
    path.write_text(
        "items:\n  - {id: manual.x, category: power, title: {zh: 外观, en: Looks}, guidance: {zh: 看, en: Look}}\n"
    )
    with pytest.raises(ChecklistError, match=r"checklist.yaml: items\[0\].category"):
        load_checklist(path)
