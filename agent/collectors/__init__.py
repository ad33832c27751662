"""Metric collectors of the agent, one module per source (see docs/metrics.md for the series).

``REGISTRY`` maps collector names to classes; ``build_collectors`` turns the agent config's
``collectors`` section into instances and their intervals.
"""

from agent.collectors.registry import REGISTRY, build_collectors

__all__ = ["REGISTRY", "build_collectors"]
