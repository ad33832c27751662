"""Parsers for the output of the SSH poll's commands: one function per command (pure, text in).

Each returns plain values, or the same :class:`~agent.model.Sample` series an agent sends (names and
labels from docs/metrics.md), so an SSH host's data is indistinguishable from an agent's. Output
that cannot be parsed yields nothing (``None`` or an empty list), never made-up zeros. Values that
need two readings (CPU shares, network rates) are computed in :mod:`collector.ssh.sampler`.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from agent.collectors.cpu import cpu_samples as agent_cpu_samples
from agent.collectors.disk import PSEUDO_FSTYPES, Usage, device_label, used_percent
from agent.collectors.disk import disk_samples as agent_disk_samples
from agent.collectors.fd import fd_samples as agent_fd_samples
from agent.collectors.memory import memory_samples as agent_memory_samples
from agent.collectors.memory import swap_samples
from agent.collectors.tcp import STATES as TCP_STATES
from agent.facts import parse_os_release as _parse_os_release
from agent.model import Sample, labels_of

# Network filesystems: the agent never reports them (psutil skips "nodev" filesystems), and their
# fullness belongs to the file server, which is inspected on its own.
NETWORK_FSTYPES: frozenset[str] = frozenset(
    {"nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "9p", "ceph", "glusterfs", "fuse.glusterfs",
     "fuse.sshfs", "sshfs", "lustre", "gpfs", "davfs", "fuse.s3fs", "fuse.rclone", "fuse.cephfs"}
)
_SKIP_FSTYPES = PSEUDO_FSTYPES | NETWORK_FSTYPES | {"devtmpfs", "ramfs", "rootfs", "nsfs", "shm"}
_LOOPBACK_NAME = re.compile(r"^lo\d*$")

# ------------------------------------------------------------------------------------ identity


@dataclass(frozen=True, slots=True)
class Uname:
    system: str
    nodename: str
    release: str
    machine: str


_ARCH = re.compile(
    r"^(x86_64|amd64|i[3-6]86|aarch64|arm64|armv\w+|ppc64(le)?|ppc|s390x?|riscv(32|64)|mips\w*|loongarch64|sparc64|ia64)$"
)


def parse_uname(text: str) -> Uname | None:
    """``uname -a``: system, node name, kernel release and machine (architecture).

    The kernel version in the middle contains spaces, so the machine is found from the end: GNU
    uname appends processor, platform (both left out when "unknown") and the OS name.
    """
    tokens = text.split()
    if len(tokens) < 3:
        return None
    machine = next((t for t in reversed(tokens[3:]) if _ARCH.match(t)), "")
    return Uname(tokens[0], tokens[1], tokens[2], machine)


def parse_hostname(text: str) -> str | None:
    name = text.strip().splitlines()[0].strip() if text.strip() else ""
    return name or None


def parse_nproc(text: str) -> int | None:
    try:
        n = int(text.strip())
    except ValueError:
        return None
    return n if n > 0 else None


def parse_os_release(text: str) -> dict[str, str]:
    """os-release(5) key/value pairs (shell-quoted values unquoted)."""
    return _parse_os_release(text)


def os_name(os_release: dict[str, str], uname: Uname | None) -> str:
    """``PRETTY_NAME``, else ``NAME VERSION``, else the kernel's name and release."""
    if os_release.get("PRETTY_NAME"):
        return os_release["PRETTY_NAME"]
    if os_release.get("NAME"):
        return " ".join(filter(None, (os_release["NAME"], os_release.get("VERSION", ""))))
    return f"{uname.system} {uname.release}" if uname else ""


_CPU_MODEL_KEYS = ("model name", "cpu model", "cpu", "Processor", "Hardware")


def parse_cpuinfo(text: str) -> tuple[str, int]:
    """``/proc/cpuinfo``: CPU model name and physical core count (0 when the file does not say)."""
    found: dict[str, str] = {}
    cores: set[tuple[str, str]] = set()
    physical = core = ""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not sep:
            if physical and core:
                cores.add((physical, core))
            physical = core = ""
            continue
        if key in _CPU_MODEL_KEYS and value:
            found.setdefault(key, value)
        elif key == "physical id":
            physical = value
        elif key == "core id":
            core = value
    if physical and core:
        cores.add((physical, core))
    model = next((found[k] for k in _CPU_MODEL_KEYS if k in found), "")
    return model, len(cores)


