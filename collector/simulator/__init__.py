"""Fleet simulator: many simulated agents speaking the real protocol to a collector.

``simulate()`` backfills realistic history (daily and weekly patterns, injected trouble) through the
collector's ingest stream and can keep the fleet streaming live. ``encoded_batches()`` yields the same
traffic pre-encoded for benchmarks.
"""

from collector.simulator.batches import EncodeStats, HistorySchedule, encoded_batches
from collector.simulator.client import AgentRejected, ClientPolicy, CollectorUnreachable, SimulationError
from collector.simulator.fleet import Customer, Fleet, FleetSpec, build_fleet
from collector.simulator.run import CustomerSummary, ProgressInfo, SimulationSummary, TlsOptions, simulate
from collector.simulator.trouble import Trouble, TroubleKind, TroubleSpec

__all__ = [
    "AgentRejected",
    "ClientPolicy",
    "CollectorUnreachable",
    "Customer",
    "CustomerSummary",
    "EncodeStats",
    "Fleet",
    "FleetSpec",
    "HistorySchedule",
    "ProgressInfo",
    "SimulationError",
    "SimulationSummary",
    "TlsOptions",
    "Trouble",
    "TroubleKind",
    "TroubleSpec",
    "build_fleet",
    "encoded_batches",
    "simulate",
]
