"""Tracing a fixed-point graph into da4ml combinational logic, bit for bit equal to `emulate_ints`.

Dense layers become constant matrix-vector multiplies (da4ml's adder-graph solver, CMVM) on the
integer weights, scaled by their LSB, plus the bias; a Conv2D is the same multiply on every window,
gathered from the traced array by the graph's index map (im2col; one CMVM per output pixel).  Max
pooling is a tree of comparisons (da4ml's ``max_of``), average pooling the window sum scaled by the
power of two of its size (exact), upsampling a gather.  Quantize ops become da4ml casts; da4ml rounds
only by truncation or half up, so ties-to-even (`RND_CONV`) is built from primitives: the bit that
becomes the result's LSB breaks the tie, ``floor((x + half - lsb_in + bit * lsb_in) / lsb_out)``.
"""

from __future__ import annotations

import hashlib
from functools import reduce
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction

import numpy as np
from da4ml.cmvm.types import CombLogic, Pipeline
from da4ml.trace import FixedVariable, FixedVariableArray, FixedVariableArrayInput, HWConfig, comb_trace

from codesign.errors import CodesignError
from codesign.fixed.fixed_format import FixedFormat
from codesign.fixed.graph import Conv2D, Dense, Graph, Pool2D, Quantize, Reshape, Scale, Upsample2D, gather
from codesign.rtl.interpret import run_pipeline

#: da4ml's default hardware model: cost counts adder bits (~LUTs), latency counts adders in series.
HW_CONFIG = HWConfig(adder_size=1, carry_size=-1, latency_cutoff=-1)
#: Adder levels the CMVM solver may add per Dense beyond the minimum to save adders (da4ml's default).
DELAY_CONSTRAINT = 2
#: Kernels with more nonzero CSD digits than this are solved once without decomposition instead of trying every
#: decomposition depth (da4ml's default search, five solves).  Measured (CPU s, da4ml LUTs) on a 57x64 kernel of
#: 12-bit weights on 16-bit inputs (13,810 digits): the search 147 s; one solve at the default depth 50 s, 119.5k;
#: without decomposition 23 s, 125.7k.  AXOL1TL's largest kernel has 1,085 digits and keeps the search.
SEARCH_DIGITS = 2048
#: The widest integer weight the solver handles exactly: it takes the kernel as float32.
_MAX_WEIGHT_BITS = 24
#: Traces kept in memory, keyed by the graph's JSON: pipelining one graph for several clocks traces it once.
_TRACES_KEPT = 8
_TRACES: dict[tuple[str, int], CombLogic] = {}


def kif(fmt: FixedFormat) -> tuple[int, int, int]:
    """da4ml's (keep_negative, integer bits without the sign, fractional bits) of a format."""
    return int(fmt.signed), fmt.integer - int(fmt.signed), fmt.frac


def trace_graph(graph: Graph, delay_constraint: int = DELAY_CONSTRAINT) -> CombLogic:
    """The graph as da4ml combinational logic on flat (row-major) inputs and outputs; memoised."""
    _check_weights(graph)
    key = (hashlib.sha256(graph.to_json().encode()).hexdigest(), delay_constraint)
    return memoised(key, lambda: _trace(graph, delay_constraint))


def memoised(key: tuple[str, int], build: Callable[[], CombLogic]) -> CombLogic:
    """The trace stored under `key`, built once (the last `_TRACES_KEPT` are kept)."""
    if key not in _TRACES:
        if len(_TRACES) >= _TRACES_KEPT:
            del _TRACES[next(iter(_TRACES))]
        _TRACES[key] = build()
    return _TRACES[key]


def _trace(graph: Graph, delay_constraint: int) -> CombLogic:
    n_in = int(np.prod(graph.input_shape))
    inputs = FixedVariableArrayInput(n_in, hwconf=HW_CONFIG, solver_options={"hard_dc": delay_constraint})
    x = inputs.quantize(*kif(graph.input_format)).reshape(graph.input_shape)
    return comb_trace(inputs, trace_network(x, graph).ravel(), keep_dead_inputs=True)


