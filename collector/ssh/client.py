"""SSH connections to targets (paramiko): host-key checking, a pool, and bounded command runs.

One connection per target, kept open between polls and shared by polls and diagnostics (each
command gets its own channel on it). A connection that breaks is dropped and the next use dials
again. Host keys are checked against the target's own known_hosts file only, never the collector
user's ``~/.ssh``: a key that differs from the recorded one is always refused, and a host that is
not recorded is refused too unless ``strict_known_hosts`` is off, in which case its key is recorded
on first contact (OpenSSH's ``accept-new``).

Every command runs with a deadline and an output cap. paramiko calls that wait for the server
without a timeout of their own (opening a channel, starting a command) are bounded from outside:
the poller closes a connection whose poll overran, which wakes them.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import paramiko

from collector.ssh.commands import command_line
from collector.ssh.config import SshTarget

log = logging.getLogger("patrol.ssh")

STDERR_CAP = 64 * 1024
_READ_SIZE = 65536
# The longest a read loop blocks without looking at its cancel flag and deadline.
_WAKE_S = 0.25


# ---------------------------------------------------------------------------------------- errors


class SshError(Exception):
    """A target could not be inspected. ``state`` is what the target's status row records."""

    state: ClassVar[str] = "error"


class Unreachable(SshError):
    state = "unreachable"


class HostKeyChanged(SshError):
    state = "hostkey_changed"


class HostKeyUnknown(SshError):
    state = "hostkey_unknown"


class AuthFailed(SshError):
    state = "auth_failed"


class KeyUnusable(SshError):
    state = "key_error"


class SessionLost(SshError):
    """An open connection stopped working (server restarted, network dropped)."""

    state = "unreachable"


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's ``SHA256:…`` fingerprint, as ``ssh-keygen -lf`` prints it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def known_hosts_name(target: SshTarget) -> str:
    """The host's name in known_hosts: ``address`` on port 22, else ``[address]:port``."""
    return target.address if target.port == 22 else f"[{target.address}]:{target.port}"


# ---------------------------------------------------------------------------------------- host keys

_known_hosts_locks: dict[Path, threading.Lock] = {}
_known_hosts_guard = threading.Lock()


def _lock_for(path: Path) -> threading.Lock:
    with _known_hosts_guard:
        return _known_hosts_locks.setdefault(path, threading.Lock())


class _RefuseUnknown(paramiko.MissingHostKeyPolicy):
    def __init__(self, target: SshTarget) -> None:
        self.target = target

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        t = self.target
        raise HostKeyUnknown(
            f"{t.host_id}: host key of {hostname} ({key.get_name()} {fingerprint(key)}) is not in "
            f"{t.known_hosts}; refusing to connect. Verify the fingerprint out of band, then add it with "
            f"`ssh-keyscan -p {t.port} {t.address} >> {t.known_hosts}` (or set strict_known_hosts: false "
            "to record new hosts on first contact)")


class _AcceptNew(paramiko.MissingHostKeyPolicy):
    """Records the key of a host that known_hosts does not mention at all (never replaces one)."""

    def __init__(self, target: SshTarget) -> None:
        self.target = target

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        path = self.target.known_hosts
        with _lock_for(path):
            # Another target sharing the file may have recorded this host meanwhile: re-check.
            current = paramiko.HostKeys()
            if path.is_file():
                current.load(str(path))
            known = current.lookup(hostname)
            if known is not None:
                recorded = known.get(key.get_name())
                if recorded is None or recorded != key:
                    raise HostKeyChanged(_changed_message(self.target, hostname, key, next(iter(known.values()))))
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="ascii") as f:
                f.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")
        log.warning("event=ssh_hostkey_recorded host=%s endpoint=%s key=%s fingerprint=%s file=%s",
                    self.target.host_id, hostname, key.get_name(), fingerprint(key), path)


