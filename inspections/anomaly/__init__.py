"""Anomaly detection: a streaming likelihood per series (``likelihood``) and the episodes an
engineer is told about (``episodes``)."""

from inspections.anomaly.episodes import Episode, find_episodes
from inspections.anomaly.likelihood import AnomalyConfig, AnomalyScorer, AnomalyTrace, analyse_series, score_series

__all__ = ["AnomalyConfig", "AnomalyScorer", "AnomalyTrace", "Episode", "analyse_series", "find_episodes",
           "score_series"]
