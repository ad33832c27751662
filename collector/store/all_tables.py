"""Registers every table with ``collector.store.schema.metadata``.

Feature packages keep their tables next to their code (``collector/<feature>/tables.py``, built on
the shared ``metadata``) and name the modules in their ``feature`` declaration; importing them here
is what lets schema creation and migrations see them.
"""

import importlib

import collector.store.cursors
import collector.store.quarantine  # noqa: F401
from collector.features import table_modules


def register_all() -> None:
    for module in table_modules():
        importlib.import_module(module)


register_all()
