"""Logging probe failures when a target goes down and when it recovers, not on every round.

A dead endpoint probed every minute would otherwise write a warning a minute for as long as it is
down; the series already carries the state, the log only needs the changes and their reasons.
"""

from __future__ import annotations

import logging

log = logging.getLogger("agent.probes")


class TransitionLog:
    def __init__(self, probe: str) -> None:
        self._probe = probe
        self._down: set[str] = set()

    def up(self, target: str) -> None:
        if target in self._down:
            self._down.discard(target)
            log.info("probe %s: %s is back", self._probe, target)

    def down(self, target: str, reason: str) -> None:
        if target in self._down:
            log.debug("probe %s: %s still failing: %s", self._probe, target, reason)
            return
        self._down.add(target)
        log.warning("probe %s: %s failed: %s", self._probe, target, reason)
