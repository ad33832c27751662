from __future__ import annotations

import ipaddress
import os
import platform
import re
import socket
from pathlib import Path

import psutil
import pytest

from agent.collectors.disk import DiskCollector
from agent.facts import collect_facts, cpu_model, facts_fingerprint, os_name, parse_os_release, read_os_release
from protos.patrol.v1 import agent_pb2


def test_real_facts() -> None:
    facts = collect_facts("1.2.3")
    assert facts.agent_version == "1.2.3"
    assert facts.hostname == socket.gethostname()
    assert facts.kernel == platform.release()
    assert facts.arch == platform.machine()
    assert facts.python_version == platform.python_version()
    assert facts.cpu_model
    assert facts.cpu_count == os.cpu_count()
    assert 1 <= facts.cpu_cores <= facts.cpu_count
    assert facts.memory_bytes == psutil.virtual_memory().total
    assert facts.swap_bytes == psutil.swap_memory().total
    assert facts.boot_time_ms == round(psutil.boot_time() * 1000)
    release = read_os_release()
    if release.get("PRETTY_NAME"):
        assert facts.os == release["PRETTY_NAME"]
        assert facts.extra["os_id"] == release["ID"]
    # Disks are the same real mounts the disk collector reports.
    mounts = {dict(s.labels)["mount"] for s in DiskCollector().collect()}
    assert {d.mount for d in facts.disks} == mounts
    assert all(d.total_bytes > 0 and not d.device.startswith("/dev/") for d in facts.disks)


def test_real_interfaces() -> None:
    facts = collect_facts("x")
    names = [i.name for i in facts.interfaces]
    assert names == sorted(names)
    stats = psutil.net_if_stats()
    for iface in facts.interfaces:
        assert "loopback" not in stats[iface.name].flags
        assert iface.up == stats[iface.name].isup
        assert iface.mtu == stats[iface.name].mtu
        if iface.mac:
            assert re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", iface.mac)
        for address in iface.addresses:
            assert "/" in address and "%" not in address
            ipaddress.ip_interface(address)
    expected = {
        a.address.split("%")[0]
        for name, addrs in psutil.net_if_addrs().items()
        if name in names
        for a in addrs
        if a.family in (socket.AF_INET, socket.AF_INET6)
    }
    assert {a.split("/")[0] for i in facts.interfaces for a in i.addresses} == expected


def test_fingerprint_is_stable_and_sensitive() -> None:
    first = collect_facts("1.0")
    again = collect_facts("1.0")
    assert facts_fingerprint(first) == facts_fingerprint(again)
    changed = agent_pb2.Facts()
    changed.CopyFrom(first)
    changed.disks.add(device="sdz", mount="/new", fstype="xfs", total_bytes=1)
    assert facts_fingerprint(changed) != facts_fingerprint(first)
    assert facts_fingerprint(collect_facts("1.1")) != facts_fingerprint(first)


def test_fingerprint_ignores_map_insertion_order() -> None:
    a = agent_pb2.Facts(hostname="h")
    a.extra["x"] = "1"
    a.extra["y"] = "2"
    b = agent_pb2.Facts(hostname="h")
    b.extra["y"] = "2"
    b.extra["x"] = "1"
    assert facts_fingerprint(a) == facts_fingerprint(b)
    assert re.fullmatch(r"[0-9a-f]{64}", facts_fingerprint(a))


def test_os_release_parsing(tmp_path: Path) -> None:
    text = (
        '# comment\nNAME="Kylin Linux Advanced Server"\nVERSION="V10 (Lance)"\n'
        "ID=kylin\nVERSION_ID='V10'\n\nBAD LINE\n"
    )
    parsed = parse_os_release(text)
    assert parsed == {
        "NAME": "Kylin Linux Advanced Server",
        "VERSION": "V10 (Lance)",
        "ID": "kylin",
        "VERSION_ID": "V10",
    }
    assert os_name(parsed) == "Kylin Linux Advanced Server V10 (Lance)"
    assert os_name({"PRETTY_NAME": "Ubuntu 22.04.4 LTS", "NAME": "Ubuntu"}) == "Ubuntu 22.04.4 LTS"
    path = tmp_path / "os-release"
    path.write_text('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')
    assert read_os_release([str(tmp_path / "missing"), str(path)]) == {"PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)"}


def test_os_name_without_os_release(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "system", lambda: "FreeBSD")
    monkeypatch.setattr(platform, "release", lambda: "14.0-RELEASE")
    assert os_name({}) == "FreeBSD 14.0-RELEASE"


XEON = "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz"
X86 = f"processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: {XEON}\n\nprocessor\t: 1\nmodel name\t: {XEON}\n\n"
# Old ARM kernels name the SoC in "Hardware", after all the per-processor blocks.
ARM32 = (
    "processor\t: 0\nBogoMIPS\t: 38.40\nFeatures\t: half thumb\n\nprocessor\t: 1\nBogoMIPS\t: 38.40\n\n"
    "Hardware\t: BCM2835\nRevision\t: a02082\n"
)
ARM64 = "processor\t: 0\nBogoMIPS\t: 108.00\nCPU implementer\t: 0x41\nCPU part\t: 0xd08\n\n"


def test_cpu_model_by_architecture(tmp_path: Path) -> None:
    for name, text in (("x86", X86), ("arm32", ARM32), ("arm64", ARM64)):
        (tmp_path / name).write_text(text)
    nowhere = str(tmp_path / "none")
    assert cpu_model(str(tmp_path / "x86"), nowhere) == XEON
    assert cpu_model(str(tmp_path / "arm32"), nowhere) == "BCM2835"
    (tmp_path / "dt-model").write_bytes(b"Raspberry Pi 4 Model B Rev 1.4\0")
    assert cpu_model(str(tmp_path / "arm64"), str(tmp_path / "dt-model")) == "Raspberry Pi 4 Model B Rev 1.4"
    assert cpu_model(str(tmp_path / "arm64"), nowhere) == (platform.processor() or platform.machine())
