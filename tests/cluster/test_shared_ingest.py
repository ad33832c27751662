"""Two collectors on one store: an agent that moves between them is deduplicated by the store, and
the batches a dead collector never folded are folded once by the group's leader."""

from __future__ import annotations

import threading
import time

from collector.cluster.membership import Cluster
from collector.cluster.takeover import Takeover, expire_gone_members, fold_leftovers
from collector.ingest import Outcome
from collector.store import watermark
from collector.store.engine import open_engine
from collector.store.samples import logged_samples
from collector.store.schema import hosts
from tests.collector_core.test_ingest_store import NOW, RET, batch, commit, host, make, samples


def rollup_totals(ing: object) -> tuple[int, float]:
    with ing.engine.connect() as conn:  # type: ignore[attr-defined]
        row = conn.exec_driver_sql("SELECT COALESCE(SUM(count), 0), COALESCE(SUM(sum), 0) FROM rollup_1m").one()
    return int(row[0]), float(row[1])


def stored_seqs(ing: object) -> list[int]:
    with ing.engine.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.exec_driver_sql("SELECT payload FROM ingest_log").all()
    return sorted(logged_samples(r[0]).seq for r in rows)


def test_an_agent_moving_between_collectors_is_deduplicated(postgres_url: str) -> None:
    # A group shares PostgreSQL; on SQLite a collector is the only writer and caches stream marks.
    a, b = make(postgres_url, "col-a"), make(postgres_url, "col-b")
    commit(a, host())
    t = NOW // 60 * 60 - 120
    assert commit(a, *(batch(i, samples(i, [(t + i, float(i))])) for i in range(1, 4))) == [Outcome.ACCEPTED] * 3
    # The agent reconnects to b and replays what a had not acked yet (2, 3), then goes on with 4.
    assert commit(b, host()) == [Outcome.ACCEPTED]
    replay = commit(b, *(batch(i, samples(i, [(t + i, float(i))])) for i in range(2, 5)))
    assert replay == [Outcome.ACCEPTED, Outcome.DUPLICATE, Outcome.DUPLICATE] or \
        sorted(o.value for o in replay) == ["accepted", "duplicate", "duplicate"]
    # And back to a, which must not trust what it saw last time.
    assert commit(a, batch(4, samples(4, [(t + 4, 4.0)]))) == [Outcome.DUPLICATE]
    assert stored_seqs(a) == [1, 2, 3, 4]


