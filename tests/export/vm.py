"""A real VictoriaMetrics on loopback: it speaks the InfluxDB v2 write API and exports what it stored."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections import Counter
from pathlib import Path

import httpx
import pytest

from collector.localrun import free_port
from tests.integration.harness import wait_for

SeriesKey = tuple[str, frozenset[tuple[str, str]]]  # (VM metric name, labels)
Points = dict[SeriesKey, Counter[tuple[int, float]]]


def find_binary() -> str | None:
    """The victoria-metrics binary of the Debian package, if installed."""
    default = "/usr/bin/victoria-metrics"
    return shutil.which("victoria-metrics") or (default if os.path.exists(default) else None)


def require_binary() -> str:
    """The binary, or skip the test — but fail under CI, which installs the Debian package."""
    path = find_binary()
    if path is None:
        reason = ("victoria-metrics is not installed (apt-get install victoria-metrics); the export tests "
                  "need it as the InfluxDB-compatible target")
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


class VictoriaMetrics:
    def __init__(self, workdir: Path, port: int | None = None, dedup: bool = False, binary: str | None = None) -> None:
        self.binary = binary or require_binary()
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        # With dedup, samples of a series with equal timestamps collapse into one, as InfluxDB points with
        # equal measurement, tags and time do; without it every duplicate write shows up.
        self.dedup = dedup
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.dir / "victoria-metrics.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> VictoriaMetrics:
        args = [self.binary, f"-httpListenAddr=127.0.0.1:{self.port}", f"-storageDataPath={self.dir / 'data'}",
                "-retentionPeriod=100y", "-loggerLevel=WARN", "-memory.allowedPercent=10"]
        if self.dedup:
            args.append("-dedup.minScrapeInterval=1ms")
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        wait_for(self._healthy, 30, f"victoria-metrics on {self.url} (log: {self.log_path})")
        return self

    def _healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"victoria-metrics exited with {self.proc.returncode}: "
                                 f"{self.log_path.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"{self.url}/health", timeout=1).status_code != 200:
                return False
            # Another test process's server may have taken the port between free_port() and our bind:
            # it is healthy too, but stores its data elsewhere.
            flags = httpx.get(f"{self.url}/flags", timeout=1).text
        except httpx.HTTPError:
            return False
        return f'-storageDataPath="{self.dir / "data"}"' in flags

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def points(self) -> Points:
        """Every stored sample, per series, as a multiset of (timestamp ms, value)."""
        httpx.get(f"{self.url}/internal/force_flush", timeout=30).raise_for_status()
        r = httpx.post(f"{self.url}/api/v1/export", data={"match[]": '{__name__=~".+"}'}, timeout=120)
        r.raise_for_status()
        out: Points = {}
        for line in r.text.splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            metric = dict(row["metric"])
            name = metric.pop("__name__")
            key = (name, frozenset(metric.items()))
            out.setdefault(key, Counter()).update(zip(row["timestamps"], (float(v) for v in row["values"]),
                                                      strict=True))
        return out

    def rows_inserted(self) -> int:
        """Samples this VictoriaMetrics process accepted through the InfluxDB protocol (duplicates included)."""
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        return sum(int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines()
                   if line.startswith('vm_rows_inserted_total{type="influx"}'))
