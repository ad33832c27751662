"""The simulated fleet: customers, their hosts, and each host's hardware, disks, interfaces and facts.

Everything is derived from ``FleetSpec.seed``, so the same spec always yields the same hostnames,
agent ids, sizes and addresses. Hosts are spread unevenly over customers (one customer has a shop
full of kiosks, another three servers), and the first hosts cover every role so that even a small
fleet has a database, an application server and a web server for the injected trouble to land on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import numpy as np

from collector.simulator.noise import key_of
from collector.simulator.roles import TRAITS, Role
from protos.patrol.v1 import agent_pb2

GIB = 2**30
AGENT_VERSION = "0.1.0"
_AGENT_NAMESPACE = uuid.UUID("2b0c5c8e-5d1c-4bb8-9d0e-6a7b3f0f3a11")
_ROLE_ORDER = (Role.DB, Role.APP, Role.WEB, Role.FILE, Role.KIOSK)
_ROLE_WEIGHTS = {Role.WEB: 0.25, Role.APP: 0.25, Role.DB: 0.15, Role.FILE: 0.1, Role.KIOSK: 0.25}


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer site, in the shape of the collector config's ``customers`` entries."""

    id: str
    name: str
    timezone: str
    language: str  # "zh" | "en"
    city: str


_CUSTOMERS: tuple[Customer, ...] = (
    Customer("acme", "Acme Manufacturing GmbH", "Europe/Berlin", "en", "Stuttgart"),
    Customer("huaxin", "华信物流有限公司", "Asia/Shanghai", "zh", "Suzhou"),
    Customer("globex", "Globex Corporation", "America/Chicago", "en", "Chicago"),
    Customer("jinling", "金陵市第一人民医院", "Asia/Shanghai", "zh", "Nanjing"),
    Customer("initech", "Initech Software Ltd", "Europe/London", "en", "Reading"),
    Customer("dongfang", "东方连锁超市", "Asia/Shanghai", "zh", "Hangzhou"),
    Customer("umbrella", "Umbrella Pharma Inc.", "America/New_York", "en", "Raleigh"),
    Customer("xinghe", "星河证券营业部", "Asia/Shanghai", "zh", "Shenzhen"),
    Customer("hooli", "Hooli Media", "America/Los_Angeles", "en", "Palo Alto"),
    Customer("tianyuan", "天元制药集团", "Asia/Shanghai", "zh", "Chengdu"),
)

_OS_EN = (
    ("Ubuntu 22.04.4 LTS", "5.15.0-105-generic"),
    ("Debian GNU/Linux 12 (bookworm)", "6.1.0-18-amd64"),
    ("Rocky Linux 9.3 (Blue Onyx)", "5.14.0-362.24.1.el9_3.x86_64"),
    ("Red Hat Enterprise Linux 8.9 (Ootpa)", "4.18.0-513.11.1.el8_9.x86_64"),
)
_OS_ZH = (
    ("Kylin Linux Advanced Server V10 (Lance)", "4.19.90-52.22.v2207.ky10.x86_64"),
    ("CentOS Linux 7 (Core)", "3.10.0-1160.108.1.el7.x86_64"),
    ("UOS Server 20", "4.19.0-91.82.42.uelc20.x86_64"),
    ("openEuler 22.03 (LTS-SP3)", "5.10.0-182.0.0.95.oe2203sp3.x86_64"),
)
_SERVER_CPUS = (
    "Intel(R) Xeon(R) Gold 6230R CPU @ 2.10GHz",
    "Intel(R) Xeon(R) Silver 4214R CPU @ 2.40GHz",
    "AMD EPYC 7543 32-Core Processor",
)
_SERVER_CPUS_ZH = ("Hygon C86 7285 32-core Processor", *_SERVER_CPUS[:2])
_CPU_CHOICES = {Role.DB: [8, 16, 32], Role.APP: [4, 8, 16]}
_MEMORY_GB_CHOICES = {Role.DB: [32, 64, 128], Role.APP: [16, 32], Role.FILE: [8, 16]}
_KIOSK_CPUS = ("Intel(R) Core(TM) i5-8500T CPU @ 2.10GHz", "Intel(R) Celeron(R) J4125 CPU @ 2.00GHz")


@dataclass(frozen=True, slots=True)
class DiskSpec:
    mount: str
    device: str  # partition, as psutil reports it: "/dev/vda1"
    disk: str  # whole disk for diskio: "vda"
    fstype: str
    total_bytes: int
    inodes_total: int


@dataclass(frozen=True, slots=True)
class InterfaceSpec:
    name: str
    address: str  # "10.20.3.14/24"
    mac: str
    speed_mbps: int
    mtu: int = 1500


