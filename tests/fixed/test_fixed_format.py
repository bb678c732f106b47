"""FixedFormat against an independent oracle: exact rational arithmetic in pure Python."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from codesign.fixed.fixed_format import OVERFLOW_MODES, ROUNDING_MODES, FixedFormat


def oracle_cast(value: Fraction, fmt: FixedFormat) -> int:
    """ap_fixed cast of an exact rational to counts of `fmt`, written from the ap_types definition."""
    scaled = value * Fraction(2) ** fmt.frac
    floor = math.floor(scaled)
    rest = scaled - floor
    if fmt.rounding == "RND":
        count = floor + (rest >= Fraction(1, 2))
    elif fmt.rounding == "RND_CONV":
        count = floor + (rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2 == 1))
    else:
        count = floor
    if fmt.overflow == "WRAP":
        modulus = 2**fmt.width
        count %= modulus
        if fmt.signed and count >= modulus // 2:
            count -= modulus
        return count
    return min(max(count, fmt.min_int), fmt.max_int)


formats = st.builds(
    lambda width, integer, signed, rounding, overflow: FixedFormat(
        width, integer, signed, rounding, "SAT" if (overflow == "SAT_SYM" and not signed) else overflow
    ),
    st.integers(2, 24),
    st.integers(-4, 28),
    st.booleans(),
    st.sampled_from(ROUNDING_MODES),
    st.sampled_from(OVERFLOW_MODES),
)


@settings(max_examples=300, deadline=None)
@given(fmt=formats, frac_in=st.integers(-4, 30), counts=st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=20))
def test_requantize_matches_the_oracle(fmt, frac_in, counts):
    got = fmt.requantize(np.array(counts, dtype=np.float64), frac_in)
    want = [oracle_cast(Fraction(c) / Fraction(2) ** frac_in, fmt) for c in counts]
    assert got.tolist() == want


@settings(max_examples=200, deadline=None)
@given(fmt=formats, data=st.data())
def test_requantize_ties_and_edges(fmt, data):
    """Exact half-LSB ties, both signs, and values at and beyond the range limits."""
    shift = data.draw(st.integers(1, 6))
    frac_in = fmt.frac + shift
    half = 2 ** (shift - 1)
    base = data.draw(st.lists(st.integers(fmt.min_int - 4, fmt.max_int + 4), min_size=1, max_size=10))
    counts = [b * 2**shift + d for b in base for d in (half, -half, 0, half - 1, half + 1)]
    got = fmt.requantize(np.array(counts, dtype=np.float64), frac_in)
    want = [oracle_cast(Fraction(c) / Fraction(2) ** frac_in, fmt) for c in counts]
    assert got.tolist() == want


@settings(max_examples=200, deadline=None)
@given(fmt=formats, values=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=20))
def test_quantize_real_values_matches_the_oracle(fmt, values):
    got = fmt.quantize(np.array(values))
    assert got.tolist() == [oracle_cast(Fraction(v), fmt) for v in values]


def test_hls_type_strings():
    assert FixedFormat(10, 7, True, "RND_CONV", "SAT").hls() == "ap_fixed<10,7,AP_RND_CONV,AP_SAT>"
    assert FixedFormat(18, 14, False).hls() == "ap_ufixed<18,14>"
    assert FixedFormat(6, 3, True, "TRN", "SAT_SYM").hls() == "ap_fixed<6,3,AP_TRN,AP_SAT_SYM>"
