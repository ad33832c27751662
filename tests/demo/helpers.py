"""Running ``patrol demo`` as a real process, small enough for a test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from collector.localrun import REPO_ROOT, child_env, wait_until

PATROL = str(Path(sys.executable).parent / "patrol")
# A fleet small enough to load in seconds; the code path is the demo's own.
SMALL = ["--agents", "4", "--customers", "1", "--history", "2d", "--grpc-port", "0", "--api-port", "0"]


class DemoRun:
    """``patrol demo`` in a child process, its output in ``out``."""

    def __init__(self, data_dir: Path, *args: str) -> None:
        self.out = data_dir.parent / f"{data_dir.name}-{len(list(data_dir.parent.glob(data_dir.name + '-*.out')))}.out"
        with self.out.open("wb") as log:
            self.proc = subprocess.Popen([PATROL, "demo", "--data-dir", str(data_dir), *SMALL, *args],
                                         cwd=REPO_ROOT, env=child_env(), stdout=log, stderr=subprocess.STDOUT)

    def text(self) -> str:
        return self.out.read_text(errors="replace")

    def wait_for_output(self, needle: str, timeout: float = 240) -> None:
        def seen() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"patrol demo exited with {self.proc.returncode}:\n{self.text()[-3000:]}")
            return needle in self.text()

        wait_until(seen, timeout, f"{needle!r} in the output of patrol demo")

    def wait(self, timeout: float = 240) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
