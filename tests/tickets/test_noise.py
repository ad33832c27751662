"""Noise control with an injected clock: dedup, hysteresis, flapping and maintenance windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from collector.tickets import repository as repo
from collector.tickets.model import Severity, State
from collector.tickets.noise import MaintenanceWindow, track_flapping
from tests.tickets.helpers import FakeClock, Harness


def test_one_open_ticket_per_fingerprint_with_a_repeat_counter(h: Harness) -> None:
    report = h.svc.ingest([h.sig(True), h.sig(True, subject="/var")])
    assert len(report.opened) == 2
    first = report.opened[0]
    for _ in range(4):
        h.clock.advance(minutes=5)
        report = h.svc.ingest([h.sig(True)])
        assert report.opened == [] and report.repeated == 1
    t = h.svc.get(first)
    assert t.occurrences == 5 and t.fingerprint == "web-01|disk.usage|/data"
    assert [d["occurrences"] for _, a, d in h.timeline(first) if a == "repeat"] == [2, 3, 4, 5]
    assert h.events(first) == ["opened"]  # repeats do not notify
    assert len(h.open_tickets()) == 2


def test_the_database_refuses_a_second_open_ticket(h: Harness) -> None:
    h.svc.ingest([h.sig(True)])
    with pytest.raises(IntegrityError), h.engine.begin() as conn:
        t = h.svc.get(1, conn)
        repo.insert_ticket(conn, {**{c: getattr(t, c, None) for c in ("fingerprint", "customer_id", "host_id",
                                                                       "check_id", "subject", "title",
                                                                       "sla_profile", "reporter")},
                                  "open_fingerprint": t.fingerprint, "source": "inspection", "severity": "L3",
                                  "state": "registered", "registration": {}, "classification": {}, "details": {},
                                  "created_ms": 0, "updated_ms": 0, "last_seen_ms": 0, "flap_changes": []})


def test_repeats_are_noted_at_most_once_per_interval(tmp_path: Path, clock: FakeClock) -> None:
    hq = Harness(tmp_path, clock, {"noise": {"repeat_note_every": "1h"}})
    hq.svc.ingest([hq.sig(True)])
    for _ in range(12):  # every 10 min for 2 h
        clock.advance(minutes=10)
        hq.svc.ingest([hq.sig(True)])
    notes = [d for _, a, d in hq.timeline(1) if a == "repeat"]
    assert [n["repeats"] for n in notes] == [6, 6]
    assert hq.svc.get(1).occurrences == 13


def test_auto_resolve_only_after_staying_clear(h: Harness) -> None:
    h.svc.ingest([h.sig(True)])
    h.clock.advance(minutes=5)
    assert h.svc.ingest([h.sig(False)]).cleared == 1
    h.clock.advance(minutes=14)
    assert h.evaluator.evaluate().resolved == []  # 14 of 15 minutes
    h.svc.ingest([h.sig(True)])  # back before the hysteresis elapsed: no resolution, no new ticket
    h.clock.advance(minutes=20)
    assert h.evaluator.evaluate().resolved == [] and h.svc.get(1).is_open
    h.svc.ingest([h.sig(False)])
    h.clock.advance(minutes=15)
    assert h.evaluator.evaluate().resolved == [1]
    t = h.svc.get(1)
    assert t.state == State.RESOLVED and t.resolved_by == "system"
    assert h.actions(1).count("condition_clear") == 2 and "condition_returned" in h.actions(1)
    assert h.events(1) == ["opened", "resolved"]
    # Auto-resolution is no response: the response clock was cut short, not met.
    assert h.clocks(1)["respond"].stop_reason == "resolved"


def test_clear_reported_with_the_firing_batch_resolves_on_the_next_signal(h: Harness) -> None:
    h.svc.ingest([h.sig(True)])
    h.svc.ingest([h.sig(False)])
    h.clock.advance(minutes=16)
    report = h.svc.ingest([h.sig(False)])
    assert report.resolved == [1]


def test_return_soon_after_auto_resolve_reopens_later_it_is_a_new_ticket(h: Harness) -> None:
    h.svc.ingest([h.sig(True)])
    h.svc.ingest([h.sig(False)])
    h.clock.advance(minutes=15)
    h.evaluator.evaluate()
    h.clock.advance(minutes=30)
    report = h.svc.ingest([h.sig(True)])
    assert report.reopened == [1] and report.opened == []
    assert h.svc.get(1).is_open and "reopened" in h.actions(1)
    h.svc.ingest([h.sig(False)])
    h.clock.advance(minutes=15)
    h.evaluator.evaluate()
    h.clock.advance(hours=2)  # beyond reopen_within (1 h): a repeat fault, counted as such
    report = h.svc.ingest([h.sig(True)])
    assert report.opened == [2]
    assert h.svc.get(2).repeat_of == 1


def test_flapping_is_detected_notifications_stop_and_it_ends(tmp_path: Path, clock: FakeClock) -> None:
    hf = Harness(tmp_path, clock, {"noise": {"flap_threshold": 4, "flap_window": "1h", "clear_for": "10m"}})
    hf.svc.ingest([hf.sig(True)])
    for firing in (False, True, False, True):  # four changes in 20 minutes
        clock.advance(minutes=5)
        hf.svc.ingest([hf.sig(firing)])
    t = hf.svc.get(1)
    assert t.flapping and t.is_open
    started = [d for _, a, d in hf.timeline(1) if a == "flapping_started"]
    assert started and started[0]["changes"] == 4
    # While flapping, the condition's own notifications are suppressed and the timeline says so.
    clock.advance(minutes=1)
    hf.svc.ingest([hf.sig(False)])
    clock.advance(minutes=10)
    assert hf.evaluator.evaluate().resolved == [1]
    assert hf.events(1) == ["opened"]
    suppressed = [d for _, a, d in hf.timeline(1) if a == "notification_suppressed"]
    assert suppressed == [{"event": "resolved", "reason": "flapping"}]
    # Once the window holds only a few changes, flapping ends (reported by the periodic pass).
    clock.advance(minutes=10)
    hf.svc.ingest([hf.sig(True)])  # reopened (soon after resolving itself): one more change
    clock.advance(hours=1, minutes=5)
    report = hf.evaluator.evaluate()
    assert report.flapping_stopped == [1]
    assert not hf.svc.get(1).flapping and "flapping_stopped" in hf.actions(1)


def test_flap_tracking_is_hysteretic() -> None:
    now = 10_000_000
    st = track_flapping([], now, 3600, 4, False, True)
    for i in range(1, 4):
        st = track_flapping(st.changes_ms, now + i * 1000, 3600, 4, st.flapping, True)
    assert st.flapping and st.started
    # Three changes age out; with one left (<= 4 // 2) it stops; with three it would still flap.
    later = track_flapping(st.changes_ms, now + 3600 * 1000 + 1500, 3600, 4, True, False)
    assert not later.flapping and later.stopped
    hold = track_flapping((*st.changes_ms[:3], now + 3000000), now + 3_100_000, 3600, 4, True, False)
    assert hold.flapping


def test_maintenance_window_silences_creation_and_notifications(tmp_path: Path, clock: FakeClock) -> None:
    start = clock.now
    hm = Harness(tmp_path, clock, {"maintenance": [
        {"host": "web-01", "start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat(),
         "reason": "disk replacement"},
        {"customer": "globex", "check": "agent.*", "hours": "23:00-01:00", "days": "sat"},
    ]})
    report = hm.svc.ingest([hm.sig(True), hm.sig(True, host="db-01")])
    assert report.suppressed == 1 and len(report.opened) == 1
    assert hm.svc.get(report.opened[0]).host_id == "db-01"
    clock.advance(hours=2)
    assert hm.svc.ingest([hm.sig(True)]).opened  # the window ended
    # Recurring past midnight in the customer's zone (Berlin): Saturday 23:00 to Sunday 01:00.
    w = hm.svc.windows()[1]
    berlin_sat_2330 = datetime(2025, 6, 7, 21, 30, tzinfo=UTC)
    assert w.active(berlin_sat_2330, "Europe/Berlin")
    assert w.active(berlin_sat_2330 + timedelta(hours=1), "Europe/Berlin")  # Sunday 00:30
    assert not w.active(berlin_sat_2330 + timedelta(hours=2), "Europe/Berlin")
    assert not w.active(berlin_sat_2330 - timedelta(days=1), "Europe/Berlin")  # Friday
    assert w.matches("globex", "any-host", "agent.offline") and not w.matches("globex", "h", "disk.usage")
    clock.set(berlin_sat_2330)
    offline = hm.sig(True, host="gx-01", customer="globex", check="agent.offline", subject="")
    assert hm.svc.ingest([offline]).suppressed == 1


def test_a_window_added_at_runtime_silences_notifications_of_open_tickets(h: Harness) -> None:
    h.svc.ingest([h.sig(True, severity=Severity.L3)])
    w = h.svc.add_window("alice", MaintenanceWindow(customer="acme", start=h.clock.now,
                                                    end=h.clock.now + timedelta(hours=1), reason="upgrade"))
    assert w.id is not None and w.created_by == "alice"
    h.svc.ingest([h.sig(True, severity=Severity.L1)])  # severity raised while in maintenance
    assert h.svc.get(1).severity == Severity.L1
    assert h.events(1) == ["opened"]
    assert [d["event"] for _, a, d in h.timeline(1) if a == "notification_suppressed"] == ["severity_raised"]
    h.svc.delete_window("alice", w.id)
    assert [x.id for x in h.svc.windows()] == []
    with h.engine.connect() as conn:
        assert repo.stored_windows(conn, h.clock.now) == []
