"""The console's parts without a server: messages, formatting, sparklines, the login limiter, users."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine

from collector.console.i18n import format_time, format_value, preferred_language, translate
from collector.console.messages import EN, ZH
from collector.console.security import LoginLimiter
from collector.console.sessions import SessionPolicy, load_session, open_session
from collector.console.sparkline import sparkline
from collector.console.tables import console_sessions, console_users
from collector.console.users import UserError, authenticate, create_user, set_disabled, set_password
from collector.store.schema import metadata


def test_every_message_exists_in_both_languages() -> None:
    assert set(EN) == set(ZH)
    for key in EN:
        assert set(_fields(EN[key])) == set(_fields(ZH[key])), key


def _fields(text: str) -> list[str]:
    import string

    return [f for _, f, _, _ in string.Formatter().parse(text) if f]


def test_translation_formatting_and_language_choice() -> None:
    assert translate("zh", "fleet.hosts", count=3) == "共 3 台主机"
    assert translate("en", "no.such.key") == "no.such.key"
    assert preferred_language("en-GB,en;q=0.9,zh;q=0.5") == "en"
    assert preferred_language("zh-CN,zh;q=0.9") == "zh"
    assert format_value(3 * 1024**3, "bytes") == "3 GiB"
    assert format_value(42.25, "%") == "42.2 %" or format_value(42.25, "%") == "42.3 %"
    # 2026-12-07 00:00 UTC is 08:00 in Shanghai.
    assert format_time(1796601600000, "Asia/Shanghai") == "2026-12-07 08:00 CST"


def test_sparkline_draws_gaps_and_escapes_its_title() -> None:
    svg = str(sparkline([10, 20, None, 30, 40], title="<cpu>"))
    assert svg.count("<polyline") == 2 and "&lt;cpu&gt;" in svg and "style=" not in svg
    assert "empty" in str(sparkline([None, None]))


def test_login_limiter_locks_a_pair_for_the_window() -> None:
    now = [1000.0]
    limiter = LoginLimiter(3, 300, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.retry_after("Alice", "10.0.0.1") == 0
        limiter.failed("alice", "10.0.0.1")
    assert limiter.retry_after("alice", "10.0.0.1") == 300
    assert limiter.retry_after("alice", "10.0.0.2") == 0  # another address is not locked
    now[0] += 299.5
    assert limiter.retry_after("alice", "10.0.0.1") == 1
    now[0] += 1
    assert limiter.retry_after("alice", "10.0.0.1") == 0


def test_users_passwords_and_sessions(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'c.sqlite'}")
    metadata.create_all(engine, tables=[console_users, console_sessions])
    user = create_user(engine, username="li.wei", password="long enough", role="engineer", now_ms=1)
    with pytest.raises(UserError):
        create_user(engine, username="li.wei", password="long enough", role="engineer", now_ms=1)
    with pytest.raises(UserError):
        create_user(engine, username="c", password="long enough", role="customer", now_ms=1)
    with pytest.raises(UserError):
        create_user(engine, username="short", password="short", role="viewer", now_ms=1)
    assert authenticate(engine, "li.wei", "wrong one!") is None
    assert authenticate(engine, "nobody", "long enough") is None
    assert authenticate(engine, "li.wei", "long enough") == user
    with engine.connect() as conn:
        stored = conn.execute(console_users.select()).mappings().one()["password_hash"]
    assert stored.startswith("$argon2") and "long enough" not in stored
    policy = SessionPolicy(idle_ms=1000, absolute_ms=5000)
    sid, session = open_session(engine, user, "127.0.0.1", now_ms=10_000)
    with engine.connect() as conn:
        assert conn.execute(console_sessions.select()).mappings().one()["id_hash"] != sid  # only its hash
    assert load_session(engine, sid, policy, 10_500) == session
    assert load_session(engine, sid, policy, 12_000) is None  # idle too long
    sid, _ = open_session(engine, user, "127.0.0.1", now_ms=20_000)
    for t in range(20_500, 25_000, 500):
        assert load_session(engine, sid, policy, t) is not None
    assert load_session(engine, sid, policy, 25_500) is None  # past the absolute limit, however busy
    sid, _ = open_session(engine, user, "127.0.0.1", now_ms=30_000)
    set_password(engine, "li.wei", "another password", now_ms=30_001)
    assert load_session(engine, sid, policy, 30_002) is None  # a new password ends the sessions
    sid, _ = open_session(engine, user, "127.0.0.1", now_ms=40_000)
    set_disabled(engine, "li.wei", True)
    assert load_session(engine, sid, policy, 40_001) is None
    assert authenticate(engine, "li.wei", "another password") is None


def test_host_facts_read_as_sizes_times_and_one_line_per_disk_and_interface() -> None:
    from collector.console.hostdata import fact_rows

    # As the collector stores them: patrol.v1.Facts through MessageToDict (64-bit integers as strings).
    facts = {"hostname": "acme-db-01", "os": "Red Hat Enterprise Linux 8.9 (Ootpa)", "cpu_count": 16,
             "memory_bytes": "137438953472", "swap_bytes": "4294967296", "agent_version": "0.1.0",
             "boot_time_ms": "1796601600000",
             "disks": [{"device": "/dev/vda1", "mount": "/", "fstype": "xfs", "total_bytes": "85899345920"}],
             "interfaces": [{"name": "eth0", "addresses": ["10.10.1.10/24"], "mac": "52:54:00:45:f0:31",
                             "speed_mbps": "1000", "up": True, "mtu": 1500}, {"name": "eth1"}],
             "extra": {"virtualization": "kvm", "role": "db"}, "future_fact": "as it came"}
    for lang, memory, up, booted in (("en", "Memory", "up", "Booted"), ("zh", "内存", "已连接", "启动时间")):
        rows = dict(fact_rows(facts, lambda key, lang=lang, **v: translate(lang, key, **v),
                              lambda ms: format_time(ms, "Asia/Shanghai"), {"role": "db"}))
        assert rows[memory] == ["128 GiB"]
        assert rows[booted] == ["2026-12-07 08:00 CST"]
        assert rows[translate(lang, "fact.disks")] == ["/ (/dev/vda1) · xfs · 80 GiB"]
        assert rows[translate(lang, "fact.interfaces")] == [
            f"eth0 · {up} · 1,000 Mb/s · MTU 1500 · 10.10.1.10/24 · 52:54:00:45:f0:31",
            f"eth1 · {translate(lang, 'fact.down')}"]
        assert rows["virtualization"] == ["kvm"] and rows["future_fact"] == ["as it came"]
        assert "role" not in rows  # the page shows it among the host's labels already
        assert "agent_version" not in rows and not any(k.endswith(("_bytes", "_ms")) for k in rows)
    assert fact_rows(None, lambda key, **v: key, str) == []
