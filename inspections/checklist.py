"""Manual checklist rows: inspection items only a person can confirm (service-requirements §2).

The template lives in ``checklist.yaml``. Each run stores :func:`blank_rows`; an engineer later
sets ``result`` (ok / issue / not_applicable) and a remark, and the report shows the rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from inspections.checks.definition import Text
from inspections.errors import InspectionConfigError, read_yaml, validation_message
from inspections.model import Category

BUILTIN_PATH = Path(__file__).resolve().parent / "checklist.yaml"

ChecklistResult = Literal["ok", "issue", "not_applicable"]


class ChecklistError(InspectionConfigError):
    """The manual checklist template is invalid."""


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
    category: Category
    title: Text
    guidance: Text


class _ChecklistFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[_Item] = Field(min_length=1)

    @field_validator("items")
    @classmethod
    def _unique(cls, items: list[_Item]) -> list[_Item]:
        seen: set[str] = set()
        for item in items:
            if item.id in seen:
                raise ValueError(f"item id {item.id!r} appears twice")
            seen.add(item.id)
        return items


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    id: str
    category: Category
    title: dict[str, str]
    guidance: dict[str, str]


@dataclass(slots=True)
class ChecklistRow:
    """One row of a run's manual checklist; blank until an engineer fills it in."""

    item_id: str
    category: Category
    title: dict[str, str]
    guidance: dict[str, str]
    result: ChecklistResult | None = None
    remark: str = ""
    checked_by: str | None = None
    checked_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "category": self.category,
            "title": dict(self.title),
            "guidance": dict(self.guidance),
            "result": self.result,
            "remark": self.remark,
            "checked_by": self.checked_by,
            "checked_at": self.checked_at.isoformat() if self.checked_at else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChecklistRow:
        checked_at = data.get("checked_at")
        return cls(
            item_id=data["item_id"],
            category=data["category"],
            title=dict(data["title"]),
            guidance=dict(data["guidance"]),
            result=data.get("result"),
            remark=data.get("remark", ""),
            checked_by=data.get("checked_by"),
            checked_at=datetime.fromisoformat(checked_at) if checked_at else None,
        )


def load_checklist(path: Path | None = None) -> list[ChecklistItem]:
    """The manual checklist template (default: the shipped one)."""
    path = path or BUILTIN_PATH
    raw = read_yaml(path, ChecklistError)
    try:
        parsed = _ChecklistFile.model_validate(raw)
    except ValidationError as exc:
        raise ChecklistError(validation_message(exc, str(path))) from exc
    return [ChecklistItem(i.id, i.category, i.title.as_dict(), i.guidance.as_dict()) for i in parsed.items]


def blank_rows(items: list[ChecklistItem] | None = None) -> list[ChecklistRow]:
    return [ChecklistRow(i.id, i.category, dict(i.title), dict(i.guidance)) for i in items or load_checklist()]
