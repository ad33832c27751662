"""Log collection on the agent: tail files and the journal, match rules, produce events.

- :class:`Tailer` follows files matched by globs across rotation and restarts;
- :class:`JournalReader` follows the systemd journal;
- :func:`load_rules` compiles YAML rule packs (the default pack plus the site's);
- :class:`Pipeline` turns lines into rate-limited :class:`LogEvent` and ``logs.*`` counters;
- :class:`LogWatcher` wires the three together for the agent's loop;
- :func:`agent.logs.analyze.analyze_file` runs the same tailer and rules over one file offline
  (not imported here: the agent does not need it).
"""

from agent.logs.config import LogsConfig
from agent.logs.journal import JournalReader
from agent.logs.model import FilePosition, FileRef, LogLine
from agent.logs.pipeline import LogEvent, Pipeline, to_proto
from agent.logs.ratelimit import RateLimit
from agent.logs.rules import DEFAULT_PACK, RulePackError, RuleSet, load_pack, load_rules
from agent.logs.tailer import Tailer
from agent.logs.timeparse import local_timezone, parse_time
from agent.logs.watcher import LogWatcher

__all__ = [
    "DEFAULT_PACK",
    "FilePosition",
    "FileRef",
    "JournalReader",
    "LogEvent",
    "LogLine",
    "LogWatcher",
    "LogsConfig",
    "Pipeline",
    "RateLimit",
    "RulePackError",
    "RuleSet",
    "Tailer",
    "load_pack",
    "load_rules",
    "local_timezone",
    "parse_time",
    "to_proto",
]