def trace_network(x: FixedVariableArray, graph: Graph) -> FixedVariableArray:
    """The graph's operations on traced inputs of its input format."""
    fmt = graph.input_format
    for op in graph.ops:
        if isinstance(op, Dense):
            x = _explicit(_dense(x, op), op)
        elif isinstance(op, Scale):
            x = _scale(x, op)
        elif isinstance(op, Quantize):
            x = _elementwise(x, lambda v, q=op, frac=fmt.frac: cast(v, frac, q.output_format, q.relu))
        elif isinstance(op, Conv2D):
            x = _explicit(_conv(x, op), op)
        elif isinstance(op, Pool2D):
            x = _pool(x, op)
        elif isinstance(op, Upsample2D):
            x = FixedVariableArray(gather(x._vars, op.indices(x.shape[:2]), None)[..., 0, :], x.solver_options)
        elif isinstance(op, Reshape):
            x = x.reshape(op.shape)
        fmt = op.output_format
    return x


def cast(v: FixedVariable, frac_in: int, fmt: FixedFormat, relu: bool = False) -> FixedVariable:
    """`fmt.requantize(v, frac_in)` of a traced value, after an optional ReLU."""
    if relu and v.high <= 0:
        v = FixedVariable.from_const(0, hwconf=v.hwconf)
    elif relu and v.low < 0:
        v = v.relu()
    if v.low == v.high:
        count = int(Fraction(v.low) * Fraction(2) ** frac_in)
        value = int(fmt.requantize(np.array([count]), frac_in)[0])
        return FixedVariable.from_const(value * 2.0**-fmt.frac, hwconf=v.hwconf)
    k, i, f = kif(fmt)
    f_in = v.kif[2]  # the value's own grid, which may be coarser than frac_in
    if f_in > f and fmt.rounding == "RND":
        v = v + 2.0 ** (-f - 1)
    elif f_in > f and fmt.rounding == "RND_CONV":
        bit = v.quantize(0, 1 - f, f)  # the bit that becomes the result's LSB: 0 or 2**-f
        v = (v + (2.0 ** (-f - 1) - 2.0**-f_in)) + bit * 2.0 ** (f - f_in)
    if fmt.overflow == "WRAP" and not fmt.signed and v.low < 0:
        return _wrap_unsigned(v, i, f)
    return v.quantize(k, i, f, overflow_mode=fmt.overflow, round_mode="TRN")


def _wrap_unsigned(v: FixedVariable, i: int, f: int) -> FixedVariable:
    """Truncate, then keep `i + f` bits as unsigned: what da4ml's `quantize` builds, but without its
    cap of the integer bits at the source's plus one, which loses the sign extension of negative values."""
    f = min(f, v.kif[2])
    if i + f <= 0:
        return FixedVariable.from_const(0, hwconf=v.hwconf)
    step = Decimal(2) ** -f
    return FixedVariable(0, Decimal(2) ** i - step, step, latency=v.latency, hwconf=v.hwconf, opr="wrap",
                         _from=(v,), _factor=abs(v._factor))


def run_logic(logic: CombLogic | Pipeline, graph: Graph, x_ints: np.ndarray) -> np.ndarray:
    """Integer inputs (counts of graph.input_format) through the logic, stage by stage, to output counts.

    Evaluated exactly by `codesign.rtl.interpret` (not da4ml's C++ interpreter, wrong above 32 bits).
    """
    x_ints = np.asarray(x_ints)
    fmt_in, fmt_out = graph.input_format, graph.output_format
    if x_ints.shape[1:] != tuple(graph.input_shape):
        raise CodesignError(f"inputs have shape {x_ints.shape[1:]}, the graph expects {tuple(graph.input_shape)}")
    if x_ints.size and (x_ints.min() < fmt_in.min_int or x_ints.max() > fmt_in.max_int):
        raise CodesignError(f"input counts outside {fmt_in.hls()}: [{fmt_in.min_int}, {fmt_in.max_int}]")
    flat = x_ints.reshape(len(x_ints), -1).astype(np.int64)
    out = run_pipeline(logic, flat, fmt_in.frac, fmt_out.frac)
    return out.reshape(len(x_ints), *graph.output_shape)


