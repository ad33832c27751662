"""Series and events as line protocol: naming, tags, escaping, several fields per line."""

from __future__ import annotations

import pytest

from collector.export.lineprotocol import (
    HostTags,
    SampleEncoder,
    escape_key,
    escape_measurement,
    escape_string,
    event_line,
    split_series_name,
    tag_set,
)
from protos.patrol.v1 import agent_pb2 as pb

HOST = HostTags("0c1f-agent", "web-01", "acme")


def series(name: str, values: list[float], labels: dict[str, str] | None = None, start: int = 1000) -> pb.Series:
    return pb.Series(name=name, labels=labels or {}, timestamps_ms=[start + i * 10 for i in range(len(values))],
                     values=values)


@pytest.mark.parametrize(("name", "expected"), [
    ("disk.used_percent", ("disk", "used_percent")),
    ("host.up", ("host", "up")),
    ("a.b.c", ("a", "b.c")),
    ("uptime", ("uptime", "value")),
    (".x", (".x", "value")),
    ("x.", ("x.", "value")),
])
def test_series_name_splits_into_measurement_and_field(name: str, expected: tuple[str, str]) -> None:
    assert split_series_name(name) == expected


def test_disk_series_maps_to_measurement_field_and_tags() -> None:
    enc = SampleEncoder()
    lines, count = enc.encode(HOST, pb.Samples(series=[series("disk.used_percent", [42.5],
                                                               {"mount": "/", "device": "sda1", "fstype": "ext4"})]))
    assert lines == ["disk,customer=acme,device=sda1,fstype=ext4,host=web-01,host_id=0c1f-agent,mount=/ "
                     "used_percent=42.5 1000"]
    assert count == 1


def test_series_sharing_tags_and_timestamps_share_a_line() -> None:
    enc = SampleEncoder()
    batch = pb.Samples(series=[series("mem.used_percent", [50.0, 51.0]), series("mem.total_bytes", [8e9, 8e9]),
                               series("cpu.busy_percent", [3.0, 4.0])])
    lines, count = enc.encode(HOST, batch)
    assert lines == [
        "mem,customer=acme,host=web-01,host_id=0c1f-agent used_percent=50.0,total_bytes=8000000000.0 1000",
        "mem,customer=acme,host=web-01,host_id=0c1f-agent used_percent=51.0,total_bytes=8000000000.0 1010",
        "cpu,customer=acme,host=web-01,host_id=0c1f-agent busy_percent=3.0 1000",
        "cpu,customer=acme,host=web-01,host_id=0c1f-agent busy_percent=4.0 1010",
    ]
    assert count == 6


def test_series_with_different_timestamps_get_their_own_lines() -> None:
    enc = SampleEncoder()
    lines, count = enc.encode(HOST, pb.Samples(series=[series("mem.used_percent", [1.0]),
                                                      series("mem.total_bytes", [2.0], start=5000)]))
    assert lines == ["mem,customer=acme,host=web-01,host_id=0c1f-agent used_percent=1.0 1000",
                     "mem,customer=acme,host=web-01,host_id=0c1f-agent total_bytes=2.0 5000"]
    assert count == 2


def test_values_line_protocol_cannot_carry_are_skipped() -> None:
    enc = SampleEncoder()
    nan, inf = float("nan"), float("inf")
    lines, count = enc.encode(HOST, pb.Samples(series=[series("mem.a", [nan, 1.0]), series("mem.b", [nan, -inf]),
                                                      series("cpu.x", [inf])]))
    assert lines == ["mem,customer=acme,host=web-01,host_id=0c1f-agent a=1.0 1010"]
    assert count == 1
    assert enc.skipped == 4


def test_float_formatting_round_trips() -> None:
    enc = SampleEncoder()
    values = [0.1, 1e-7, 123456789012345678.0, -2.5, 0.0]
    lines, _ = enc.encode(HOST, pb.Samples(series=[series("x.v", values)]))
    assert [float(line.split(" ")[1].split("=")[1]) for line in lines] == values


def test_labels_named_like_identity_or_reserved_tags_are_renamed() -> None:
    text = tag_set(HOST, [("host", "other"), ("time", "t"), ("_field", "f"), ("", "empty key"), ("empty", "")])
    assert text == ",customer=acme,host=web-01,host_id=0c1f-agent,label__field=f,label_host=other,label_time=t"


def test_escaping_rules() -> None:
    assert escape_measurement("my measurement,x=y") == "my\\ measurement\\,x=y"
    assert escape_measurement("#comment") == "_#comment"
    assert escape_key("a b,c=d") == "a\\ b\\,c\\=d"
    assert escape_key("C:\\") == "C:\\\\"  # a trailing backslash would otherwise escape the separator
    assert escape_key("line\nbreak\ttab") == "line\\ break\\ tab"
    assert escape_string('say "hi" \\ bye\nnext') == 'say \\"hi\\" \\\\ bye\\\\nnext'


def test_event_line_timestamps_keep_events_of_one_millisecond_apart() -> None:
    a = event_line(HOST, 41, 1_700_000_000_123, "sshd.failed_password", "warning", "/var/log/auth.log", "x", 0)
    b = event_line(HOST, 42, 1_700_000_000_123, "sshd.failed_password", "warning", "/var/log/auth.log", "x", 2)
    assert a.endswith(" 1700000000123000041") and b.endswith(" 1700000000123000042")
    assert "count=3i" in b
    assert a.startswith("events,customer=acme,host=web-01,host_id=0c1f-agent,rule=sshd.failed_password,"
                        "severity=warning ")


def test_hostname_falls_back_to_host_id() -> None:
    assert tag_set(HostTags("id-1", "", "acme"), []) == ",customer=acme,host=id-1,host_id=id-1"
