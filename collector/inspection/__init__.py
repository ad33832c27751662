"""Inspections inside the collector: the store as inspection data, runs and their storage,
schedules, the service, and the HTTP API. The checks, profiles, engine and scores are the pure
``inspections`` package; this package feeds it from the store and keeps what it finds.
"""