def _changed_message(target: SshTarget, hostname: str, offered: paramiko.PKey, expected: paramiko.PKey) -> str:
    return (f"{target.host_id}: HOST KEY CHANGED for {hostname}: {target.known_hosts} has {expected.get_name()} "
            f"{fingerprint(expected)}, the server offered {offered.get_name()} {fingerprint(offered)}; refusing "
            "to connect (possible man-in-the-middle). If the host was reinstalled, verify the new fingerprint "
            f"out of band and replace the entry: ssh-keygen -R '{hostname}' -f {target.known_hosts}")


# ---------------------------------------------------------------------------------------- results


@dataclass
class CommandResult:
    """What one command produced. ``exit_status`` is None when it did not finish (timeout, cap, error)."""

    argv: tuple[str, ...]
    exit_status: int | None
    stdout: bytes = b""
    stderr: bytes = b""
    truncated: bool = False
    timed_out: bool = False
    error: str | None = None
    received_at: float = 0.0  # time.monotonic() when the output was complete

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    @property
    def ok(self) -> bool:
        return self.exit_status == 0 and not self.truncated and not self.timed_out

    def describe(self) -> str:
        """One line for logs and error messages."""
        what = " ".join(self.argv)
        if self.timed_out:
            return f"`{what}` timed out"
        if self.error:
            return f"`{what}` failed: {self.error}"
        if self.truncated:
            return f"`{what}` output passed the cap and was cut at {len(self.stdout)} bytes"
        err = self.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"`{what}` exited {self.exit_status}" + (f": {err[-1][:200]}" if err else "")


@dataclass
class StreamStatus:
    """How a streamed command ended; filled in as the stream finishes."""

    exit_status: int | None = None
    truncated: bool = False
    timed_out: bool = False
    cancelled: bool = False
    total_bytes: int = 0
    stderr: bytes = b""
    error: str | None = None


# ---------------------------------------------------------------------------------------- connection


@dataclass
class _Key:
    key: paramiko.PKey
    mtime_ns: int


