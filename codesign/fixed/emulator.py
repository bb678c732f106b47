"""The bit-exact emulator of a fixed-point graph: integer numpy, vectorised over events.

Counts are integer-valued float64 (see `fixed_format`) while every format of the graph,
accumulators included, is at most 52 bits wide: dense layers are then BLAS matrix products, and
convolutions too, on the windows gathered by the graph's index map (im2col).  Wider
graphs run on int64 (up to 62 bits) or Python integers, still exactly (`count_dtype`).  Large
batches are cut into cache-sized chunks run on parallel threads (numpy releases the GIL).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits

from codesign.fixed.fixed_format import count_dtype
from codesign.fixed.graph import Conv2D, Dense, Graph, Pool2D, Quantize, Reshape, Scale, Upsample2D, gather

CHUNK_EVENTS = 4096


def emulate_ints(graph: Graph, x_counts: np.ndarray, threads: int = 2) -> np.ndarray:
    """Run `graph` on inputs given as counts of `graph.input_format`; returns the output counts
    (int64, or Python integers in an object array when the output format is wider than 62 bits)."""
    dtype = count_dtype(graph.max_width)
    x = np.asarray(x_counts)
    x = x.astype(dtype) if dtype == np.float64 else x.astype(np.int64).astype(dtype)  # integer counts, never floats
    # one BLAS thread per chunk: our threads already use the cores, nested BLAS threads only contend
    with threadpool_limits(1, user_api="blas"):
        if len(x) <= CHUNK_EVENTS or threads <= 1:
            out = _run(graph, x)
        else:
            chunks = range(0, len(x), CHUNK_EVENTS)
            with ThreadPoolExecutor(threads) as pool:
                out = np.concatenate(list(pool.map(lambda start: _run(graph, x[start : start + CHUNK_EVENTS]), chunks)))
    return out if graph.output_format.width > 63 else out.astype(np.int64)


def emulate(graph: Graph, x: np.ndarray) -> np.ndarray:
    """Run `graph` on real-valued inputs (cast to the input format first); float64 exact outputs."""
    return graph.output_format.to_float(emulate_ints(graph, graph.input_format.quantize(x)))


def _run(graph: Graph, values: np.ndarray) -> np.ndarray:
    fmt = graph.input_format
    for op in graph.ops:
        if isinstance(op, Dense):
            values = _dense(op, values, fmt.frac)
        elif isinstance(op, Quantize):
            if op.relu:
                values = np.maximum(values, 0.0)
            values = op.output_format.requantize(values, fmt.frac)
        elif isinstance(op, Scale):
            values = _scale(op, values, fmt.frac)
        elif isinstance(op, Conv2D):
            values = _conv(op, values, fmt.frac)
        elif isinstance(op, Pool2D):
            values = _pool(op, values, fmt)
        elif isinstance(op, Upsample2D):
            values = gather(values, op.indices(values.shape[1:3]), 0)[..., 0, :]
        elif isinstance(op, Reshape):
            values = values.reshape(len(values), *op.shape)
        fmt = op.output_format
    return values


def _dense(op: Dense, values: np.ndarray, frac_in: int) -> np.ndarray:
    return _explicit(op, _affine(op, values @ op.weight.astype(values.dtype), frac_in))


def _explicit(op: Dense | Conv2D, exact: np.ndarray) -> np.ndarray:
    """The exact sums through an explicit accumulator (wraps: see `graph._explicit_accumulator`) and result."""
    values, frac = exact, op.exact_format.frac
    for fmt in (op.accum, op.result):
        if fmt is not None:
            values, frac = fmt.requantize(values, frac), fmt.frac
    return values


def _conv(op: Conv2D, values: np.ndarray, frac_in: int) -> np.ndarray:
    """im2col: every window's (kh * kw * cin) elements as a row, times the kernel matrix."""
    cols = gather(values, op.window.indices(values.shape[1:3]), 0)  # (N, oh, ow, kh * kw, cin)
    products = cols.reshape(-1, op.matrix.shape[0]) @ op.matrix.astype(values.dtype)
    return _explicit(op, _affine(op, products.reshape(*cols.shape[:3], op.n_out), frac_in))


def _pool(op: Pool2D, values: np.ndarray, fmt) -> np.ndarray:
    """Max (the padding never wins: it holds the smallest count), or the window sum, which is the average
    on the output grid of log2(n) more fractional bits (see `graph.Pool2D`)."""
    windows = gather(values, op.window.indices(values.shape[1:3]), fmt.min_int if op.kind == "max" else 0)
    return windows.max(axis=-2) if op.kind == "max" else windows.sum(axis=-2)


def _scale(op: Scale, values: np.ndarray, frac_in: int) -> np.ndarray:
    return _affine(op, values * op.weight.astype(values.dtype), frac_in)


def _affine(op: Dense | Scale | Conv2D, products: np.ndarray, frac_in: int) -> np.ndarray:
    """``products + bias`` on the op's exact grid (every shift is a left shift: exact)."""
    frac = op.exact_format.frac
    bias = op.bias.astype(products.dtype)
    product_shift, bias_shift = frac - frac_in - op.weight_format.frac, frac - op.bias_format.frac
    if products.dtype == np.float64:
        return products * 2.0**product_shift + bias * 2.0**bias_shift
    return (products << product_shift) + (bias << bias_shift)
