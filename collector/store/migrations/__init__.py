"""Alembic migration environment of the state store (``env.py``, ``script.py.mako``, ``versions/``).

Run the migrations with ``patrol-collector --config collector.yaml migrate``; write a new revision
after changing a table with ``python -m collector.store.migrations revision "what changed"``.
"""
