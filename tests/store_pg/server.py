"""A throwaway PostgreSQL server on loopback for tests and benchmarks.

The server lives in a temporary directory (``initdb`` + ``postgres``), listens on 127.0.0.1 on a free
port with trust authentication, and has no Unix socket, so it cannot collide with a system
PostgreSQL. PostgreSQL refuses to run as root, so under root the server runs as the ``postgres``
user (Debian's package creates it) or ``nobody``, and the kernel stops it when the process that
started it dies.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg

from collector.localrun import free_port

SUPERUSER = "patrol"
_PR_SET_PDEATHSIG = 1
INSTALL_HINT = "install PostgreSQL (Debian: apt-get install postgresql) or put initdb and postgres on PATH"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def find_bin_dir() -> Path | None:
    """The directory holding ``initdb`` and ``postgres``: PATH first, then Debian's versioned dirs."""
    candidates: list[Path] = []
    on_path = shutil.which("initdb")
    if on_path:
        candidates += [Path(on_path).parent, Path(on_path).resolve().parent]
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    candidates += versions
    for d in candidates:
        if (d / "initdb").is_file() and (d / "postgres").is_file():
            return d
    return None


def _run_as() -> pwd.struct_passwd | None:
    """The unprivileged account to run the server as when we are root; None when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresUnavailable("running as root and neither a 'postgres' nor a 'nobody' account exists "
                              "to run PostgreSQL as")


SETPRIV = shutil.which("setpriv")  # util-linux: sets the parent-death signal, then runs the command


def _die_with_parent() -> None:
    # Runs in the child after the switch to the unprivileged user (which would clear the setting):
    # if the test process is killed, the kernel sends the postmaster SIGQUIT (immediate shutdown).
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGQUIT, 0, 0, 0)


class PostgresServer:
    """A private PostgreSQL cluster. ``durable=False`` turns fsync off: fine for tests, not for benchmarks."""

    def __init__(self, workdir: Path | None = None, bin_dir: Path | None = None, durable: bool = False) -> None:
        self.bin_dir = bin_dir or find_bin_dir()
        if self.bin_dir is None:
            raise PostgresUnavailable(f"PostgreSQL server binaries (initdb, postgres) not found: {INSTALL_HINT}")
        self._own_dir = workdir is None
        self.root = Path(tempfile.mkdtemp(prefix="patrol-pg-")) if workdir is None else workdir
        self.data = self.root / "data"
        self.log_path = self.root / "postgres.log"
        self.durable = durable
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._user = _run_as()
        self._db_counter = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle

    def _popen_kwargs(self, die_with_parent: bool = True) -> dict[str, object]:
        # Running Python in the forked child (preexec_fn) is unsafe while other threads run (gRPC's
        # in a test process): a short-lived tool such as initdb goes without it, and the server gets
        # it from util-linux's setpriv where there is one (see :meth:`_server_command`).
        extra: dict[str, object] = {"preexec_fn": _die_with_parent} if die_with_parent else {}
        if self._user is None:
            return extra
        return {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": [], **extra,
                "env": {**os.environ, "HOME": str(self.root)}}

    def _server_command(self) -> list[str]:
        """The postmaster, started through ``setpriv --pdeathsig QUIT`` (after the switch to the
        unprivileged user, which would clear the setting) so that no Python runs in the forked child."""
        postgres = str(self.bin_dir / "postgres")
        return [SETPRIV, "--pdeathsig", "QUIT", postgres] if SETPRIV else [postgres]

    def start(self, timeout: float = 60.0) -> PostgresServer:
        self.root.mkdir(parents=True, exist_ok=True)
        if self._user is not None:
            os.chown(self.root, self._user.pw_uid, self._user.pw_gid)
        if not (self.data / "PG_VERSION").exists():
            for attempt in range(2):
                res = subprocess.run(
                    [str(self.bin_dir / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
                     "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"],
                    cwd=self.root, capture_output=True, text=True, check=False,
                    **self._popen_kwargs(die_with_parent=False))  # type: ignore[call-overload]
                if res.returncode >= 0 or attempt:
                    break
                # Killed by a signal before it finished: start again from an empty folder, once.
                shutil.rmtree(self.data, ignore_errors=True)
            if res.returncode != 0:
                raise RuntimeError(f"initdb failed (exit {res.returncode}) in {self.data}:\n{res.stderr[-3000:]}")
        settings = {"listen_addresses": "127.0.0.1", "unix_socket_directories": "", "max_connections": "300",
                    "shared_buffers": "128MB", "dynamic_shared_memory_type": "mmap", "logging_collector": "off"}
        if not self.durable:
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        for _attempt in range(3):
            self.port = free_port()
            args = [*self._server_command(), "-D", str(self.data), "-p", str(self.port)]
            for k, v in settings.items():
                args += ["-c", f"{k}={v}"]
            with self.log_path.open("ab") as log:
                kwargs = self._popen_kwargs(die_with_parent=SETPRIV is None)
                self.proc = subprocess.Popen(args, cwd=self.root, stdout=log, stderr=subprocess.STDOUT,
                                             **kwargs)  # type: ignore[call-overload]
            if self._wait_ready(timeout):
                return self
            self.stop()
        raise RuntimeError(f"PostgreSQL did not start; the end of {self.log_path}:\n{self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return "(no log)"

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                return False  # e.g. the port was taken in the meantime: try another
            try:
                with psycopg.connect(self.dsn("postgres"), connect_timeout=2) as conn:
                    # Another test process's server may have taken the port between free_port() and
                    # our bind: it answers too, but serves another data directory.
                    row = conn.execute("SHOW data_directory").fetchone()
                    return row is not None and os.path.samefile(row[0], self.data)
            except psycopg.OperationalError:
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown: disconnect clients, checkpoint, exit
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def cleanup(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    # ------------------------------------------------------------------ databases

    def dsn(self, dbname: str) -> str:
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={dbname}"

    def url(self, dbname: str) -> str:
        """A SQLAlchemy URL for ``dbname`` on this server."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, prefix: str = "patrol") -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        with self._lock:
            self._db_counter += 1
            name = f"{prefix}_{os.getpid()}_{self._db_counter}"
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]

    @contextlib.contextmanager
    def database(self, prefix: str = "patrol") -> Iterator[str]:
        url = self.create_database(prefix)
        try:
            yield url
        finally:
            self.drop_database(url)

    # ------------------------------------------------------------------ measurement

    def cpu_seconds(self) -> float:
        """User+system CPU of the whole server: postmaster, live backends, and exited children."""
        if self.proc is None:
            return 0.0
        post = psutil.Process(self.proc.pid)
        t = post.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        for child in post.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                c = child.cpu_times()
                total += c.user + c.system
        return total


_shared: PostgresServer | None = None
_shared_lock = threading.Lock()


def shared_server() -> PostgresServer:
    """One test server per process, started on first use and stopped at exit."""
    global _shared
    with _shared_lock:
        if _shared is None:
            server = PostgresServer().start()
            atexit.register(server.cleanup)
            _shared = server
        return _shared
