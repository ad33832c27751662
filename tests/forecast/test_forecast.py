"""Forecasts on generated series with known crossing times.

Tolerances: the ETA error allowed is a fraction of the time still left before the crossing (what an
operator reads: "in 6 days" vs "in 5.5 days"), plus a couple of hours for the 1-hour buckets the fit
works on. Noise-free series must be essentially exact (2 % + 2 h); noisy ones within 10 % + 3 h,
which is several standard errors of the slope for the noise levels used; the band (90 % nominal)
must contain the truth in most evaluations.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from collector.simulator.fleet import FleetSpec, build_fleet
from collector.simulator.signals import HostSignals
from collector.simulator.trouble import TroubleKind, TroubleSpec, plan_troubles
from inspections.forecast import Forecast, ForecastConfig, Forecaster, capacity_limit, forecast
from tests.forecast.synthetic import (
    DAY,
    HOUR,
    T0,
    Generated,
    ar_noise,
    business_week_leak,
    daily,
    first_crossing,
    grid,
    linear,
)

HORIZON = 7 * DAY


def evaluate(series: Generated, nows: list[float], limit: float = 100.0, direction: str = "up") -> list[Forecast]:
    return [forecast(*series.upto(now), limit, direction, now=now, horizon_s=HORIZON) for now in nows]  # type: ignore[arg-type]


def assert_eta_close(fc: Forecast, truth: float | None, rel: float, slack_h: float) -> None:
    assert truth is not None, "the generated series must cross"
    assert fc.eta is not None, fc.reason
    allowed = rel * (truth - fc.now) + slack_h * HOUR
    assert abs(fc.eta - truth) <= allowed, (
        f"at day {(fc.now - T0) / DAY:.2f}: eta off by {(fc.eta - truth) / HOUR:.1f} h, allowed {allowed / HOUR:.1f} h"
    )
    assert fc.eta_low is not None and fc.eta_high is not None
    assert fc.now <= fc.eta_low <= fc.eta <= fc.eta_high


def coverage(forecasts: list[Forecast], truth: float) -> float:
    inside = [
        fc.eta_low is not None and fc.eta_high is not None and fc.eta_low <= truth <= fc.eta_high for fc in forecasts
    ]
    return float(np.mean(inside))


def stream(series: Generated, limit: float = 100.0, direction: str = "up", every: float = HOUR) -> list[Forecast]:
    """Hourly streaming evaluation, as forecast_csv does it."""
    f = Forecaster(limit, direction)  # type: ignore[arg-type]
    out = []
    i = 0
    now = float(series.t[0])
    while now <= series.t[-1]:
        while i < series.t.size and series.t[i] <= now:
            f.update(float(series.t[i]), float(series.y[i]))
            i += 1
        out.append(f.forecast(now, HORIZON))
        now += every
    return out


def test_noise_free_linear_is_exact() -> None:
    s = linear(22, start=40, per_day=3, sigma=0.0)
    assert s.truth == pytest.approx(T0 + 20 * DAY)
    for fc in evaluate(s, [T0 + d * DAY for d in (5, 8, 12, 15)]):
        assert_eta_close(fc, s.truth, rel=0.02, slack_h=2)
        assert fc.slope is not None and fc.slope * DAY == pytest.approx(3, rel=1e-3)


def test_noisy_linear_within_tolerance_and_band_covers() -> None:
    s = linear(24, start=30, per_day=3, sigma=1.5, seed=1)
    assert s.truth is not None
    nows = [T0 + d * DAY for d in np.arange(6, 23, 0.5)]
    fcs = evaluate(s, nows)
    for fc in fcs:
        assert_eta_close(fc, s.truth, rel=0.10, slack_h=3)
    assert coverage(fcs, s.truth) >= 0.8


def test_alerts_within_horizon_only() -> None:
    s = linear(24, start=30, per_day=3, sigma=0.5, seed=2)
    assert s.truth is not None
    early = forecast(*s.upto(s.truth - 10 * DAY), 100.0, now=s.truth - 10 * DAY, horizon_s=HORIZON)
    late = forecast(*s.upto(s.truth - 5 * DAY), 100.0, now=s.truth - 5 * DAY, horizon_s=HORIZON)
    assert early.eta is not None and not early.alert()
    assert late.alert() and late.alert(2 * DAY) is False


def test_daily_cycle_forecasts_when_the_peaks_cross() -> None:
    t = grid(24)
    trend = 30 + 3.0 * (t - T0) / DAY
    clean = trend + daily(t, 8.0, peak_hour=15)
    s = Generated(t, clean + np.random.default_rng(3).normal(0, 0.8, t.size), first_crossing(t, clean, 100))
    assert s.truth is not None
    trend_only = T0 + 70 / 3 * DAY
    assert s.truth < trend_only - 1.5 * DAY  # the peaks get there days before the trend does
    fcs = evaluate(s, [T0 + d * DAY for d in np.arange(8, 19, 0.25)])
    for fc in fcs:
        assert_eta_close(fc, s.truth, rel=0.10, slack_h=3)
        assert fc.seasonal_peak == pytest.approx(8.0, rel=0.25)
    assert coverage(fcs, s.truth) >= 0.8


def test_cleanup_starts_a_new_trend() -> None:
    t = grid(26)
    d = (t - T0) / DAY
    cleanup = 10.3
    clean = np.where(d < cleanup, 40 + 4 * d, 30 + 2.0 * (d - cleanup))
    s = Generated(t, clean + np.random.default_rng(4).normal(0, 0.5, t.size), None)
    # 40 + 4 d would have crossed on day 15: right after the cleanup nothing may alert.
    right_after = [T0 + (cleanup + h / 24) * DAY for h in (3, 8, 14, 20)]
    for fc in evaluate(s, right_after):
        assert not fc.alert(), f"alert right after the cleanup: {fc}"
    truth = T0 + (cleanup + 35.0) * DAY  # 30 + 2 (d - 10.3) = 100
    for fc in evaluate(s, [T0 + dd * DAY for dd in (13, 16, 20, 23)]):
        assert fc.change_point == pytest.approx(T0 + cleanup * DAY, abs=2 * HOUR)
        assert fc.slope is not None and fc.slope * DAY == pytest.approx(2.0, rel=0.1)
        assert fc.eta is None or abs(fc.eta - truth) <= 0.15 * (truth - fc.now)


def test_regrowth_after_cleanup_crosses_on_the_new_trend() -> None:
    t = grid(24)
    d = (t - T0) / DAY
    cleanup = 8.0
    clean = np.where(d < cleanup, 50 + 2 * d, 35 + 5.0 * (d - cleanup))  # new trend: 100 at day 21
    s = Generated(t, clean + np.random.default_rng(5).normal(0, 0.6, t.size), first_crossing(t, clean, 100))
    assert s.truth == pytest.approx(T0 + 21 * DAY, abs=HOUR)
    # From two days after the cleanup on, the new trend has data enough to reach the crossing
    # (forecasts stop at five times the span of the data they rest on).
    fcs = evaluate(s, [T0 + dd * DAY for dd in np.arange(11, 20.5, 0.5)])
    for fc in fcs:
        assert_eta_close(fc, s.truth, rel=0.10, slack_h=3)
    assert all(fc.alert() for fc in fcs if T0 + 21 * DAY - fc.now <= 6 * DAY)


def test_step_toward_the_limit_keeps_the_growth_rate() -> None:
    t = grid(22)
    d = (t - T0) / DAY
    clean = 30 + 3.0 * d + np.where(d >= 9.0, 15.0, 0.0)  # 100 on day 23.3 before the step, 18.3 after
    s = Generated(t, clean + np.random.default_rng(6).normal(0, 0.5, t.size), first_crossing(t, clean, 100))
    assert s.truth == pytest.approx(T0 + 55 / 3 * DAY, abs=HOUR)
    # A few hours after the step the forecast already reflects the new level at the old rate.
    for fc in evaluate(s, [T0 + dd * DAY for dd in (9.3, 9.6, 10.0, 12.0, 15.0)]):
        assert_eta_close(fc, s.truth, rel=0.10, slack_h=3)


def test_leak_that_starts_midway_is_followed() -> None:
    t = grid(24)
    d = (t - T0) / DAY
    clean = np.where(d < 10, 60.0, 60 + 5.0 * (d - 10))  # flat, then a leak reaching 100 on day 18
    s = Generated(t, clean + np.random.default_rng(7).normal(0, 0.5, t.size), first_crossing(t, clean, 100))
    assert s.truth == pytest.approx(T0 + 18 * DAY, abs=HOUR)
    assert forecast(*s.upto(T0 + 9.5 * DAY), 100.0, now=T0 + 9.5 * DAY).eta is None
    for fc in evaluate(s, [T0 + dd * DAY for dd in (12, 14, 16, 17.5)]):
        assert_eta_close(fc, s.truth, rel=0.10, slack_h=3)


def test_accelerating_growth_is_followed_by_a_curve() -> None:
    t = grid(24)
    d = (t - T0) / DAY
    clean = 30 + 1.0 * d + 0.2 * d * d  # speeding up, reaching 100 on day 14.4
    s = Generated(t, clean + np.random.default_rng(14).normal(0, 0.5, t.size), first_crossing(t, clean, 100))
    assert s.truth is not None
    for fc in evaluate(s, [T0 + dd * DAY for dd in (8, 9.5, 11, 12.5)]):
        assert_eta_close(fc, s.truth, rel=0.10, slack_h=3)
        assert "accelerating growth" in fc.reason
        # The slope reported is today's rate, not the average since the start.
        assert fc.slope is not None
        assert fc.slope * DAY == pytest.approx(1.0 + 0.4 * (fc.now - T0) / DAY, rel=0.15)


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_straight_growth_keeps_a_straight_line(seed: int) -> None:
    s = linear(24, start=20, per_day=3.5, sigma=1.5, seed=seed)
    for fc in evaluate(s, [T0 + dd * DAY for dd in (6, 10, 14, 18)]):
        assert "accelerating" not in fc.reason
        assert_eta_close(fc, s.truth, rel=0.10, slack_h=3)


def test_memory_running_out_direction_down() -> None:
    t = grid(20)
    total = 16e9
    clean = 0.6 * total - 0.04 * total * (t - T0) / DAY  # zero on day 15
    s = Generated(
        t, clean + np.random.default_rng(8).normal(0, 0.005 * total, t.size), first_crossing(t, clean, 0.0, "down")
    )
    assert s.truth == pytest.approx(T0 + 15 * DAY, abs=HOUR)
    for fc in evaluate(s, [T0 + dd * DAY for dd in (6, 9, 12)], limit=0.0, direction="down"):
        assert_eta_close(fc, s.truth, rel=0.05, slack_h=2)
        assert fc.slope is not None and fc.slope < 0
        assert fc.slope_low is not None and fc.slope_high is not None and fc.slope_low <= fc.slope <= fc.slope_high


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("white noise", lambda t, rng: 60 + rng.normal(0, 2.0, t.size)),
        ("daily cycle", lambda t, rng: 55 + daily(t, 25.0) + rng.normal(0, 1.0, t.size)),
        ("wander", lambda t, rng: 60 + ar_noise(t.size, 3.0, 0.995, 11) + rng.normal(0, 0.5, t.size)),
        ("sawtooth rotation", lambda t, rng: 40 + 6 * (((t - T0) / DAY) % 1.0) + rng.normal(0, 0.3, t.size)),
    ],
)
def test_no_trend_means_no_crossing_and_no_alert(name: str, make) -> None:  # type: ignore[no-untyped-def]
    t = grid(21)
    s = Generated(t, make(t, np.random.default_rng(9)), None)
    fcs = stream(s, every=3 * HOUR)
    assert not any(fc.alert() for fc in fcs), f"false alarm on {name}"
    with_eta = [fc for fc in fcs if fc.eta is not None]
    assert len(with_eta) <= 0.05 * len(fcs), f"{name}: {len(with_eta)} of {len(fcs)} forecasts claim a crossing"


def test_too_little_data_says_so() -> None:
    s = linear(0.5, start=90, per_day=20, sigma=0.1)
    fc = forecast(s.t, s.y, 100.0)
    assert fc.eta is None and not fc.ok
    assert "too little data" in fc.reason


def test_limit_already_reached() -> None:
    s = linear(5, start=80, per_day=5, sigma=0.1)
    fc = forecast(s.t, s.y, 100.0, horizon_s=HORIZON)
    assert fc.eta == fc.now and fc.eta_low == fc.now and fc.eta_high == fc.now
    assert fc.alert()


def test_one_noisy_bucket_past_the_limit_is_not_a_full_disk() -> None:
    s = linear(10, start=60, per_day=3, sigma=0.3, seed=15)  # about 90 at the end, crossing in 3 days
    y = s.y.copy()
    y[-6:] = 101.0  # the newest hour's samples jump past the limit
    fc = forecast(s.t, y, 100.0, horizon_s=HORIZON)
    assert fc.reason != "limit already reached"  # (a step toward the limit, or noise: the fit decides)
    assert fc.eta is not None
    y[-18:] = 101.0  # three hours past it
    fc = forecast(s.t, y, 100.0, horizon_s=HORIZON)
    assert fc.reason == "limit already reached" and fc.eta == fc.now


def test_moving_away_says_so() -> None:
    s = linear(10, start=90, per_day=-2, sigma=0.3)
    fc = forecast(s.t, s.y, 100.0)
    assert fc.eta is None and "moving away" in fc.reason
    assert fc.slope is not None and fc.slope < 0


def test_data_after_now_is_ignored() -> None:
    s = linear(20, start=40, per_day=3, sigma=0.5, seed=12)
    now = T0 + 10 * DAY
    assert forecast(s.t, s.y, 100.0, now=now) == forecast(*s.upto(now), 100.0, now=now)


def test_streaming_forecaster_matches_batch() -> None:
    t = grid(18)
    d = (t - T0) / DAY
    y = np.where(d < 9, 40 + 3 * d, 30 + 3 * (d - 9)) + daily(t, 4.0) + np.random.default_rng(13).normal(0, 0.5, t.size)
    s = Generated(t, y, None)
    f = Forecaster(100.0)
    i = 0
    for now in [T0 + dd * DAY for dd in np.arange(0.5, 18, 0.75)]:
        while i < t.size and t[i] <= now:
            f.update(float(t[i]), float(y[i]))
            i += 1
        assert f.forecast(now) == forecast(*s.upto(now), 100.0, now=now)


def test_forecaster_memory_is_bounded_and_time_only_moves_forward() -> None:
    cfg = ForecastConfig(lookback_s=3 * DAY)
    f = Forecaster(100.0, config=cfg)
    s = linear(10, start=10, per_day=1, sigma=0.1)
    f.extend(s.t, s.y)
    f.forecast()
    assert len(f._idx) <= 3 * 24 + 1  # closed buckets kept: the lookback window, not the series
    with pytest.raises(ValueError, match="before the last point"):
        f.forecast(float(s.t[-1]) - HOUR)
    with pytest.raises(ValueError, match="time order"):
        f.update(float(s.t[-1]) - 2 * HOUR, 50.0)


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="direction"):
        forecast(np.array([1.0]), np.array([1.0]), 100.0, "sideways")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="equal length"):
        forecast(np.array([1.0, 2.0]), np.array([1.0]), 100.0)
    with pytest.raises(ValueError, match="horizon"):
        forecast(np.array([1.0]), np.array([1.0]), 100.0).alert()


def test_capacity_presets() -> None:
    assert capacity_limit("disk.used_percent", {"mount": "/"}) == (100.0, "up")
    assert capacity_limit("disk.inodes_used_percent") == (100.0, "up")
    assert capacity_limit("swap.used_percent") == (100.0, "up")
    assert capacity_limit("fd.used_percent") == (100.0, "up")
    assert capacity_limit("disk.free_bytes") == (0.0, "down")
    assert capacity_limit("mem.available_bytes") == (0.0, "down")
    assert capacity_limit("mem.available_percent") == (0.0, "down")
    assert capacity_limit("disk.used_bytes", {"mount": "/"}, {"disk.total_bytes": 5e11}) == (5e11, "up")
    assert capacity_limit("fd.open", None, {"fd.max": 65536}) == (65536.0, "up")
    assert capacity_limit("disk.used_bytes") is None  # no total known: no limit to forecast against
    assert capacity_limit("cpu.busy_percent") is None


# A leak that started five days before `now` and exhausts memory about four days after it, on a
# business-week load: at many hours of the week the weekend lull lies inside the leak, and a fit
# that does not allow for it finds no kink, runs over the whole window and forecasts far too late.
# T0 + 14 days is a Wednesday 00:00 UTC; the hours run from Wednesday noon to the next Tuesday noon.
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("hours", [12, 48, 108, 132, 144, 156])
def test_leak_with_a_weekend_lull_inside_its_window(seed: int, hours: int) -> None:
    now_day = 14 + hours / 24
    s = business_week_leak(now_day + 8, now_day - 5, now_day + 4, seed=seed)
    now = T0 + now_day * DAY
    fc = forecast(*s.upto(now), 100.0, "up", now=now, horizon_s=HORIZON)
    assert s.truth is not None and fc.eta is not None, fc.reason
    assert abs(fc.eta - s.truth) <= 0.25 * (s.truth - now), (
        f"eta in {(fc.eta - now) / DAY:.2f} d, truth in {(s.truth - now) / DAY:.2f} d ({fc.reason})"
    )
    assert fc.alert()


# The fleet simulator's own signals, as the demo fleet produces them: a memory leak started five days
# before the end of the history and exhausts memory four days after it. Saturday 5 December 2026.
SIM_WEEK = datetime(2026, 12, 5, 0, 7, tzinfo=UTC)


@pytest.mark.parametrize("hours", [12, 54, 66, 72, 108])  # Sat 12:07, Mon 06:07 and 18:07, Tue 00:07, Wed 12:07
def test_simulated_memory_leak_over_a_weekend(hours: int) -> None:
    fleet = build_fleet(FleetSpec(4, 1, 7))
    end = SIM_WEEK + timedelta(hours=hours)
    plan = plan_troubles(fleet, TroubleSpec(), end)
    leak = next(t for t in plan.troubles if t.kind is TroubleKind.MEMORY_LEAK)
    host = next(h for h in fleet.hosts if h.hostname == leak.host)
    end_ms = int(end.timestamp() * 1000)
    ts = np.arange(end_ms - 14 * 86_400_000, end_ms, 600_000, dtype=np.int64)
    signals = HostSignals(host, plan.for_host(host.index), end_ms).generate(ts)
    used = next(sv for sv in signals if sv.name == "mem.used_percent")
    now = end.timestamp()
    assert leak.eta is not None
    truth = leak.eta.timestamp()
    fc = forecast(ts / 1000 + 300, np.asarray(used.values, dtype=float), 100.0, "up", now=now, horizon_s=HORIZON)
    assert fc.eta is not None, fc.reason
    assert abs(fc.eta - truth) <= 0.25 * (truth - now), f"eta in {(fc.eta - now) / DAY:.2f} d ({fc.reason})"