# ------------------------------------------------------------------------------------ uptime


def parse_proc_uptime(text: str) -> float | None:
    """``/proc/uptime``: seconds since boot (first field)."""
    try:
        return float(text.split()[0])
    except (IndexError, ValueError):
        return None


_UPTIME = re.compile(
    r"\bup\s+(?:(?P<days>\d+)\s+days?,?\s*)?(?:(?P<h>\d+):(?P<m>\d{2})|(?P<min>\d+)\s+min(?:ute)?s?)?", re.I
)


def parse_uptime_command(text: str) -> float | None:
    """``uptime``: ``up 3 days,  4:05,`` / ``up 17 min,`` / ``up 2 days, 17 min`` (minute precision)."""
    m = _UPTIME.search(text)
    if not m or not any(m.group(g) for g in ("days", "h", "min")):
        return None
    seconds = int(m.group("days") or 0) * 86400
    if m.group("h"):
        seconds += int(m.group("h")) * 3600 + int(m.group("m")) * 60
    elif m.group("min"):
        seconds += int(m.group("min")) * 60
    return float(seconds)


def uptime_samples(uptime_s: float, boot_time_s: float) -> list[Sample]:
    return [Sample("system.uptime_seconds", max(0.0, uptime_s)), Sample("system.boot_time_seconds", boot_time_s)]


# ------------------------------------------------------------------------------------ cpu (/proc/stat)

# /proc/stat "cpu" columns (proc(5)), in order, named as psutil names them.
CPU_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice")


@dataclass(frozen=True, slots=True)
class ProcStat:
    cpu: dict[str, float]  # jiffies per field of the aggregate "cpu" line
    cpus: int  # number of "cpuN" lines (online logical CPUs)
    boot_time: float | None  # btime, unix seconds


def parse_proc_stat(text: str) -> ProcStat | None:
    cpu: dict[str, float] | None = None
    cpus = 0
    btime: float | None = None
    for line in text.splitlines():
        if line.startswith("cpu "):
            values = line.split()[1:]
            try:
                cpu = {f: float(v) for f, v in zip(CPU_FIELDS, values, strict=False)}
            except ValueError:
                return None
        elif line.startswith("cpu") and line[3:4].isdigit():
            cpus += 1
        elif line.startswith("btime "):
            try:
                btime = float(line.split()[1])
            except (IndexError, ValueError):
                btime = None
    if cpu is None:
        return None
    return ProcStat(cpu, cpus, btime)


def cpu_samples(previous: dict[str, float], current: dict[str, float]) -> list[Sample]:
    """``cpu.*_percent`` between two ``/proc/stat`` readings: the agent's own function."""
    return agent_cpu_samples(previous, current)


# ------------------------------------------------------------------------------------ memory


def parse_meminfo(text: str) -> dict[str, int]:
    """``/proc/meminfo`` in bytes (the file says kB, meaning KiB)."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, sep, rest = line.partition(":")
        if not sep:
            continue
        parts = rest.split()
        if not parts:
            continue
        try:
            n = int(parts[0])
        except ValueError:
            continue
        values[key.strip()] = n * 1024 if len(parts) > 1 and parts[1].lower() == "kb" else n
    return values


def available_memory(meminfo: dict[str, int]) -> int | None:
    """MemAvailable; on kernels before 3.14, free plus what the kernel can reclaim at once."""
    if "MemAvailable" in meminfo:
        return meminfo["MemAvailable"]
    if "MemFree" not in meminfo:
        return None
    return meminfo["MemFree"] + meminfo.get("Buffers", 0) + meminfo.get("Cached", 0) + meminfo.get("SReclaimable", 0)


def memory_samples(meminfo: dict[str, int]) -> list[Sample]:
    """``mem.*`` and ``swap.*`` with the agent's own functions (used = total - available)."""
    total = meminfo.get("MemTotal")
    available = available_memory(meminfo)
    samples: list[Sample] = []
    if total is not None and available is not None:
        samples += agent_memory_samples(total, available)
    swap_total, swap_free = meminfo.get("SwapTotal"), meminfo.get("SwapFree")
    if swap_total is not None and swap_free is not None:
        samples += swap_samples(swap_total, max(0, swap_total - swap_free))
    return samples


