"""Trigger rates from zero-bias-like background scores.

A threshold's trigger rate is its false-positive rate on zero-bias events times the rate of
colliding bunch crossings, ``BUNCH_CROSSING_RATE_HZ`` = 2544 colliding bunches x 11.245 kHz
(LHC revolution frequency) = 28.61 MHz, the figure the CMS Level-1 trigger uses.  A working
point fires when ``score > threshold``.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

BUNCH_CROSSING_RATE_HZ = 28.61e6


def rate_hz(background_scores: np.ndarray, threshold: float) -> float:
    """Trigger rate of ``score > threshold`` on zero-bias-like events."""
    return float(np.mean(np.asarray(background_scores) > threshold) * BUNCH_CROSSING_RATE_HZ)


def threshold_for_rate(background_scores: np.ndarray, target_hz: float) -> float:
    """The lowest threshold among the background scores whose rate does not exceed `target_hz`."""
    scores = np.sort(np.asarray(background_scores, dtype=np.float64))
    allowed = int(np.floor(target_hz / BUNCH_CROSSING_RATE_HZ * len(scores)))  # events allowed above
    if allowed >= len(scores):
        return float(scores[0]) - 1.0
    candidate = scores[len(scores) - 1 - allowed]
    return float(candidate)


def efficiency(signal_scores: np.ndarray, threshold: float) -> float:
    """Fraction of signal events with ``score > threshold``."""
    return float(np.mean(np.asarray(signal_scores) > threshold))


def roc_auc(background_scores: np.ndarray, signal_scores: np.ndarray) -> float:
    labels = np.r_[np.zeros(len(background_scores)), np.ones(len(signal_scores))]
    return float(roc_auc_score(labels, np.r_[background_scores, signal_scores]))