@dataclass(frozen=True, slots=True)
class HostProfile:
    index: int  # position in the fleet, stable for a seed
    agent_id: str
    hostname: str
    customer: Customer
    role: Role
    virtual: bool
    os: str
    kernel: str
    cpu_model: str
    cpu_count: int
    cpu_cores: int
    memory_bytes: int
    swap_bytes: int
    disks: tuple[DiskSpec, ...]
    interfaces: tuple[InterfaceSpec, ...]
    key: int  # root of this host's random streams
    labels: tuple[tuple[str, str], ...] = field(default=())

    def disk(self, mount: str) -> DiskSpec | None:
        return next((d for d in self.disks if d.mount == mount), None)

    @property
    def whole_disks(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(d.disk for d in self.disks))


@dataclass(frozen=True, slots=True)
class FleetSpec:
    """How big the simulated fleet is. ``agents`` hosts are spread over ``customers`` customers."""

    agents: int = 12
    customers: int = 3
    seed: int = 1

    def __post_init__(self) -> None:
        if self.customers < 1:
            raise ValueError(f"customers must be at least 1, got {self.customers}")
        if self.agents < self.customers:
            raise ValueError(
                f"{self.agents} agents cannot cover {self.customers} customers: every customer needs at least "
                "one host; raise --agents or lower --customers"
            )


@dataclass(frozen=True, slots=True)
class Fleet:
    spec: FleetSpec
    customers: tuple[Customer, ...]
    hosts: tuple[HostProfile, ...]

    def hosts_of(self, customer_id: str) -> tuple[HostProfile, ...]:
        return tuple(h for h in self.hosts if h.customer.id == customer_id)


def customers_for(count: int) -> tuple[Customer, ...]:
    """The first ``count`` customers; beyond the named ones, numbered copies of them."""
    result = []
    for i in range(count):
        base = _CUSTOMERS[i % len(_CUSTOMERS)]
        round_ = i // len(_CUSTOMERS)
        if round_ == 0:
            result.append(base)
        else:
            suffix = f"{round_ + 1:02d}"
            name = f"{base.name}（{suffix}）" if base.language == "zh" else f"{base.name} ({suffix})"
            result.append(Customer(f"{base.id}-{suffix}", name, base.timezone, base.language, base.city))
    return tuple(result)


def _hosts_per_customer(rng: np.random.Generator, agents: int, customers: int) -> list[int]:
    weights = rng.gamma(1.5, size=customers)
    extra = agents - customers
    counts = [1 + int(x) for x in np.floor(weights / weights.sum() * extra)]
    # Hand out what flooring left over to the largest remainders, deterministically.
    remainders = weights / weights.sum() * extra - np.floor(weights / weights.sum() * extra)
    for i in np.argsort(-remainders, kind="stable")[: agents - sum(counts)]:
        counts[int(i)] += 1
    return counts


def _roles(rng: np.random.Generator, counts: list[int]) -> list[list[Role]]:
    """Roles per customer; the first host of every customer (in turn) walks through all roles first."""
    roles: list[list[Role | None]] = [[None] * n for n in counts]
    slots = sorted(((k, c) for c, n in enumerate(counts) for k in range(n)))
    names = list(_ROLE_WEIGHTS)
    probs = np.array([_ROLE_WEIGHTS[r] for r in names])
    for position, (k, c) in enumerate(slots):
        if position < len(_ROLE_ORDER):
            roles[c][k] = _ROLE_ORDER[position]
        else:
            roles[c][k] = names[int(rng.choice(len(names), p=probs))]
    return [[r for r in per if r is not None] for per in roles]


