"""Periodic jobs of the collector's core (the store), declared for the scheduler.

They live outside ``collector.store`` so that the store never imports the scheduler, which keeps
its run history in the store.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from collector.features import features
from collector.scheduler.spec import Every, JobSpec
from collector.store.compaction import COMPACT_EVERY_S, compact

# The core's own jobs (see CollectorApp.core_jobs).
CORE_JOB_IDS = ("retention", "retention-of-gone-members", "compaction")


def schedulable_job_ids() -> list[str]:
    """Every job id whose schedule ``jobs.<id>`` may set: the core's and the features' declared ones.
    Whether a feature's job runs also depends on the feature being configured (``export-adopt``
    only with an export)."""
    return sorted({*CORE_JOB_IDS, *(i for f in features() for i in f.job_ids)})


def compaction_job(engine: Engine, clock: Callable[[], float]) -> JobSpec:
    """The ``compaction`` job, on the lease holder only: one compactor per group, since packing a day
    rewrites its block."""
    return JobSpec("compaction", "Compaction: pack completed days of hourly rollups",
                   lambda: compact(engine, clock()), Every(COMPACT_EVERY_S))
