"""The metric catalogue: name, unit, kind, limit and bilingual display name of every series.

One table (``metrics.yaml`` beside this module) serves the agent's documentation (generated from
it), the SSH sampler and the simulator (which must write only catalogued series), the checks, the
predictions job (which series are capacity and what limit they run into, which are watched for
anomalies) and the reports (what people read instead of a series id).

Pure data: importable from ``inspections``, ``reports`` and ``collector`` alike, never from the agent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Literal, cast

import yaml

Kind = Literal["gauge", "counter", "capacity"]
Direction = Literal["up", "down"]
KINDS: tuple[Kind, ...] = ("gauge", "counter", "capacity")
CATALOGUE_FILE = Path(__file__).resolve().parent / "metrics.yaml"


class CatalogueError(ValueError):
    """The catalogue file is malformed: the message names the series and the field."""


@dataclass(frozen=True, slots=True)
class Metric:
    """One series of the catalogue."""

    name: str
    group: str
    unit: str
    kind: Kind
    display: Mapping[str, str]  # {"en": ..., "zh": ...}
    description: Mapping[str, str]
    limit: float | None = None  # the value the series runs into (capacity kinds, natural bounds)
    direction: Direction | None = None
    limit_of: str | None = None  # the sibling series whose latest value is the limit
    subject: str | None = None  # the label that names the resource (a disk's mount)
    anomaly: bool = False  # scored against its seasonal baseline by the predictions job
    labels: tuple[str, ...] = ()  # the label keys of the series, exactly

    def title(self, lang: str = "en") -> str:
        return self.display.get(lang) or self.display["en"]

    def subject_of(self, labels: Mapping[str, str]) -> str:
        """What people call the resource: the subject label's value, else the labels as ``k=v``."""
        if self.subject and self.subject in labels:
            return labels[self.subject]
        return labels_text(labels)


def labels_text(labels: Mapping[str, str]) -> str:
    """The labels as ``k=v,k=v`` sorted by key: the subject of a series' tickets."""
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    collector: str | None  # the agent collector that writes the group, if one does
    interval_s: float | None  # its default interval
    note: str
    labels: tuple[str, ...]
    metrics: tuple[Metric, ...]

    @property
    def source(self) -> str:
        """Who writes the group, for people: "disk collector (10 s); real mounts only"."""
        head = f"{self.collector} collector ({self.interval_s:g} s)" if self.collector and self.interval_s else ""
        return "; ".join(part for part in (head, self.note) if part)


@dataclass(frozen=True)
class Catalogue:
    groups: tuple[Group, ...]

    @cached_property
    def metrics(self) -> dict[str, Metric]:
        return {m.name: m for g in self.groups for m in g.metrics}

    def get(self, name: str) -> Metric | None:
        return self.metrics.get(name)

    def __getitem__(self, name: str) -> Metric:
        found = self.get(name)
        if found is None:
            raise KeyError(f"{name!r} is not in the metric catalogue ({CATALOGUE_FILE.name})")
        return found

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.metrics

    def of_kind(self, kind: Kind) -> tuple[Metric, ...]:
        return tuple(m for m in self.metrics.values() if m.kind == kind)

    def capacity_series(self) -> tuple[str, ...]:
        """The series the predictions job forecasts."""
        return tuple(m.name for m in self.of_kind("capacity"))

    def anomaly_series(self) -> tuple[str, ...]:
        """The utilisation series the predictions job scores for anomalies."""
        return tuple(m.name for m in self.metrics.values() if m.anomaly)


def _text(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, Mapping) or not value.get("en") or not value.get("zh"):
        raise CatalogueError(f"{where}: needs both en and zh text, got {value!r}")
    return {"en": str(value["en"]), "zh": str(value["zh"])}


