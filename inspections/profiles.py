"""Profiles: which checks an inspection runs, over how long a window, with which staleness limit.

Shipped profiles live in ``inspections/profiles/*.yaml`` (``daily`` quick, ``monthly`` full);
``checks`` lists check ids or globs (``resources.*``), ``exclude`` removes some again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from inspections.checks.base import Check
from inspections.checks.definition import Text
from inspections.checks.library import CheckLibrary, builtin_library, unknown_check_message
from inspections.errors import ProfileError, read_yaml, validation_message

BUILTIN_DIR = Path(__file__).resolve().parent / "profiles"


class ProfileFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    name: Text
    description: Text
    # ``rolling``: the last ``window_days`` before the run. ``month``/``quarter``: a calendar period in
    # the customer's time zone — by default the running one up to now for a run started by hand, the
    # one just ended for a scheduled run — so an inspection covers exactly what its report covers.
    period: Literal["rolling", "month", "quarter"] = "rolling"
    window_days: float | None = Field(default=None, gt=0, le=400)
    stale_after_minutes: int = Field(default=30, gt=0)
    checks: list[str] = Field(min_length=1)
    exclude: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _rolling_needs_a_length(self) -> ProfileFile:
        if self.period == "rolling" and self.window_days is None:
            raise ValueError("window_days: a rolling window needs its length in days (or set period: month or quarter)")
        return self


# The longest calendar period of each kind: the length a calendar profile's data reads at most.
_LONGEST = {"month": 31.0, "quarter": 92.0}


@dataclass(frozen=True)
class Profile:
    id: str
    name: dict[str, str]
    description: dict[str, str]
    window: timedelta
    stale_after: timedelta
    checks: tuple[Check, ...]
    period: str = "rolling"  # rolling | month | quarter

    def window_ending(self, until: datetime) -> tuple[datetime, datetime]:
        """The default window of this profile ending at ``until``."""
        return until - self.window, until

    def check_ids(self) -> list[str]:
        return [c.id for c in self.checks]


def parse_profile(data: Any, source: str, library: CheckLibrary | None = None) -> Profile:
    library = library or builtin_library()
    if not isinstance(data, dict):
        raise ProfileError(f"{source}: expected a mapping with id, name, window_days and checks")
    try:
        parsed = ProfileFile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(validation_message(exc, source)) from exc
    problems = []
    for field, patterns in (("checks", parsed.checks), ("exclude", parsed.exclude)):
        for index, pattern in enumerate(patterns):
            if not library.select([pattern]):
                problems.append(f"{source}: {field}[{index}]: {unknown_check_message(pattern, library.ids())}")
    if problems:
        raise ProfileError("\n".join(problems))
    excluded = {c.id for c in library.select(parsed.exclude)}
    checks = tuple(c for c in library.select(parsed.checks) if c.id not in excluded)
    if not checks:
        raise ProfileError(f"{source}: 'exclude' removes every check the profile selects")
    return Profile(
        id=parsed.id,
        name=parsed.name.as_dict(),
        description=parsed.description.as_dict(),
        window=timedelta(days=parsed.window_days or _LONGEST[parsed.period]),
        stale_after=timedelta(minutes=parsed.stale_after_minutes),
        checks=checks,
        period=parsed.period,
    )


def load_profile(name_or_path: str | Path, library: CheckLibrary | None = None) -> Profile:
    """A shipped profile by name (``daily``, ``monthly``) or a profile YAML file by path."""
    path = Path(name_or_path)
    if not path.suffix:
        candidate = BUILTIN_DIR / f"{name_or_path}.yaml"
        if not candidate.exists():
            known = ", ".join(sorted(builtin_profile_names()))
            raise ProfileError(f"unknown profile {str(name_or_path)!r}; shipped profiles: {known}, or give a YAML path")
        path = candidate
    return parse_profile(read_yaml(path, ProfileError), str(path), library)


def builtin_profile_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))
