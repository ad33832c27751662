"""CSV series in, forecasts and anomaly scores out: the core of ``patrol analyze forecast|anomalies``.

Input is any CSV with a header naming a timestamp column (``timestamp``, ``time``, ``ts``, ``datetime``
or ``date``; else the first column) and a value column (``value``; else the first other column).
Extra columns are ignored, blank lines and ``#`` comments skipped. Timestamps are ISO 8601 with
``Z``, with an offset, or naive (taken as UTC); plain numbers are unix seconds. An empty value or
``nan``/``null``/``NA`` is a missing sample. Anything else that does not parse is an error naming the
line and its content.

Both drivers are streaming-safe: every output row is computed only from input rows at or before its
timestamp (rows are processed in time order, so an unsorted file gives the same answers as a sorted
one), and appending rows to the input never changes earlier output rows. Output times mirror the
input's style (``Z``, ``+00:00`` or naive; always UTC).

    python -m inspections.series_csv forecast FILE --limit 100 [--direction up] [--every 1h] [--horizon 7d]
    python -m inspections.series_csv anomalies FILE
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, TextIO

import numpy as np

from inspections.anomaly import AnomalyConfig, score_series
from inspections.forecast import Direction, ForecastConfig, Forecaster

TimeStyle = Literal["Z", "offset", "naive", "epoch"]

_TIME_COLUMNS = ("timestamp", "time", "ts", "datetime", "date", "_time")
_VALUE_COLUMNS = ("value", "_value", "val", "y")
_MISSING = frozenset({"", "nan", "null", "none", "na", "n/a"})


class SeriesFormatError(ValueError):
    """The input is not a readable series; the message names the line and what to fix."""


@dataclass(frozen=True)
class CsvSeries:
    """A series read from CSV, in file order."""

    ts: np.ndarray  # unix seconds
    values: np.ndarray  # NaN where the value is missing
    raw_ts: list[str]  # as written, echoed back by anomalies_csv
    raw_values: list[str]
    style: TimeStyle
    separator: str  # between date and time in the input, mirrored on output


def read_series(inp: TextIO, name: str = "<input>") -> CsvSeries:
    """Parse a ``timestamp,value`` CSV (see the module docstring for what is accepted)."""
    reader = csv.reader(_without_comments(inp))
    header: list[str] | None = None
    time_col = value_col = -1
    ts: list[float] = []
    values: list[float] = []
    raw_ts: list[str] = []
    raw_values: list[str] = []
    style: TimeStyle | None = None
    separator = "T"
    for row in reader:
        fields = [f.strip() for f in row]
        if not any(fields):
            continue
        line = reader.line_num
        if header is None:
            header = fields
            time_col, value_col = _columns(header, name)
            if _looks_like_data(fields, time_col, value_col):
                # No header after all: the first line is already a sample.
                header = [f"column{i}" for i in range(len(fields))]
            else:
                continue
        if len(fields) <= max(time_col, value_col):
            raise SeriesFormatError(
                f"{name}: line {line}: expected at least {max(time_col, value_col) + 1} fields "
                f"({header[time_col]!r}, {header[value_col]!r}), got {len(fields)}: {','.join(row)!r}"
            )
        text_ts, text_value = fields[time_col], fields[value_col]
        try:
            t, row_style, row_sep = parse_timestamp(text_ts)
        except ValueError as exc:
            raise SeriesFormatError(f"{name}: line {line}: {exc}: {','.join(row)!r}") from None
        try:
            value = _parse_value(text_value)
        except ValueError as exc:
            raise SeriesFormatError(f"{name}: line {line}: {exc}: {','.join(row)!r}") from None
        if style is None:
            style, separator = row_style, row_sep
        ts.append(t)
        values.append(value)
        raw_ts.append(text_ts)
        raw_values.append(text_value)
    if header is None:
        raise SeriesFormatError(f"{name}: empty input; expected a header line such as 'timestamp,value'")
    if not ts:
        raise SeriesFormatError(f"{name}: no data rows after the header {','.join(header)!r}")
    return CsvSeries(np.array(ts), np.array(values), raw_ts, raw_values, style or "Z", separator)


def parse_timestamp(text: str) -> tuple[float, TimeStyle, str]:
    """(unix seconds, style, date/time separator) of an ISO 8601 timestamp or unix-seconds number."""
    if not text:
        raise ValueError("empty timestamp")
    try:
        return float(text), "epoch", "T"
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"cannot parse timestamp {text!r}; use ISO 8601 such as 2024-05-01T12:00:00Z") from None
    separator = " " if len(text) > 10 and text[10] == " " else "T"
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC).timestamp(), "naive", separator
    style: TimeStyle = "Z" if text[-1] in "Zz" else "offset"
    return dt.timestamp(), style, separator


def format_timestamp(ts: float, style: TimeStyle = "Z", separator: str = "T") -> str:
    """A unix time in UTC, written in the given style (whole seconds unless it has a fraction)."""
    if style == "epoch":
        return str(int(ts)) if float(ts).is_integer() else f"{ts:.6f}".rstrip("0")
    dt = datetime.fromtimestamp(ts, UTC)
    spec = "seconds" if dt.microsecond == 0 else "microseconds"
    text = dt.replace(tzinfo=None).isoformat(sep=separator, timespec=spec)
    return text + {"Z": "Z", "offset": "+00:00", "naive": ""}[style]


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(text: str) -> timedelta:
    """``"90s"``, ``"30m"``, ``"1h"``, ``"7d"``, ``"2w"``, combinations like ``"1h30m"``; a bare number is seconds."""
    compact = text.strip().lower().replace(" ", "")
    try:
        seconds = float(compact)
    except ValueError:
        pos = 0
        seconds = 0.0
        for match in _DURATION.finditer(compact):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNIT_S[match.group(2)]
            pos = match.end()
        if pos != len(compact) or not compact:
            raise ValueError(
                f"invalid duration {text!r}: use a number with a unit (ms, s, m, h, d, w), e.g. 90s, 30m, 1h, 7d"
            ) from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"invalid duration {text!r}: must be positive")
    return timedelta(seconds=seconds)


def forecast_csv(
    inp: TextIO,
    out: TextIO,
    limit: float,
    direction: Direction = "up",
    every: timedelta = timedelta(hours=1),
    horizon: timedelta = timedelta(days=7),
    config: ForecastConfig | None = None,
    name: str = "<input>",
) -> int:
    """Write ``timestamp,eta,eta_low,eta_high,alert``, one row per evaluation instant; returns the count.

    Instants run every ``every`` from the first timestamp to the last; each forecast sees only the
    rows at or before its instant. ETA fields are empty when no crossing is expected; ``alert`` is 1
    when the limit is expected within ``horizon``.
    """
    if direction not in ("up", "down"):
        raise ValueError(f"direction must be 'up' or 'down', got {direction!r}")
    step = every.total_seconds()
    if step <= 0:
        raise ValueError(f"every must be positive, got {every}")
    series = read_series(inp, name)
    order = np.argsort(series.ts, kind="stable")
    ts, values = series.ts[order], series.values[order]
    forecaster = Forecaster(limit, direction, config)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["timestamp", "eta", "eta_low", "eta_high", "alert"])

    def fmt(t: float | None) -> str:
        return "" if t is None else format_timestamp(round(t), series.style, series.separator)

    start, end = float(ts[0]), float(ts[-1])
    count = 0
    i = 0
    while True:
        now = start + count * step
        if now > end:
            break
        while i < ts.size and ts[i] <= now:
            forecaster.update(float(ts[i]), float(values[i]))
            i += 1
        fc = forecaster.forecast(now, horizon.total_seconds())
        writer.writerow(
            [
                format_timestamp(now, series.style, series.separator),
                fmt(fc.eta),
                fmt(fc.eta_low),
                fmt(fc.eta_high),
                "1" if fc.alert() else "0",
            ]
        )
        count += 1
    return count


def anomalies_csv(
    inp: TextIO,
    out: TextIO,
    config: AnomalyConfig | None = None,
    name: str = "<input>",
) -> int:
    """Write ``timestamp,value,anomaly_score``: one row per input row, in input order; returns the count.

    Timestamp and value are echoed as written; the score is empty for a missing value.
    """
    series = read_series(inp, name)
    scores = score_series(series.ts, series.values, config)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["timestamp", "value", "anomaly_score"])
    shown = ["" if s != s else f"{s:.4f}" for s in scores.tolist()]
    writer.writerows(zip(series.raw_ts, series.raw_values, shown, strict=True))
    return len(scores)


def _without_comments(inp: Iterable[str]) -> Iterator[str]:
    """Lines with ``#`` comments blanked (not dropped, so csv's line numbers stay true)."""
    for n, line in enumerate(inp):
        if n == 0:
            line = line.lstrip("\ufeff")  # a byte-order mark would become part of the first name
        yield "\n" if line.lstrip().startswith("#") else line


