"""Defaults that don't cry wolf: a simulated fleet without injected trouble inspects as healthy.

The simulator gives every host the background a real one has — interface error and drop episodes,
daily load, backups, occasional failed logins — and a month of it must not raise a single warning
in the monthly inspection. With the default trouble injected, exactly the troubled hosts stand out.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from collector.inspection.data import StoreData, load_hosts
from collector.simulator import FleetSpec, HistorySchedule, TroubleSpec, build_fleet, encoded_batches
from collector.simulator.trouble import TroubleKind, plan_troubles
from inspections import load_profile, run_inspection
from tests.collector_inspection.store import RETENTION, ingest, open_store

END = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
NOW_S = END.timestamp() + 60
SCHEDULE = HistorySchedule(history=timedelta(days=31), step=timedelta(minutes=10), coarse_step=timedelta(hours=1),
                           fine_window=timedelta(days=1))


def _statuses(engine: Engine) -> dict[str, dict[str, str]]:
    """Host name → check/subject → status, for every finding that is not ok or not applicable."""
    data = StoreData(engine, RETENTION, lambda: NOW_S)
    hosts = load_hosts(engine, "acme")
    result = run_inspection(data, hosts, load_profile("monthly"), now=datetime.fromtimestamp(NOW_S, UTC))
    names = {h.host_id: h.hostname for h in hosts}
    return {
        names[h.host_id]: {
            f"{f.check_id} {f.subject}".strip(): f.status
            for f in h.findings
            if f.status not in ("ok", "not_applicable")
        }
        for h in result.hosts
    }


@pytest.fixture(scope="module")
def quiet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = open_store(tmp_path_factory.mktemp("quiet") / "patrol.sqlite")
    ingest(engine, encoded_batches(agents=5, customers=1, seed=11, end=END, schedule=SCHEDULE,
                                   trouble=TroubleSpec.none()), NOW_S)
    yield engine
    engine.dispose()


def test_a_month_of_ordinary_operation_raises_nothing(quiet: Engine) -> None:
    statuses = _statuses(quiet)
    assert len(statuses) == 5
    assert statuses == {host: {} for host in statuses}, statuses


def test_with_the_default_trouble_exactly_the_troubled_hosts_stand_out(tmp_path: Path) -> None:
    engine = open_store(tmp_path / "patrol.sqlite")
    try:
        ingest(engine, encoded_batches(agents=5, customers=1, seed=11, end=END, schedule=SCHEDULE,
                                       trouble=TroubleSpec()), NOW_S)
        statuses = _statuses(engine)
    finally:
        engine.dispose()
    fleet = build_fleet(FleetSpec(agents=5, customers=1, seed=11))
    plan = plan_troubles(fleet, TroubleSpec(), END)
    # The memory leak has not hurt yet at the end of history: it is the forecast's to find, not the inspection's.
    troubled = {t.host for t in plan.troubles if t.kind is not TroubleKind.MEMORY_LEAK}
    assert len(troubled) == 4
    flagged = {host for host, found in statuses.items() if found}
    assert flagged == troubled, (statuses, [(t.kind.value, t.host) for t in plan.troubles])
