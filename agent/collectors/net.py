"""Traffic, errors and drops per network interface, loopback excluded."""

from __future__ import annotations

import fnmatch
import re
import time
from collections.abc import Callable, Mapping
from typing import ClassVar

import psutil

from agent.collectors.counters import CounterDeltas
from agent.collectors.options import OptionSpec, string_list
from agent.model import Sample, labels_of

# Order of the counters read from psutil's snetio, and the rate series for each.
_RATES = (
    ("bytes_recv", "net.rx_bytes_per_s"),
    ("bytes_sent", "net.tx_bytes_per_s"),
    ("packets_recv", "net.rx_packets_per_s"),
    ("packets_sent", "net.tx_packets_per_s"),
    ("errin", "net.rx_errors_per_s"),
    ("errout", "net.tx_errors_per_s"),
    ("dropin", "net.rx_drops_per_s"),
    ("dropout", "net.tx_drops_per_s"),
)
_TOTALS = (
    ("errin", "net.rx_errors_total"),
    ("errout", "net.tx_errors_total"),
    ("dropin", "net.rx_drops_total"),
    ("dropout", "net.tx_drops_total"),
)
# Used only when psutil cannot report interface flags: lo (Linux), lo0 (BSD, macOS),
# "Loopback Pseudo-Interface 1" (Windows).
_LOOPBACK_NAME = re.compile(r"^lo\d*$|loopback", re.IGNORECASE)


class NetCollector:
    """``net.*`` per interface (label ``interface``). Rates from the second call, totals always.

    Option ``ignore_interfaces``: glob patterns of interfaces to skip, e.g. ``["veth*", "docker*"]``
    on container hosts where short-lived interfaces would otherwise create a series each.
    """

    name = "net"
    default_interval = 10.0
    options: ClassVar[OptionSpec] = {"ignore_interfaces": string_list}

    def __init__(self, *, ignore_interfaces: tuple[str, ...] = (), clock: Callable[[], float] = time.monotonic) -> None:
        self._ignore = tuple(ignore_interfaces)
        self._deltas: CounterDeltas[str] = CounterDeltas(clock)
        self._included: dict[str, bool] = {}

    def _include(self, interfaces: list[str]) -> dict[str, bool]:
        # Rebuilt from the current names each round so that interfaces that come and go (veth of
        # containers) do not accumulate; psutil is asked for flags only when a new name shows up.
        known = self._included
        unseen = [name for name in interfaces if name not in known]
        stats = psutil.net_if_stats() if unseen else {}
        self._included = {
            name: known[name] if name in known else self._wanted(name, getattr(stats.get(name), "flags", None))
            for name in interfaces
        }
        return self._included

    def _wanted(self, name: str, flags: str | None) -> bool:
        loopback = "loopback" in flags.split(",") if flags else bool(_LOOPBACK_NAME.search(name))
        return not loopback and not any(fnmatch.fnmatchcase(name, pattern) for pattern in self._ignore)

    def collect(self) -> list[Sample]:
        counters = psutil.net_io_counters(pernic=True, nowrap=True)
        included = self._include(list(counters))
        readings = {
            name: tuple(float(getattr(io, field)) for field, _ in _RATES)
            for name, io in counters.items()
            if included[name]
        }
        samples = net_total_samples(readings)
        deltas = self._deltas.advance(readings)
        if deltas is not None:
            samples += net_rate_samples(deltas.by_key, deltas.elapsed)
        return samples


# The order of a reading's counters (received and sent bytes, packets, errors, drops): psutil's
# fields above, and the SSH poller's /proc/net/dev columns, which share these two functions.
_ERRORS_AND_DROPS = slice(4, 8)


def net_total_samples(readings: Mapping[str, tuple[float, ...]]) -> list[Sample]:
    """``net.*_total`` per interface: errors and drops since boot, from readings in ``_RATES`` order."""
    samples: list[Sample] = []
    for name, values in readings.items():
        labels = labels_of({"interface": name})
        samples += [Sample(series, value, labels)
                    for (_, series), value in zip(_TOTALS, values[_ERRORS_AND_DROPS], strict=True)]
    return samples


def net_rate_samples(deltas: Mapping[str, tuple[float, ...]], elapsed: float) -> list[Sample]:
    """``net.*_per_s`` per interface from counter deltas over ``elapsed`` seconds."""
    samples: list[Sample] = []
    for name, delta in deltas.items():
        labels = labels_of({"interface": name})
        samples += [Sample(series, value / elapsed, labels) for (_, series), value in zip(_RATES, delta, strict=True)]
    return samples