class SshConnection:
    """One authenticated SSH connection to a target; thread-safe for concurrent commands."""

    def __init__(self, target: SshTarget, key: paramiko.PKey, clock: Callable[[], float] = time.monotonic) -> None:
        self.target = target
        self._key = key
        self._clock = clock
        self._client: paramiko.SSHClient | None = None
        self.host_key: paramiko.PKey | None = None
        self.connected_at: float | None = None
        self.remote_timeout = False

    # -- lifecycle

    def connect(self) -> None:
        t = self.target
        client = paramiko.SSHClient()
        if t.known_hosts.is_file():
            try:
                client.load_host_keys(str(t.known_hosts))
            except OSError as e:
                raise HostKeyUnknown(f"{t.host_id}: cannot read known_hosts {t.known_hosts}: {e.strerror}") from None
        elif t.strict_known_hosts:
            raise HostKeyUnknown(f"{t.host_id}: known_hosts {t.known_hosts} does not exist; add the host's key "
                                 f"with `ssh-keyscan -p {t.port} {t.address} >> {t.known_hosts}` after verifying it")
        client.set_missing_host_key_policy(_RefuseUnknown(t) if t.strict_known_hosts else _AcceptNew(t))
        try:
            client.connect(t.address, port=t.port, username=t.user, pkey=self._key, timeout=t.timeout,
                           banner_timeout=t.timeout, auth_timeout=t.timeout, channel_timeout=t.timeout,
                           allow_agent=False, look_for_keys=False)
        except SshError:
            client.close()
            raise
        except Exception as e:
            client.close()
            raise _classify_connect_error(t, e) from None
        transport = client.get_transport()
        assert transport is not None
        # Keepalives notice a silently dropped connection (NAT, firewall) between polls.
        transport.set_keepalive(max(5, int(min(30.0, t.interval / 2))))
        # Each command is a few small request/reply packets; with Nagle's algorithm against the
        # server's delayed ACKs every one of them waits ~40 ms.
        if isinstance(transport.sock, socket.socket):
            with contextlib.suppress(OSError):
                transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.host_key = transport.get_remote_server_key()
        self._client = client
        self.connected_at = self._clock()
        self.remote_timeout = self._probe_timeout_command()
        log.info("event=ssh_connected host=%s endpoint=%s user=%s hostkey=%s remote_timeout=%s", t.host_id,
                 t.endpoint, t.user, fingerprint(self.host_key), self.remote_timeout)

    def _probe_timeout_command(self) -> bool:
        """Whether ``timeout -s KILL N cmd`` works on the host (coreutils, recent busybox).

        Closing a channel does not stop a command that has no terminal and writes nothing (sshd
        only hangs up on a pty), so where it can, the host enforces the deadline itself as well.
        """
        status = StreamStatus()
        try:
            for _ in self.stream(("timeout", "-s", "KILL", "10", "true"), self.target.command_timeout, 1024, status,
                                 wrap=False):
                pass
        except SessionLost:
            self.close()
            raise
        return status.exit_status == 0

    @property
    def active(self) -> bool:
        client = self._client
        transport = client.get_transport() if client is not None else None
        return transport is not None and transport.is_active()

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    # -- commands

    def run(self, argv: Sequence[str], timeout: float, max_output: int,
            cancel: threading.Event | None = None) -> CommandResult:
        """Run a fixed command and collect its output; raises :class:`SessionLost` if the connection died."""
        status = StreamStatus()
        out = bytearray()
        for chunk in self.stream(argv, timeout, max_output, status, cancel):
            out += chunk
        return CommandResult(tuple(argv), status.exit_status, bytes(out), status.stderr, status.truncated,
                             status.timed_out, status.error, time.monotonic())

    def stream(self, argv: Sequence[str], timeout: float, max_output: int, status: StreamStatus,
               cancel: threading.Event | None = None, *, wrap: bool = True) -> Iterator[bytes]:
        """Yield stdout chunks as they arrive; ``status`` says how it ended once the iterator is done.

        Stops at ``max_output`` bytes (truncated), at ``timeout`` seconds (timed_out) or when
        ``cancel`` is set, and closes the channel: a command still writing then dies of SIGPIPE,
        and one that is not is killed by the host's ``timeout`` wrapper (where it has one).
        """
        if wrap and self.remote_timeout:
            # A second later than ours: normally this side gives up first and the host cleans up.
            argv = ("timeout", "-s", "KILL", str(math.ceil(timeout) + 1), *argv)
        line = command_line(argv)
        deadline = time.monotonic() + timeout
        chan = self._open_channel(line)
        try:
            try:
                # Stdin from /dev/null rather than an EOF sent after the start: paramiko sends that EOF
                # outside the channel's lock, so for a command that exits at once it can reach sshd after
                # the channel's CLOSE, and sshd ends the whole connection ("ieof packet referred to
                # nonexistent channel"), failing every command on it.
                chan.exec_command(f"{line} </dev/null")
            except (paramiko.SSHException, EOFError, OSError) as e:
                if not self.active:
                    raise SessionLost(f"{self.target.host_id}: connection lost starting `{line}`: {e}") from None
                status.error = f"the server refused to start it: {e}"
                return
            yield from _pump(chan, deadline, max_output, status, cancel)
            if status.truncated or status.timed_out or status.cancelled:
                return
            if chan.status_event.wait(max(0.0, deadline - time.monotonic())):
                status.exit_status = chan.recv_exit_status()
            elif self.active:
                status.timed_out = True
            else:
                raise SessionLost(f"{self.target.host_id}: connection lost while running `{line}`")
        finally:
            chan.close()

    def _open_channel(self, line: str) -> paramiko.Channel:
        client = self._client
        transport = client.get_transport() if client is not None else None
        if transport is None or not transport.is_active():
            raise SessionLost(f"{self.target.host_id}: not connected")
        try:
            return transport.open_session(timeout=self.target.timeout)
        except (paramiko.SSHException, EOFError, OSError) as e:
            raise SessionLost(f"{self.target.host_id}: cannot open a channel for `{line}`: {e}") from None


