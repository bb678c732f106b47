"""Trigger metrics: ROC/AUC, thresholds from zero-bias rates, signal efficiency at a rate."""

from codesign.metrics.rates import (
    BUNCH_CROSSING_RATE_HZ,
    efficiency,
    rate_hz,
    roc_auc,
    threshold_for_rate,
)

__all__ = ["BUNCH_CROSSING_RATE_HZ", "efficiency", "rate_hz", "roc_auc", "threshold_for_rate"]
