"""Real collector and agent processes on loopback, and ways to hurt them."""

from __future__ import annotations

import contextlib
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

from collector.localrun import ManagedProcess, api_healthy, child_env, free_port, wait_until
from collector.store.samples import flatten, logged_samples
from protos.patrol.v1 import agent_pb2 as pb

REPO = Path(__file__).resolve().parents[2]
TOKEN = "test-admin-token"


def wait_for(cond: Callable[[], Any], timeout: float = 30.0, what: str = "condition", interval: float = 0.1) -> Any:
    try:
        return wait_until(cond, timeout, what, interval)
    except TimeoutError as e:
        raise AssertionError(str(e)) from None


def patrol_cli(collector: CollectorProcess, *args: str, token: str = TOKEN,
               timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """The ``patrol`` CLI in a child process, pointed at ``collector``."""
    return subprocess.run([sys.executable, "-c", "from collector.cli import main; main()", "--url", collector.api,
                           "--token", token, *args], capture_output=True, text=True, env=child_env(),
                          timeout=timeout)


class CollectorProcess:
    def __init__(self, workdir: Path, grpc_port: int | None = None, **overrides: Any) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.grpc_port = grpc_port or free_port()
        self.api_port = free_port()
        cfg: dict[str, Any] = {
            "data_dir": "data",
            "listen": f"127.0.0.1:{self.grpc_port}",
            "insecure": True,
            "store": {"flush_interval": "0.5s"},
            "limits": {"hello_timeout": "2s"},
            "api": {"listen": f"127.0.0.1:{self.api_port}", "tokens": [{"name": "admin", "token": TOKEN,
                                                                      "role": "admin"}]},
            "customers": [{"id": "acme", "name": "ACME Corp", "timezone": "Asia/Shanghai", "language": "zh"},
                          {"id": "globex", "name": "Globex", "timezone": "Europe/Berlin", "language": "en"}],
        }
        for k, v in overrides.items():
            if isinstance(v, dict) and isinstance(cfg.get(k), dict):
                cfg[k].update(v)
            else:
                cfg[k] = v
        self.config_path = self.dir / "collector.yaml"
        self.config_path.write_text(yaml.safe_dump(cfg))
        self.log_path = self.dir / "collector.log"
        self._process = ManagedProcess("collector.main", self.config_path, self.log_path, self.dir)

    @property
    def db_path(self) -> Path:
        return self.dir / "data" / "patrol.sqlite"

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        return self._process.proc

    def start(self, wait: bool = True) -> CollectorProcess:
        self._process.start()
        if wait:
            wait_for(lambda: api_healthy(self.api, self._process), 60,
                     f"collector API on {self.api} (log: {self.log_path})")
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        self._process.stop(sig)

    def get(self, path: str, **params: Any) -> Any:
        r = httpx.get(f"{self.api}{path}", params=params, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        r.raise_for_status()
        return r.json()

    def flush(self) -> None:
        httpx.post(f"{self.api}/api/v1/admin/flush", headers={"Authorization": f"Bearer {TOKEN}"},
                   timeout=60).raise_for_status()

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)


class AgentProcess:
    def __init__(self, workdir: Path, collector: str, customer: str = "acme", agent_id: str = "test-agent",
                 **overrides: Any) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        cfg: dict[str, Any] = {
            "agent_id": agent_id,
            "customer": customer,
            "collector": collector,
            "insecure": True,
            "batch_interval": 0.5,
            "trace_file": "trace.txt",
            "spool": {"dir": "spool", "fsync": True},
            "transport": {"backoff_initial": 0.2, "backoff_max": 2, "keepalive": 2, "keepalive_timeout": 2,
                          "heartbeat": 2, "connect_timeout": 3},
            "collectors": {"cpu": {"interval": 0.25}, "memory": {"interval": 0.25}, "load": {"interval": 0.5},
                           "top": {"enabled": False}, "procs": {"enabled": False}},
        }
        for k, v in overrides.items():
            if isinstance(v, dict) and isinstance(cfg.get(k), dict) and v:
                cfg[k].update(v)
            else:
                cfg[k] = v
        cfg = {k: v for k, v in cfg.items() if v is not None and v != {}}
        self.config_path = self.dir / "agent.yaml"
        self.config_path.write_text(yaml.safe_dump(cfg))
        self.log_path = self.dir / "agent.log"
        self._process = ManagedProcess("agent.main", self.config_path, self.log_path, self.dir)

    def start(self) -> AgentProcess:
        self._process.start()
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        rc = self._process.stop(sig, timeout)
        assert rc is not None, "the agent was not running"
        return rc

    def trace(self) -> dict[int, tuple[int, float]]:
        """seq -> (sample count, value sum) of every batch the agent spooled."""
        out: dict[int, tuple[int, float]] = {}
        path = self.dir / "trace.txt"
        if path.exists():
            for line in path.read_text().splitlines():
                seq, n, total = line.split()
                out[int(seq)] = (int(n), float(total))
        return out

    def spool_stats(self) -> dict[str, str]:
        out = subprocess.run([sys.executable, "-m", "agent.spool", str(self.dir / "spool")], env=child_env(),
                             capture_output=True, text=True, check=True).stdout
        return dict(line.split("=", 1) for line in out.split() if "=" in line)

    def spool_files(self) -> list[Path]:
        return sorted((self.dir / "spool").glob("seg-*.log"))


def stored_batches(db: sqlite3.Connection, host_id: str) -> dict[int, tuple[int, float]]:
    """seq -> (sample count, value sum) of every raw batch in the collector's ingest log."""
    out: dict[int, tuple[int, float]] = {}
    for (payload,) in db.execute("SELECT payload FROM ingest_log WHERE host_id = ?", (host_id,)):
        s = logged_samples(payload)
        assert s.seq not in out, f"batch seq={s.seq} stored twice"
        out[s.seq] = batch_totals(s)
    return out


def batch_totals(samples: pb.Samples) -> tuple[int, float]:
    """(points, value sum) of a batch, summed series by series in order like the agent's own count."""
    flat = flatten(samples)
    at = flat.bounds().tolist()
    values = flat.values.tolist()
    return len(values), sum(sum(values[at[i]:at[i + 1]]) for i in range(len(flat.sizes)))


def rollup_totals(db: sqlite3.Connection, host_id: str, table: str = "rollup_1m") -> tuple[int, float]:
    row = db.execute(
        f"SELECT COALESCE(SUM(r.count), 0), COALESCE(SUM(r.sum), 0) FROM {table} r "
        "JOIN series s ON s.id = r.series_id WHERE s.host_id = ?", (host_id,)).fetchone()
    return int(row[0]), float(row[1])


class TcpProxy:
    """A loopback TCP proxy that can black-hole traffic (a network cut) and heal, or, like a load
    balancer in front of a collector group, send new connections elsewhere (:meth:`retarget`)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", self.port))
        self._sock.listen(64)
        self.cut = threading.Event()
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if self.cut.is_set():
                    continue  # packets vanish: neither side learns anything until keepalives fail
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.close()

    def retarget(self, port: int) -> None:
        """Send new connections to ``port`` and reset the current ones, as when a backend goes away."""
        self.target_port = port
        conns, self._conns = self._conns, []
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                c.close()

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        for c in self._conns:
            with contextlib.suppress(OSError):
                c.close()
