"""The group lease: one holder at a time, handed over on a clean stop, taken over when the holder dies."""

from __future__ import annotations

import asyncio
import time

from collector.cluster.membership import SCHEDULER_LEASE, Cluster, members, release_lease, try_lease
from collector.store.engine import open_engine


# A holder trusts its lease for 80 % of the TTL after the start of its beat. The TTLs below leave
# a beat on a loaded machine (SQLite's fsync, two test workers on two cores) over a second of that.
def cluster(url: str, cid: str, ttl: float = 2.0) -> Cluster:
    return Cluster(open_engine(url), cid, listen="127.0.0.1:4317", api="127.0.0.1:8080", heartbeat_s=0.1,
                   lease_ttl_s=ttl)


def test_one_holder_and_failover_when_it_goes_silent(store_url: str) -> None:
    a, b = cluster(store_url, "col-a"), cluster(store_url, "col-b")
    assert a.beat() and a.is_leader
    assert not b.beat() and not b.is_leader
    assert a.beat(), "renewing keeps the lease"
    first = a.token
    # a dies: no more beats. Within the TTL b still may not take over; after it, b does.
    assert not b.beat()
    time.sleep(2.1)
    assert b.beat() and b.token is not None and first is not None and b.token > first
    # a comes back after a pause: its next beat tells it the lease is gone.
    assert not a.beat() and not a.is_leader
    listed = {m.id: m for m in b.members()}
    assert listed["col-b"].leader and listed["col-b"].alive and not listed["col-a"].leader


def test_a_clean_stop_hands_the_lease_over_at_once(store_url: str) -> None:
    a, b = cluster(store_url, "col-a", ttl=60), cluster(store_url, "col-b", ttl=60)

    async def run() -> None:
        a.start()
        assert a.is_leader
        await a.stop()

    asyncio.run(run())
    assert not a.is_leader
    assert b.beat(), "released on stop, so the next member takes it without waiting for the TTL"


def test_a_restarted_holder_keeps_its_lease_and_token(store_url: str) -> None:
    a = cluster(store_url, "col-a", ttl=60)
    assert a.beat()
    again = cluster(store_url, "col-a", ttl=60)  # the same collector id after a restart
    assert again.beat() and again.token == a.token


def test_leader_is_not_trusted_past_its_ttl_without_a_beat(store_url: str) -> None:
    a = cluster(store_url, "col-a", ttl=2.0)
    assert a.beat() and a.is_leader
    time.sleep(1.7)
    assert not a.is_leader, "a holder that cannot renew must stop acting before others can take over"


def test_try_lease_is_exclusive_and_release_only_by_the_holder(store_url: str) -> None:
    engine = open_engine(store_url)
    with engine.begin() as conn:
        assert try_lease(conn, "x", "a", 1000, 500) == 1
        assert try_lease(conn, "x", "b", 1400, 500) is None
        assert not release_lease(conn, "x", "b")
        assert try_lease(conn, "x", "b", 1501, 500) == 2
        assert try_lease(conn, "x", "b", 1600, 500) == 2
        assert release_lease(conn, "x", "b")
        assert try_lease(conn, "x", "a", 1601, 500) == 3
        assert members(conn, 500) == []  # leases alone do not make members
    assert SCHEDULER_LEASE == "scheduler"