def csd_digits(weight: np.ndarray) -> int:
    """Nonzero digits of the integer weights in canonical signed digits (NAF): popcount(n ^ 3n) each."""
    return sum(bin(n ^ (3 * n)).count("1") for n in np.abs(weight.astype(np.int64)).ravel().tolist())


def solver_options(x: FixedVariableArray, weight: np.ndarray) -> dict:
    """`x`'s CMVM solver options for `weight`: da4ml's search over decomposition depths up to SEARCH_DIGITS."""
    large = csd_digits(weight) > SEARCH_DIGITS
    return {**x.solver_options, "decompose_dc": -1 if large else -2, "search_all_decompose_dc": not large}


def _dense(x: FixedVariableArray, op: Dense) -> FixedVariableArray:
    x = FixedVariableArray(x._vars, solver_options(x, op.weight))
    product = (x @ op.weight.astype(np.float64)) * 2.0**-op.weight_format.frac
    return product + op.bias.astype(np.float64) * 2.0**-op.bias_format.frac


def _explicit(x: FixedVariableArray, op: Dense | Conv2D) -> FixedVariableArray:
    """The exact sums cast to an explicit accumulator, then to an explicit result (as the emulator)."""
    frac = op.exact_format.frac
    for fmt in (op.accum, op.result):
        if fmt is not None:
            x = _elementwise(x, lambda v, fmt=fmt, frac=frac: cast(v, frac, fmt))
            frac = fmt.frac
    return x


def _conv(x: FixedVariableArray, op: Conv2D) -> FixedVariableArray:
    cols = gather(x._vars, op.window.indices(x.shape[:2]), 0.0)  # (oh, ow, kh * kw, cin); constant 0 padding
    rows = FixedVariableArray(cols.reshape(-1, op.matrix.shape[0]), x.solver_options)
    product = (rows @ op.matrix.astype(np.float64)) * 2.0**-op.weight_format.frac
    out = product + op.bias.astype(np.float64) * 2.0**-op.bias_format.frac
    return out.reshape((*cols.shape[:2], op.n_out))


def _pool(x: FixedVariableArray, op: Pool2D) -> FixedVariableArray:
    """Per output pixel and channel, the window's elements (the padding left out: the graph allows it for
    max pooling only, where it never wins)."""
    indices = op.window.indices(x.shape[:2])
    pixels = x._vars.reshape(-1, x.shape[2])
    out = np.empty((*indices.shape[:2], x.shape[2]), dtype=object)
    for i, j, c in np.ndindex(out.shape):
        values = [pixels[k, c] for k in indices[i, j] if k < len(pixels)]
        if op.kind == "max":
            out[i, j, c] = reduce(lambda a, b: a.max_of(b), values)
        else:  # the exact average: n = 2**k elements (checked by the graph)
            out[i, j, c] = reduce(lambda a, b: a + b, values) * 2.0 ** -(len(values).bit_length() - 1)
    return FixedVariableArray(out, x.solver_options)


def _scale(x: FixedVariableArray, op: Scale) -> FixedVariableArray:
    """Per channel (last axis) ``x * s + b``: constant multiplications (shift-adds) and a constant add."""
    scale = op.weight.astype(np.float64) * 2.0**-op.weight_format.frac  # exact: at most BN_BITS bits
    shift = op.bias.astype(np.float64) * 2.0**-op.bias_format.frac
    return x * scale + shift


def _elementwise(x: FixedVariableArray, fn: Callable[[FixedVariable], FixedVariable]) -> FixedVariableArray:
    flat = [fn(v) for v in x._vars.ravel()]
    return FixedVariableArray(np.array(flat, dtype=object).reshape(x.shape), x.solver_options)


def _check_weights(graph: Graph) -> None:
    for op in graph.ops:
        if isinstance(op, Dense) and int(np.abs(op.weight).max(initial=0)) >= 2**_MAX_WEIGHT_BITS:
            raise CodesignError(f"{op.name}: weights wider than {_MAX_WEIGHT_BITS} bits; da4ml solves in float32")
