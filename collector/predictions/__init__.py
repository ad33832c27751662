"""Forecast runs: what each predictions pass computed, stored once and read by every consumer.

``runs.save`` / ``runs.latest`` / ``runs.get`` store and read them; the HTTP API (``api.py``) and
``patrol forecasts`` (``cli.py``) show them. The pass itself is :class:`collector.predictions.service.PredictService`.
"""
