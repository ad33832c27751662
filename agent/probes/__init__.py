"""Local probes the inspections need: processes, ports, HTTP(S) endpoints, TCP targets, certificates,
backup folders, the NTP clock offset and systemd units (series ``probe.*``, see docs/metrics.md).

Each probe kind is a :class:`agent.model.Collector` with its own interval, configured in the
``probes:`` section of ``agent.yaml`` (:class:`ProbesConfig`); ``build_probes`` builds the enabled
ones. Network probes never hold the agent longer than their timeout: a failure is the "down" value
(``http_up`` 0, ``tcp_up`` 0) or no sample, never an exception.
"""

from agent.probes.build import build_probes
from agent.probes.config import ProbesConfig

__all__ = ["ProbesConfig", "build_probes"]
