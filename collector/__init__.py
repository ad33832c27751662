"""The Patrol collector: receives agents' streams, stores them, inspects, forecasts and reports."""

import protos.forking  # noqa: F401  (before anything imports gRPC)
