"""The check catalogue: YAML definitions in this folder and the Python checks they name.

See ``library.py`` for loading, ``definition.py`` for the YAML schema and docs/inspections.md for
the catalogue.
"""
