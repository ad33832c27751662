"""The Patrol agent: collects health metrics, facts and log events and streams them to a collector."""

__version__ = "0.1.0"
