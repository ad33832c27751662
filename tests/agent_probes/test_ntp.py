from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from agent.probes.ntp import NtpProbe, SntpError, from_ntp, offset_from_reply, request_packet, sntp_offset, to_ntp
from tests.agent_collectors.helpers import assert_catalogued
from tests.agent_probes.servers import closed_port, sntp_reply, sntp_server

T1, T4 = 1_750_000_000.25, 1_750_000_000.50  # the client's clock when sending and receiving


def stepping_clock(*readings: float) -> Callable[[], float]:
    it: Iterator[float] = iter(readings)
    return lambda: next(it)


def test_timestamps_round_trip_and_cross_the_2036_era() -> None:
    for unix in (0.0, 1_750_000_000.123456, 2_085_978_496.5, 2_200_000_000.75):  # 2036-02-07 is 2085978496
        assert from_ntp(to_ntp(unix)) == pytest.approx(unix, abs=1e-6)
    assert to_ntp(2_085_978_496.0)[:4] == b"\0\0\0\0"  # era 1 starts again at 0


def test_request_is_an_sntp_v4_client_packet_carrying_t1() -> None:
    packet = request_packet(T1)
    assert len(packet) == 48
    assert packet[0] == 0b00_100_011  # LI 0, version 4, mode 3 (client)
    assert from_ntp(packet[40:48]) == pytest.approx(T1, abs=1e-6)


def test_offset_over_udp_from_a_server_with_a_known_offset() -> None:
    # The server's clock is 3 s ahead; it takes 0.05 s between receive and transmit. With the
    # client's readings fixed, offset = ((t2 - t1) + (t3 - t4)) / 2 exactly.
    t2, t3 = T1 + 0.1 + 3.0, T1 + 0.15 + 3.0
    with sntp_server(lambda req: sntp_reply(req, receive=t2, transmit=t3)) as (port, requests):
        probe = NtpProbe("127.0.0.1", port=port, timeout=2.0, clock=stepping_clock(T1, T4))
        samples = probe.collect()
    assert_catalogued(samples)
    assert [(s.name, dict(s.labels)) for s in samples] == [("probe.ntp_offset_seconds", {"server": "127.0.0.1"})]
    expected = ((t2 - T1) + (t3 - T4)) / 2
    assert expected == pytest.approx(3.0)  # 0.1 s each way: the full 3 s is seen
    assert samples[0].value == pytest.approx(expected, abs=1e-6)
    assert len(requests) == 1 and requests[0][0] == 0x23


def test_host_ahead_of_the_server_is_negative() -> None:
    with sntp_server(lambda req: sntp_reply(req, receive=T1 - 1.5, transmit=T1 - 1.5)) as (port, _):
        offset = sntp_offset("127.0.0.1", port, 2.0, stepping_clock(T1, T1))
    assert offset == pytest.approx(-1.5, abs=1e-6)


def test_a_stray_reply_is_ignored_and_the_real_one_used() -> None:
    def respond(req: bytes) -> list[bytes]:
        stray = bytearray(sntp_reply(req, receive=T1 + 100, transmit=T1 + 100))
        stray[24:32] = to_ntp(T1 - 60)  # a late answer to an earlier request
        return [bytes(stray), sntp_reply(req, receive=T1 + 2, transmit=T1 + 2)]

    with sntp_server(respond) as (port, _):
        assert sntp_offset("127.0.0.1", port, 2.0, stepping_clock(T1, T1, T1)) == pytest.approx(2.0, abs=1e-6)


@pytest.mark.parametrize(
    ("reply", "fragment"),
    [
        (lambda req: sntp_reply(req, receive=T1, transmit=T1, stratum=0, kiss=b"RATE"), "kiss code RATE"),
        (lambda req: sntp_reply(req, receive=T1, transmit=T1, leap=3), "not synchronised"),
        (lambda req: sntp_reply(req, receive=T1, transmit=T1, stratum=16), "not synchronised"),
        (lambda req: sntp_reply(req, receive=T1, transmit=T1)[:40], "short reply"),
        (lambda req: bytes([0x23]) + sntp_reply(req, receive=T1, transmit=T1)[1:], "mode 3"),
    ],
)
def test_unusable_replies_give_no_sample(reply: Callable[[bytes], bytes], fragment: str) -> None:
    with sntp_server(reply) as (port, _):
        with pytest.raises(SntpError, match=fragment):
            sntp_offset("127.0.0.1", port, 2.0, stepping_clock(T1, T4))
        assert NtpProbe("127.0.0.1", port=port, timeout=2.0, clock=stepping_clock(T1, T4)).collect() == []


def test_silent_server_and_closed_port_give_no_sample_within_the_timeout() -> None:
    with sntp_server(lambda req: None) as (port, requests):
        assert NtpProbe("127.0.0.1", port=port, timeout=0.2).collect() == []
        assert len(requests) == 1
    assert NtpProbe("127.0.0.1", port=closed_port(), timeout=0.5).collect() == []
    assert NtpProbe("no-such-host.invalid", timeout=0.5).collect() == []


def test_offset_from_reply_checks_the_originate_time() -> None:
    reply = sntp_reply(request_packet(T1), receive=T1, transmit=T1)
    with pytest.raises(SntpError, match="does not answer this request"):
        offset_from_reply(reply, T1 + 1.0, T4)
