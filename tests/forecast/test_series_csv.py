"""CSV reading and the analysis drivers behind ``patrol analyze forecast|anomalies``."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from inspections.series_csv import (
    SeriesFormatError,
    anomalies_csv,
    forecast_csv,
    format_timestamp,
    parse_duration,
    read_series,
)
from tests.forecast.synthetic import DAY, HOUR, T0, daily

REPO = Path(__file__).resolve().parents[2]


def iso(ts: float, suffix: str = "Z") -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S") + suffix


def series_csv(t: np.ndarray, y: np.ndarray, suffix: str = "Z") -> str:
    return "timestamp,value\n" + "".join(f"{iso(a, suffix)},{b:.4f}\n" for a, b in zip(t, y, strict=True))


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def filling_disk(days: float = 20, step: float = 600.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    t = T0 + np.arange(0.0, days * DAY, step)
    y = 40 + 3 * (t - T0) / DAY + daily(t, 3.0) + np.random.default_rng(seed).normal(0, 0.5, t.size)
    return t, y


# --------------------------------------------------------------------------------------------------
# Reading


def test_reads_extra_columns_mixed_offsets_blank_lines_and_comments() -> None:
    text = (
        "\ufeffhost,Timestamp,mount,value\n"
        "# exported from somewhere\n"
        "web1,2024-05-01T00:00:00Z,/,10.5\n"
        "\n"
        "web1,2024-05-01T02:00:00+02:00,/,11\n"  # the same instant as midnight UTC, written in CEST
        "web1,2024-05-01 00:10:00,/,\n"  # naive = UTC; empty value = missing
        "web1,2024-05-01T00:20:00.5Z,/,NaN\n"
    )
    s = read_series(io.StringIO(text))
    assert s.ts.tolist() == [T0, T0, T0 + 600, T0 + 1200.5]
    assert s.values[:2].tolist() == [10.5, 11.0]
    assert np.isnan(s.values[2]) and np.isnan(s.values[3])
    assert s.raw_ts[1] == "2024-05-01T02:00:00+02:00"
    assert s.style == "Z"


def test_headerless_input_is_accepted() -> None:
    s = read_series(io.StringIO("2024-05-01T00:00:00Z,1\n2024-05-01T00:01:00Z,2\n"))
    assert s.values.tolist() == [1.0, 2.0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "timestamp,value\n2024-05-01T00:00:00Z,1\nyesterday,2\n",
            r"line 3: cannot parse timestamp 'yesterday'.*'yesterday,2'",
        ),
        ("timestamp,value\n\n2024-05-01T00:00:00Z,12%\n", r"line 3: cannot parse value '12%'"),
        ("timestamp,value\n2024-05-01T00:00:00Z\n", r"line 2: expected at least 2 fields"),
        ("timestamp,value\n2024-05-01T00:00:00Z,inf\n", r"line 2: value 'inf' is not finite"),
        ("", r"empty input"),
        ("timestamp,value\n\n", r"no data rows"),
        ("value\n1\n", r"need at least two columns"),
    ],
)
def test_bad_input_names_the_line_and_content(text: str, message: str) -> None:
    with pytest.raises(SeriesFormatError, match=message):
        read_series(io.StringIO(text), name="disk.csv")


def test_errors_name_the_file() -> None:
    with pytest.raises(SeriesFormatError, match=r"^disk.csv: line 2"):
        read_series(io.StringIO("timestamp,value\nnope,1\n"), name="disk.csv")


def test_parse_duration() -> None:
    assert parse_duration("7d") == timedelta(days=7)
    assert parse_duration("1h") == timedelta(hours=1)
    assert parse_duration("30m") == timedelta(minutes=30)
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration(" 2w ") == timedelta(weeks=2)
    assert parse_duration("3600") == timedelta(hours=1)
    for bad in ("", "7x", "h", "1h 2", "-1h", "0s", "1.5.5h"):
        with pytest.raises(ValueError, match="duration"):
            parse_duration(bad)


def test_format_mirrors_the_input_style() -> None:
    assert format_timestamp(T0, "Z") == "2024-05-01T00:00:00Z"
    assert format_timestamp(T0, "offset") == "2024-05-01T00:00:00+00:00"
    assert format_timestamp(T0 + 0.25, "naive", " ") == "2024-05-01 00:00:00.250000"
    assert format_timestamp(T0, "epoch") == str(int(T0))


# --------------------------------------------------------------------------------------------------
# forecast_csv


def test_forecast_csv_rows_instants_and_alerts() -> None:
    t, y = filling_disk()  # 100 % around day 19.6 (trend 97 + a 3 % daily peak)
    out = io.StringIO()
    n = forecast_csv(io.StringIO(series_csv(t, y)), out, limit=100.0)
    got = rows(out.getvalue())
    assert n == len(got)
    assert list(got[0]) == ["timestamp", "eta", "eta_low", "eta_high", "alert"]
    # One row per hour from the first timestamp up to the last one.
    expected = np.arange(t[0], t[-1] + 1, HOUR)
    assert [r["timestamp"] for r in got] == [iso(x) for x in expected]
    assert got[0]["eta"] == "" and got[0]["alert"] == "0"  # one sample: nothing to say yet
    by_time = {r["timestamp"]: r for r in got}
    late = by_time[iso(T0 + 15 * DAY)]
    eta = datetime.fromisoformat(late["eta"]).timestamp()
    assert abs(eta - (T0 + 19.6 * DAY)) < 0.5 * DAY
    assert late["eta_low"] <= late["eta"] <= late["eta_high"]
    assert late["alert"] == "1"
    assert by_time[iso(T0 + 8 * DAY)]["alert"] == "0"  # more than 7 days out
    alerts = [r["alert"] for r in got]
    first = alerts.index("1")
    assert set(alerts[first:]) == {"1"}  # once the crossing is within the horizon, it stays


def test_forecast_csv_every_and_horizon_and_direction_down() -> None:
    t = T0 + np.arange(0.0, 10 * DAY, 300.0)
    y = 8e9 - 0.5e9 * (t - T0) / DAY + np.random.default_rng(1).normal(0, 2e7, t.size)  # zero at day 16
    out = io.StringIO()
    forecast_csv(io.StringIO(series_csv(t, y)), out, 0.0, "down", every=timedelta(hours=6), horizon=timedelta(days=3))
    got = rows(out.getvalue())
    assert len(got) == 40
    last = got[-1]
    assert abs(datetime.fromisoformat(last["eta"]).timestamp() - (T0 + 16 * DAY)) < 0.5 * DAY
    assert last["alert"] == "0"  # six days out, horizon three


def test_forecast_csv_is_streaming_safe() -> None:
    t, y = filling_disk(days=12, seed=2)
    cut = int(t.size * 0.55)
    full, part = io.StringIO(), io.StringIO()
    forecast_csv(io.StringIO(series_csv(t, y)), full, limit=100.0)
    forecast_csv(io.StringIO(series_csv(t[:cut], y[:cut])), part, limit=100.0)
    part_rows = part.getvalue().splitlines()
    assert full.getvalue().splitlines()[: len(part_rows)] == part_rows
    # And a wildly different future changes none of the earlier rows either.
    changed = y.copy()
    changed[cut:] = 0.0
    other = io.StringIO()
    forecast_csv(io.StringIO(series_csv(t, changed)), other, limit=100.0)
    assert other.getvalue().splitlines()[: len(part_rows)] == part_rows


def test_forecast_csv_unsorted_input_gives_the_same_answers() -> None:
    t, y = filling_disk(days=6, seed=3)
    perm = np.random.default_rng(4).permutation(t.size)
    a, b = io.StringIO(), io.StringIO()
    forecast_csv(io.StringIO(series_csv(t, y)), a, limit=100.0)
    forecast_csv(io.StringIO(series_csv(t[perm], y[perm])), b, limit=100.0)
    assert a.getvalue() == b.getvalue()


# --------------------------------------------------------------------------------------------------
# anomalies_csv


def test_anomalies_csv_one_row_per_input_row_in_order() -> None:
    t = T0 + np.arange(0.0, 6 * DAY, 300.0)
    y = 50 + daily(t, 10.0) + np.random.default_rng(5).normal(0, 1, t.size)
    spike = int(np.searchsorted(t, T0 + 4.5 * DAY))
    y[spike] += 12
    text = series_csv(t, y, suffix="+00:00")
    lines = text.splitlines()
    lines.insert(100, "")  # blank lines do not count as rows
    lines[50] = lines[50].split(",")[0] + ","  # a missing value keeps its row
    out = io.StringIO()
    n = anomalies_csv(io.StringIO("\n".join(lines) + "\n"), out)
    got = rows(out.getvalue())
    assert n == len(got) == t.size
    assert list(got[0]) == ["timestamp", "value", "anomaly_score"]
    assert [r["timestamp"] for r in got] == [iso(x, "+00:00") for x in t]  # echoed as written
    assert got[49]["anomaly_score"] == ""
    scores = np.array([float(r["anomaly_score"]) for r in got if r["anomaly_score"]])
    assert np.all((scores >= 0) & (scores <= 1))
    assert float(got[spike]["anomaly_score"]) >= 0.35  # the detector's alarm level


def test_anomalies_csv_is_streaming_safe_and_order_independent() -> None:
    t = T0 + np.arange(0.0, 4 * DAY, 300.0)
    y = 50 + daily(t, 10.0) + np.random.default_rng(6).normal(0, 1, t.size)
    full, part = io.StringIO(), io.StringIO()
    anomalies_csv(io.StringIO(series_csv(t, y)), full)
    anomalies_csv(io.StringIO(series_csv(t[:700], y[:700])), part)
    assert full.getvalue().splitlines()[:701] == part.getvalue().splitlines()
    perm = np.random.default_rng(7).permutation(t.size)
    shuffled = io.StringIO()
    anomalies_csv(io.StringIO(series_csv(t[perm], y[perm])), shuffled)
    by_time = {r["timestamp"]: r["anomaly_score"] for r in rows(full.getvalue())}
    assert all(by_time[r["timestamp"]] == r["anomaly_score"] for r in rows(shuffled.getvalue()))
    assert [r["timestamp"] for r in rows(shuffled.getvalue())] == [iso(x) for x in t[perm]]


# --------------------------------------------------------------------------------------------------
# As a command


def test_module_command_line(tmp_path: Path) -> None:
    t, y = filling_disk(days=3)
    path = tmp_path / "disk.csv"
    path.write_text(series_csv(t, y))
    run = subprocess.run(
        [sys.executable, "-m", "inspections.series_csv", "forecast", str(path), "--limit", "100", "--every", "6h"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == "timestamp,eta,eta_low,eta_high,alert"
    assert len(run.stdout.splitlines()) == 1 + 12
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,value\n2024-05-01T00:00:00Z,1\n2024-13-01T00:00:00Z,2\n")
    run = subprocess.run(
        [sys.executable, "-m", "inspections.series_csv", "anomalies", str(bad)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert run.returncode == 2
    assert f"{bad}: line 3: cannot parse timestamp '2024-13-01T00:00:00Z'" in run.stderr