def _disks(rng: np.random.Generator, role: Role, virtual: bool) -> tuple[DiskSpec, ...]:
    system, data = ("vda", "vdb") if virtual else ("sda", "nvme0n1")
    root_gb = int(rng.choice([40, 60, 80, 100])) if role is not Role.KIOSK else int(rng.choice([120, 240]))
    disks = [DiskSpec("/", f"/dev/{system}1", system, "ext4" if role is not Role.DB else "xfs", root_gb * GIB,
                      root_gb * GIB // 16384)]
    if role is Role.KIOSK:
        return tuple(disks)
    log_gb = int(rng.choice([10, 20, 30]))
    disks.append(DiskSpec("/var/log", f"/dev/{system}2", system, "ext4", log_gb * GIB, log_gb * GIB // 16384))
    if role in (Role.DB, Role.FILE, Role.APP):
        sizes = {Role.DB: [500, 1000, 2000], Role.FILE: [2000, 4000, 8000], Role.APP: [200, 500]}[role]
        data_gb = int(rng.choice(sizes))
        part = f"/dev/{data}1" if virtual else f"/dev/{data}p1"
        # xfs allocates inodes dynamically; 5 % of space is its default cap for inode space.
        disks.append(DiskSpec("/data", part, data, "xfs", data_gb * GIB, data_gb * GIB // 4096 // 20))
    return tuple(disks)


def _interfaces(rng: np.random.Generator, role: Role, virtual: bool, subnet: int, host_no: int,
                key: int) -> tuple[InterfaceSpec, ...]:
    mac_bytes = [0x52, 0x54, 0x00] if virtual else [0x3C, 0xEC, 0xEF]
    mac_tail = [(key >> s) & 0xFF for s in (8, 16, 24)]
    mac = ":".join(f"{b:02x}" for b in mac_bytes + mac_tail)
    name = "enp2s0" if role is Role.KIOSK else "eth0" if virtual else "eno1"
    speed = 1000 if role is Role.KIOSK else int(rng.choice([1000, 10000]))
    ifaces = [InterfaceSpec(name, f"10.{subnet}.1.{10 + host_no}/24", mac, speed)]
    if role in (Role.DB, Role.FILE):
        backup_mac = mac[:-2] + f"{(int(mac[-2:], 16) + 1) & 0xFF:02x}"
        second = "eth1" if virtual else "eno2"
        ifaces.append(InterfaceSpec(second, f"10.{subnet}.9.{10 + host_no}/24", backup_mac, 10000, 9000))
    return tuple(ifaces)


def _host(rng: np.random.Generator, spec: FleetSpec, index: int, customer: Customer, subnet: int, role: Role,
          host_no: int, role_no: int) -> HostProfile:
    virtual = role is not Role.KIOSK and rng.random() < 0.8
    width = 3 if role is Role.KIOSK else 2
    hostname = f"{customer.id}-{TRAITS[role].hostname_prefix}-{role_no:0{width}d}"
    key = key_of("host", spec.seed, customer.id, hostname)
    os_name, kernel = (_OS_ZH if customer.language == "zh" else _OS_EN)[int(rng.integers(4))]
    if role is Role.KIOSK:
        cpu_model = _KIOSK_CPUS[int(rng.integers(len(_KIOSK_CPUS)))]
        cpus, memory_gb = 4, int(rng.choice([4, 8]))
    else:
        models = _SERVER_CPUS_ZH if customer.language == "zh" else _SERVER_CPUS
        cpu_model = models[int(rng.integers(len(models)))]
        cpus = int(rng.choice(_CPU_CHOICES.get(role, [2, 4, 8])))
        memory_gb = int(rng.choice(_MEMORY_GB_CHOICES.get(role, [4, 8, 16])))
    swap_gb = 0 if rng.random() < 0.3 else min(memory_gb, int(rng.choice([2, 4, 8])))
    return HostProfile(
        index=index,
        agent_id=str(uuid.uuid5(_AGENT_NAMESPACE, f"{spec.seed}/{customer.id}/{hostname}")),
        hostname=hostname,
        customer=customer,
        role=role,
        virtual=virtual,
        os=os_name,
        kernel=kernel,
        cpu_model=cpu_model,
        cpu_count=cpus,
        # Physical servers have hyper-threading; VMs and kiosks report one thread per core.
        cpu_cores=cpus // 2 if not virtual and role is not Role.KIOSK else cpus,
        memory_bytes=memory_gb * GIB,
        swap_bytes=swap_gb * GIB,
        disks=_disks(rng, role, virtual),
        interfaces=_interfaces(rng, role, virtual, subnet, host_no, key),
        key=key,
        labels=(("env", "prod"), ("role", role.value), ("simulated", "true"), ("site", customer.city)),
    )


def build_fleet(spec: FleetSpec) -> Fleet:
    rng = np.random.default_rng([spec.seed, 0xF1EE7])
    customers = customers_for(spec.customers)
    counts = _hosts_per_customer(rng, spec.agents, spec.customers)
    roles = _roles(rng, counts)
    hosts: list[HostProfile] = []
    for c, customer in enumerate(customers):
        per_role: dict[Role, int] = {}
        for host_no, role in enumerate(roles[c]):
            per_role[role] = per_role.get(role, 0) + 1
            hosts.append(_host(rng, spec, len(hosts), customer, 10 + c % 240, role, host_no, per_role[role]))
    return Fleet(spec=spec, customers=customers, hosts=tuple(hosts))


def facts_of(host: HostProfile, boot_time_ms: int) -> agent_pb2.Facts:
    """The inventory a real agent on this host would report."""
    return agent_pb2.Facts(
        hostname=host.hostname,
        os=host.os,
        kernel=host.kernel,
        arch="x86_64",
        cpu_model=host.cpu_model,
        cpu_count=host.cpu_count,
        cpu_cores=host.cpu_cores,
        memory_bytes=host.memory_bytes,
        swap_bytes=host.swap_bytes,
        disks=[agent_pb2.Disk(device=d.device, mount=d.mount, fstype=d.fstype, total_bytes=d.total_bytes)
               for d in host.disks],
        interfaces=[agent_pb2.Interface(name=i.name, addresses=[i.address], mac=i.mac, speed_mbps=i.speed_mbps,
                                        up=True, mtu=i.mtu) for i in host.interfaces],
        agent_version=AGENT_VERSION,
        boot_time_ms=boot_time_ms,
        python_version="3.11.2",
        extra={"simulated": "true", "virtualization": "kvm" if host.virtual else "none", "role": host.role.value},
    )
