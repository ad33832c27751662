"""``probe.ntp_offset_seconds{server}``: this host's clock against an NTP server, by a minimal SNTP client.

RFC 4330: one 48-byte client request over UDP (version 4, mode 3) carrying our transmit time t1;
the server answers with its receive time t2 and transmit time t3; we note the arrival time t4.
The offset ((t2 - t1) + (t3 - t4)) / 2 is how far the server's clock is *ahead* of ours: positive
means this host is behind. An answer is only taken if it echoes our t1 as its originate time (it
answers this request, not an earlier or forged one), comes from a synchronised server (leap
indicator not 3, stratum 1-15) and is not a kiss-of-death (stratum 0: RATE, DENY…).
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable

from agent.model import Sample, labels_of
from agent.probes.config import DEFAULT_TIMEOUT
from agent.probes.deadline import BoundedRounds
from agent.probes.transitions import TransitionLog

NTP_PACKET_BYTES = 48
# Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01).
NTP_TO_UNIX = 2_208_988_800
_ERA = 2**32
_MODE_CLIENT, _MODE_SERVER, _VERSION = 3, 4, 4
_GRACE_SECONDS = 0.5


class SntpError(Exception):
    """No usable answer from the server; the message says why."""


def to_ntp(unix: float) -> bytes:
    """64-bit NTP timestamp: seconds since 1900 (modulo the 2036 era rollover) and a 32-bit fraction."""
    ntp = unix + NTP_TO_UNIX
    seconds = int(ntp)
    fraction = min(int((ntp - seconds) * _ERA), _ERA - 1)
    return struct.pack("!II", seconds % _ERA, fraction)


def from_ntp(data: bytes) -> float:
    seconds: int
    fraction: int
    seconds, fraction = struct.unpack("!II", data)
    # RFC 4330 §3: with the top bit clear, the timestamp is in era 1 (from 2036-02-07 06:28:16 UTC).
    if seconds < 0x8000_0000:
        seconds += _ERA
    return seconds - NTP_TO_UNIX + fraction / _ERA


def request_packet(t1: float) -> bytes:
    packet = bytearray(NTP_PACKET_BYTES)
    packet[0] = (0 << 6) | (_VERSION << 3) | _MODE_CLIENT
    packet[40:48] = to_ntp(t1)
    return bytes(packet)


def offset_from_reply(reply: bytes, t1: float, t4: float) -> float:
    """The clock offset from a reply to a request sent at ``t1`` and received at ``t4`` (unix seconds)."""
    if len(reply) < NTP_PACKET_BYTES:
        raise SntpError(f"short reply ({len(reply)} bytes, expected {NTP_PACKET_BYTES})")
    leap, mode, stratum = reply[0] >> 6, reply[0] & 0b111, reply[1]
    if mode != _MODE_SERVER:
        raise SntpError(f"reply in mode {mode}, expected {_MODE_SERVER} (server)")
    if stratum == 0:
        code = reply[12:16].decode("ascii", "replace").strip("\0 ")
        raise SntpError(f"the server refused to answer (kiss code {code or '?'})")
    if leap == 3 or stratum > 15:
        raise SntpError("the server's own clock is not synchronised")
    if reply[24:32] != to_ntp(t1):
        raise SntpError("the reply does not answer this request")
    if reply[40:48] == bytes(8):
        raise SntpError("the reply has no transmit time")
    t2, t3 = from_ntp(reply[32:40]), from_ntp(reply[40:48])
    return ((t2 - t1) + (t3 - t4)) / 2.0


def sntp_offset(server: str, port: int, timeout: float, clock: Callable[[], float] = time.time) -> float:
    """Query ``server`` once; the offset in seconds, or :class:`SntpError` within ``timeout``."""
    deadline = time.monotonic() + timeout
    try:
        family, kind, proto, _, address = socket.getaddrinfo(server, port, type=socket.SOCK_DGRAM)[0]
    except (OSError, IndexError) as exc:
        raise SntpError(f"cannot resolve {server!r}: {exc}") from None
    with socket.socket(family, kind, proto) as sock:
        # Connected, so the kernel drops datagrams from anyone but the server and reports
        # "port unreachable" as a refused connection.
        sock.connect(address)
        t1 = clock()
        sock.send(request_packet(t1))
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SntpError(f"no answer within {timeout:g} s")
            sock.settimeout(remaining)
            try:
                reply = sock.recv(1024)
            except TimeoutError:
                raise SntpError(f"no answer within {timeout:g} s") from None
            except OSError as exc:
                raise SntpError(f"{address[0]} port {port}: {exc.strerror or exc}") from None
            t4 = clock()
            if len(reply) >= NTP_PACKET_BYTES and reply[24:32] != to_ntp(t1):
                continue  # a late answer to an earlier query: keep waiting for ours
            return offset_from_reply(reply, t1, t4)


class NtpProbe:
    """The clock offset against the configured server; no sample when the server does not answer."""

    name = "probe_ntp"
    default_interval = 300.0

    def __init__(
        self,
        server: str,
        *,
        port: int = 123,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._server = server
        self._port = port
        self._timeout = timeout
        self._clock = clock
        self._rounds: BoundedRounds[str, float | SntpError] = BoundedRounds(self.name)
        self._log = TransitionLog(self.name)

    def collect(self) -> list[Sample]:
        outcome = self._rounds.run({self._server: self._query}, self._timeout + _GRACE_SECONDS).get(
            self._server, SntpError(f"no answer within {self._timeout:g} s")
        )
        if isinstance(outcome, SntpError):
            self._log.down(self._server, str(outcome))
            return []
        self._log.up(self._server)
        return [Sample("probe.ntp_offset_seconds", outcome, labels_of({"server": self._server}))]

    def _query(self) -> float | SntpError:
        try:
            return sntp_offset(self._server, self._port, self._timeout, self._clock)
        except SntpError as exc:
            return exc