# ------------------------------------------------------------------------------------ load


def parse_loadavg(text: str) -> tuple[float, float, float] | None:
    """``/proc/loadavg``: the 1, 5 and 15 minute averages."""
    parts = text.split()
    try:
        return float(parts[0]), float(parts[1]), float(parts[2])
    except (IndexError, ValueError):
        return None


# ------------------------------------------------------------------------------------ disks


@dataclass(frozen=True, slots=True)
class MountEntry:
    device: str
    mount: str
    fstype: str
    options: str


def _unescape_mount(field_: str) -> str:
    # /proc/mounts escapes space, tab, newline and backslash as octal (\040 ...).
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field_)


def parse_mounts(text: str) -> list[MountEntry]:
    """``/proc/mounts`` entries in mount order."""
    entries: list[MountEntry] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        entries.append(MountEntry(_unescape_mount(parts[0]), _unescape_mount(parts[1]), parts[2], parts[3]))
    return entries


@dataclass(frozen=True, slots=True)
class DfRow:
    device: str
    mount: str
    total: int
    used: int
    free: int  # available to unprivileged users, as df shows it


_DF_LINE = re.compile(r"^(?P<dev>.+?)\s+(?P<a>\d+)\s+(?P<b>\d+)\s+(?P<c>\d+)\s+(?:\d+%|-)\s+(?P<mount>/.*)$")
_DF_BLOCKS = re.compile(r"(\d+)-blocks", re.I)


def parse_df(text: str) -> list[DfRow]:
    """``df -P``: space per filesystem in bytes (the header says the block size)."""
    lines = text.splitlines()
    if not lines:
        return []
    m = _DF_BLOCKS.search(lines[0])
    block = int(m.group(1)) if m else 1024
    rows: list[DfRow] = []
    for line in lines[1:]:
        d = _DF_LINE.match(line.rstrip())
        if d:
            rows.append(DfRow(d["dev"], d["mount"], int(d["a"]) * block, int(d["b"]) * block, int(d["c"]) * block))
    return rows


def parse_df_inodes(text: str) -> dict[str, tuple[int, int]]:
    """``df -P -i``: mount -> (inodes total, inodes free); filesystems without inodes are left out."""
    result: dict[str, tuple[int, int]] = {}
    for line in text.splitlines()[1:]:
        d = _DF_LINE.match(line.rstrip())
        if d and int(d["a"]) > 0:
            result[d["mount"]] = (int(d["a"]), int(d["c"]))
    return result


@dataclass(frozen=True, slots=True)
class Filesystem:
    device: str  # as the agent labels it: /dev/ stripped
    mount: str
    fstype: str
    total: int
    used: int
    free: int
    inodes: tuple[int, int] | None  # (total, free)


def real_filesystems(df: list[DfRow], inodes: dict[str, tuple[int, int]],
                     mounts: list[MountEntry] | None) -> list[Filesystem]:
    """The filesystems the agent would report: real, local, one per device at its shortest mount.

    ``mounts`` (from /proc/mounts) supplies the filesystem type; without it every df row with a
    ``/dev/`` device is taken and its type is left empty.
    """
    types: dict[str, MountEntry] = {}
    if mounts is not None:
        for mounted in mounts:
            types[mounted.mount] = mounted  # the last mount on a path is the visible one
    by_device: dict[str, Filesystem] = {}
    for row in df:
        entry = types.get(row.mount)
        if mounts is not None:
            if entry is None:
                continue
            fstype = entry.fstype
            if fstype.lower() in _SKIP_FSTYPES or fstype.lower().startswith("cgroup") or "cdrom" in entry.options:
                continue
        else:
            if not row.device.startswith("/dev/"):
                continue
            fstype = ""
        if row.total <= 0:
            continue
        fs = Filesystem(device_label(row.device), row.mount, fstype, row.total, row.used, row.free,
                        inodes.get(row.mount))
        kept = by_device.get(row.device)
        if kept is None or (len(fs.mount), fs.mount) < (len(kept.mount), kept.mount):
            by_device[row.device] = fs
    return sorted(by_device.values(), key=lambda f: f.mount)


