"""Importing this module registers every table with ``collector.store.schema.metadata``.

Feature packages keep their tables next to their code (``collector/<feature>/tables.py``, built on
the shared ``metadata``); each is imported here so that schema creation and migrations see them.
"""

# ruff: noqa: F401
import collector.cluster.tables
import collector.diagnostics.tables
import collector.export.tables
import collector.inspection.tables
import collector.pki.tables
import collector.quarantine.tables
import collector.reporting.tables
import collector.ssh.tables
import collector.store.schema
import collector.tickets.tables
