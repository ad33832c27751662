"""Running network probes side by side with a deadline, so a round never blocks the agent for long.

The agent's main loop calls every collector in turn, so a probe round is time taken from all the
others. Socket timeouts bound connects and reads but not name resolution (``getaddrinfo`` has no
timeout), and ten unreachable targets probed one after the other would take ten timeouts. Each
target therefore runs on its own daemon thread and the round waits at most the deadline: a target
that has not answered by then counts as down. Its thread is left to finish on its own (daemon, so
it never delays the agent's exit), and the target is not probed again while it is still running,
so a hung resolver costs one thread per target, not one per round.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")

log = logging.getLogger(__name__)


class BoundedRounds(Generic[K, R]):
    """Runs one call per key concurrently and returns what finished before the deadline."""

    def __init__(self, probe: str) -> None:
        self._probe = probe
        self._running: dict[K, threading.Thread] = {}

    def run(self, calls: Mapping[K, Callable[[], R]], wait: float | Mapping[K, float]) -> dict[K, R]:
        """Results of the calls that returned within their wait (seconds, one for all or per key).

        The others are missing. A call that raises is logged and missing too: a probe failure must
        never reach the agent's loop as an exception.
        """
        waits = wait if isinstance(wait, Mapping) else dict.fromkeys(calls, wait)
        results: dict[K, R] = {}
        lock = threading.Lock()
        started: dict[K, threading.Thread] = {}
        start = time.monotonic()
        for key, call in calls.items():
            previous = self._running.get(key)
            if previous is not None and previous.is_alive():
                log.debug("probe %s: %s is still running from an earlier round; counted as down", self._probe, key)
                continue
            thread = threading.Thread(
                target=self._call, args=(key, call, results, lock), name=f"probe-{self._probe}", daemon=True
            )
            thread.start()
            self._running[key] = thread
            started[key] = thread
        # Each target waits its own time: a short timeout is not stretched to the round's longest.
        for key, thread in sorted(started.items(), key=lambda item: waits[item[0]]):
            thread.join(max(0.0, start + waits[key] - time.monotonic()))
        with lock:
            # Copied under the lock: a straggler finishing now must not change what was reported.
            done = dict(results)
        for key in calls:
            if key not in done and key in self._running and self._running[key].is_alive():
                log.debug("probe %s: %s did not answer within %.1f s; counted as down", self._probe, key, waits[key])
        self._running = {k: t for k, t in self._running.items() if t.is_alive()}
        return done

    def _call(self, key: K, call: Callable[[], R], results: dict[K, R], lock: threading.Lock) -> None:
        try:
            value = call()
        except Exception:
            log.exception("probe %s: checking %s failed unexpectedly; counted as down", self._probe, key)
            return
        with lock:
            results[key] = value