def disk_samples(filesystems: list[Filesystem]) -> list[Sample]:
    """``disk.*`` labelled ``mount``, ``device``, ``fstype``, with the agent's own function."""
    samples: list[Sample] = []
    for fs in filesystems:
        labels = labels_of({"mount": fs.mount, "device": fs.device, "fstype": fs.fstype})
        inodes_total, inodes_free = fs.inodes if fs.inodes is not None else (None, None)
        usage = Usage(fs.total, fs.used, fs.free, used_percent(fs.used, fs.free), inodes_total, inodes_free)
        samples += agent_disk_samples(usage, labels)
    return samples


# ------------------------------------------------------------------------------------ network

# Counter order for rates, matching the agent's net collector.
# The agent's counter order (agent.collectors.net), so that its series functions apply as they are.
NET_COUNTERS = ("rx_bytes", "tx_bytes", "rx_packets", "tx_packets", "rx_errors", "tx_errors", "rx_drops", "tx_drops")


@dataclass
class Link:
    name: str
    counters: dict[str, int] = field(default_factory=dict)
    loopback: bool = False
    up: bool = False
    mtu: int = 0
    mac: str = ""


_LINK_HEAD = re.compile(r"^\d+:\s+(?P<name>[^:@\s]+)(?:@[^:\s]*)?:\s+<(?P<flags>[^>]*)>(?P<rest>.*)$")


