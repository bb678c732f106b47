"""The bit-exact emulator of a fixed-point graph: integer numpy, vectorised over events.

Dense layers run as float64 matrix products (BLAS) on integer values: every partial sum is an
integer below 2**53 (checked from the formats), so float64 arithmetic is exact and much faster
than numpy's int64 matmul, which has no BLAS kernel.
"""

from __future__ import annotations

import numpy as np

from codesign.fixed.graph import Dense, Graph, Quantize, Reshape

_EXACT_FLOAT64 = 2**53


def emulate_ints(graph: Graph, x_ints: np.ndarray) -> np.ndarray:
    """Run `graph` on inputs given as integer counts of `graph.input_format`; returns output counts."""
    values = np.asarray(x_ints, dtype=np.int64)
    fmt = graph.input_format
    for op in graph.ops:
        if isinstance(op, Dense):
            values = _dense(op, values, fmt.frac)
        elif isinstance(op, Quantize):
            if op.relu:
                values = np.maximum(values, 0)
            values = op.output_format.requantize(values, fmt.frac)
        elif isinstance(op, Reshape):
            values = values.reshape(len(values), *op.shape)
        fmt = op.output_format
    return values


def emulate(graph: Graph, x: np.ndarray) -> np.ndarray:
    """Run `graph` on real-valued inputs (cast to the input format first); float64 exact outputs."""
    x_ints = graph.input_format.quantize(x)
    return graph.output_format.to_float(emulate_ints(graph, x_ints))


def _dense(op: Dense, values: np.ndarray, frac_in: int) -> np.ndarray:
    frac = op.output_format.frac
    shift = frac - frac_in - op.weight_format.frac
    bias = op.bias << (frac - op.bias_format.frac)
    if 2 ** (op.output_format.width - 1) < _EXACT_FLOAT64:
        products = values.astype(np.float64) @ op.weight.astype(np.float64)
        return (products.astype(np.int64) << shift) + bias
    return ((values @ op.weight) << shift) + bias
