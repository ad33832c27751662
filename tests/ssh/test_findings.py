"""Findings from target states: the state machine of a target row and the two checks."""

from __future__ import annotations

import json

from collector.ssh.findings import HOST_KEY, REACHABLE, findings_for
from collector.ssh.state import TargetStatus, first_status

T0 = 1_800_000_000_000


def start() -> TargetStatus:
    return first_status("db-01", "acme", "patrol@10.0.0.5:22", "c1", T0)


def test_status_transitions() -> None:
    ok = start().after(state="ok", at_ms=T0 + 1000, host_key="SHA256:abc", problems=["`ss -s` exited 127"])
    assert (ok.state, ok.last_ok_ms, ok.consecutive_failures, ok.last_error) == ("ok", T0 + 1000, 0, None)
    down = ok.after(state="unreachable", at_ms=T0 + 2000, error="refused").after(
        state="unreachable", at_ms=T0 + 3000, error="refused again")
    assert down.consecutive_failures == 2 and down.state_since_ms == T0 + 2000
    assert down.last_ok_ms == T0 + 1000 and down.last_error == "refused again"
    assert down.host_key == "SHA256:abc" and down.problems == ["`ss -s` exited 127"]  # kept from the good poll
    back = down.after(state="ok", at_ms=T0 + 4000)
    assert back.consecutive_failures == 0 and back.state_since_ms == T0 + 4000
    d = back.to_dict()
    json.dumps(d)
    assert d["last_ok"].startswith("2027-01-15T08:00:04")  # ISO 8601, UTC


def test_reachable_levels() -> None:
    ok = start().after(state="ok", at_ms=T0)
    statuses = {f.check_id: f.status for f in findings_for(ok)}
    assert statuses == {REACHABLE: "ok", HOST_KEY: "ok"}
    once = ok.after(state="unreachable", at_ms=T0 + 1, error="timed out")
    assert {f.check_id: f.status for f in findings_for(once)} == {REACHABLE: "warning"}  # key not checked
    thrice = once.after(state="unreachable", at_ms=T0 + 2, error="x").after(state="unreachable", at_ms=T0 + 3,
                                                                            error="no route to host")
    (finding,) = findings_for(thrice)
    assert finding.status == "critical" and finding.observed == 3
    assert finding.note is not None and "no route to host" in finding.note["en"] and "zh" in finding.note
    assert finding.category == "device_network" and finding.to_dict()["evidence"]["source"] == "host"


def test_host_key_states() -> None:
    changed = start().after(state="hostkey_changed", at_ms=T0, error="HOST KEY CHANGED for 10.0.0.5")
    by_check = {f.check_id: f for f in findings_for(changed)}
    assert by_check[HOST_KEY].status == "critical" and by_check[HOST_KEY].category == "data_security"
    assert by_check[REACHABLE].status == "warning"
    unknown = start().after(state="hostkey_unknown", at_ms=T0, error="not in known_hosts")
    key = {f.check_id: f for f in findings_for(unknown)}[HOST_KEY]
    assert key.status == "unknown" and key.unknown_reason == "not in known_hosts"
    auth = start().after(state="auth_failed", at_ms=T0, error="refused")
    assert {f.check_id: f.status for f in findings_for(auth)}[HOST_KEY] == "ok"
