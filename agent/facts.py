"""Inventory of the host (hardware, OS, disks, interfaces), sent as a ``Facts`` message.

Facts change rarely; the agent sends them at connect time and again only when
:func:`facts_fingerprint` changes.
"""

from __future__ import annotations

import ipaddress
import logging
import platform
import shlex
import socket
from collections.abc import Iterable

import psutil

from agent.collectors.disk import device_label, real_mounts, usage
from agent.digest import blake2b
from protos.patrol.v1 import agent_pb2

log = logging.getLogger(__name__)

_OS_RELEASE_FILES = ("/etc/os-release", "/usr/lib/os-release")
# /proc/cpuinfo keys naming the CPU, by architecture: x86 and some ARM, MIPS, POWER, old ARM.
_CPU_MODEL_KEYS = ("model name", "cpu model", "cpu", "Processor", "Hardware")


def collect_facts(agent_version: str) -> agent_pb2.Facts:
    """Measure the host's facts now. Unknown values stay at their proto default (empty, 0)."""
    os_release = read_os_release()
    mem = psutil.virtual_memory()
    facts = agent_pb2.Facts(
        hostname=socket.gethostname(),
        os=os_name(os_release),
        kernel=platform.release(),
        arch=platform.machine(),
        cpu_model=cpu_model(),
        cpu_count=psutil.cpu_count(logical=True) or 0,
        cpu_cores=psutil.cpu_count(logical=False) or 0,
        memory_bytes=mem.total,
        swap_bytes=psutil.swap_memory().total,
        disks=list(_disks()),
        interfaces=list(_interfaces()),
        agent_version=agent_version,
        boot_time_ms=round(psutil.boot_time() * 1000),
        python_version=platform.python_version(),
    )
    for key, field in (("ID", "os_id"), ("VERSION_ID", "os_version_id")):
        if os_release.get(key):
            facts.extra[field] = os_release[key]
    return facts


def facts_fingerprint(facts: agent_pb2.Facts) -> str:
    """Stable hex digest of the facts' content, for noticing a change within this process.

    Deterministic serialisation orders map entries by key, so insertion order does not matter;
    it is not a canonical form across protobuf versions, which a fingerprint kept in memory does
    not need. (Not json_format: it would load protobuf's descriptor module into the agent.)
    """
    return blake2b(facts.SerializeToString(deterministic=True), digest_size=32).hexdigest()


def read_os_release(paths: Iterable[str] = _OS_RELEASE_FILES) -> dict[str, str]:
    """Key/value pairs of the first os-release(5) file found; empty where there is none."""
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        return parse_os_release(text)
    return {}


def parse_os_release(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            # Values use shell quoting: PRETTY_NAME="Debian GNU/Linux 12 (bookworm)".
            parts = shlex.split(raw)
        except ValueError:
            parts = [raw.strip("\"'")]
        values[key.strip()] = " ".join(parts)
    return values


def os_name(os_release: dict[str, str]) -> str:
    if os_release.get("PRETTY_NAME"):
        return os_release["PRETTY_NAME"]
    if os_release.get("NAME"):
        return " ".join(filter(None, (os_release["NAME"], os_release.get("VERSION", ""))))
    system = platform.system()
    if system == "Darwin":
        return f"macOS {platform.mac_ver()[0]}".strip()
    if system == "Windows":
        return f"Windows {platform.release()} ({platform.version()})"
    return f"{system} {platform.release()}".strip()


def cpu_model(cpuinfo_path: str = "/proc/cpuinfo", dt_model_path: str = "/sys/firmware/devicetree/base/model") -> str:
    """CPU model name; on ARM boards without one in /proc/cpuinfo, the board's device-tree model."""
    found = _cpuinfo_model(cpuinfo_path)
    if found:
        return found
    try:
        with open(dt_model_path, "rb") as f:
            board = f.read().rstrip(b"\0\n").decode("utf-8", "replace")
        if board:
            return board
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpuinfo_model(path: str) -> str:
    found: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep and key.strip() in _CPU_MODEL_KEYS and value.strip():
                    found.setdefault(key.strip(), value.strip())
                # The first processor's block ends at the first blank line; the rest repeats it,
                # except for ARM's "Hardware", which comes after all blocks.
                if not line.strip() and "model name" in found:
                    break
    except OSError:
        return ""
    return next((found[key] for key in _CPU_MODEL_KEYS if key in found), "")


def _disks() -> Iterable[agent_pb2.Disk]:
    for mnt in real_mounts():
        try:
            total = usage(mnt.mount).total
        except OSError as exc:
            log.debug("facts: cannot stat %s: %s", mnt.mount, exc)
            continue
        yield agent_pb2.Disk(device=device_label(mnt.device), mount=mnt.mount, fstype=mnt.fstype, total_bytes=total)


def _interfaces() -> Iterable[agent_pb2.Interface]:
    addrs = psutil.net_if_addrs()
    stats = psutil.net_if_stats()
    for name in sorted(set(addrs) | set(stats)):
        st = stats.get(name)
        flags = getattr(st, "flags", "") or ""
        if "loopback" in flags.split(",") or (not flags and name.startswith("lo")):
            continue
        addresses: list[str] = []
        mac = ""
        for addr in addrs.get(name, []):
            if addr.family == psutil.AF_LINK:
                mac = addr.address
            elif addr.family in (socket.AF_INET, socket.AF_INET6):
                addresses.append(_with_prefix(addr.address, addr.netmask))
        yield agent_pb2.Interface(
            name=name,
            addresses=sorted(addresses, key=lambda a: (":" in a, a)),
            mac=mac,
            speed_mbps=max(0, st.speed) if st else 0,
            up=bool(st and st.isup),
            mtu=st.mtu if st else 0,
        )


def _with_prefix(address: str, netmask: str | None) -> str:
    """``10.0.0.5`` + ``255.255.255.0`` -> ``10.0.0.5/24``; link-local ``%eth0`` scopes dropped."""
    address = address.split("%", 1)[0]
    if not netmask:
        return address
    try:
        # ipaddress accepts "a/255.255.255.0" for IPv4 only, so IPv6 masks are counted by hand.
        prefix = bin(int(ipaddress.ip_address(netmask.split("%", 1)[0]))).count("1")
        return str(ipaddress.ip_interface(f"{address}/{prefix}"))
    except ValueError:
        return address
