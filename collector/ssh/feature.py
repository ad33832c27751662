"""Agentless inspection of SSH-only hosts, polled from the collector."""

from collector.features import ConfigSection, Feature

FEATURE = Feature(
    name="ssh",
    sections=(ConfigSection("ssh", "collector.ssh.config:SshConfig"),),
    tables=("collector.ssh.tables",),
    service="collector.ssh.poller:ssh_service",
    jobs="collector.ssh.poller:jobs",
)
