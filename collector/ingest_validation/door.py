"""The checks every upstream message passes before it is handed to the ingest writer.

Structurally broken messages (a batch without a usable sequence number, a series whose timestamps
and values do not pair up, a Hello the store cannot hold) raise :class:`InvalidMessage`, which ends
that one stream with INVALID_ARGUMENT. Everything else that breaks a bound is dropped point by
point or event by event and counted by reason; the rest of the batch is stored.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection
from math import isfinite

import numpy as np

from collector.ingest_validation import bounds as b
from collector.ingest_validation.bounds import IngestBounds
from collector.ingest_validation.rejections import InvalidMessage, Rejections
from collector.ingest_validation.series_budget import SeriesBudget
from collector.store.samples import FlatSamples, KeyCache, Labels, MalformedSamples, flatten
from protos.patrol.v1 import agent_pb2 as pb


def _has_nul(*texts: str) -> bool:
    """PostgreSQL's text and JSON types cannot hold U+0000, so no stored text may contain it."""
    return any("\x00" in t for t in texts)


def _label_problem(items: Collection[tuple[str, str]]) -> str | None:
    if len(items) > b.MAX_LABELS:
        return "too_many_labels"
    for k, v in items:
        if not k or len(k) > b.MAX_LABEL_KEY or len(v) > b.MAX_LABEL_VALUE:
            return "label_length"
        if _has_nul(k, v):
            return "nul_character"
    return None


def _check_seq(kind: str, seq: int) -> None:
    if not 0 < seq <= b.MAX_SEQ:
        raise InvalidMessage("bad_seq", f"{kind}.seq must be between 1 and 2^63-1, got {seq}")


