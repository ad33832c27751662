"""The console's defences: response headers (CSP), CSRF checks and the login rate limit.

Every console and portal response carries :data:`SECURITY_HEADERS`; its Content-Security-Policy
admits scripts and styles from the collector only, so pages hold no inline script, no inline event
handler and no ``style=""`` attribute.

A write (any method but GET, HEAD and OPTIONS) must come from the console's own origin (the
``Origin`` header, else ``Referer``, names this host) and carry the session's CSRF token, in the
form field ``csrf_token`` or the ``X-CSRF-Token`` header. The login form has no session yet: it
carries a token that must equal the ``patrol_login_csrf`` cookie (double submit).
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import deque
from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.requests import Request

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_CSRF_COOKIE = "patrol_login_csrf"


class CsrfError(Exception):
    """A write without a valid CSRF token or from another origin: the message says which."""


def same_origin(request: Request) -> bool:
    """True when the request's Origin (else Referer) names the host it was sent to."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return False
    parts = urlsplit(source)
    host = request.headers.get("host", "")
    return bool(parts.netloc) and parts.netloc.lower() == host.lower() and parts.scheme in ("http", "https")


async def submitted_token(request: Request) -> str:
    """The CSRF token a write sent: the header, else the form field (the form is parsed once and cached)."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


async def check_csrf(request: Request, expected: str) -> None:
    """Raise :class:`CsrfError` unless the write is same-origin and carries ``expected``."""
    if request.method in SAFE_METHODS:
        return
    if not same_origin(request):
        raise CsrfError("cross-origin write refused: Origin or Referer must name this console")
    sent = await submitted_token(request)
    if not expected or not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfError("missing or wrong CSRF token: reload the page and try again")


class LoginLimiter:
    """At most ``failures`` failed logins per (username, client address) within ``window_s``.

    Kept in memory: a collector restart forgets the failures, and each collector of a group counts
    its own (the limit stays a limit per collector).
    """

    def __init__(self, failures: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.failures = failures
        self.window_s = window_s
        self.clock = clock
        self._seen: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        q = self._seen.setdefault(key, deque())
        while q and q[0] <= now - self.window_s:
            q.popleft()
        return q

    def retry_after(self, username: str, client: str) -> int:
        """Seconds until this pair may try again; 0 when it may now."""
        now = self.clock()
        with self._lock:
            q = self._recent((username.lower(), client), now)
            if len(q) < self.failures:
                return 0
            return max(1, int(q[0] + self.window_s - now + 0.999))

    def failed(self, username: str, client: str) -> None:
        now = self.clock()
        with self._lock:
            self._recent((username.lower(), client), now).append(now)
            if len(self._seen) > 10_000:  # forget pairs whose failures all aged out
                for key in [k for k, q in self._seen.items() if not q or q[-1] <= now - self.window_s]:
                    del self._seen[key]

    def succeeded(self, username: str, client: str) -> None:
        with self._lock:
            self._seen.pop((username.lower(), client), None)
