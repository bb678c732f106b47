"""FixedFormat against an independent oracle: exact rational arithmetic in pure Python."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from codesign.fixed.fixed_format import FLOAT32_BITS, OVERFLOW_MODES, ROUNDING_MODES, FixedFormat


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


@settings(max_examples=300, deadline=None)
@given(fmt=formats, relu=st.booleans(), data=st.data())
def test_float32_and_relu_requantize_match_the_oracle(fmt, relu, data):
    """float32 counts (the emulator's type for graphs of at most FLOAT32_BITS) stay float32 and exact, ties
    and both ends included; `relu` casts max(x, 0)."""
    if fmt.width > FLOAT32_BITS:
        fmt = FixedFormat(FLOAT32_BITS, fmt.integer, fmt.signed, fmt.rounding, fmt.overflow)
    limit, shift = 2 ** (FLOAT32_BITS - 1), data.draw(st.integers(-3, 6))
    frac_in = fmt.frac + shift
    half = 2 ** (shift - 1) if shift > 0 else 0
    edges = [b * 2**shift + d for b in (fmt.min_int - 1, fmt.min_int, -1, 0, 1, fmt.max_int, fmt.max_int + 1)
             for d in (-half, 0, half)]
    counts = data.draw(st.lists(st.integers(-limit, limit), min_size=1, max_size=20))
    counts += [c for c in edges if abs(c) <= limit]
    got = fmt.requantize(np.array(counts, dtype=np.float32), frac_in, relu=relu)
    assert got.dtype == np.float32
    want = [oracle_cast(max(Fraction(c), Fraction(0)) if relu else Fraction(c), fmt)
            for c in (Fraction(c) / Fraction(2) ** frac_in for c in counts)]
    assert got.tolist() == want
    assert fmt.requantize(np.array(counts), frac_in, relu=relu).tolist() == want  # the int64 path


@settings(max_examples=200, deadline=None)
@given(fmt=formats, values=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=20))
def test_quantize_real_values_matches_the_oracle(fmt, values):
    got = fmt.quantize(np.array(values))
    assert got.tolist() == [oracle_cast(Fraction(v), fmt) for v in values]


def test_hls_type_strings():
    assert FixedFormat(10, 7, True, "RND_CONV", "SAT").hls() == "ap_fixed<10,7,AP_RND_CONV,AP_SAT>"
    assert FixedFormat(18, 14, False).hls() == "ap_ufixed<18,14>"
    assert FixedFormat(6, 3, True, "TRN", "SAT_SYM").hls() == "ap_fixed<6,3,AP_TRN,AP_SAT_SYM>"
