"""Typed results of the predictions job: one capacity forecast or anomaly state per series.

The predictions job computes them once per run and stores them (``collector.predictions``); the
ticket service, the HTTP API, the CLI and the reports all read these same objects back, so one
series shows one ETA everywhere. Display names, units and limits come from the metric catalogue.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from inspections.anomaly import Episode
from inspections.catalogue import labels_text, metric, subject_of
from inspections.forecast import Forecast

DAY = 86400.0
RunKind = Literal["capacity", "anomaly"]


def _when(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=UTC)


@dataclass(frozen=True)
class InputWindow:
    """The data a result rests on: rollup buckets of ``step_s`` from ``start`` up to ``end`` (unix s)."""

    start: float
    end: float
    step_s: float


@dataclass(frozen=True)
class SeriesResult:
    """What every stored result has: whose series, the data it rests on, how and when it was computed."""

    host_id: str
    hostname: str
    customer_id: str | None
    series: str
    labels: Mapping[str, str]
    window: InputWindow
    method: str
    computed_at: datetime

    check_prefix: ClassVar[str] = ""

    @property
    def check_id(self) -> str:
        """The check id of its ticket (with :attr:`labels_key` and the host, the ticket's fingerprint)."""
        return self.check_prefix + self.series

    @property
    def display(self) -> dict[str, str]:
        """The catalogue's display name (en, zh); a series outside the catalogue keeps its name."""
        m = metric(self.series)
        return dict(m.display) if m is not None else {"en": self.series, "zh": self.series}

    @property
    def unit(self) -> str:
        m = metric(self.series)
        return m.unit if m is not None else ""

    @property
    def subject(self) -> str:
        """What people call the resource (a disk's mount), or the labels as ``k=v``."""
        return subject_of(self.series, self.labels)

    @property
    def labels_key(self) -> str:
        """The labels as ``k=v,k=v``: the subject of the series' ticket."""
        return labels_text(self.labels)

    def _common(self) -> dict[str, Any]:
        return {"method": self.method, "computed_at": self.computed_at.isoformat(), "host_id": self.host_id,
                "hostname": self.hostname, "customer_id": self.customer_id, "series": self.series,
                "labels": dict(self.labels), "display": self.display, "unit": self.unit, "subject": self.subject,
                "window": dataclasses.asdict(self.window)}


@dataclass(frozen=True)
class CapacityForecast(SeriesResult):
    """When one capacity series is expected to reach its limit, as stored by one predictions run."""

    result: Forecast
    run_id: int | None = None
    # The recent input (unix s, value): the evidence a predictive ticket shows.
    points: tuple[tuple[float, float], ...] = ()
    ticket_id: int | None = None  # the open predictive ticket it is linked to, where a reader set one

    check_prefix: ClassVar[str] = "forecast."

    @property
    def limit(self) -> float:
        return self.result.limit

    @property
    def level(self) -> float | None:
        return self.result.level

    @property
    def slope_per_day(self) -> float | None:
        return None if self.result.slope is None else self.result.slope * DAY

    @property
    def at(self) -> datetime:
        """The forecast rests on data up to here."""
        return datetime.fromtimestamp(self.result.now, tz=UTC)

    @property
    def eta(self) -> datetime | None:
        return _when(self.result.eta)

    @property
    def eta_low(self) -> datetime | None:
        return _when(self.result.eta_low)

    @property
    def eta_high(self) -> datetime | None:
        return _when(self.result.eta_high)

    @property
    def reason(self) -> str:
        return self.result.reason

    def linked(self, ticket_id: int | None) -> CapacityForecast:
        return dataclasses.replace(self, ticket_id=ticket_id)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for the HTTP API (times as ISO 8601; the forecaster's figures in unix seconds)."""
        return {"run_id": self.run_id, "kind": "capacity", **self._common(),
                "eta": None if self.eta is None else self.eta.isoformat(),
                "eta_low": None if self.eta_low is None else self.eta_low.isoformat(),
                "eta_high": None if self.eta_high is None else self.eta_high.isoformat(),
                "limit": self.limit, "level": self.level, "slope_per_day": self.slope_per_day,
                "reason": self.reason, "forecast": self.result.to_dict()}


@dataclass(frozen=True)
class Anomaly(SeriesResult):
    """The anomaly state of one utilisation series at a run: firing with its episode, or clear."""

    firing: bool
    episode: Episode | None = None
    run_id: int | None = None

    check_prefix: ClassVar[str] = "anomaly."

    @property
    def band(self) -> tuple[float, float] | None:
        """The expected band, clipped to what the series can take (a share cannot leave 0–100 %)."""
        if self.episode is None:
            return None
        low, high = max(0.0, self.episode.band_low), self.episode.band_high
        return low, (min(100.0, high) if self.unit == "%" else high)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"run_id": self.run_id, "kind": "anomaly", **self._common(), "firing": self.firing}
        if self.episode is not None and self.band is not None:
            out.update(self.episode.to_dict())
            out["band_low"], out["band_high"] = self.band
        return out
