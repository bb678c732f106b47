"""Input scaling fitted over present objects: the rules of `codesign.fixed.scaling`, and the saturation helper."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.fixed.fixed_format import FixedFormat
from codesign.fixed.scaling import MIN_PRESENT, Feature, fit_scaling, saturated_fraction, saturation_by_feature
from codesign.fixed.trigger import InputScaling

RAW = FixedFormat(18, 13, True)
NET = FixedFormat(8, 6, True, "RND_CONV", "SAT")  # range [-32, 31.75]
# an object slot (pT, eta, phi) present when its pT > 0, and a constant column
FEATURES = [
    Feature("pt", 0.0, 255.5, from_range=False, presence=0),
    Feature("eta", -69.0, 68.0, from_range=True, presence=0),
    Feature("phi", 0.0, 575.0, from_range=True, presence=0),
    Feature("const", 0.0, 0.0, from_range=True),
]


def _slot(n: int, present: float, pt_median: float, pt_scale: float, rng) -> np.ndarray:
    """(n, 4) raw inputs: a slot filled in a fraction `present` of the events, zeros elsewhere."""
    raw = np.zeros((n, 4))
    on = rng.random(n) < present
    pt = np.round(2 * (pt_median + rng.exponential(pt_scale, on.sum()) - pt_scale * np.log(2))) / 2
    raw[on, 0] = np.clip(pt, 0.5, 255.5)
    raw[on, 1] = rng.integers(-69, 69, on.sum())
    raw[on, 2] = rng.integers(0, 576, on.sum())
    return raw


@pytest.mark.parametrize("headroom", [0, 2])
def test_statistics_come_from_present_objects_only(headroom):
    rng = np.random.default_rng(0)
    raw = _slot(20_000, 0.05, pt_median=20, pt_scale=8, rng=rng)  # 95% zeros
    offsets, shifts = fit_scaling(raw, NET, FEATURES, quantile=99.5, headroom_bits=headroom)
    present = raw[raw[:, 0] > 0]
    assert offsets[0] == np.round(np.median(present[:, 0])) and 17 <= offsets[0] <= 23
    spread = np.percentile(np.abs(present[:, 0] - offsets[0]), 99.5)
    top = NET.max_value / 2**headroom
    assert spread / 2.0 ** shifts[0] <= top < spread / 2.0 ** (shifts[0] - 1)  # the smallest that fits
    # angles from the hardware range: offset in the middle, the smallest shift keeping it in range
    assert offsets[1:].tolist() == [0, 288, 0] and shifts[1:].tolist() == [2 + headroom, 4 + headroom, 0]
    scaling = InputScaling(RAW, offsets, shifts)
    assert saturated_fraction(scaling, raw, NET, FEATURES)[0] <= 0.005 * (headroom == 0)
    # the old statistics over all events would have given offset 0 and spread 0 here
    assert np.median(raw[:, 0]) == 0


def test_small_spread_gives_a_left_shift():
    rng = np.random.default_rng(1)
    raw = _slot(5_000, 0.5, pt_median=5, pt_scale=0.5, rng=rng)
    offsets, shifts = fit_scaling(raw, NET, FEATURES, quantile=99.5, headroom_bits=2)
    spread = np.percentile(np.abs(raw[raw[:, 0] > 0, 0] - 5), 99.5)
    assert 2 < spread <= 3.5 and shifts[0] == -1 and offsets[0] == 5  # 2 x spread <= 31.75 / 4 < 4 x spread
    scaling = InputScaling(RAW, offsets, shifts)
    assert saturated_fraction(scaling, raw, NET, FEATURES)[0] == 0


def test_rarely_present_slot_gets_the_range_default():
    rng = np.random.default_rng(2)
    raw = _slot(5_000, 0.0, pt_median=5, pt_scale=1, rng=rng)
    raw[: MIN_PRESENT - 1] = _slot(MIN_PRESENT - 1, 1.0, pt_median=50, pt_scale=1, rng=rng)
    offsets, shifts = fit_scaling(raw, NET, FEATURES, quantile=99.5, headroom_bits=2)
    assert offsets[0] == 0 and shifts[0] == 4  # the whole pT word fits: 255.5 / 16 < 31.75 < 255.5 / 8
    scaling = InputScaling(RAW, offsets, shifts)
    extremes = np.array([[255.5, -69, 0, 0], [0.5, 68, 575, 0]])
    assert np.all(saturated_fraction(scaling, extremes, NET, FEATURES) == 0)


def test_saturation_helper_counts_present_objects_only():
    scaling = InputScaling(RAW, np.array([10, 0, 288, 0]), np.array([0, 0, 0, 0]))
    raw = np.array([
        [0.0, 0, 0, 0],  # absent: its pT (-10) and phi (-288 -> saturated) are not counted
        [50.0, 10, 300, 0],  # pT 40 saturates, phi 12 does not
        [20.0, -40, 100, 0],  # eta -40 and phi -188 saturate
        [12.5, 3, 288, 0],
    ])
    fractions = saturated_fraction(scaling, raw, NET, FEATURES)
    np.testing.assert_array_equal(fractions, [1 / 3, 1 / 3, 1 / 3, 0.0])
    assert saturation_by_feature(scaling, raw, NET, FEATURES) == {"pt": 1 / 3, "eta": 1 / 3, "phi": 1 / 3}
    assert np.isnan(saturated_fraction(scaling, raw[:1], NET, FEATURES)[0])
    # a value exactly at the top of the range is representable, not saturated; a tie above it is
    edge = InputScaling(RAW, np.array([0, 0, 0, 0]), np.array([0, 0, 0, 0]))
    top = np.array([[31.75, 0, 0, 0], [31.875, 0, 0, 0]])
    assert saturated_fraction(edge, top[:1], NET, FEATURES)[0] == 0
    assert saturated_fraction(edge, top, NET, FEATURES)[0] == 0.5


def test_wrong_number_of_columns_is_refused():
    with pytest.raises(ValueError, match=r"\(n, 4\)"):
        fit_scaling(np.zeros((10, 3)), NET, FEATURES, quantile=99.5)
