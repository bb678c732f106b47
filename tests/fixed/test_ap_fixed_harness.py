"""Every rounding x overflow mode of FixedFormat.requantize against ap_fixed itself.

A tiny C++ harness, compiled with the ap_types headers that hls4ml ships, casts exact inputs to a
grid of ap_fixed / ap_ufixed formats; hypothesis draws formats and values."""

from __future__ import annotations

import ctypes
import itertools
import subprocess
from pathlib import Path

import hls4ml
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codesign.fixed.fixed_format import FixedFormat

AP_TYPES = Path(hls4ml.__file__).parent / "templates" / "vivado" / "ap_types"
FORMATS = [
    FixedFormat(width, integer, signed, rounding, overflow)
    for width, integer, signed, rounding, overflow in itertools.product(
        (3, 6, 11), (-2, 1, 4, 13), (True, False), ("TRN", "RND", "RND_CONV"), ("WRAP", "SAT", "SAT_SYM")
    )
    if signed or overflow != "SAT_SYM"
]
INPUT_TYPE = "ap_fixed<56,28>"  # holds every test input exactly
MAX_INPUT_FRAC = 28


@pytest.fixture(scope="module")
def harness(tmp_path_factory) -> ctypes.CDLL:
    folder = tmp_path_factory.mktemp("ap_fixed")
    cases = "\n".join(
        f"        case {i}: {{ {fmt.hls()} y = x; return y.to_double(); }}" for i, fmt in enumerate(FORMATS)
    )
    (folder / "harness.cpp").write_text(f"""
#include "ap_fixed.h"
extern "C" double cast(int format, long long count, int frac) {{
    {INPUT_TYPE} x = 0;
    x.range({55}, 0) = ap_int<56>(count) << ({MAX_INPUT_FRAC} - frac);
    switch (format) {{
{cases}
    }}
    return -1e300;
}}
""")
    library = folder / "harness.so"
    subprocess.run(["g++", "-O1", "-std=c++14", "-shared", "-fPIC", f"-I{AP_TYPES}", str(folder / "harness.cpp"),
                    "-o", str(library)], check=True, capture_output=True)
    lib = ctypes.CDLL(str(library))
    lib.cast.restype = ctypes.c_double
    lib.cast.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_int]
    return lib


@settings(max_examples=1500, deadline=None)
@given(
    index=st.integers(0, len(FORMATS) - 1),
    frac=st.integers(0, MAX_INPUT_FRAC),
    count=st.one_of(st.integers(-(2**26), 2**26), st.integers(-(2**40), 2**40)),
    data=st.data(),
)
def test_requantize_equals_ap_fixed(harness, index, frac, count, data):
    fmt = FORMATS[index]
    if data.draw(st.booleans()) and frac > fmt.frac:  # aim at an exact rounding tie half the time
        shift = frac - fmt.frac
        count = (count >> shift << shift) + (1 << (shift - 1))
    if abs(count) >= 2 ** (27 + frac):  # outside the input type
        count %= 2 ** (27 + frac)
    want = harness.cast(index, count, frac)
    got = fmt.to_float(fmt.requantize(np.array([count], dtype=np.float64), frac))[0]
    assert got == want, f"{fmt.hls()} of {count} * 2^-{frac}"
