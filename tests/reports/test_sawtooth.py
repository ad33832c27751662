"""A series that falls back regularly (a log partition rotated every night) is found from its values
alone and drawn as its envelope; smooth, noisy and wandering series stay lines."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np

from reports import Locale, MonthlyReport, render_html
from reports.charts import Series, time_chart
from reports.i18n import STRINGS
from reports.model import DiskChart, HostRef, MountUsage
from reports.render import ChartView
from reports.sawtooth import detect, envelope
from tests.reports.dataset import TZ

START = datetime(2026, 9, 1, tzinfo=UTC)
STEP = timedelta(hours=6)
N = 30 * 4  # a month of six-hour buckets


def times(n: int = N) -> list[datetime]:
    return [START + i * STEP for i in range(n)]


def rotated(n: int = N, low: float = 30.0, high: float = 45.0, every: int = 4) -> tuple[list, list]:
    """Maxima and minima per bucket of a partition filling from ``low`` to ``high`` and emptied every
    ``every`` buckets (daily at four buckets a day); the bucket holding the rotation has both."""
    highs, lows = [], []
    for i, t in enumerate(times(n)):
        phase = i % every
        top = low + (high - low) * (phase + 1) / every
        highs.append((t, top))
        lows.append((t, low if phase == 0 else top - (high - low) / every))
    return highs, lows


def test_a_daily_rotation_is_a_sawtooth_with_its_period_and_drop() -> None:
    highs, _ = rotated()
    saw = detect(highs)
    assert saw is not None
    assert saw.resets == N // 4 - 1
    assert saw.period_s == 86400.0
    assert saw.drop == 11.25
    # Weekly rotation over a month is still regular; so is a daily one with noise on top.
    assert detect(rotated(every=28)[0]) is not None
    rng = np.random.default_rng(7)
    noisy = [(t, v + float(rng.normal(0, 0.4))) for t, v in highs]
    assert detect(noisy) is not None


def test_smooth_noisy_and_wandering_series_are_not_sawtooths() -> None:
    rng = np.random.default_rng(3)
    ts = times()
    growing = [(t, 40.0 + 0.1 * i) for i, t in enumerate(ts)]
    flat = [(t, 40.0) for t in ts]
    noise = [(t, 50.0 + float(rng.normal(0, 5))) for t in ts]
    walk = list(zip(ts, (50.0 + np.cumsum(rng.normal(0, 1, len(ts)))).tolist(), strict=True))
    daily_wave = [(t, 50.0 + 20.0 * float(np.sin(2 * np.pi * i / 4))) for i, t in enumerate(ts)]
    # Memory of an office application: up through the working day, freed in the evening.
    working_day = [(t, (51.0, 54.6, 57.5, 52.3)[i % 4] + float(rng.normal(0, 0.2))) for i, t in enumerate(ts)]
    cleaned_once = [(t, 40.0 + 0.2 * (i % 60)) for i, t in enumerate(ts)]  # one clean-up in the month
    resets = (5, 9, 50, 53, 110)  # clean-ups by hand, now and then
    irregular = [(t, 30.0 + 0.5 * (i - max((r for r in resets if r <= i), default=0))) for i, t in enumerate(ts)]
    for points in (growing, flat, noise, walk, daily_wave, working_day, cleaned_once, irregular, growing[:5]):
        assert detect(points) is None


def test_envelope_spans_each_rotation_with_the_highs_on_top() -> None:
    highs, lows = rotated()
    upper, lower = envelope(highs, lows, period_s=86400.0)
    assert [t for t, _ in upper] == [t for t, _ in highs] == [t for t, _ in lower]
    inner = slice(2, -2)  # a full day either side
    assert {v for _, v in upper[inner]} == {45.0}
    assert {v for _, v in lower[inner]} == {30.0}
    # Without minima the band's floor is the lowest maximum.
    assert {v for _, v in envelope(highs, period_s=86400.0)[1][inner]} == {33.75}


def _polygons(svg: str, kind: str) -> list[str]:
    return re.findall(rf'<polygon class="{kind}" points="([^"]+)"', svg)


def test_a_sawtooth_chart_draws_the_envelope_band_and_its_upper_edge() -> None:
    highs, lows = rotated()
    end = START + N * STEP
    fmt = Locale("en", TZ).short_date
    svg = str(time_chart([Series("/var/log", "#2563eb", highs, lows=lows)], start=START, end=end, tz=TZ,
                         fmt_x=fmt))
    [band] = _polygons(svg, "envelope")
    ys = {float(p.split(",")[1]) for p in band.split()}
    plot_h = 170 - 10 - 22  # chart height less its top and bottom margins
    assert max(ys) == round(10 + (1 - 0.30) * plot_h, 1) and min(ys) == round(10 + (1 - 0.45) * plot_h, 1)
    [path] = re.findall(r'<path d="([^"]+)"', svg)
    # The upper edge rises to the top in the first bucket and runs flat from there: one straight run.
    edge = path.removeprefix("M").split(" L")
    assert len(edge) == 3 and {p.split(",")[1] for p in edge[1:]} == {_num(10 + 0.55 * plot_h)}
    assert '<li class="key-envelope"><span class="sw c-blue"></span>/var/log</li>' in svg  # the legend shows the band

    smooth = [(t, 40.0 + 0.05 * i) for i, (t, _) in enumerate(highs)]
    plain = str(time_chart([Series("/", "#2563eb", smooth)], start=START, end=end, tz=TZ, fmt_x=fmt))
    assert not _polygons(plain, "envelope") and "key-envelope" not in plain and "key-line" in plain


def _num(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def test_the_disk_chart_draws_a_rotated_mount_as_its_envelope_and_others_as_lines() -> None:
    highs, lows = rotated()
    smooth = tuple((t, 60.0 + 0.02 * i) for i, (t, _) in enumerate(highs))
    chart = DiskChart(HostRef("h1", "web-01"), (MountUsage("/", smooth, None),
                                                MountUsage("/var/log", tuple(highs), None, tuple(lows))))
    view = ChartView(Locale("zh", TZ), START, START + N * STEP)
    svg = str(view.disk(chart, 30))
    assert len(_polygons(svg, "envelope")) == 1
    assert len(re.findall(r"<path d=", svg)) == 2 and "stroke-dasharray=\"5 3\"" in svg  # two lines, the limit dashed
    # The heading names the unit, in either language; the y ticks are bare numbers.
    headings = ("utilisation", "disk_growth", "fleet_trend")
    assert all("%" in STRINGS[lang][key] for lang in ("zh", "en") for key in headings)
    ticks = re.findall(r'text-anchor="end">([^<]*)</text>', svg)
    assert ticks[:5] == ["0", "25", "50", "75", "100"]


def test_the_shaded_band_is_explained_only_in_a_report_that_draws_one(monthly: MonthlyReport) -> None:
    host = monthly.utilisation[0].host
    highs, lows = rotated()
    smooth = tuple((t, 60.0 + 0.02 * i) for i, (t, _) in enumerate(highs))
    rotating = replace(monthly, disks=(DiskChart(host, (MountUsage("/var/log", tuple(highs), None, tuple(lows)),)),))
    steady = replace(monthly, disks=(DiskChart(host, (MountUsage("/", smooth, None),)),))
    for lang in ("zh", "en"):
        note = STRINGS[lang]["envelope_note"][:20]
        assert note in render_html(rotating, lang)
        assert note not in render_html(steady, lang)


def test_the_utilisation_charts_fullest_mount_has_its_true_floor_when_it_is_a_sawtooth() -> None:
    """The fullest mount's line carries the minimum per bucket from the rollups, so a rotated log
    partition's band reaches down to where it is emptied, not to its lowest maximum."""
    from collector.reporting.usage import DISK, Buckets, utilisation_lines
    from reports.model import UtilisationChart

    highs, lows = rotated()
    ts = np.array([t.timestamp() for t, _ in highs])
    fullest = Buckets({"mount": "/var/log"}, ts, np.array([v for _, v in highs]) - 1, np.array([v for _, v in highs]),
                      np.full(len(ts), 360), np.array([v for _, v in lows]))
    smaller = Buckets({"mount": "/"}, ts, np.full(len(ts), 20.0), np.full(len(ts), 20.0), np.full(len(ts), 360),
                      np.full(len(ts), 20.0))
    [disk] = utilisation_lines({DISK: [smaller, fullest]})
    assert disk.key == "disk" and list(disk.points) == highs and list(disk.lows) == lows
    view = ChartView(Locale("zh", TZ), START, START + N * STEP)
    svg = str(view.utilisation(UtilisationChart(HostRef("h1", "web-01"), (disk,))))
    [band] = _polygons(svg, "envelope")
    plot_h = 170 - 10 - 22
    ys = {float(p.split(",")[1]) for p in band.split()}
    assert max(ys) == round(10 + (1 - 0.30) * plot_h, 1)  # the floor: 30 %, where the partition is emptied