def _columns(header: list[str], name: str) -> tuple[int, int]:
    if len(header) < 2:
        raise SeriesFormatError(
            f"{name}: line 1: need at least two columns (timestamp and value), got {','.join(header)!r}"
        )
    lowered = [h.lower() for h in header]
    time_col = next((lowered.index(c) for c in _TIME_COLUMNS if c in lowered), 0)
    value_col = next((lowered.index(c) for c in _VALUE_COLUMNS if c in lowered), -1)
    if value_col < 0:
        value_col = 1 if time_col != 1 else 0
    return time_col, value_col


def _looks_like_data(fields: list[str], time_col: int, value_col: int) -> bool:
    try:
        parse_timestamp(fields[time_col])
        _parse_value(fields[value_col])
    except (ValueError, IndexError):
        return False
    return fields[value_col].lower() not in _MISSING


def _parse_value(text: str) -> float:
    if text.lower() in _MISSING:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"cannot parse value {text!r} as a number") from None
    if math.isinf(value):
        raise ValueError(f"value {text!r} is not finite")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inspections.series_csv", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fc = sub.add_parser("forecast", help="when will the series cross a limit")
    fc.add_argument("file")
    fc.add_argument("--limit", type=float, required=True)
    fc.add_argument("--direction", choices=("up", "down"), default="up")
    fc.add_argument("--every", type=parse_duration, default=timedelta(hours=1))
    fc.add_argument("--horizon", type=parse_duration, default=timedelta(days=7))
    an = sub.add_parser("anomalies", help="anomaly score of every point")
    an.add_argument("file")
    args = parser.parse_args(argv)
    try:
        with open(args.file, encoding="utf-8", newline="") as inp:
            if args.command == "forecast":
                forecast_csv(inp, sys.stdout, args.limit, args.direction, args.every, args.horizon, name=args.file)
            else:
                anomalies_csv(inp, sys.stdout, name=args.file)
    except (OSError, SeriesFormatError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
