"""Console users: argon2-hashed passwords, a role, a language and, for customers, their one customer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, Engine, insert, select, update

from collector.console.tables import LANGUAGES, ROLES, console_sessions, console_users

USERNAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
MIN_PASSWORD = 8
_hasher = PasswordHasher()
# Verified against when the username is unknown, so a login takes as long whether the user exists or not.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class UserError(ValueError):
    """A user cannot be created or changed as asked: the message says why."""


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    role: str  # admin | engineer | viewer | customer
    customer_id: str | None
    language: str  # zh | en
    disabled: bool
    created_ms: int

    @property
    def is_staff(self) -> bool:
        """An engineer-side login (the console), as opposed to a customer's (the portal)."""
        return self.role != "customer"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _user(row: Any) -> User:
    return User(id=row["id"], username=row["username"], display_name=row["display_name"], role=row["role"],
                customer_id=row["customer_id"], language=row["language"], disabled=bool(row["disabled"]),
                created_ms=row["created_ms"])


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must have at least {MIN_PASSWORD} characters")


def validate(username: str, role: str, customer_id: str | None, language: str,
             known_customers: set[str] | None = None) -> None:
    if not USERNAME.match(username):
        raise UserError("a username is 1–64 letters, digits or . _ @ -")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if language not in LANGUAGES:
        raise UserError(f"language must be one of {', '.join(LANGUAGES)}")
    if role == "customer" and not customer_id:
        raise UserError("a customer login needs --customer (the customer id it may see)")
    if role != "customer" and customer_id:
        raise UserError("only a customer login is bound to a customer")
    if customer_id and known_customers is not None and customer_id not in known_customers:
        raise UserError(f"unknown customer {customer_id!r}")


def create_user(engine: Engine, *, username: str, password: str, role: str, now_ms: int,
                display_name: str | None = None, customer_id: str | None = None, language: str = "zh",
                known_customers: set[str] | None = None) -> User:
    validate(username, role, customer_id, language, known_customers)
    _check_password(password)
    with engine.begin() as conn:
        if conn.execute(select(console_users.c.id).where(console_users.c.username == username)).first():
            raise UserError(f"user {username!r} exists already")
        conn.execute(insert(console_users).values(
            username=username, display_name=display_name or username, password_hash=_hasher.hash(password),
            role=role, customer_id=customer_id, language=language, disabled=False, created_ms=now_ms,
            password_changed_ms=now_ms))
        return _user(conn.execute(select(console_users).where(console_users.c.username == username))
                     .mappings().one())


def list_users(conn: Connection) -> list[User]:
    return [_user(r) for r in conn.execute(select(console_users).order_by(console_users.c.username)).mappings()]


def get_user(conn: Connection, user_id: int) -> User | None:
    row = conn.execute(select(console_users).where(console_users.c.id == user_id)).mappings().first()
    return _user(row) if row else None


def find_user(conn: Connection, username: str) -> User | None:
    row = conn.execute(select(console_users).where(console_users.c.username == username)).mappings().first()
    return _user(row) if row else None


def authenticate(engine: Engine, username: str, password: str) -> User | None:
    """The enabled user with this username and password, else None (in about the same time either way)."""
    with engine.connect() as conn:
        row = conn.execute(select(console_users).where(console_users.c.username == username)).mappings().first()
    stored = row["password_hash"] if row else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if row is None or row["disabled"]:
        return None
    if _hasher.check_needs_rehash(stored):
        with engine.begin() as conn:
            conn.execute(update(console_users).where(console_users.c.id == row["id"])
                         .values(password_hash=_hasher.hash(password)))
    return _user(row)


def _require(conn: Connection, username: str) -> User:
    user = find_user(conn, username)
    if user is None:
        raise UserError(f"unknown user {username!r}")
    return user


def set_password(engine: Engine, username: str, password: str, now_ms: int) -> User:
    """A new password; every session of the user ends."""
    _check_password(password)
    with engine.begin() as conn:
        user = _require(conn, username)
        conn.execute(update(console_users).where(console_users.c.id == user.id)
                     .values(password_hash=_hasher.hash(password), password_changed_ms=now_ms))
        conn.execute(console_sessions.delete().where(console_sessions.c.user_id == user.id))
    return user


def set_disabled(engine: Engine, username: str, disabled: bool) -> User:
    """Disable (every session of the user ends) or enable a login."""
    with engine.begin() as conn:
        user = _require(conn, username)
        conn.execute(update(console_users).where(console_users.c.id == user.id).values(disabled=disabled))
        if disabled:
            conn.execute(console_sessions.delete().where(console_sessions.c.user_id == user.id))
        return _user(conn.execute(select(console_users).where(console_users.c.id == user.id)).mappings().one())


def set_language(engine: Engine, user_id: int, language: str) -> None:
    if language not in LANGUAGES:
        raise UserError(f"language must be one of {', '.join(LANGUAGES)}")
    with engine.begin() as conn:
        conn.execute(update(console_users).where(console_users.c.id == user_id).values(language=language))