class Door:
    """Validates one collector's upstream traffic; ``clock`` gives unix seconds."""

    def __init__(self, bounds: IngestBounds, budget: SeriesBudget, clock: Callable[[], float]) -> None:
        self.bounds = bounds
        self.budget = budget
        self.clock = clock

    def window_ms(self) -> tuple[int, int]:
        """The accepted range of timestamps right now, inclusive."""
        now = self.clock()
        return (max(b.TIMESTAMP_MS_MIN, int((now - self.bounds.max_age) * 1000)),
                int((now + self.bounds.max_clock_skew) * 1000))

    # ------------------------------------------------------------------ messages without data

    def hello(self, hello: pb.Hello) -> None:
        if not hello.spool_epoch or len(hello.spool_epoch) > b.MAX_EPOCH:
            raise InvalidMessage("bad_hello", f"Hello.spool_epoch must be a non-empty id of at most "
                                              f"{b.MAX_EPOCH} characters")
        for field, limit in (("hostname", b.MAX_HOSTNAME), ("version", b.MAX_VERSION)):
            if len(getattr(hello, field)) > limit:
                raise InvalidMessage("bad_hello", f"Hello.{field} is longer than {limit} characters")
            if _has_nul(getattr(hello, field)):
                raise InvalidMessage("bad_hello", f"Hello.{field} contains a NUL character")
        if (problem := _label_problem(hello.labels.items())) is not None:
            raise InvalidMessage("bad_hello", f"Hello.labels: {problem.replace('_', ' ')} (at most "
                                              f"{b.MAX_LABELS} labels, keys 1-{b.MAX_LABEL_KEY} and values "
                                              f"up to {b.MAX_LABEL_VALUE} characters)")
        if hello.HasField("facts"):
            self.facts(hello.facts)

    def facts(self, facts: pb.Facts) -> None:
        texts = [facts.hostname, facts.os, facts.kernel, facts.arch, facts.cpu_model, facts.agent_version,
                 facts.python_version, *facts.extra.keys(), *facts.extra.values()]
        for d in facts.disks:
            texts += [d.device, d.mount, d.fstype]
        for i in facts.interfaces:
            texts += [i.name, i.mac, *i.addresses]
        if any(len(t) > b.MAX_FACT_TEXT for t in texts):
            raise InvalidMessage("bad_facts", f"Facts: a text field is longer than {b.MAX_FACT_TEXT} characters")
        if _has_nul(*texts):
            raise InvalidMessage("bad_facts", "Facts: a text field contains a NUL character")
        if len(facts.extra) > b.MAX_EVENT_FIELDS:
            raise InvalidMessage("bad_facts", f"Facts.extra has more than {b.MAX_EVENT_FIELDS} entries")

    def diagnostic_result(self, result: pb.DiagnosticResult) -> None:
        if not result.request_id or len(result.request_id) > b.MAX_REQUEST_ID:
            raise InvalidMessage("bad_diagnostic_result", "DiagnosticResult.request_id must be a non-empty id "
                                                          f"of at most {b.MAX_REQUEST_ID} characters")
        if len(result.status) > 16 or len(result.error) > b.MAX_FIELD_VALUE:
            raise InvalidMessage("bad_diagnostic_result", "DiagnosticResult.status (16) or .error "
                                                          f"({b.MAX_FIELD_VALUE}) is too long")

    # ------------------------------------------------------------------ data batches

    def samples(self, host_id: str, msg: pb.Samples,
                keys: KeyCache | None = None) -> tuple[pb.Samples, Rejections, FlatSamples | None]:
        """The batch with every out-of-bounds point removed (``msg`` itself when none is), the drops, and
        when nothing was dropped the batch's points as read here (for the writer, which then need not
        read the message again). ``keys`` is a cache of decoded series keys."""
        _check_seq("Samples", msg.seq)
        try:
            flat = flatten(msg, keys)
        except MalformedSamples as e:
            raise InvalidMessage("bad_series", f"Samples seq={msg.seq}: {e}") from None
        dropped: Counter[str] = Counter()
        known = self.budget.known(host_id)
        whole: list[int] = []  # series dropped with all their points
        # A series this host already has passed these checks when it was new.
        for j in [j for j, key in enumerate(flat.hashes) if key not in known]:
            reason = self._new_series_problem(host_id, flat.names[j], flat.labels[j], flat.hashes[j])
            if reason is not None:
                dropped[reason] += flat.sizes[j]
                whole.append(j)
        lo, hi = self.window_ms()
        # The common case, every point within bounds, costs a few passes over the whole batch in C.
        stamps, values = flat.stamps, flat.values
        limit = b.MAX_ABS_VALUE
        with np.errstate(over="ignore"):  # a sum past the largest double: checked point by point below
            total = values.sum()
        points_ok = not len(stamps) or (lo <= stamps.min() and stamps.max() <= hi and isfinite(total)
                                        and -limit <= values.min() and values.max() <= limit)
        if points_ok and not whole:
            return msg, Rejections(samples=dropped), flat
        return self._kept(msg, flat, whole, lo, hi, dropped), Rejections(samples=dropped), None

    @staticmethod
    def _kept(msg: pb.Samples, flat: FlatSamples, whole: list[int], lo: int, hi: int,
              dropped: Counter[str]) -> pb.Samples:
        """What is left of the batch, one Series per series that keeps a point; each dropped point counted
        under the first bound it breaks (time, then finiteness, then size)."""
        stamps, values = flat.stamps, flat.values
        bounds = flat.bounds()
        keep = np.ones(len(stamps), dtype=bool)
        for j in whole:
            keep[bounds[j]:bounds[j + 1]] = False
        late = (stamps < lo) | (stamps > hi)
        finite = np.isfinite(values)
        with np.errstate(invalid="ignore"):
            huge = np.abs(values) > b.MAX_ABS_VALUE
        for reason, bad in (("timestamp_out_of_range", late), ("non_finite_value", ~late & ~finite),
                            ("value_out_of_range", ~late & finite & huge)):
            if n := int(np.count_nonzero(bad & keep)):
                dropped[reason] += n
        keep &= ~late & finite & ~huge
        clean = pb.Samples(seq=msg.seq)
        for j, (name, labels) in enumerate(zip(flat.names, flat.labels, strict=True)):
            mine = keep[bounds[j]:bounds[j + 1]]
            if mine.any():
                span = slice(int(bounds[j]), int(bounds[j + 1]))
                clean.series.add(name=name, labels=dict(labels), timestamps_ms=stamps[span][mine].tolist(),
                                 values=values[span][mine].tolist())
        if msg.HasField("spool"):
            clean.spool.CopyFrom(msg.spool)
        return clean

    def _new_series_problem(self, host_id: str, name: str, labels: Labels, key: int) -> str | None:
        if not name or len(name) > b.MAX_SERIES_NAME:
            return "series_name_length"
        if _has_nul(name):
            return "nul_character"
        if (problem := _label_problem(labels)) is not None:
            return problem
        return self.budget.admit(host_id, key)

    def events(self, msg: pb.Events) -> tuple[pb.Events, Rejections]:
        """The batch without the events that break a bound, and the drops."""
        _check_seq("Events", msg.seq)
        lo, hi = self.window_ms()
        dropped: Counter[str] = Counter()
        kept: list[pb.Event] = []
        restamped = False
        for i, ev in enumerate(msg.events):
            if not ev.rule:
                raise InvalidMessage("bad_event", f"Events seq={msg.seq}: event #{i} has no rule id")
            reason = self._event_problem(ev, lo, hi)
            if reason is not None:
                dropped[reason] += 1
                continue
            if ev.timestamp_ms and not lo <= ev.timestamp_ms <= hi:
                # The time a log line states is the logging program's claim (an old file, a device with a
                # wrong clock, a syslog line without a year): the event is kept at the time the agent saw
                # it, and the line itself still carries what it said.
                ev = pb.Event()
                ev.CopyFrom(msg.events[i])
                ev.timestamp_ms = 0
                restamped = True
            kept.append(ev)
        if not dropped and not restamped:
            return msg, Rejections()
        return pb.Events(seq=msg.seq, events=kept), Rejections(events=dropped)

    @staticmethod
    def _event_problem(ev: pb.Event, lo: int, hi: int) -> str | None:
        if len(ev.rule) > b.MAX_RULE:
            return "rule_length"
        # The agent's own clock; 0 means "not set" (the collector then uses the receive time).
        if ev.observed_ms and not lo <= ev.observed_ms <= hi:
            return "timestamp_out_of_range"
        if len(ev.source) > b.MAX_SOURCE or len(ev.line) > b.MAX_LINE:
            return "text_length"
        if len(ev.fields) > b.MAX_EVENT_FIELDS or any(
                len(k) > b.MAX_LABEL_KEY or len(v) > b.MAX_FIELD_VALUE for k, v in ev.fields.items()):
            return "fields_length"
        if _has_nul(ev.rule, ev.source, ev.line, *ev.fields.keys(), *ev.fields.values()):
            return "nul_character"
        if ev.suppressed_before > b.MAX_SUPPRESSED:
            return "suppressed_out_of_range"
        return None