def _pump(chan: paramiko.Channel, deadline: float, cap: int, status: StreamStatus,
          cancel: threading.Event | None) -> Iterator[bytes]:
    # Blocking reads with a short timeout rather than select() on chan.fileno(): paramiko's
    # transport thread sets that pipe while feeding data, and a channel closed early (output cap,
    # timeout) closes it under the thread's feet, which kills the whole connection (EBADF/EPIPE;
    # paramiko issues #1700 and #2271, open).
    while True:
        _drain_stderr(chan, status)
        if cancel is not None and cancel.is_set():
            status.cancelled = True
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            status.timed_out = True
            return
        chan.settimeout(min(remaining, _WAKE_S))
        try:
            data = chan.recv(_READ_SIZE)
        except TimeoutError:
            continue  # nothing on stdout yet; look at stderr, the clock and the cancel flag again
        if not data:  # end of output: SSH ends both streams with one EOF
            _drain_stderr(chan, status)
            return
        room = cap - status.total_bytes
        if len(data) > room:
            status.truncated = True
            data = data[:room]
        status.total_bytes += len(data)
        if data:
            yield data
        if status.truncated:
            return


def _drain_stderr(chan: paramiko.Channel, status: StreamStatus) -> None:
    """Read what is buffered on stderr (kept up to STDERR_CAP) so it never stalls the channel's window."""
    while chan.recv_stderr_ready():
        data = chan.recv_stderr(_READ_SIZE)
        if not data:
            return
        room = STDERR_CAP - len(status.stderr)
        if room > 0:
            status.stderr += data[:room]


def _classify_connect_error(t: SshTarget, e: Exception) -> SshError:
    where = f"{t.host_id}: {t.user}@{t.endpoint}"
    if isinstance(e, paramiko.BadHostKeyException):
        return HostKeyChanged(_changed_message(t, known_hosts_name(t), e.key, e.expected_key))
    if isinstance(e, paramiko.AuthenticationException):
        return AuthFailed(f"{where}: authentication with key {t.key_file} was refused; check that its public key "
                          f"is in ~{t.user}/.ssh/authorized_keys on the host and that the user may log in ({e})")
    if isinstance(e, socket.timeout | TimeoutError):
        return Unreachable(f"{where}: no answer within {t.timeout:g}s (host down, or a firewall drops the traffic)")
    if isinstance(e, paramiko.ssh_exception.NoValidConnectionsError):
        reasons = "; ".join(sorted({_os_reason(err) for err in e.errors.values()}))
        return Unreachable(f"{where}: cannot connect: {reasons}")
    if isinstance(e, socket.gaierror):
        return Unreachable(f"{where}: cannot resolve {t.address!r}: {e.strerror}")
    if isinstance(e, OSError):
        return Unreachable(f"{where}: cannot connect: {_os_reason(e)}")
    if isinstance(e, EOFError):
        return Unreachable(f"{where}: the server closed the connection during the handshake")
    if isinstance(e, paramiko.SSHException):
        text = str(e)
        # paramiko lets a handshake that timed out surface as whatever fails next.
        if any(w in text.lower() for w in ("banner", "no existing session", "negotiation", "timed out")):
            return Unreachable(f"{where}: no SSH server answered within {t.timeout:g}s ({text})")
        return SshError(f"{where}: SSH handshake failed: {text}")
    return SshError(f"{where}: {type(e).__name__}: {e}")


def _os_reason(e: BaseException) -> str:
    if isinstance(e, OSError) and e.errno is not None:
        if e.errno == errno.ECONNREFUSED:
            return "connection refused (no SSH server on that port?)"
        return e.strerror or os.strerror(e.errno)
    return str(e) or type(e).__name__


