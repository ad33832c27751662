"""Inspection findings after a run: tickets per the ticket policy, the maintenance record (系统维护记录表)
of problems fixed on the spot, and the maintenance memo (系统维护备忘录) of what is left as follow-up tickets.

- :func:`collector.tickets.handoff.run_completed` — a completed run's findings go to the ticket service;
- :func:`collector.tickets.handoff.checklist_updated` — manual checklist rows marked abnormal open tickets;
- :mod:`collector.findings.records` — fix records and the memo of a run;
- :mod:`collector.findings.api` and :mod:`collector.findings.cli` — HTTP API and ``patrol findings``.
"""
