"""Tables of inspection runs: the run, its findings, per-host scores and the manual checklist.

Every run is stored, whatever its outcome (completed, failed, cancelled, missed). Times are unix
milliseconds like the rest of the store. Findings keep every status, ok included, so a report can
list what was checked and not only what was wrong. The scheduler's job store
(``inspection_jobs``) belongs to APScheduler and is created by it.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Float, Index, Integer, String, Table, Text

from collector.store.schema import metadata

RUN_STATUSES = ("queued", "running", "completed", "failed", "cancelled", "missed")
TRIGGERS = ("schedule", "manual", "api")

inspection_runs = Table(
    "inspection_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", String(128), nullable=False),
    Column("profile", String(200), nullable=False),  # the profile id (monthly, daily, …)
    Column("profile_ref", Text, nullable=False),  # what was asked for: a name or a YAML path
    Column("profile_name", JSON, nullable=True),  # {"zh": …, "en": …}
    Column("trigger", String(16), nullable=False),
    Column("requested_by", String(128), nullable=True),  # API token name, or the schedule's job id
    Column("schedule_id", String(200), nullable=True),
    Column("scheduled_for_ms", BigInteger, nullable=True),
    Column("coalesced", Integer, nullable=False, default=0),  # missed fire times folded into this run
    Column("status", String(16), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("started_ms", BigInteger, nullable=True),
    Column("finished_ms", BigInteger, nullable=True),
    Column("since_ms", BigInteger, nullable=True),
    Column("until_ms", BigInteger, nullable=True),
    Column("previous_run_ms", BigInteger, nullable=True),
    Column("requested_hosts", JSON, nullable=True),  # the subset asked for; null: every host
    Column("hosts_total", Integer, nullable=False, default=0),
    Column("hosts_done", Integer, nullable=False, default=0),
    Column("counts", JSON, nullable=True),  # {"ok": n, "warning": n, "critical": n, "unknown": n}
    Column("customer_score", Integer, nullable=True),
    Column("worst_host_id", String(128), nullable=True),
    Column("checks", JSON, nullable=True),  # check ids of the profile
    Column("collector_id", String(128), nullable=False),
    Column("error", Text, nullable=True),
)
Index("ix_inspection_runs_customer", inspection_runs.c.customer_id, inspection_runs.c.created_ms)
Index("ix_inspection_runs_status", inspection_runs.c.status)

inspection_hosts = Table(
    "inspection_hosts",
    metadata,
    Column("run_id", Integer, primary_key=True),
    Column("host_id", String(128), primary_key=True),
    Column("hostname", Text, nullable=False),
    Column("customer_id", String(128), nullable=False),
    Column("score", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # the worst finding's
    Column("counts", JSON, nullable=False),
    Column("skipped", JSON, nullable=False),  # [{"check_id": …, "reason": …}]
)

inspection_findings = Table(
    "inspection_findings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, nullable=False),
    Column("host_id", String(128), nullable=False),
    Column("check_id", String(200), nullable=False),
    Column("subject", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("observed", Float, nullable=True),
    Column("threshold", JSON, nullable=False),  # {"warn": …, "crit": …, "direction": …}
    Column("unit", String(32), nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("recommendation", JSON, nullable=False),
    Column("category", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("name", JSON, nullable=False),
    Column("unknown_reason", Text, nullable=True),
    Column("note", JSON, nullable=True),
)
Index("ix_inspection_findings_run", inspection_findings.c.run_id, inspection_findings.c.host_id)

inspection_checklist = Table(
    "inspection_checklist",
    metadata,
    Column("run_id", Integer, primary_key=True),
    Column("item_id", String(200), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("category", String(32), nullable=False),
    Column("title", JSON, nullable=False),
    Column("guidance", JSON, nullable=False),
    Column("result", String(16), nullable=True),  # ok | issue | not_applicable; null: not filled in
    Column("remark", Text, nullable=False, default=""),
    Column("checked_by", String(128), nullable=True),
    Column("checked_at_ms", BigInteger, nullable=True),
)
