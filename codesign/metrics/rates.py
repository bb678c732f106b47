"""Trigger rates from zero-bias background scores, with weights and 68% intervals.

A threshold's trigger rate is its (weighted) fraction of zero-bias events times the rate of
colliding bunch crossings, ``BUNCH_CROSSING_RATE_HZ`` = 2544 colliding bunches x 11.245 kHz
(LHC revolution frequency) = 28.61 MHz, the figure the CMS Level-1 trigger uses.  A working
point fires when ``score > threshold``.  Weights default to 1 (an unweighted sample); intervals and
effective counts are those of `codesign.metrics.stats`.  Everything is vectorised: one sort and
reverse cumulative sums serve every threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score

from codesign.metrics.stats import Estimate, clopper_pearson, effective_scale, fraction, normalized_weights

BUNCH_CROSSING_RATE_HZ = 28.61e6


@dataclass(frozen=True)
class ThresholdScan:
    """The weighted fraction of events with ``score > t`` for every threshold t, from one sort.

    `candidates` are the thresholds that matter: just below the lowest score (all pass), then each
    distinct score (ascending), so fractions are non-increasing along them.
    """

    sorted_scores: np.ndarray
    tail_w: np.ndarray  # tail_w[i] = sum of weights of sorted_scores[i:] (last entry 0)
    tail_v: np.ndarray  # the same for squared weights
    scale: float  # units of `value` (e.g. the bunch-crossing rate for rates, 1 for efficiencies)

    @classmethod
    def from_scores(cls, scores: np.ndarray, weights: np.ndarray | None = None, scale: float = 1.0) -> ThresholdScan:
        scores = np.asarray(scores, np.float64)
        if len(scores) == 0:
            raise ValueError("no events to scan")
        w = normalized_weights(weights, len(scores))
        order = np.argsort(scores, kind="stable")
        w = w[order]
        tail_w = np.append(np.cumsum(w[::-1])[::-1], 0.0)
        tail_v = np.append(np.cumsum((w**2)[::-1])[::-1], 0.0)
        return cls(scores[order], tail_w, tail_v, scale)

    @property
    def candidates(self) -> np.ndarray:
        distinct = np.unique(self.sorted_scores)
        return np.concatenate([[distinct[0] - 1.0], distinct])

    def _above(self, thresholds) -> tuple[np.ndarray, np.ndarray]:
        i = np.searchsorted(self.sorted_scores, np.asarray(thresholds, np.float64), side="right")
        return self.tail_w[i], self.tail_v[i]

    def values(self, thresholds) -> np.ndarray:
        """Fractions (times `scale`) passing each threshold."""
        return self._above(thresholds)[0] / self.tail_w[0] * self.scale

    def intervals(self, thresholds) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(value, low, high) of the 68% intervals at each threshold, times `scale`."""
        w_pass, v_pass = self._above(thresholds)
        s = effective_scale(w_pass, v_pass, self.tail_w[0], self.tail_v[0])
        low, high = clopper_pearson(w_pass * s, self.tail_w[0] * s)
        return w_pass / self.tail_w[0] * self.scale, low * self.scale, high * self.scale

    def estimate(self, threshold: float) -> Estimate:
        w_pass, v_pass = (float(a) for a in self._above(threshold))
        value, low, high = (float(a) for a in self.intervals(threshold))
        return Estimate(value, low, high, w_pass, w_pass**2 / v_pass if v_pass > 0 else 0.0,
                        self.tail_w[0] ** 2 / self.tail_v[0])

    def threshold_for(self, target):
        """The lowest candidate threshold whose value (times `scale`) does not exceed `target` (float or array)."""
        candidates = self.candidates
        w_pass, _ = self._above(candidates)  # non-increasing; 0 at the highest score, which always qualifies
        allowed = np.asarray(target, np.float64) / self.scale * self.tail_w[0] * (1 + 1e-12)  # summation rounding
        index = np.minimum(np.searchsorted(-w_pass, -allowed, side="left"), len(candidates) - 1)
        return float(candidates[index]) if np.ndim(index) == 0 else candidates[index]


@dataclass(frozen=True)
class WorkingPoint:
    """A threshold and the rate it gives (Hz, with interval and counts above it)."""

    threshold: float
    rate: Estimate
    target_hz: float | None = None

    @property
    def flagged(self) -> bool:
        """The rate interval reaches beyond +-30% or rests on fewer than 10 effective events."""
        return self.rate.flagged

    def as_dict(self) -> dict:
        return {"threshold": self.threshold, "target_hz": self.target_hz, "flagged": self.flagged,
                "rate_hz": self.rate.as_dict()}


def rate_scan(background_scores: np.ndarray, weights: np.ndarray | None = None) -> ThresholdScan:
    """Rates (Hz) of ``score > t`` on zero bias, for any t."""
    return ThresholdScan.from_scores(background_scores, weights, BUNCH_CROSSING_RATE_HZ)


def working_point(background_scores: np.ndarray, target_hz: float, weights: np.ndarray | None = None) -> WorkingPoint:
    """The lowest threshold among the scores whose rate does not exceed `target_hz`, with its rate."""
    scan = rate_scan(background_scores, weights)
    threshold = scan.threshold_for(target_hz)
    return WorkingPoint(threshold, scan.estimate(threshold), target_hz)


def rate(passed: np.ndarray, weights: np.ndarray | None = None) -> Estimate:
    """Rate (Hz) of a zero-bias selection (bool per event) with its 68% interval."""
    return fraction(passed, weights).scaled(BUNCH_CROSSING_RATE_HZ)


def threshold_for_rate(background_scores: np.ndarray, target_hz: float, weights: np.ndarray | None = None) -> float:
    """The lowest threshold among the background scores whose rate does not exceed `target_hz`."""
    return rate_scan(background_scores, weights).threshold_for(target_hz)


def rate_hz(background_scores: np.ndarray, threshold: float, weights: np.ndarray | None = None) -> float:
    """Trigger rate of ``score > threshold`` on zero-bias events."""
    return float(rate_scan(background_scores, weights).values(threshold))


def efficiency(signal_scores: np.ndarray, threshold: float, weights: np.ndarray | None = None) -> float:
    """Weighted fraction of signal events with ``score > threshold``."""
    return float(ThresholdScan.from_scores(signal_scores, weights).values(threshold))


def roc_auc(background_scores: np.ndarray, signal_scores: np.ndarray,
            background_weights: np.ndarray | None = None, signal_weights: np.ndarray | None = None) -> float:
    """Area under the (weighted) ROC curve; each class's weights may have any normalisation."""
    labels = np.r_[np.zeros(len(background_scores)), np.ones(len(signal_scores))]
    weights = np.r_[normalized_weights(background_weights, len(background_scores)),
                    normalized_weights(signal_weights, len(signal_scores))]
    return float(roc_auc_score(labels, np.r_[background_scores, signal_scores], sample_weight=weights))
