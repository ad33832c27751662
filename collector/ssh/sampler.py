"""Turns one poll's command outputs into samples and facts, keeping what rates need between polls.

One :class:`TargetSampler` per target lives as long as the poller: it remembers the previous
``/proc/stat`` and interface counters (CPU shares and network rates are deltas, so the first poll
has none, exactly like an agent's first collection), the CPU count and the systemd units it has
seen failing (so that a unit that recovers reports 1 rather than disappearing).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from agent.collectors.counters import CounterDeltas
from agent.collectors.load import load_samples
from agent.collectors.net import net_rate_samples, net_total_samples
from agent.model import Sample, labels_of
from collector.ssh import parsers as p
from collector.ssh.client import CommandResult
from protos.patrol.v1 import agent_pb2 as pb


@dataclass
class PollOutput:
    samples: list[Sample]
    facts: pb.Facts | None  # only on polls that ran the inventory commands
    hostname: str | None
    problems: list[str] = field(default_factory=list)  # commands that gave nothing usable


class TargetSampler:
    def __init__(self) -> None:
        self._cpu: dict[str, float] | None = None
        self._boot_time: float | None = None
        self._net_at = 0.0
        self._net = CounterDeltas[str](lambda: self._net_at)
        self._cpus: int | None = None
        self._failed_seen: set[str] = set()
        self.hostname: str | None = None

    def reset_counters(self) -> None:
        """Forget previous readings (after a gap in which counters may have been reset)."""
        self._cpu = None
        self._net = CounterDeltas[str](lambda: self._net_at)

    def sample(self, results: Mapping[str, CommandResult], wall_now: float) -> PollOutput:
        """Parse the outputs of one poll. ``wall_now`` is the poll's unix time (for boot time)."""
        out = PollOutput([], None, None)
        text = {name: r.text for name, r in results.items() if r.stdout and not r.timed_out}
        for name, r in results.items():
            unusable = r.timed_out or r.truncated or r.error is not None or (not r.stdout and r.exit_status != 0)
            # systemctl failing means "no systemd here", which is an answer, not a problem.
            if unusable and not (name == "failed_units" and r.exit_status is not None):
                out.problems.append(r.describe())

        uname = p.parse_uname(text["uname"]) if "uname" in text else None
        if "nproc" in text:
            self._cpus = p.parse_nproc(text["nproc"]) or self._cpus
        if "hostname" in text:
            self.hostname = p.parse_hostname(text["hostname"]) or self.hostname
        elif uname is not None and self.hostname is None:
            self.hostname = uname.nodename
        out.hostname = self.hostname

        stat = p.parse_proc_stat(text["stat"]) if "stat" in text else None
        if stat is not None and stat.cpus and self._cpus is None:
            self._cpus = stat.cpus
        out.samples += self._cpu_samples(stat)

        uptime = self._uptime(results, text)
        boot_time = stat.boot_time if stat is not None and stat.boot_time else None
        if boot_time is None and uptime is not None:
            boot_time = float(round(wall_now - uptime))
        if uptime is not None and boot_time is not None:
            out.samples += p.uptime_samples(uptime, boot_time)

        meminfo = p.parse_meminfo(text["meminfo"]) if "meminfo" in text else {}
        out.samples += p.memory_samples(meminfo)

        load = p.parse_loadavg(text["loadavg"]) if "loadavg" in text else None
        if load is not None:
            out.samples += load_samples(load, self._cpus)

        filesystems = self._filesystems(results, text)
        out.samples += p.disk_samples(filesystems)

        links = self._links(results, text)
        out.samples += self._net_samples(links, results)

        out.samples += self._tcp_samples(results, text)
        out.samples += self._unit_samples(results)

        file_nr = p.parse_file_nr(text["file_nr"]) if "file_nr" in text else None
        if file_nr is not None:
            out.samples += p.fd_samples(file_nr)

        if "uname" in results:  # an inventory poll
            out.facts = self._facts(text, uname, meminfo, filesystems, links, boot_time)
        return out

    # -- pieces

    def _cpu_samples(self, stat: p.ProcStat | None) -> list[Sample]:
        if stat is None:
            return []
        if self._boot_time is not None and stat.boot_time is not None and abs(stat.boot_time - self._boot_time) > 2:
            self.reset_counters()  # rebooted: the counters started again from zero
        self._boot_time = stat.boot_time
        previous, self._cpu = self._cpu, stat.cpu
        if previous is None:
            return []
        return p.cpu_samples(previous, stat.cpu)

    @staticmethod
    def _uptime(results: Mapping[str, CommandResult], text: Mapping[str, str]) -> float | None:
        if "uptime" not in text:
            return None
        if results["uptime"].argv[0] == "uptime":
            return p.parse_uptime_command(text["uptime"])
        return p.parse_proc_uptime(text["uptime"])

    @staticmethod
    def _filesystems(results: Mapping[str, CommandResult], text: Mapping[str, str]) -> list[p.Filesystem]:
        if "df" not in text:
            return []
        mounts = p.parse_mounts(text["mounts"]) if "mounts" in text else None
        inodes = p.parse_df_inodes(text["df_inodes"]) if "df_inodes" in text else {}
        return p.real_filesystems(p.parse_df(text["df"]), inodes, mounts or None)

    @staticmethod
    def _links(results: Mapping[str, CommandResult], text: Mapping[str, str]) -> dict[str, p.Link]:
        if "net" not in text:
            return {}
        if results["net"].argv[0] == "ip":
            return p.parse_ip_link(text["net"])
        return p.parse_proc_net_dev(text["net"])

    def _net_samples(self, links: dict[str, p.Link], results: Mapping[str, CommandResult]) -> list[Sample]:
        counters = p.net_counters(links)
        if not counters:
            return []
        samples = net_total_samples(counters)
        self._net_at = results["net"].received_at
        deltas = self._net.advance(counters)
        if deltas is not None:
            samples += net_rate_samples(deltas.by_key, deltas.elapsed)
        return samples

    @staticmethod
    def _tcp_samples(results: Mapping[str, CommandResult], text: Mapping[str, str]) -> list[Sample]:
        if "tcp" not in text:
            return []
        if results["tcp"].argv[0] == "ss":
            counts = p.parse_ss_summary(text["tcp"])
            return p.tcp_samples(counts, complete=False) if counts is not None else []
        counts = p.parse_proc_net_tcp(text["tcp"])
        return p.tcp_samples(counts, complete=True) if counts is not None else []

    def _unit_samples(self, results: Mapping[str, CommandResult]) -> list[Sample]:
        r = results.get("failed_units")
        # Exit 0 means systemctl answered; anything else (no systemd, not booted with it) reports nothing.
        if r is None or r.exit_status != 0 or r.truncated:
            return []
        failed = set(p.parse_failed_units(r.text))
        self._failed_seen |= failed
        return [Sample("probe.systemd_unit_active", 0.0 if unit in failed else 1.0, labels_of({"unit": unit}))
                for unit in sorted(self._failed_seen)]

    def _facts(self, text: Mapping[str, str], uname: p.Uname | None, meminfo: dict[str, int],
               filesystems: list[p.Filesystem], links: dict[str, p.Link], boot_time: float | None) -> pb.Facts:
        os_release = p.parse_os_release(text["os_release"]) if "os_release" in text else {}
        model, cores = p.parse_cpuinfo(text["cpuinfo"]) if "cpuinfo" in text else ("", 0)
        addresses = p.parse_ip_addr(text["addresses"]) if "addresses" in text else {}
        facts = pb.Facts(
            hostname=self.hostname or "",
            os=p.os_name(os_release, uname),
            kernel=uname.release if uname else "",
            arch=uname.machine if uname else "",
            cpu_model=model,
            cpu_count=self._cpus or 0,
            cpu_cores=cores,
            memory_bytes=meminfo.get("MemTotal", 0),
            swap_bytes=meminfo.get("SwapTotal", 0),
            disks=[pb.Disk(device=fs.device, mount=fs.mount, fstype=fs.fstype, total_bytes=fs.total)
                   for fs in filesystems],
            interfaces=[
                pb.Interface(name=name, addresses=addresses.get(name, []), mac=link.mac, up=link.up, mtu=link.mtu)
                for name, link in sorted(links.items()) if not link.loopback
            ],
            boot_time_ms=round(boot_time * 1000) if boot_time else 0,
        )
        for key, name in (("ID", "os_id"), ("VERSION_ID", "os_version_id")):
            if os_release.get(key):
                facts.extra[name] = os_release[key]
        facts.extra["collected_by"] = "ssh"
        return facts
