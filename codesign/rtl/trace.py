"""Tracing a fixed-point graph into da4ml combinational logic, bit for bit equal to `emulate_ints`.

Dense layers become constant matrix-vector multiplies (da4ml's adder-graph solver, CMVM) on the
integer weights, scaled by their LSB, plus the bias.  Quantize ops become da4ml casts; da4ml rounds
only by truncation or half up, so ties-to-even (`RND_CONV`) is built from primitives: the bit that
becomes the result's LSB breaks the tie, ``floor((x + half - lsb_in + lsb_bit * lsb_in) / lsb_out)``.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from codesign.errors import CodesignError
from codesign.fixed.fixed_format import FixedFormat
from codesign.fixed.graph import Dense, Graph, Quantize, Reshape
from codesign.rtl.numba_cache import configure_numba_cache

configure_numba_cache()

from da4ml.cmvm.types import CombLogic  # noqa: E402
from da4ml.trace import FixedVariable, FixedVariableArray, FixedVariableArrayInput, HWConfig, comb_trace  # noqa: E402

#: da4ml's default hardware model: cost counts adder bits (~LUTs), latency counts adders in series.
HW_CONFIG = HWConfig(adder_size=1, carry_size=-1, latency_cutoff=-1)
#: Extra adder depth the CMVM solver may spend per Dense beyond the minimum, to save adders (da4ml's default).
DELAY_CONSTRAINT = 2
#: The widest weight the solver handles exactly: it takes the kernel as float32.
_MAX_WEIGHT_BITS = 24
#: The widest tensor the float64 interpreter interface carries exactly.
_MAX_EXACT_BITS = 53


def kif(fmt: FixedFormat) -> tuple[int, int, int]:
    """da4ml's (keep_negative, integer bits without sign, fractional bits) of a format."""
    return int(fmt.signed), fmt.integer - int(fmt.signed), fmt.frac


def trace_graph(graph: Graph, delay_constraint: int = DELAY_CONSTRAINT) -> CombLogic:
    """The graph as da4ml combinational logic: flat inputs and outputs in row-major order."""
    _check_widths(graph)
    n_in = int(np.prod(graph.input_shape))
    inputs = FixedVariableArrayInput(n_in, hwconf=HW_CONFIG, solver_options={"hard_dc": delay_constraint})
    x = inputs.quantize(*kif(graph.input_format)).reshape(graph.input_shape)
    fmt = graph.input_format
    for op in graph.ops:
        if isinstance(op, Dense):
            x = _dense(x, op)
        elif isinstance(op, Quantize):
            x = _apply(x, lambda v, op=op, fmt=fmt: cast(v, fmt.frac, op.output_format, op.relu))
        elif isinstance(op, Reshape):
            x = x.reshape(op.shape)
        fmt = op.output_format
    return comb_trace(inputs, x.ravel(), keep_dead_inputs=True)


def cast(v: FixedVariable, frac_in: int, fmt: FixedFormat, relu: bool = False) -> FixedVariable:
    """`fmt.requantize` (after an optional ReLU) of a traced value on a grid of `frac_in` fractional bits."""
    if v.low == v.high:
        count = int(Fraction(v.low) * 2**frac_in)
        value = fmt.requantize(np.array([max(count, 0) if relu else count]), frac_in)[0]
        return FixedVariable.from_const(float(value) * 2.0**-fmt.frac, hwconf=v.hwconf)
    if relu:
        v = v.relu()
    k, i, f = kif(fmt)
    f_in = v.kif[2]  # the value's actual grid: may be coarser than frac_in
    if f_in > f and fmt.rounding == "RND":
        v = v + 2.0 ** (-f - 1)
    elif f_in > f and fmt.rounding == "RND_CONV":
        lsb = v.quantize(0, 1 - f, f)  # the bit that becomes the result's LSB: 0 or 2**-f
        v = (v + (2.0 ** (-f - 1) - 2.0**-f_in)) + lsb * 2.0 ** (f - f_in)
    return v.quantize(k, i, f, overflow_mode=fmt.overflow, round_mode="TRN")


def _dense(x: FixedVariableArray, op: Dense) -> FixedVariableArray:
    product = (x @ op.weight.astype(np.float64)) * 2.0**-op.weight_format.frac
    return product + op.bias.astype(np.float64) * 2.0**-op.bias_format.frac


def _apply(x: FixedVariableArray, fn) -> FixedVariableArray:
    flat = [fn(v) for v in x._vars.ravel()]
    return FixedVariableArray(np.array(flat, dtype=object).reshape(x.shape), x.solver_options)


def _check_widths(graph: Graph) -> None:
    for op in graph.ops:
        if isinstance(op, Dense) and int(np.abs(op.weight).max(initial=0)) >= 2**_MAX_WEIGHT_BITS:
            raise CodesignError(f"{op.name}: weights wider than {_MAX_WEIGHT_BITS} bits; da4ml solves in float32")
    for name, fmt in ((op.name, op.output_format) for op in graph.ops):
        if fmt.width > _MAX_EXACT_BITS:
            raise CodesignError(f"{name}: {fmt.width}-bit tensor exceeds {_MAX_EXACT_BITS} bits; narrow the quantizers")
