"""The agent's local, append-only audit log of diagnostic requests (JSON lines).

The customer's own record of what was asked of this host and what came of it, kept on the host
whatever the collector's log says. One object per line:

- ``refused``: a request that did not run — ``reason`` (``bad_signature``, ``expired``,
  ``replayed``, ``not_allowed``, …) and the message sent back;
- ``started``: a verified, allowed request about to run;
- ``finished``: its outcome (``ok | timeout | truncated | error | cancelled``), bytes sent, duration;
- ``cancel``: the collector asked to cancel a request.

Each has ``ts`` (UTC, ISO 8601), ``request_id``, and for requests ``requested_by``, ``action`` and
``args``; ``verified`` says whether those came with a valid signature. The file is opened for
appending only, created with mode 0600, and each line is flushed to disk before the request goes on:
a request whose audit line cannot be written is refused.

``python -m agent.diagnostics.audit FILE [--since 1d]`` prints it as a table.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.configfile import parse_duration


class AuditLog:
    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock
        self._lock = threading.Lock()

    def record(self, event: str, **fields: Any) -> None:
        """Append one line and fsync it; raises OSError when the log cannot be written."""
        entry = {"ts": datetime.fromtimestamp(self.clock(), tz=UTC).isoformat(timespec="milliseconds"),
                 "event": event, **fields}
        line = (json.dumps(entry, ensure_ascii=False, sort_keys=False, default=str) + "\n").encode()
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)


def read_audit(path: Path, since: datetime | None = None) -> Iterator[dict[str, Any]]:
    """The entries of an audit log, oldest first; lines that are not JSON are skipped."""
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if since is not None:
                try:
                    if datetime.fromisoformat(entry["ts"]) < since:
                        continue
                except (KeyError, ValueError, TypeError):
                    continue
            yield entry


def main(argv: list[str] | None = None) -> int:
    import argparse  # only this command line needs it, not the running agent

    parser = argparse.ArgumentParser(prog="python -m agent.diagnostics.audit",
                                     description="Print the agent's diagnostics audit log.")
    parser.add_argument("path", type=Path, help="the audit log (default location: <state_dir>/audit.jsonl)")
    parser.add_argument("--since", help="only entries newer than this (e.g. 1d, 2h)")
    args = parser.parse_args(argv)
    since = None
    if args.since:
        since = datetime.fromtimestamp(time.time() - parse_duration(args.since), tz=UTC)
    try:
        entries = list(read_audit(args.path, since))
    except OSError as e:
        print(f"cannot read {args.path}: {e.strerror}", file=sys.stderr)
        return 1
    for entry in entries:
        what = entry.get("outcome") or entry.get("reason") or ""
        extra = f" bytes={entry['bytes']}" if "bytes" in entry else ""
        args_text = " ".join(f"{k}={v}" for k, v in (entry.get("args") or {}).items())
        print(f"{entry.get('ts', '?')} {entry.get('event', '?'):<8} {entry.get('request_id', '-')} "
              f"by={entry.get('requested_by', '-')} {entry.get('action', '')} {args_text} {what}{extra}".rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
