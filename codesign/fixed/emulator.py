"""The bit-exact emulator of a fixed-point graph: integer numpy, vectorised over events.

Counts are integer-valued float64 (see `fixed_format`): dense layers are BLAS matrix products,
exact because every format, accumulators included, is at most 52 bits wide.  Large batches are
cut into cache-sized chunks run on parallel threads (numpy releases the GIL).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits

from codesign.fixed.graph import Dense, Graph, Quantize, Reshape

CHUNK_EVENTS = 4096


def emulate_ints(graph: Graph, x_counts: np.ndarray, threads: int = 2) -> np.ndarray:
    """Run `graph` on inputs given as counts of `graph.input_format`; returns int64 output counts."""
    x = np.asarray(x_counts, dtype=np.float64)
    # one BLAS thread per chunk: our threads already use the cores, nested BLAS threads only contend
    with threadpool_limits(1, user_api="blas"):
        if len(x) <= CHUNK_EVENTS or threads <= 1:
            return _run(graph, x).astype(np.int64)
        chunks = range(0, len(x), CHUNK_EVENTS)
        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(lambda start: _run(graph, x[start : start + CHUNK_EVENTS]), chunks))
    return np.concatenate(parts).astype(np.int64)


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
        elif isinstance(op, Reshape):
            values = values.reshape(len(values), *op.shape)
        fmt = op.output_format
    return values


def _dense(op: Dense, values: np.ndarray, frac_in: int) -> np.ndarray:
    frac = op.output_format.frac
    products = values @ op.weight.astype(np.float64)
    bias = op.bias.astype(np.float64) * 2.0 ** (frac - op.bias_format.frac)
    return products * 2.0 ** (frac - frac_in - op.weight_format.frac) + bias
