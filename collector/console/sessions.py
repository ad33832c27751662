"""Server-side sessions: the cookie carries a random id, the store keeps only its SHA-256.

A session ends after ``idle`` without a request or ``absolute`` after the login, whichever comes
first; logging out, a password change or disabling the user deletes it. Each session has its own
CSRF token, which every write through the console must send back (:mod:`collector.console.security`).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, or_, select, update

from collector.console.tables import console_sessions, console_users
from collector.console.users import User, get_user

COOKIE = "patrol_session"
# A session seen again within this many ms (at most a tenth of the idle limit) keeps its stored
# last use, sparing a write per request.
TOUCH_EVERY_MS = 60_000


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str
    created_ms: int
    id_hash: str


@dataclass(frozen=True)
class SessionPolicy:
    idle_ms: int
    absolute_ms: int


def open_session(engine: Engine, user: User, client: str, now_ms: int) -> tuple[str, Session]:
    """A new session for ``user``: (the id for the cookie, the session)."""
    session_id = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    digest = _digest(session_id)
    with engine.begin() as conn:
        conn.execute(insert(console_sessions).values(id_hash=digest, user_id=user.id, csrf_token=csrf,
                                                     created_ms=now_ms, last_seen_ms=now_ms, client=client[:64]))
    return session_id, Session(user, csrf, now_ms, digest)


def load_session(engine: Engine, session_id: str, policy: SessionPolicy, now_ms: int) -> Session | None:
    """The live session with this id, its last use moved to now; None when unknown, expired or the
    user is disabled (an expired session is deleted)."""
    if not session_id or len(session_id) > 200:
        return None
    digest = _digest(session_id)
    with engine.connect() as conn:
        row = conn.execute(select(console_sessions).where(console_sessions.c.id_hash == digest)).mappings().first()
        user = get_user(conn, row["user_id"]) if row else None
    if row is None:
        return None
    expired = (now_ms - row["last_seen_ms"] > policy.idle_ms or now_ms - row["created_ms"] > policy.absolute_ms)
    if expired or user is None or user.disabled:
        close_session(engine, session_id)
        return None
    if now_ms - row["last_seen_ms"] >= min(TOUCH_EVERY_MS, policy.idle_ms // 10):
        with engine.begin() as conn:
            conn.execute(update(console_sessions).where(console_sessions.c.id_hash == digest)
                         .values(last_seen_ms=now_ms))
    return Session(user, row["csrf_token"], row["created_ms"], digest)


def close_session(engine: Engine, session_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(console_sessions).where(console_sessions.c.id_hash == _digest(session_id)))


def expire_sessions(engine: Engine, policy: SessionPolicy, now_ms: int) -> int:
    """Delete sessions past their idle or absolute limit, and those of disabled users; how many went."""
    disabled = select(console_users.c.id).where(console_users.c.disabled.is_(True))
    with engine.begin() as conn:
        result = conn.execute(delete(console_sessions).where(or_(
            console_sessions.c.last_seen_ms < now_ms - policy.idle_ms,
            console_sessions.c.created_ms < now_ms - policy.absolute_ms,
            console_sessions.c.user_id.in_(disabled))))
    return int(result.rowcount or 0)
