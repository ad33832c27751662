"""Everything the agent's loop needs for logs behind three calls: poll, commit, samples.

```python
watcher = LogWatcher.from_config(config.logs, host=hostname, state_dir=data_dir / "logs")
while running:
    events = watcher.poll()           # new lines of files and journal -> events
    spool.write_events(events)        # durable first ...
    watcher.commit()                  # ... then the read positions move past those lines
    samples += watcher.samples()      # logs.* counters, with the other collectors' samples
spool.write_events(watcher.drain())   # on shutdown: groups still open
watcher.commit()
watcher.close()
```

A crash between ``spool.write_events`` and ``commit`` re-reads those lines on the next start,
which duplicates their events (at-least-once); a crash before the spool write loses nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path

from agent.logs.config import LogsConfig
from agent.logs.journal import JournalReader
from agent.logs.model import Clock, LogLine, utc_now
from agent.logs.pipeline import LogEvent, Pipeline
from agent.logs.rules import RuleSet, load_rules
from agent.logs.tailer import Tailer
from agent.logs.timeparse import local_timezone
from agent.model import Sample

log = logging.getLogger(__name__)


class LogWatcher:
    def __init__(
        self,
        *,
        pipeline: Pipeline,
        tailer: Tailer | None,
        journal: JournalReader | None,
    ) -> None:
        self.pipeline = pipeline
        self.tailer = tailer
        self.journal = journal

    @classmethod
    def from_config(
        cls,
        config: LogsConfig,
        *,
        host: str,
        state_dir: Path,
        clock: Clock = utc_now,
        rules: RuleSet | None = None,
        journalctl: str = "journalctl",
    ) -> LogWatcher:
        """Build from the ``logs:`` section (``enabled: false`` gives a watcher that reads
        nothing). Raises :class:`agent.logs.rules.RulePackError` for a bad rule pack, before
        anything is read.

        The rules are ``rules`` if given, else those the config check already validated
        (``config.rules.loaded``), else the packs are read now (which imports PyYAML and pydantic)."""
        state_dir = config.state_dir or state_dir
        if rules is not None:
            ruleset = rules
        elif config.rules.loaded is not None:
            ruleset = RuleSet.compile(config.rules.loaded)
        else:
            ruleset = load_rules(config.rules.packs, include_default=config.rules.default)
        pipeline = Pipeline(
            ruleset,
            host=host,
            rate_limit=config.rate_limit.to_limit(),
            tz=local_timezone(),
            clock=clock,
            multiline_timeout_s=config.multiline_timeout_s,
        )
        tailer = None
        if config.enabled and config.files.globs:
            tailer = Tailer(
                config.files.globs,
                state_path=state_dir / "files.json",
                from_beginning=config.files.from_beginning,
                exclude=config.files.exclude,
                max_line_bytes=config.max_line_bytes,
                rotate_wait_s=config.rotate_wait_s,
                clock=clock,
            )
        journal = None
        if config.enabled and config.journal.enabled:
            journal = JournalReader(
                state_path=state_dir / "journal.json",
                units=config.journal.units,
                directory=config.journal.directory,
                journalctl=journalctl,
                max_line_bytes=config.max_line_bytes,
                clock=clock,
            )
        log.info(
            "logs_ready rules=%d globs=%d journal=%s state_dir=%s",
            len(ruleset.rules),
            len(config.files.globs),
            config.journal.enabled,
            state_dir,
        )
        return cls(pipeline=pipeline, tailer=tailer, journal=journal)

    @property
    def reading(self) -> bool:
        """Whether anything is followed: files by glob, or a journal this host has. Without either,
        ``poll`` never has anything to return and need not be called."""
        return self.tailer is not None or (self.journal is not None and self.journal.available)

    def poll(self) -> list[LogEvent]:
        """Events from lines that arrived since the last call, plus multi-line groups that went
        quiet."""
        lines: list[LogLine] = []
        if self.tailer is not None:
            lines.extend(self.tailer.poll())
        if self.journal is not None:
            lines.extend(self.journal.poll())
        events = self.pipeline.process(lines)
        events.extend(self.pipeline.flush())
        return events

    def commit(self) -> None:
        """Call once the events returned by ``poll`` are durable: positions move past their lines
        (and past lines that matched nothing), but not past lines held in open groups."""
        if self.tailer is not None:
            self.tailer.commit(hold=self.pipeline.held_positions())
        if self.journal is not None:
            self.journal.commit()

    def samples(self) -> list[Sample]:
        return self.pipeline.samples()

    def drain(self) -> list[LogEvent]:
        """Events of every multi-line group still open, for a clean shutdown: write them, then
        ``commit()``, then ``close()``."""
        return self.pipeline.flush(force=True)

    def close(self) -> None:
        if self.tailer is not None:
            self.tailer.close()
        if self.journal is not None:
            self.journal.close()
