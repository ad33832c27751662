"""The revocation list: revoking certificates, and the in-memory set every connecting agent is checked against.

The check runs on every connect, inside the stream's handshake, so it must not touch the database:
:class:`RevocationList` keeps the revoked serials in memory. A revocation made through this
collector updates it at once; revocations made by other collectors sharing the store arrive with
:meth:`RevocationList.refresh` (every ``tls.pki.crl_refresh``). Entries whose certificate has expired
are dropped from memory: the TLS handshake refuses those certificates by itself.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, insert, or_, select
from sqlalchemy.exc import IntegrityError

from collector.pki.tables import certificates, revocations

_SERIAL = re.compile(r"^[0-9a-f]{1,64}$")


class RevocationError(Exception):
    """Nothing to revoke, or a malformed request; the message says what to do."""


@dataclass(frozen=True)
class Revocation:
    serial: str
    host_id: str | None
    revoked_ms: int
    revoked_by: str
    reason: str
    not_after_ms: int | None = None


def normalize_serial(value: str) -> str:
    """A serial as stored: lowercase hex without separators or leading zeros (``openssl x509 -serial`` works)."""
    text = value.strip().lower().removeprefix("serial=").removeprefix("0x").replace(":", "")
    if not _SERIAL.match(text):
        raise RevocationError(f"{value!r} is not a certificate serial (hexadecimal, as 'patrol certs' shows it)")
    return text.lstrip("0") or "0"


def _row(r: object) -> Revocation:
    return Revocation(serial=r.serial, host_id=r.host_id, revoked_ms=r.revoked_ms,  # type: ignore[attr-defined]
                      revoked_by=r.revoked_by, reason=r.reason, not_after_ms=r.not_after_ms)  # type: ignore[attr-defined]


class RevocationList:
    def __init__(self, engine: Engine, clock: Callable[[], float]) -> None:
        self.engine = engine
        self.clock = clock
        self._lock = threading.Lock()
        self._revoked: dict[str, Revocation] = {}

    def get(self, serial: str) -> Revocation | None:
        """The revocation of this serial, or None. No I/O: safe on the event loop, on every connect."""
        return self._revoked.get(serial)

    def __len__(self) -> int:
        return len(self._revoked)

    def add(self, revoked: Iterable[Revocation]) -> None:
        with self._lock:
            for r in revoked:
                self._revoked[r.serial] = r

    def refresh(self) -> list[Revocation]:
        """Reload from the store; returns the revocations this collector did not know of yet."""
        now_ms = int(self.clock() * 1000)
        with self.engine.connect() as conn:
            rows = conn.execute(select(revocations).where(
                or_(revocations.c.not_after_ms.is_(None), revocations.c.not_after_ms > now_ms))).all()
        fresh = {r.serial: _row(r) for r in rows}
        with self._lock:
            new = [r for s, r in fresh.items() if s not in self._revoked]
            self._revoked = fresh
        return new

    # ------------------------------------------------------------------ revoking

    def revoke_host(self, host_id: str, reason: str, actor: str) -> list[Revocation]:
        """Revoke every unrevoked certificate issued to ``host_id``."""
        now_ms = int(self.clock() * 1000)
        with self.engine.begin() as conn:
            rows = conn.execute(select(certificates.c.serial, certificates.c.not_after_ms)
                                .where(certificates.c.host_id == host_id)).all()
            if not rows:
                raise RevocationError(f"no certificate was issued to host {host_id!r}; for a certificate from "
                                      "another CA revoke its serial (patrol revoke --serial SERIAL)")
            done = set(conn.execute(select(revocations.c.serial)
                                    .where(revocations.c.serial.in_([r.serial for r in rows]))).scalars())
            todo = [r for r in rows if r.serial not in done]
            out = [record(conn, Revocation(serial=r.serial, host_id=host_id, revoked_ms=now_ms, revoked_by=actor,
                                            reason=reason, not_after_ms=r.not_after_ms)) for r in todo]
        self.add(out)
        return out

    def revoke_serial(self, serial: str, reason: str, actor: str) -> Revocation:
        serial = normalize_serial(serial)
        now_ms = int(self.clock() * 1000)
        with self.engine.begin() as conn:
            existing = conn.execute(select(revocations).where(revocations.c.serial == serial)).first()
            if existing is not None:
                return _row(existing)
            cert = conn.execute(select(certificates.c.host_id, certificates.c.not_after_ms)
                                .where(certificates.c.serial == serial)).first()
            rev = record(conn, Revocation(serial=serial, host_id=cert.host_id if cert else None, revoked_ms=now_ms,
                                           revoked_by=actor, reason=reason,
                                           not_after_ms=cert.not_after_ms if cert else None))
        self.add([rev])
        return rev


def record(conn: Connection, rev: Revocation) -> Revocation:
    """Insert a revocation inside the caller's transaction; an existing one for the serial wins."""
    try:
        with conn.begin_nested():
            conn.execute(insert(revocations).values(
                serial=rev.serial, host_id=rev.host_id, revoked_ms=rev.revoked_ms, revoked_by=rev.revoked_by,
                reason=rev.reason, not_after_ms=rev.not_after_ms))
    except IntegrityError:
        # Another admin or collector revoked it in the meantime: theirs stands.
        existing = conn.execute(select(revocations).where(revocations.c.serial == rev.serial)).one()
        return _row(existing)
    return rev
