"""Input scaling, score and comparators against a plain-integer reference written from the HLS."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.fixed.fixed_format import FixedFormat
from codesign.fixed.trigger import MAX_SHIFT, InputScaling, Score

RAW = FixedFormat(18, 13, True)
NET = FixedFormat(8, 6, True, "RND_CONV", "SAT")


def reference_scale(raw_count: int, offset: int, shift: int) -> int:
    """(nn_t)((x - offset) >> shift) on Python integers: floor shift (left for a negative shift),
    then half-even round + saturate."""
    frac_raw, frac_net = RAW.frac, NET.frac
    difference = raw_count - (offset << frac_raw)
    shifted = difference >> shift if shift >= 0 else difference << -shift  # Python >> floors, as ap_fixed's
    drop = frac_raw - frac_net
    q, r = divmod(shifted, 1 << drop)
    half = 1 << (drop - 1)
    q += 1 if (r > half or (r == half and q % 2)) else 0
    return max(NET.min_int, min(NET.max_int, q))


def test_scaling_matches_the_integer_reference():
    rng = np.random.default_rng(0)
    shifts = np.concatenate([np.arange(-MAX_SHIFT, MAX_SHIFT + 1), rng.integers(-4, 8, 57 - 2 * MAX_SHIFT - 1)])
    offsets = rng.integers(-300, 300, 57)
    offsets[:4] = [RAW.max_int >> RAW.frac, RAW.min_int >> RAW.frac, 511, -512]  # offsets at extremes
    scaling = InputScaling(RAW, offsets, shifts)
    raw_counts = rng.integers(RAW.min_int, RAW.max_int + 1, (3000, 57))
    raw_counts[:57] = 0
    raw_counts[57:114] = RAW.max_int
    raw_counts[114:171] = RAW.min_int
    near = rng.integers(-300, 300, (1000, 57))  # raw values around the offsets: the unsaturated range of left shifts
    raw_counts[171:1171] = np.clip((offsets << RAW.frac) + near, RAW.min_int, RAW.max_int)
    got = scaling.apply(raw_counts, NET)
    want = np.array([[reference_scale(int(c), int(o), int(s)) for c, o, s in zip(row, offsets, shifts)] for row in raw_counts])
    np.testing.assert_array_equal(got, want)
    assert 0 < np.mean(np.abs(got) == 2**7) < 1  # some, not all, saturate
    left = shifts < 0
    assert np.any(got[171:1171][:, left] != 0) and np.any(np.abs(got[171:1171][:, left]) < 2**7)


def test_difference_type_holds_the_exact_difference():
    scaling = InputScaling(RAW, np.array([511, -512]), np.array([0, 0]))
    fmt = scaling.difference_format
    extremes = np.array([RAW.max_int - (-512 << RAW.frac), RAW.min_int - (511 << RAW.frac)])
    assert fmt.frac == RAW.frac and np.all(fmt.requantize(extremes, RAW.frac) == extremes)


def test_difference_type_grows_with_the_largest_left_shift():
    base = InputScaling(RAW, np.array([511, -512, 0]), np.array([3, 0, 0])).difference_format
    scaling = InputScaling(RAW, np.array([511, -512, 0]), np.array([3, -MAX_SHIFT, -2]))
    fmt = scaling.difference_format
    assert fmt.integer == base.integer + MAX_SHIFT and fmt.frac == RAW.frac
    extremes = np.array([RAW.max_int - (-512 << RAW.frac), RAW.min_int - (511 << RAW.frac)]) << MAX_SHIFT
    assert np.all(fmt.requantize(extremes, RAW.frac) == extremes)  # nothing wraps before the final cast


@pytest.mark.parametrize("shift", [-MAX_SHIFT - 1, MAX_SHIFT + 1])
def test_shift_out_of_range_is_refused(shift):
    with pytest.raises(ValueError, match=f"-{MAX_SHIFT}..{MAX_SHIFT}"):
        InputScaling(RAW, np.array([0]), np.array([shift]))


def test_score_is_exact_then_cast_once_and_saturates():
    mu_fmt = FixedFormat(10, 7, True, "RND_CONV", "SAT")
    score = Score(FixedFormat(18, 14, False, "TRN", "SAT"))
    mu = np.array([[1, 1, 1, 1], [-512, -512, -512, -512], [3, 0, 0, 0]])  # counts of 1/8
    got = score.apply(mu, mu_fmt)
    # 4 x (1/8)^2 = 1/16 -> exactly one LSB; the maxima saturate; 9/64 truncates to 2/16
    assert got.tolist() == [1, score.format.max_int, 2]


def test_shifted_score_is_integer_sum_of_squares_shifted():
    """GELATO's score: (sum of the integer counts squared) >> 8 (floor), then the cast (saturating)."""
    mu_fmt = FixedFormat(10, 5, True, "TRN", "SAT")  # counts of 1/32
    score = Score(FixedFormat(12, 2, False, "TRN", "SAT"), shift=8)  # 4 x 512**2 >> 8 = 4096 saturates
    mu = np.array([[16, 16, 16, 16], [15, 0, 0, 0], [16, 1, 0, 0], [-512, -512, -512, -512], [0, 0, 0, 0]])
    want = np.minimum((mu**2).sum(axis=1) >> 8, score.format.max_int)
    assert want.tolist() == [4, 0, 1, 4095, 0]
    np.testing.assert_array_equal(score.apply(mu, mu_fmt), want)


@pytest.mark.parametrize("shift", [-1, MAX_SHIFT + 1])
def test_score_shift_out_of_range_is_refused(shift):
    with pytest.raises(ValueError, match="score shift"):
        Score(FixedFormat(13, 3, False), shift=shift)
