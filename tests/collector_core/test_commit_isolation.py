"""The commit path on SQLite and PostgreSQL: a batch the store refuses fails alone and is quarantined
(raw bytes, reason, agent, seq) and acked; the batches committed with it are stored; rollups stay finite."""

from __future__ import annotations

from sqlalchemy import select

from collector.ingest import Batch, Outcome
from collector.store import quarantine as repository
from collector.store import queries
from collector.store.quarantine import quarantine
from protos.patrol.v1 import agent_pb2 as pb
from tests.collector_core.test_ingest_store import NOW, batch, commit, host, make, samples


def events_batch(seq: int, rule: str, host_id: str = "h1") -> Batch:
    ev = pb.Events(seq=seq, events=[pb.Event(timestamp_ms=int(NOW * 1000), rule=rule, line="l")])
    return Batch(host_id=host_id, epoch="e1", seq=seq, done=lambda _: None, events=ev)


def test_a_refused_batch_fails_alone_and_is_quarantined(store_url: str) -> None:
    """Failure 3 (and 5 on PostgreSQL): one batch the store cannot take used to fail its whole group."""
    ing = make(store_url)
    commit(ing, host("h1"), host("h2"), host("h3"))
    # Bypasses the door on purpose: a seq past int64 is what the store refuses on every backend.
    poisoned = batch(2**63, samples(2**63, [(NOW - 5, 1.0)]), host="h2")
    group = [batch(1, samples(1, [(NOW - 10, 1.0)]), host="h1"), poisoned,
             *(batch(i, samples(i, [(NOW - 10 + i, 2.0)]), host="h3") for i in range(1, 6))]
    outcomes = commit(ing, *group)
    assert outcomes.count(Outcome.ACCEPTED) == 6
    assert outcomes.count(Outcome.QUARANTINED) == 1
    ing._flush()
    with ing.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT SUM(count) FROM rollup_1m").scalar() == 6
        held = repository.listing(conn)
    assert [(h["host_id"], h["kind"]) for h in held] == [("h2", "samples")]
    assert held[0]["reason"].startswith(f"seq {2**63}: ")


def test_overlong_rule_is_quarantined_where_the_store_refuses_it(store_url: str) -> None:
    ing = make(store_url)
    commit(ing, host("h1"), host("h2"))
    bad = events_batch(1, "r" * 300, host_id="h2")
    outcomes = commit(ing, events_batch(1, "ok"), bad, events_batch(2, "ok"))
    assert Outcome.FAILED not in outcomes
    with ing.engine.connect() as conn:
        rules = [r[0] for r in conn.exec_driver_sql("SELECT rule FROM events ORDER BY id")]
        held = repository.listing(conn)
    assert rules.count("ok") == 2
    if ing.engine.dialect.name == "postgresql":  # SQLite does not enforce VARCHAR lengths
        assert outcomes.count(Outcome.QUARANTINED) == 1
        assert [(h["host_id"], h["seq"], h["kind"]) for h in held] == [("h2", 1, "events")]
        assert "too long" in held[0]["reason"]
        with ing.engine.connect() as conn:
            entry = repository.get(conn, held[0]["id"])
        assert entry is not None and pb.AgentMessage.FromString(entry.payload).events.events[0].rule == "r" * 300
        # The quarantined seq counts as done: the agent's retry of it is a duplicate, the next seq is new.
        assert commit(ing, events_batch(1, "r" * 300, host_id="h2")) == [Outcome.DUPLICATE]
        assert commit(ing, events_batch(2, "ok", host_id="h2")) == [Outcome.ACCEPTED]


def test_store_outage_fails_the_group_without_quarantine(store_url: str) -> None:
    ing = make(store_url)
    commit(ing, host("h1"))
    ing.engine.dispose()
    real_begin = ing.engine.begin

    def broken_begin():  # type: ignore[no-untyped-def]
        raise ConnectionError("store unreachable")

    ing.engine.begin = broken_begin  # type: ignore[method-assign]
    try:
        outcomes = commit(ing, batch(1, samples(1, [(NOW, 1.0)])), batch(2, samples(2, [(NOW, 1.0)])))
    finally:
        ing.engine.begin = real_begin  # type: ignore[method-assign]
    assert outcomes == [Outcome.FAILED, Outcome.FAILED]
    with ing.engine.connect() as conn:
        assert conn.execute(select(quarantine.c.id)).all() == []


def test_rollups_of_extreme_finite_values_stay_finite(store_url: str) -> None:
    """Failure 1 below the door: values folded from the ingest log are bounded by the aggregator too."""
    ing = make(store_url)
    commit(ing, host())
    b = NOW // 60 * 60 - 120
    commit(ing, batch(1, samples(1, [(b, 1e308), (b + 1, 1e308), (b + 2, 3.0)])),
           batch(2, samples(2, [(b + 3, -1e308), (b + 4, -1e308)])))
    assert ing._flush() is True
    with ing.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT min, max, sum, count FROM rollup_1m").all()
    assert [tuple(r) for r in rows] == [(3.0, 3.0, 3.0, 1)]


def test_hosts_stay_readable_with_out_of_range_stamps_already_stored(store_url: str) -> None:
    """Failure 2 for stores written before the door: such stamps read as unknown instead of failing."""
    ing = make(store_url)
    commit(ing, host("h1"))
    with ing.engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE hosts SET last_data_ms = {2**62}, last_seen_ms = {2**63 - 1}")
    with ing.engine.connect() as conn:
        (row,) = queries.list_hosts(conn, NOW, 90.0)
    assert row.last_data is None and row.last_seen is None and row.first_seen is not None
