"""Trigger metrics: weighted rates, efficiencies and ROC/AUC with 68% intervals, thresholds from
zero-bias rates, and the Level-1 menu (`menu.py`, built-in `menu_run3.yaml`)."""

from codesign.metrics.menu import Menu, Seed, load_menu
from codesign.metrics.rates import (
    BUNCH_CROSSING_RATE_HZ,
    ThresholdScan,
    WorkingPoint,
    efficiency,
    rate,
    rate_hz,
    rate_scan,
    roc_auc,
    threshold_for_rate,
    working_point,
)
from codesign.metrics.stats import Estimate, clopper_pearson, effective_count, fraction

__all__ = [
    "BUNCH_CROSSING_RATE_HZ", "Estimate", "Menu", "Seed", "ThresholdScan", "WorkingPoint", "clopper_pearson",
    "effective_count", "efficiency", "fraction", "load_menu", "rate", "rate_hz", "rate_scan", "roc_auc",
    "threshold_for_rate", "working_point",
]
