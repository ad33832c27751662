"""One scheduler for every periodic job of the collector (see :mod:`collector.scheduler.runner`)."""

from collector.scheduler.spec import Cron, Every, JobSpec

__all__ = ["Cron", "Every", "JobSpec"]
