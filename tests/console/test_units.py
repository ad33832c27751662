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