def _metric(group: str, labels: tuple[str, ...], name: str, raw: Any) -> Metric:
    where = f"{CATALOGUE_FILE.name}: {name}"
    if not isinstance(raw, Mapping):
        raise CatalogueError(f"{where}: expected a mapping of fields, got {raw!r}")
    if not name.startswith(f"{group}."):
        raise CatalogueError(f"{where}: a series of group {group!r} must be named {group}.<field>")
    known = {"unit", "kind", "name", "description", "limit", "direction", "limit_of", "subject", "anomaly", "labels"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise CatalogueError(f"{where}: unknown field(s) {', '.join(unknown)}; "
                             f"known fields: {', '.join(sorted(known))}")
    kind = raw.get("kind", "gauge")
    if kind not in KINDS:
        raise CatalogueError(f"{where}.kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    limit = raw.get("limit")
    direction = raw.get("direction")
    if (limit is None) != (direction is None):
        raise CatalogueError(f"{where}: limit and direction go together")
    if limit is not None and not (isinstance(limit, int | float) and math.isfinite(limit)):
        raise CatalogueError(f"{where}.limit: expected a finite number, got {limit!r}")
    if direction not in (None, "up", "down"):
        raise CatalogueError(f"{where}.direction: expected up or down, got {direction!r}")
    if kind == "capacity" and limit is None:
        raise CatalogueError(f"{where}: a capacity series needs a limit and a direction")
    return Metric(name=name, group=group, unit=str(raw.get("unit", "")), kind=cast(Kind, kind),
                  display=_text(raw.get("name"), f"{where}.name"),
                  description=_text(raw.get("description"), f"{where}.description"),
                  limit=None if limit is None else float(limit), direction=cast(Direction | None, direction),
                  limit_of=raw.get("limit_of"), subject=raw.get("subject"), anomaly=bool(raw.get("anomaly", False)),
                  labels=tuple(raw.get("labels", labels)))


def parse_catalogue(data: Any) -> Catalogue:
    """The catalogue from the parsed YAML document; a :class:`CatalogueError` names what is wrong."""
    if not isinstance(data, Mapping) or not isinstance(data.get("groups"), Mapping):
        raise CatalogueError(f"{CATALOGUE_FILE.name}: expected a top-level 'groups' mapping")
    groups = []
    for gname, graw in data["groups"].items():
        if not isinstance(graw, Mapping) or not isinstance(graw.get("series"), Mapping):
            raise CatalogueError(f"{CATALOGUE_FILE.name}: group {gname!r} needs a 'series' mapping")
        labels = tuple(graw.get("labels") or ())
        metrics = tuple(_metric(str(gname), labels, str(n), r) for n, r in graw["series"].items())
        interval = graw.get("interval")
        groups.append(Group(str(gname), graw.get("collector"), None if interval is None else float(interval),
                            str(graw.get("note", "")), labels, metrics))
    cat = Catalogue(tuple(groups))
    for m in cat.metrics.values():
        if m.limit_of is not None and m.limit_of not in cat:
            raise CatalogueError(f"{CATALOGUE_FILE.name}: {m.name}.limit_of names {m.limit_of!r}, "
                                 "which is not a catalogued series")
    return cat


@cache
def catalogue() -> Catalogue:
    """The catalogue of ``metrics.yaml``, read once."""
    with open(CATALOGUE_FILE, encoding="utf-8") as f:
        return parse_catalogue(yaml.safe_load(f))


def metric(name: str) -> Metric | None:
    return catalogue().get(name)


def display_name(name: str, lang: str = "en") -> str:
    """The series' display name; a series outside the catalogue keeps its name."""
    m = metric(name)
    return m.title(lang) if m is not None else name


def subject_of(name: str, labels: Mapping[str, str]) -> str:
    """What people call the resource of a series (a disk's mount), or its labels as ``k=v``."""
    m = metric(name)
    return m.subject_of(labels) if m is not None else labels_text(labels)


def unit_of(name: str) -> str:
    m = metric(name)
    return m.unit if m is not None else ""


def limit_of(name: str, latest_values: Mapping[str, float] | None = None) -> tuple[float, Direction] | None:
    """The (limit, direction) the series runs into, or None when it has none (or its total is unknown)."""
    m = metric(name)
    if m is None:
        return None
    if m.limit is not None and m.direction is not None:
        return m.limit, m.direction
    if m.limit_of is not None:
        total = (latest_values or {}).get(m.limit_of)
        if total is not None and math.isfinite(total) and total > 0:
            return float(total), "up"
    return None
