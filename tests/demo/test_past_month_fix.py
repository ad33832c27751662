"""The demo's last whole month: the simulator's incidents are found by that month's inspection, one is
fixed on the spot and one left in the memo, and the month's report shows both."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collector.cli.client import ApiClient
from collector.cli.demo_inspections import FIXES, FOLLOW_UPS, run_past_inspections
from collector.cli.reports import download
from collector.demo import DEMO_POLICY, DEMO_POLICY_NAME
from collector.simulator import TroubleSpec, simulate
from tests.integration.harness import TOKEN, CollectorProcess

pytestmark = [pytest.mark.integration]

# Long enough that the last whole calendar month lies inside it, whatever today's date.
HISTORY = timedelta(days=63)
ACME = {"id": "acme", "name": "ACME Corp", "timezone": "Asia/Shanghai", "language": "zh"}


def test_last_months_incidents_are_fixed_or_followed_up_and_reported(tmp_path: Path) -> None:
    workdir = tmp_path / "collector"
    workdir.mkdir()
    (workdir / DEMO_POLICY_NAME).write_text(DEMO_POLICY, encoding="utf-8")
    proc = CollectorProcess(workdir, ingest={"max_age": "400d"}, tickets={"policy_file": DEMO_POLICY_NAME})
    proc.start()
    try:
        only_past = TroubleSpec(disk_fill=0, memory_leak=0, error_burst=0, ssh_bruteforce=0, silent=0,
                                past_month_incidents=True)
        asyncio.run(simulate(f"127.0.0.1:{proc.grpc_port}", agents=3, customers=1, history=HISTORY,
                             step=timedelta(minutes=30), coarse_step=timedelta(hours=1),
                             fine_window=timedelta(hours=6), trouble=only_past))
        proc.flush()
        client = ApiClient(proc.api, TOKEN)
        last = run_past_inspections(client, [ACME], datetime.now(UTC), HISTORY)
        run_id = last["acme"]
        run = client.get(f"/api/v1/inspections/{run_id}", findings="problems")
        found = {f["check_id"]: f for f in run["findings"] if f["status"] == "critical"}
        assert {"logs.oom_kills", "logs.disk_io_errors"} <= found.keys(), run["findings"]

        # The OOM kills were fixed on the spot: recorded, and their ticket resolved with the record.
        [fix] = client.get(f"/api/v1/inspections/{run_id}/fixes")
        assert fix["check_id"] == "logs.oom_kills" and fix["symptom"] == FIXES["logs.oom_kills"][0][0]
        resolved = client.get(f"/api/v1/tickets/{fix['ticket_id']}")
        assert resolved["state"] == "resolved"
        # The failing disk waits for a part: in the memo, its follow-up ticket acknowledged with the plan.
        [memo] = client.get(f"/api/v1/inspections/{run_id}/memo")
        assert memo["check_id"] == "logs.disk_io_errors" and memo["ticket_state"] == "responded"
        followed = client.get(f"/api/v1/tickets/{memo['ticket_id']}")
        assert FOLLOW_UPS["logs.disk_io_errors"][0] in str(followed)

        # The month's report shows both, and says which events were counted by name.
        month = datetime.fromisoformat(run["since"]) + (datetime.fromisoformat(run["until"]) -
                                                        datetime.fromisoformat(run["since"])) / 2
        period = month.astimezone(UTC).strftime("%Y-%m")
        record = client.request("POST", "/api/v1/reports", json={
            "customer": "acme", "kind": "monthly", "period": period, "formats": ["html"]}, timeout=300)
        html, _ = download(client, f"/api/v1/reports/{record['id']}/html")
        text = re.sub(r"<[^>]+>", " ", html.decode())
        record_part = text[text.index("系统维护记录表"):text.index("系统维护备忘录")]
        assert FIXES["logs.oom_kills"][0][2] in record_part
        memo_part = text[text.index("系统维护备忘录"):]
        assert "磁盘 I/O 错误" in memo_part and f"#{memo['ticket_id']}" in memo_part
        assert re.search(r"磁盘 I/O 错误 \d+ 次", text) and "disk.io_error" not in text
    finally:
        proc.kill()
