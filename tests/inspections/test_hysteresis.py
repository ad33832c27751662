"""Recovery levels: a value hovering around a level does not flip between ok and warning from one
inspection to the next; it gets better only once it has passed the recovery level."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from inspections import (
    Finding,
    HostInfo,
    MemoryData,
    OverrideError,
    Overrides,
    PreviousStatuses,
    Profile,
    builtin_library,
    parse_overrides_text,
    run_inspection,
)
from inspections.checks.definition import MetricCheckSpec
from inspections.hysteresis import Recovery, held_status
from inspections.model import Threshold

START = datetime(2026, 11, 1, tzinfo=UTC)
CHECK = "network.interface_errors"
HOST = HostInfo(host_id="h1", hostname="db-01", customer_id="acme", last_seen=None)
PACKETS_PER_S = 20_000.0
# The share of packets with errors on each day, in %: around the warning level of 0.01 %, then well below.
DAILY_SHARE = (0.011, 0.009, 0.0105, 0.0095, 0.012, 0.008, 0.0101, 0.0099, 0.004, 0.009, 0.011, 0.12, 0.07,
               0.03)


def _fleet() -> MemoryData:
    data, labels = MemoryData(), {"interface": "eth0"}
    hours = [(START + timedelta(hours=h), DAILY_SHARE[h // 24]) for h in range(24 * len(DAILY_SHARE))]
    data.record(HOST.host_id, "net.rx_packets_per_s", labels, [(t, PACKETS_PER_S) for t, _ in hours])
    data.record(HOST.host_id, "net.rx_errors_per_s", labels, [(t, PACKETS_PER_S * share / 100) for t, share in hours])
    return data


def _daily_runs(overrides: Overrides | None = None, *, carry: bool) -> list[Finding]:
    """One inspection per day, each handed the statuses of the day before when ``carry``."""
    data, library = _fleet(), builtin_library()
    profile = Profile(id="nic", name={"zh": "网卡", "en": "NIC"}, description={"zh": "网卡", "en": "NIC"},
                      window=timedelta(days=1), stale_after=timedelta(days=400), checks=(library.get(CHECK),))
    out: list[Finding] = []
    previous: PreviousStatuses | None = None
    for day in range(len(DAILY_SHARE)):
        since = START + timedelta(days=day)
        until = since + timedelta(days=1)
        host = HostInfo(HOST.host_id, HOST.hostname, HOST.customer_id, last_seen=until)
        result = run_inspection(data, [host], profile, window=(since, until), now=until, overrides=overrides,
                                previous=previous)
        [finding] = [f for f in result.hosts[0].findings if f.check_id == CHECK]
        out.append(finding)
        if carry:
            previous = {(f.host_id, f.check_id, f.subject): f.status for h in result.hosts for f in h.findings}
    return out


def _statuses(findings: list[Finding]) -> str:
    return "".join({"ok": ".", "warning": "W", "critical": "C", "unknown": "?"}[f.status] for f in findings)


def test_a_link_hovering_around_the_warning_level_does_not_flip() -> None:
    # Judged by the levels alone, the link flips every day.
    alone = _daily_runs(carry=False)
    assert _statuses(alone) == "W.W.W.W...WCWW"
    assert [round(f.observed or 0, 4) for f in alone] == list(DAILY_SHARE)
    # With the previous inspection's status it stays at warning until the share falls below the recovery
    # level (0.005 %); back at ok, a share under the warning level stays ok.
    held = _daily_runs(carry=True)
    # Critical on day 12, the link stays critical above 0.05 % and then steps down to warning.
    assert _statuses(held) == "WWWWWWWW..WCCW"
    kept = held[1]
    assert kept.status == "warning" and kept.observed == pytest.approx(0.009)
    assert kept.note is not None and "0.005%" in kept.note["zh"] and "0.005%" in kept.note["en"]
    # Exactly the findings the recovery levels held say why.
    assert [f.note is not None for f in held] == [a.status != h.status for a, h in zip(alone, held, strict=True)]


def test_critical_recovers_in_steps() -> None:
    levels = Threshold(warn=0.01, crit=0.1, direction="above")
    recovery = Recovery(warn=0.005, crit=0.05)
    assert held_status(0.07, levels, recovery, "warning", "critical") == "critical"  # not yet below 0.05
    assert held_status(0.03, levels, recovery, "warning", "critical") == "warning"  # below 0.05, above 0.005
    assert held_status(0.007, levels, recovery, "ok", "critical") == "warning"
    assert held_status(0.004, levels, recovery, "ok", "critical") == "ok"
    assert held_status(0.07, levels, recovery, "warning", "warning") == "warning"  # never worse than before
    assert held_status(0.2, levels, recovery, "critical", "warning") == "critical"  # the levels still escalate
    assert held_status(0.009, levels, recovery, "ok", "ok") == "ok"
    assert held_status(0.009, levels, recovery, "ok", None) == "ok"
    assert held_status(0.009, levels, Recovery(), "ok", "warning") == "ok"  # no recovery levels, no holding
    below = Threshold(warn=20.0, crit=10.0, direction="below")  # e.g. free memory in %
    assert held_status(21.0, below, Recovery(warn=25.0), "ok", "warning") == "warning"
    assert held_status(26.0, below, Recovery(warn=25.0), "ok", "warning") == "ok"


def test_recovery_levels_per_customer() -> None:
    tight = parse_overrides_text(f"checks:\n  - {{check: {CHECK}, recover_warn: 0.0085}}\n")
    held = _daily_runs(tight, carry=True)
    # 0.008 % is below the customer's recovery level: the link is ok on day 6, at warning again on day 7
    # (0.0101 % reaches the level) and held there on day 8 (0.0099 % is above 0.0085 %).
    assert _statuses(held) == "WWWWW.WW..WCCW"
    off = parse_overrides_text(f"checks:\n  - {{check: {CHECK}, recover_warn: 0.01, recover_crit: 0.1}}\n")
    assert _statuses(_daily_runs(off, carry=True)) == "W.W.W.W...WCWW"


def test_recovery_levels_must_lie_on_the_good_side_of_their_level() -> None:
    with pytest.raises(OverrideError, match="recovery warn"):
        parse_overrides_text(f"checks:\n  - {{check: {CHECK}, recover_warn: 0.02}}\n")
    spec = builtin_library().get(CHECK).spec.model_dump()
    with pytest.raises(ValueError, match="recovery crit"):
        MetricCheckSpec.model_validate({**spec, "recovery": {"crit": 0.2}})
    with pytest.raises(ValueError, match="no warn level"):
        MetricCheckSpec.model_validate({**spec, "warn": None, "recovery": {"warn": 0.005}})
