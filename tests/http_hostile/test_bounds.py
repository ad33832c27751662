"""Out-of-range ids, durations and times answer 4xx naming what is wrong, on the routes that answered 500."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import HTTPException

from collector.params import EARLIEST, parse_duration_param, parse_time
from tests.http_hostile.app import Known, auth

pytestmark = pytest.mark.integration

NOW = datetime(2026, 10, 2, 2, 0, tzinfo=UTC)
HUGE_DURATION = "99999999999999d"
HUGE_ID = "99999999999999999999999"


def _refusal(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, r.text
    return str(r.json()["detail"])


@pytest.mark.parametrize("param", ["since", "until"])
def test_overflowing_durations_and_times_on_series_events_and_audit(api: tuple[httpx.Client, Known],
                                                                     param: str) -> None:
    client, known = api
    host = known.hosts[0]
    for path in (f"/api/v1/hosts/{host}/series/cpu.busy_percent", f"/api/v1/hosts/{host}/events",
                 f"/api/v1/hosts/{host}/events/counts", "/api/v1/audit"):
        for value in (HUGE_DURATION, "9" * 40 + "s", "10000-01-01T00:00:00", "0001-01-01T00:00:00+14:00"):
            detail = _refusal(client.get(path, params={param: value}, headers=auth()), 400)
            assert detail.startswith(f"{param}: ") and repr(value) in detail, detail


def test_a_step_below_one_second_or_beyond_a_century_is_refused(api: tuple[httpx.Client, Known]) -> None:
    client, known = api
    path = f"/api/v1/hosts/{known.hosts[0]}/series/cpu.busy_percent"
    for step in ("0.0000001ms", HUGE_DURATION):
        assert "step: " in _refusal(client.get(path, params={"step": step}, headers=auth()), 400)
    assert client.get(path, params={"step": "1d", "since": "30d"}, headers=auth()).status_code == 200


@pytest.mark.parametrize("path", [
    "/api/v1/tickets/{id}", "/api/v1/inspections/{id}", "/api/v1/inspections/{id}/checklist",
    "/api/v1/reports/{id}", "/api/v1/reports/{id}/html",
])
def test_ids_beyond_the_stores_integers_are_refused(api: tuple[httpx.Client, Known], path: str) -> None:
    client, _ = api
    for value in (HUGE_ID, str(2**63), "0", "-1"):
        r = client.get(path.format(id=value), headers=auth())
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"][0] == "path"
    assert client.get(path.format(id=str(2**63 - 1)), headers=auth()).status_code == 404


def test_deleting_a_maintenance_window_with_a_huge_id_is_refused(api: tuple[httpx.Client, Known]) -> None:
    client, _ = api
    window = client.post("/api/v1/maintenance", headers=auth(), json={"customer": "acme", "hours": "01:00-02:00"})
    assert window.status_code == 200, window.text
    assert client.delete(f"/api/v1/maintenance/{HUGE_ID}", headers=auth()).status_code == 422
    listed = client.get("/api/v1/maintenance", headers=auth()).json()
    assert window.json()["id"] in [w["id"] for w in listed]  # nothing already accepted is lost


def test_nan_and_infinity_in_bodies_are_refused_and_quoted(api: tuple[httpx.Client, Known]) -> None:
    client, known = api
    headers = {**auth(), "content-type": "application/json"}
    r = client.post(f"/api/v1/tickets/{known.tickets[0]}/satisfaction", headers=headers,
                    content='{"attitude": NaN, "quality": Infinity, "resolution": 5}')
    errors = r.json()["detail"]
    assert r.status_code == 422 and {e["loc"][-1] for e in errors} == {"attitude", "quality"}
    assert {e["input"] for e in errors} == {"nan", "inf"}
    r = client.post("/api/v1/tickets", headers=headers, content="-Infinity")
    assert r.status_code == 422 and r.json()["detail"][0]["input"] == "-inf"


def test_times_and_durations_parse_within_their_bounds() -> None:
    assert parse_time("7d", NOW) == NOW - timedelta(days=7)
    assert parse_time("2026-01-01T08:00:00+08:00", NOW) == datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_time(None, NOW, default=NOW) == NOW
    assert parse_time(str(int((NOW - EARLIEST).total_seconds())), NOW) == EARLIEST
    for bad in ("99999999999999d", "inf", "nan", "10000-01-01", "1899-12-31", "3000-01-01T00:00:00Z"):
        with pytest.raises(HTTPException) as info:
            parse_time(bad, NOW, name="since")
        assert info.value.status_code == 400 and str(info.value.detail).startswith("since: ")
    assert parse_duration_param("step", "1h") == timedelta(hours=1)
    with pytest.raises(HTTPException, match="out of range"):
        parse_duration_param("step", "0s", minimum=timedelta(seconds=1))
