"""Rates, thresholds for target rates, efficiencies and AUC, weighted and unweighted."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.metrics import (
    BUNCH_CROSSING_RATE_HZ as BX,
    ThresholdScan,
    efficiency,
    fraction,
    rate,
    rate_hz,
    rate_scan,
    roc_auc,
    threshold_for_rate,
    working_point,
)


def counting_threshold(scores: np.ndarray, target_hz: float) -> float:
    """Independent unweighted rule: allow floor(target / BX * N) events strictly above the threshold."""
    s = np.sort(scores)
    allowed = int(np.floor(target_hz / BX * len(s)))
    return s[0] - 1.0 if allowed >= len(s) else s[len(s) - 1 - allowed]


@pytest.mark.parametrize("seed", range(5))
def test_unweighted_threshold_matches_counting_rule(seed):
    rng = np.random.default_rng(seed)
    scores = np.round(rng.exponential(size=3000), 1)  # many ties
    for khz in (1, 10, 100, 1000, 28610, 30000):
        assert threshold_for_rate(scores, khz * 1e3) == counting_threshold(scores, khz * 1e3)


def test_known_answer():
    scores = np.arange(1000.0)
    wp = working_point(scores, BX * 10 / 1000)  # 10 events of 1000 allowed above: 990..999
    assert wp.threshold == 989
    assert wp.rate.value == pytest.approx(BX * 10 / 1000) and wp.rate.effective == pytest.approx(10)
    assert wp.flagged  # 10 events: the interval reaches beyond +30%
    assert not working_point(scores, BX * 0.2).flagged  # 200 events
    assert working_point(scores, BX * 10.5 / 1000).threshold == 989  # rounding down, never above target
    # weighted: the top score alone carries half the population
    w = np.r_[np.full(999, 0.5 / 999), 0.5]
    assert working_point(scores, 0.4 * BX, w).threshold == 999  # even the top event exceeds the target
    assert working_point(scores, 0.5 * BX, w).threshold == 998
    assert working_point(scores, 0.6 * BX, w).threshold == 799  # top + 199 events of weight 0.5/999 <= 0.6


@pytest.mark.parametrize("seed", range(3))
def test_integer_weights_equal_duplicated_events(seed):
    rng = np.random.default_rng(seed)
    bkg, sig = np.round(rng.exponential(size=2000), 2), np.round(rng.exponential(size=500) + 1, 2)
    wb, ws = rng.integers(1, 6, 2000), rng.integers(1, 4, 500)
    dup_b, dup_s = np.repeat(bkg, wb), np.repeat(sig, ws)
    for khz in (5, 50, 500, 5000):
        t = threshold_for_rate(bkg, khz * 1e3, wb)
        assert t == threshold_for_rate(dup_b, khz * 1e3)
        assert rate_hz(bkg, t, wb) == pytest.approx(rate_hz(dup_b, t), rel=1e-12)
        assert efficiency(sig, t, ws) == pytest.approx(efficiency(dup_s, t), rel=1e-12)
        wp = working_point(bkg, khz * 1e3, wb)
        assert wp.rate.weighted == np.sum(wb[bkg > t])
    assert roc_auc(bkg, sig, wb, ws) == pytest.approx(roc_auc(dup_b, dup_s), rel=1e-12)
    assert roc_auc(bkg, sig, wb / 7, ws * 3) == pytest.approx(roc_auc(bkg, sig, wb, ws), rel=1e-12)


def test_scan_agrees_with_direct_fractions():
    rng = np.random.default_rng(4)
    scores, w = rng.normal(size=1000), rng.exponential(size=1000)
    scan = rate_scan(scores, w)
    thresholds = np.r_[scan.candidates[::97], 10.0, -10.0]
    value, low, high = scan.intervals(thresholds)
    for i, t in enumerate(thresholds):
        direct = rate(scores > t, w)
        assert (value[i], low[i], high[i]) == pytest.approx((direct.value, direct.low, direct.high), rel=1e-9, abs=1e-9)
        assert scan.estimate(t).effective == pytest.approx(direct.effective)
    targets = np.array([1e3, 1e5, 1e7])
    assert list(scan.threshold_for(targets)) == [scan.threshold_for(t) for t in targets]
    assert fraction(scores > 0.5, w).value == pytest.approx(ThresholdScan.from_scores(scores, w).values(0.5))


def test_rates_are_scale_free_and_tail_rate_uses_small_weights():
    """A p̂T-sliced-like sample: the tail events carry tiny weights but many of them, so the working
    point rests on many effective events and is not flagged."""
    rng = np.random.default_rng(5)
    soft, hard = rng.exponential(size=20000), 10 + rng.exponential(size=2000)
    scores = np.r_[soft, hard]
    w = np.r_[np.full(20000, 1.0), np.full(2000, 1e-3)]  # hard: 2000 x 1e-3 = 2 crossings' worth
    wp = working_point(scores, 1e3, w)
    assert wp.rate.value <= 1e3 and wp.rate.effective > 500 and not wp.flagged
    assert working_point(scores, 1e3, w * 1e-6).threshold == wp.threshold