def parse_ip_link(text: str) -> dict[str, Link]:
    """``ip -s link``: counters per interface, read by the column names of each RX/TX header.

    RX drops are ``dropped + missed``, which is what /proc/net/dev (and so the agent) reports.
    """
    links: dict[str, Link] = {}
    current: Link | None = None
    header: tuple[str, list[str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        head = _LINK_HEAD.match(raw)
        if head:
            flags = head["flags"].split(",")
            current = Link(head["name"], loopback="LOOPBACK" in flags, up="UP" in flags and "LOWER_UP" in flags)
            mtu = re.search(r"\bmtu (\d+)", head["rest"])
            current.mtu = int(mtu.group(1)) if mtu else 0
            links[current.name] = current
            header = None
            continue
        if current is None:
            continue
        if line.startswith("link/"):
            kind, _, rest = line.partition(" ")
            if kind == "link/loopback":
                current.loopback = True
            elif kind == "link/ether" and rest:
                current.mac = rest.split()[0]
            continue
        if line.startswith(("RX:", "TX:")):
            direction = line[:2].lower()
            header = (direction, line[3:].replace(":", " ").split())
            continue
        if header is not None:
            values = line.split()
            if values and all(v.isdigit() for v in values):
                _store_link_counters(current, header[0], dict(zip(header[1], (int(v) for v in values), strict=False)))
            header = None
    return links


def _store_link_counters(link: Link, direction: str, cols: dict[str, int]) -> None:
    if "bytes" not in cols or "packets" not in cols:
        return
    link.counters[f"{direction}_bytes"] = cols["bytes"]
    link.counters[f"{direction}_packets"] = cols["packets"]
    link.counters[f"{direction}_errors"] = cols.get("errors", 0)
    drops = cols.get("dropped", 0)
    if direction == "rx":
        drops += cols.get("missed", 0)
    link.counters[f"{direction}_drops"] = drops


def parse_proc_net_dev(text: str) -> dict[str, Link]:
    """``/proc/net/dev`` (the fallback where ``ip`` is missing); loopback recognised by name."""
    links: dict[str, Link] = {}
    for line in text.splitlines()[2:]:
        name, sep, rest = line.rpartition(":")
        if not sep:
            continue
        name = name.strip()
        try:
            v = [int(x) for x in rest.split()]
        except ValueError:
            continue
        if len(v) < 12:
            continue
        counters = {"rx_bytes": v[0], "rx_packets": v[1], "rx_errors": v[2], "rx_drops": v[3],
                    "tx_bytes": v[8], "tx_packets": v[9], "tx_errors": v[10], "tx_drops": v[11]}
        links[name] = Link(name, counters, loopback=bool(_LOOPBACK_NAME.match(name)))
    return links


def net_counters(links: dict[str, Link]) -> dict[str, tuple[float, ...]]:
    """Counter tuples (in :data:`NET_COUNTERS` order) of the non-loopback interfaces."""
    return {
        name: tuple(float(link.counters[c]) for c in NET_COUNTERS)
        for name, link in links.items()
        if not link.loopback and all(c in link.counters for c in NET_COUNTERS)
    }


_ADDR_LINE = re.compile(r"^\d+:\s+(?P<name>[^\s@]+)(?:@\S+)?\s+(?P<family>inet6?)\s+(?P<addr>\S+)")


def parse_ip_addr(text: str) -> dict[str, list[str]]:
    """``ip -o addr show``: interface -> ``["10.0.0.5/24", "fe80::1/64"]`` (IPv4 first, like the agent)."""
    result: dict[str, list[str]] = {}
    for line in text.splitlines():
        m = _ADDR_LINE.match(line)
        if m:
            result.setdefault(m["name"], []).append(m["addr"].split("%", 1)[0])
    return {name: sorted(addrs, key=lambda a: (":" in a, a)) for name, addrs in result.items()}


# ------------------------------------------------------------------------------------ tcp

_PROC_TCP_STATES: dict[str, str] = {
    "01": "established", "02": "syn_sent", "03": "syn_recv", "04": "fin_wait1", "05": "fin_wait2",
    "06": "time_wait", "07": "close", "08": "close_wait", "09": "last_ack", "0A": "listen", "0B": "closing",
    "0C": "syn_recv",
}  # fmt: skip
_TCP_ROW = re.compile(r"^\s*\d+:\s+[0-9A-Fa-f]+:[0-9A-Fa-f]+\s+[0-9A-Fa-f]+:[0-9A-Fa-f]+\s+([0-9A-Fa-f]{2})", re.M)


def parse_proc_net_tcp(text: str) -> Counter[str] | None:
    """``/proc/net/tcp`` + ``tcp6`` concatenated: connections per state (None if there is no table)."""
    if "local_address" not in text:
        return None
    counts: Counter[str] = Counter()
    for code in _TCP_ROW.findall(text):
        code = code.upper()
        counts[_PROC_TCP_STATES.get(code, f"unknown_{code.lower()}")] += 1
    return counts


_SS_TCP = re.compile(r"^TCP:\s+\d+\s+\((?P<body>[^)]*)\)", re.M)
_SS_STATES = {"estab": "established", "synrecv": "syn_recv", "timewait": "time_wait"}


def parse_ss_summary(text: str) -> Counter[str] | None:
    """``ss -s``: only established, syn_recv and time_wait are TCP states in its summary."""
    m = _SS_TCP.search(text)
    if not m:
        return None
    counts: Counter[str] = Counter()
    for part in m["body"].split(","):
        words = part.split()
        if len(words) == 2 and words[0] in _SS_STATES:
            counts[_SS_STATES[words[0]]] = int(words[1].split("/")[0])
    return counts


def tcp_samples(counts: Counter[str], complete: bool) -> list[Sample]:
    """``tcp.connections{state}``. From a full table every known state is reported (0 included),
    as the agent does; from the ``ss -s`` summary only the states it counts."""
    states = [*TCP_STATES, *sorted(set(counts) - set(TCP_STATES))] if complete else sorted(counts)
    return [Sample("tcp.connections", float(counts[s]), labels_of({"state": s})) for s in states]


# ------------------------------------------------------------------------------------ services, files


def parse_failed_units(text: str) -> list[str]:
    """``systemctl --failed --no-legend --plain``: names of units in the failed state."""
    units: list[str] = []
    for line in text.splitlines():
        parts = line.replace("●", " ").replace("×", " ").split()
        if parts and parts[0] == "*":
            parts = parts[1:]
        if parts and "." in parts[0]:
            units.append(parts[0])
    return units


def parse_file_nr(text: str) -> tuple[int, int, int] | None:
    """``/proc/sys/fs/file-nr``: allocated, unused (0 since Linux 2.6) and maximum file handles."""
    try:
        allocated, unused, maximum = (int(x) for x in text.split()[:3])
    except ValueError:
        return None
    return allocated, unused, maximum


def fd_samples(file_nr: tuple[int, int, int]) -> list[Sample]:
    """``fd.*`` from ``/proc/sys/fs/file-nr`` with the agent's own function."""
    return agent_fd_samples(*file_nr)
