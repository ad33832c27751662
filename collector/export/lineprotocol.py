"""InfluxDB line protocol for Patrol's series and events (the schema is described in docs/influxdb.md).

A series ``<group>.<field>{labels}`` of a host becomes measurement ``<group>``, field ``<field>`` and
the labels as tags, next to the identity tags ``customer``, ``host`` (hostname) and ``host_id``.
Series of one batch that share a measurement, tag set and timestamps are written as one line with
several fields, which is what InfluxDB stores anyway and makes the request much smaller.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from math import isfinite
from operator import add

from collector.store.samples import Labels, flatten
from protos.patrol.v1 import agent_pb2 as pb

_Member = tuple[str, list[int], list[float]]  # a series' escaped field key, timestamps and values

# Escaping follows the line protocol rules: a backslash escapes the next character, and two
# backslashes stand for one, so backslashes are doubled first (a Windows mount "C:\" must not escape
# the separator after it). Newlines, carriage returns and tabs cannot appear in names or tag values;
# they become (escaped) spaces.
_MEASUREMENT = str.maketrans({"\\": "\\\\", ",": "\\,", " ": "\\ ", "\n": "\\ ", "\r": "\\ ", "\t": "\\ "})
_KEY = str.maketrans({"\\": "\\\\", ",": "\\,", "=": "\\=", " ": "\\ ", "\n": "\\ ", "\r": "\\ ", "\t": "\\ "})
# In string fields only '"' and '\' are special; a newline is stored as the two characters "\n" so a
# multi-line log event survives every line protocol parser.
_STRING = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\\\n", "\r": "\\\\r"})

IDENTITY_TAGS = ("customer", "host", "host_id")
EVENTS_MEASUREMENT = "events"
DEFAULT_FIELD = "value"
MAX_EVENT_LINE = 16_000  # characters of an event's log line kept in the 'line' field


def escape_measurement(name: str) -> str:
    out = name.translate(_MEASUREMENT)
    # A line starting with '#' is a comment to InfluxDB.
    return "_" + out if out.startswith("#") else out


def escape_key(key: str) -> str:
    """A tag key, tag value or field key."""
    return key.translate(_KEY)


def escape_string(value: str) -> str:
    """The inside of a double-quoted string field value."""
    return value.translate(_STRING)


def split_series_name(name: str) -> tuple[str, str]:
    """``disk.used_percent`` -> (``disk``, ``used_percent``); a name without a group -> (name, ``value``)."""
    group, dot, field = name.partition(".")
    if not dot or not group or not field:
        return name, DEFAULT_FIELD
    return group, field


def _safe_key(key: str, prefix: str) -> str:
    # 'time' and keys starting with '_' are reserved by InfluxDB (and Flux uses _measurement, _field…).
    return prefix + key if key == "time" or key.startswith("_") else key


@dataclass(frozen=True, slots=True)
class HostTags:
    """The identity tags every point of a host carries."""

    host_id: str
    hostname: str
    customer: str

    def pairs(self) -> list[tuple[str, str]]:
        return [("customer", self.customer), ("host", self.hostname or self.host_id), ("host_id", self.host_id)]


def tag_set(host: HostTags, labels: Iterable[tuple[str, str]]) -> str:
    """``,k=v,k=v`` sorted by key, empty values left out (line protocol has no empty tag values).

    A label named like an identity tag, ``time`` or ``_…`` is written as ``label_<name>``.
    """
    tags = dict(host.pairs())
    for k, v in labels:
        if not k:
            continue
        key = "label_" + k if k in IDENTITY_TAGS else _safe_key(k, "label_")
        tags[key] = v
    return "".join(f",{escape_key(k)}={escape_key(v)}" for k, v in sorted(tags.items()) if v)


class SampleEncoder:
    """Turns ``Samples`` batches into line protocol (millisecond timestamps).

    Remembers each series' escaped measurement and tag set, since a host sends the same few hundred
    series in every batch.
    """

    def __init__(self, max_cached: int = 200_000) -> None:
        self._prefixes: dict[tuple[HostTags, str, Labels], tuple[str, str]] = {}
        # A host's series share a handful of label sets, and every host shares the series names.
        self._tag_sets: dict[tuple[HostTags, Labels], str] = {}
        self._names: dict[str, tuple[str, str]] = {}
        self._max_cached = max_cached
        self.skipped = 0  # values that line protocol cannot carry (NaN, ±inf)

    def _prefix(self, host: HostTags, name: str, labels: Labels) -> tuple[str, str]:
        """(``measurement,tags``, escaped field key) of a series."""
        key = (host, name, labels)
        hit = self._prefixes.get(key)
        if hit is None:
            if len(self._prefixes) >= self._max_cached:
                self._prefixes.clear()
                self._tag_sets.clear()
                self._names.clear()
            tags = self._tag_sets.get((host, labels))
            if tags is None:
                tags = self._tag_sets[(host, labels)] = tag_set(host, labels)
            names = self._names.get(name)
            if names is None:
                group, field = split_series_name(name)
                names = self._names[name] = (escape_measurement(group), escape_key(_safe_key(field, "field_")))
            hit = self._prefixes[key] = (names[0] + tags, names[1])
        return hit

    def encode(self, host: HostTags, samples: pb.Samples) -> tuple[list[str], int]:
        """(lines, number of samples they carry) of one batch, in either of its forms."""
        flat = flatten(samples)
        all_stamps = flat.stamps.tolist()
        all_values = flat.values.tolist()
        groups: dict[str, list[_Member]] = {}
        at = 0
        for name, labels, n in zip(flat.names, flat.labels, flat.sizes, strict=True):
            prefix, field = self._prefix(host, name, labels)
            groups.setdefault(prefix, []).append((field, all_stamps[at:at + n], all_values[at:at + n]))
            at += n
        lines: list[str] = []
        count = 0
        for prefix, members in groups.items():
            if len(members) > 1 and _same_timestamps(members):
                count += self._lines_multi(prefix, members, lines)
            else:
                for field, stamps, values in members:
                    count += self._lines_single(f"{prefix} {field}=", stamps, values, lines)
        return lines, count

    def _lines_single(self, head: str, stamps: list[int], values: list[float], out: list[str]) -> int:
        before = len(out)
        if isfinite(sum(values)):  # no NaN or infinity anywhere (the common case): no test per value
            out.extend([f"{head}{v!r} {t}" for t, v in zip(stamps, values, strict=True)])
        else:
            out.extend([f"{head}{v!r} {t}" for t, v in zip(stamps, values, strict=True) if isfinite(v)])
        written = len(out) - before
        self.skipped += len(values) - written
        return written

    def _lines_multi(self, prefix: str, members: list[_Member], out: list[str]) -> int:
        fields = [f"{f}=" for f, _, _ in members]
        columns = [values for _, _, values in members]
        rows = zip(members[0][1], zip(*columns, strict=True), strict=True)
        if all(isfinite(sum(col)) for col in columns):
            out.extend([f"{prefix} {','.join(map(add, fields, map(repr, row)))} {t}" for t, row in rows])
            return len(fields) * len(columns[0])
        count = 0
        for t, row in rows:
            parts = [f + repr(v) for f, v in zip(fields, row, strict=True) if isfinite(v)]
            self.skipped += len(fields) - len(parts)
            if parts:
                out.append(f"{prefix} {','.join(parts)} {t}")
                count += len(parts)
        return count


def _same_timestamps(members: list[_Member]) -> bool:
    first = members[0][1]
    return all(stamps == first for _, stamps, _ in members[1:])


def event_line(host: HostTags, event_id: int, ts_ms: int, rule: str, severity: str, source: str, line: str,
               suppressed_before: int) -> str:
    """One log event (nanosecond timestamp).

    Several events of a rule often share a millisecond (a burst parsed from second-resolution syslog
    lines), and points with equal measurement, tags and time overwrite each other, so the event's
    store id modulo 10^6 fills the sub-millisecond digits: distinct events stay distinct and exporting
    the same event again still overwrites itself. ``count`` is the matches this line stands for
    (itself plus those rate-limited before it), so ``sum(count)`` is the rule's true rate.
    """
    tags = tag_set(host, [("rule", rule), ("severity", severity)])
    text = line if len(line) <= MAX_EVENT_LINE else line[:MAX_EVENT_LINE]
    ts_ns = ts_ms * 1_000_000 + event_id % 1_000_000
    return (f"{EVENTS_MEASUREMENT}{tags} count={1 + suppressed_before}i,line=\"{escape_string(text)}\","
            f"source=\"{escape_string(source)}\" {ts_ns}")