def test_the_same_batches_at_two_collectors_at_once_are_stored_once(postgres_url: str) -> None:
    # Concurrent writers need PostgreSQL: a SQLite file has one writer at a time.
    a, b = make(postgres_url, "col-a"), make(postgres_url, "col-b")
    commit(a, host())
    t = NOW // 60 * 60 - 120
    outcomes: dict[str, list[Outcome]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def send(name: str, ing: object) -> None:
        start.wait()
        for i in range(1, 41):
            outcomes[name] += commit(ing, batch(i, samples(i, [(t + i, 1.0)])))  # type: ignore[arg-type]

    threads = [threading.Thread(target=send, args=(n, i)) for n, i in (("a", a), ("b", b))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    # Every seq was accepted at most once; a failed commit (two first inserts racing) would be retried
    # by the agent, so only what was accepted counts.
    accepted = outcomes["a"].count(Outcome.ACCEPTED) + outcomes["b"].count(Outcome.ACCEPTED)
    assert stored_seqs(a) == sorted(set(stored_seqs(a)))
    assert len(stored_seqs(a)) == accepted
    assert accepted == 40, "the second writer waits for the first and then sees its batches as duplicates"


def test_the_leader_folds_a_dead_collectors_leftovers_once(store_url: str) -> None:
    a = make(store_url, "col-a")
    commit(a, host())
    t = NOW // 60 * 60 - 120
    commit(a, batch(1, samples(1, [(t, 1.0)])))
    a._flush()
    commit(a, batch(2, samples(2, [(t + 1, 2.0)])), batch(3, samples(3, [(t + 2, 4.0)])))
    # a is killed here: 2 and 3 are durable but not in the rollups.
    assert rollup_totals(a) == (1, 1.0)
    assert fold_leftovers(a.engine, "col-a", RET, NOW) == 2
    assert fold_leftovers(a.engine, "col-a", RET, NOW) == 0
    assert rollup_totals(a) == (3, 7.0)
    # a comes back under the same id: nothing left for it to fold.
    again = make(store_url, "col-a")
    assert again.recover() == 0
    assert rollup_totals(a) == (3, 7.0)


def test_the_leader_puts_a_dead_collectors_held_hourly_share_into_the_hourly_tier_only(store_url: str) -> None:
    a = make(store_url, "col-a")
    commit(a, host())
    t = NOW // 60 * 60 - 120
    commit(a, batch(1, samples(1, [(t, 1.0)])), batch(2, samples(2, [(t + 1, 2.0)])))
    a._flush(coarse=False)
    commit(a, batch(3, samples(3, [(t + 2, 4.0)])))
    # a is killed here: 1 and 2 are in the 1-minute tier only, 3 in no tier.
    assert fold_leftovers(a.engine, "col-a", RET, NOW) == 3
    assert rollup_totals(a) == (3, 7.0)
    with a.engine.connect() as conn:
        assert tuple(conn.exec_driver_sql("SELECT SUM(count), SUM(sum) FROM rollup_1h").one()) == (3, 7.0)
        assert watermark.read(conn, "col-a") == (3, 3)


def test_a_collector_that_comes_back_during_the_takeover_folds_nothing_twice(store_url: str) -> None:
    a = make(store_url, "col-a")
    commit(a, host())
    t = NOW // 60 * 60 - 120
    commit(a, batch(1, samples(1, [(t, 1.0)])), batch(2, samples(2, [(t + 1, 2.0)])))
    # The restarted collector has read its watermark (0) and folded 1 and 2 …
    back = make(store_url, "col-a")
    with back.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT id, host_id, payload FROM ingest_log ORDER BY id").all()
    for row in rows:
        back.aggregator.fold(row[1], logged_samples(row[2]), NOW)
        back._pending_ids.append(row[0])
    # … while the leader, still believing it dead, folds them first.
    assert fold_leftovers(a.engine, "col-a", RET, NOW) == 2
    back._flush()  # its watermark moved: it rolls back and refolds from the new one
    assert rollup_totals(a) == (2, 3.0)
    with back.engine.connect() as conn:
        assert watermark.read(conn, "col-a") == (rows[-1][0], rows[-1][0])


def test_takeover_marks_the_dead_collectors_streams_disconnected(store_url: str) -> None:
    engine = open_engine(store_url)
    dead = Cluster(engine, "col-a", listen="x:1", api="x:2", heartbeat_s=0.1, lease_ttl_s=0.3)
    dead.beat()
    a = make(store_url, "col-a")
    hu = host()
    hu.connected_to = "col-a"
    commit(a, hu)
    time.sleep(0.35)
    leader = Cluster(engine, "col-b", listen="x:3", api="x:4", heartbeat_s=0.1, lease_ttl_s=0.3)
    leader.on_leader_beat.append(Takeover(engine, RET, lambda: NOW))
    assert leader.beat()
    with engine.connect() as conn:
        row = conn.execute(hosts.select().where(hosts.c.id == "h1")).mappings().one()
    assert row["connected"] is False and row["connected_to"] is None


def test_a_late_disconnect_from_the_old_collector_keeps_the_new_connection(store_url: str) -> None:
    a, b = make(store_url, "col-a"), make(store_url, "col-b")
    for ing, cid in ((a, "col-a"), (b, "col-b")):
        hu = host()
        hu.connected_to = cid
        commit(ing, hu)
    gone = host()
    gone.connected = False
    commit(a, gone)
    with a.engine.connect() as conn:
        row = conn.execute(hosts.select().where(hosts.c.id == "h1")).mappings().one()
    assert row["connected"] is True and row["connected_to"] == "col-b"


def test_the_leader_applies_raw_retention_to_a_dead_collectors_batches(store_url: str) -> None:
    engine = open_engine(store_url)
    Cluster(engine, "col-a", listen="x:1", api="x:2", heartbeat_s=0.1, lease_ttl_s=0.3).beat()
    a = make(store_url, "col-a")
    commit(a, host())
    t = NOW // 60 * 60 - 120
    commit(a, batch(1, samples(1, [(t, 1.0)])), batch(2, samples(2, [(t + 1, 2.0)])))
    time.sleep(0.35)
    later = NOW + RET["raw"] + 3600  # a's batches are past raw retention by now
    leader = Cluster(engine, "col-b", listen="x:3", api="x:4", heartbeat_s=0.1, lease_ttl_s=0.3)
    leader.on_leader_beat.append(Takeover(engine, RET, lambda: later))
    assert leader.beat()
    assert len(stored_seqs(a)) == 2, "the beat folds; retention is the job's"
    assert expire_gone_members(engine, "col-b", leader.ttl_ms, RET, later) == ["col-a"]
    assert stored_seqs(a) == [], "folded first, then expired"
    assert rollup_totals(a) == (2, 3.0)
