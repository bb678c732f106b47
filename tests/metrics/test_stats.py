"""Weighted fractions, effective counts and Clopper-Pearson intervals."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from codesign.metrics.stats import (
    CONFIDENCE,
    clopper_pearson,
    effective_count,
    effective_scale,
    fraction,
    is_flagged,
)


def test_effective_count():
    assert effective_count(np.ones(37)) == pytest.approx(37)
    assert effective_count(np.full(37, 1 / 37)) == pytest.approx(37)
    assert effective_count(np.array([1.0, 1.0, 2.0])) == pytest.approx(16 / 6)
    assert effective_count(np.zeros(3)) == 0


@pytest.mark.parametrize("k,n", [(0, 1), (0, 10), (1, 10), (5, 10), (10, 10), (3, 1000), (999, 1000), (37, 37)])
def test_clopper_pearson_matches_scipy_exact_interval(k, n):
    low, high = clopper_pearson(k, n)
    ci = binomtest(k, n).proportion_ci(confidence_level=CONFIDENCE, method="exact")
    assert (float(low), float(high)) == pytest.approx((ci.low, ci.high), rel=1e-9, abs=1e-12)


def test_clopper_pearson_known_values():
    # k = 0: the upper edge solves (1 - p)^n = (1 - CL) / 2
    _, high = clopper_pearson(0, 10)
    assert float(high) == pytest.approx(1 - ((1 - CONFIDENCE) / 2) ** (1 / 10))
    low, high = clopper_pearson(np.array([0, 10]), np.array([10, 10]))  # vectorised, both edges
    assert low[0] == 0 and high[1] == 1 and low[1] == pytest.approx(((1 - CONFIDENCE) / 2) ** (1 / 10))


def test_uniform_weights_of_any_normalisation_equal_unweighted():
    passed = np.random.default_rng(0).uniform(size=500) < 0.1
    reference = fraction(passed)
    for w in (np.full(500, 1 / 500), np.full(500, 7.5)):
        got = fraction(passed, w)
        assert (got.value, got.low, got.high, got.effective, got.total_effective) == pytest.approx(
            (reference.value, reference.low, reference.high, reference.effective, reference.total_effective))


def test_integer_weights_give_the_duplicated_events_fraction():
    rng = np.random.default_rng(1)
    passed, w = rng.uniform(size=300) < 0.3, rng.integers(1, 5, 300)
    duplicated = np.repeat(passed, w)
    assert fraction(passed, w).value == pytest.approx(fraction(duplicated).value, rel=1e-14)
    assert fraction(passed, w).weighted == fraction(duplicated).weighted


def test_interval_width_matches_the_weighted_variance():
    """The scaled counts' binomial variance equals the per-event (delta-method) variance of sum(w pass)/sum(w)."""
    rng = np.random.default_rng(2)
    passed, w = rng.uniform(size=2000) < 0.2, rng.exponential(size=2000)
    est = fraction(passed, w)
    p = est.value
    variance = np.sum(w**2 * (passed - p) ** 2) / w.sum() ** 2
    n_scaled = w.sum() * effective_scale(w[passed].sum(), (w[passed] ** 2).sum(), w.sum(), (w**2).sum())
    assert p * (1 - p) / n_scaled == pytest.approx(variance, rel=1e-9)
    low, high = clopper_pearson(p * n_scaled, n_scaled)
    assert (est.low, est.high) == pytest.approx((float(low), float(high)), rel=1e-12)
    assert (est.high - est.low) / 2 == pytest.approx(np.sqrt(variance), rel=0.05)  # ~ Gaussian at these counts


def test_rare_tail_with_small_weights_keeps_its_statistics():
    """100 passing events of weight 1e-4 among 1000 failing ones of weight 1: the interval is that of
    ~100 events (ROOT's global sum(w)/sum(w^2) scaling would give that of ~0.01 events)."""
    passed = np.r_[np.ones(100, bool), np.zeros(1000, bool)]
    w = np.r_[np.full(100, 1e-4), np.ones(1000)]
    est = fraction(passed, w)
    low, high = clopper_pearson(100, 100 / est.value)
    assert est.effective == pytest.approx(100)
    assert (est.low, est.high) == pytest.approx((float(low), float(high)), rel=0.02)  # + the soft part's spread
    assert not est.flagged


def test_coverage_with_selection_dependent_weights():
    """Toys of a two-component sample (soft: weight 1, rarely passing; hard: weight 0.1, often passing)."""
    rng = np.random.default_rng(3)
    truth = (0.5 * 1 * 0.02 + 0.5 * 0.1 * 0.3) / (0.5 * 1 + 0.5 * 0.1)
    covered = []
    for _ in range(1000):
        hard = rng.uniform(size=400) < 0.5
        passed = rng.uniform(size=400) < np.where(hard, 0.3, 0.02)
        est = fraction(passed, np.where(hard, 0.1, 1.0))
        covered.append(est.low <= truth <= est.high)
    assert 0.64 < np.mean(covered) < 0.78  # nominal 68.3%; Clopper-Pearson errs on the high side


def test_no_passing_event_and_all_passing():
    none = fraction(np.zeros(10, bool), np.full(10, 0.5))
    assert none.value == 0 and none.low == 0 and none.high == pytest.approx(float(clopper_pearson(0, 10)[1]))
    every = fraction(np.ones(10, bool), np.full(10, 0.5))
    assert every.value == 1 and every.high == 1 and every.low == pytest.approx(float(clopper_pearson(10, 10)[0]))


def test_flagging():
    assert is_flagged(100.0, 80.0, 120.0, 50) is False
    assert is_flagged(100.0, 69.0, 120.0, 50) is True  # below -30%
    assert is_flagged(100.0, 80.0, 131.0, 50) is True  # above +30%
    assert is_flagged(100.0, 90.0, 110.0, 9.5) is True  # too few effective events
    assert is_flagged(0.0, 0.0, 1.0, 0) is True
    assert fraction(np.r_[np.ones(10, bool), np.zeros(990, bool)]).flagged  # 10 events: about +-35%
    assert not fraction(np.r_[np.ones(100, bool), np.zeros(900, bool)]).flagged  # 100 events: about +-10%