# ---------------------------------------------------------------------------------------- pool


def load_key(target: SshTarget) -> paramiko.PKey:
    """The target's private key; the passphrase, if any, comes from the named environment variable."""
    passphrase: str | None = None
    if target.key_passphrase_env:
        passphrase = os.environ.get(target.key_passphrase_env)
        if passphrase is None:
            raise KeyUnusable(f"{target.host_id}: environment variable {target.key_passphrase_env} "
                              f"(key_passphrase_env) is not set; it must hold the passphrase of {target.key_file}")
    try:
        # paramiko hands the passphrase to cryptography, which takes bytes only.
        return paramiko.PKey.from_path(target.key_file, passphrase.encode() if passphrase else None)  # type: ignore[arg-type]
    except paramiko.PasswordRequiredException:
        raise KeyUnusable(f"{target.host_id}: key {target.key_file} is encrypted; put its passphrase in an "
                          "environment variable and name it in key_passphrase_env") from None
    except FileNotFoundError:
        raise KeyUnusable(f"{target.host_id}: key_file {target.key_file} does not exist") from None
    except PermissionError:
        raise KeyUnusable(f"{target.host_id}: cannot read key_file {target.key_file}: permission denied "
                          "(it must be readable by the collector's user)") from None
    except (paramiko.SSHException, ValueError, UnicodeDecodeError) as e:
        # paramiko reports a wrong passphrase as a failure to decode the key; say which it likely is.
        hint = " (wrong passphrase?)" if passphrase is not None else ""
        raise KeyUnusable(f"{target.host_id}: cannot load key {target.key_file}{hint}: {e}") from None


@dataclass
class _Slot:
    lock: threading.Lock = field(default_factory=threading.Lock)
    connection: SshConnection | None = None
    key: _Key | None = None


class SshPool:
    """At most one connection per target, reused until it fails or the target's settings change."""

    def __init__(self) -> None:
        self._slots: dict[str, _Slot] = {}
        self._guard = threading.Lock()
        self.connects = 0  # dial-ups since start, for tests and metrics

    def _slot(self, host_id: str) -> _Slot:
        with self._guard:
            return self._slots.setdefault(host_id, _Slot())

    def get(self, target: SshTarget) -> tuple[SshConnection, bool]:
        """The target's live connection, dialling if needed; the flag says whether it is new."""
        slot = self._slot(target.host_id)
        with slot.lock:
            conn = slot.connection
            if conn is not None and conn.active and conn.target == target:
                return conn, False
            if conn is not None:
                conn.close()
                slot.connection = None
            key = self._key(slot, target)
            conn = SshConnection(target, key)
            conn.connect()
            self.connects += 1
            slot.connection = conn
            return conn, True

    def _key(self, slot: _Slot, target: SshTarget) -> paramiko.PKey:
        try:
            mtime = target.key_file.stat().st_mtime_ns
        except OSError:
            mtime = -1
        if slot.key is None or slot.key.mtime_ns != mtime:
            slot.key = _Key(load_key(target), mtime)
        return slot.key.key

    def discard(self, host_id: str, connection: SshConnection | None = None) -> None:
        """Close a target's connection (only ``connection``, if given and still the pooled one)."""
        slot = self._slot(host_id)
        # Not under slot.lock: a thread stuck in a paramiko call may hold it; closing wakes that call.
        conn = slot.connection
        if conn is not None and (connection is None or conn is connection):
            slot.connection = None
            conn.close()

    def close_all(self) -> None:
        with self._guard:
            slots = list(self._slots.items())
        for host_id, _ in slots:
            self.discard(host_id)

    def open_connections(self) -> int:
        with self._guard:
            return sum(1 for s in self._slots.values() if s.connection is not None and s.connection.active)
