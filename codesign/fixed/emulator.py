"""The bit-exact emulator of a fixed-point graph, vectorised over events.

Graphs of Quantize, Reshape, Dense and Conv2D whose values float64 holds exactly (every zoo model) run on the
fused numba kernels of `fused.py` (`_fused_stages`): one stage per weighted op with the casts around it,
wrapping accumulators included.  Other graphs (pooling, upsampling, Scale, wider values), and chunks with
inputs beyond what the kernels take, run on numpy steps: counts are integer-valued floats while every format
of the graph, accumulators included, fits the float's significand (float32 up to 23 bits, float64 up to 52:
`count_dtype`): dense layers are then BLAS matrix products, and convolutions too (`_band_matrix`).  Wider graphs
run on int64 (up to 62 bits) or Python integers, still exactly.  The graph is compiled once per call
(`_compile`); events run in chunks on parallel threads (numpy and the kernels release the GIL).
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Callable

import numpy as np
from numpy.lib.stride_tricks import as_strided
from threadpoolctl import threadpool_limits

from codesign.fixed.fixed_format import FLOAT32_BITS, FLOAT_BITS, FixedFormat, count_dtype
from codesign.fixed.graph import Conv2D, Dense, Graph, Pool2D, Quantize, Reshape, Scale, Upsample2D, gather

if TYPE_CHECKING:
    from codesign.fixed.fused import Stage

CHUNK_EVENTS = 4096
#: Until a call this large has loaded the fused kernels into the process, calls run on the numpy steps: loading
#: them from numba's cache took 3-7 s on the loaded 2-core machine (their first compilation 12 s), which the
#: CICADA v2 student's 2.5 us of CPU saved per event repay only on large calls (thresholds and metrics on the
#: reference zero bias in training and `rates`), not on synth's or verify's 10,000 vectors or on `codesign
#: emulate`'s chunks of 65,536 rows.
FUSED_MIN_EVENTS = 100_000
Step = Callable[[np.ndarray], np.ndarray]


def emulate_ints(graph: Graph, x_counts: np.ndarray, threads: int = 2) -> np.ndarray:
    """Run `graph` on inputs given as counts of `graph.input_format`; returns the output counts
    (int64, or Python integers in an object array when the output format is wider than 62 bits)."""
    x = np.asarray(x_counts)
    dtype = count_dtype(graph.max_width)
    steps = {dtype: _compile(graph, dtype)}
    if dtype == np.float32:  # for chunks with counts beyond the input format, which float32 may not hold
        steps[np.float64] = _compile(graph, np.float64)

    fused = None
    if (len(x) >= FUSED_MIN_EVENTS or "codesign.fixed.fused" in sys.modules) and x.dtype.kind in "iuf" \
            and x.dtype.itemsize >= 4:
        fused = _fused_stages(graph)

    def run(start: int) -> np.ndarray:
        values, kind = x[start : start + CHUNK_EVENTS], dtype
        if fused:
            out = values
            for n, stage in enumerate(fused):
                out = out if out is None else stage.run(out, first=n == 0)
            if out is not None:  # blocks (block, value, event) to (event, value)
                out = out.transpose(0, 2, 1).reshape(-1, out.shape[1])[: len(values)]
                return out.reshape(len(values), *graph.output_shape)
        if kind == np.float32 and values.size and max(values.max(), -values.min()) >= 2**FLOAT32_BITS:
            kind = np.float64
        # integer counts, never floats
        values = values.astype(kind) if kind != object else values.astype(np.int64).astype(object)
        for step in steps[kind]:
            values = step(values)
        return values

    # one BLAS thread per chunk: our threads already use the cores, nested BLAS threads only contend
    with threadpool_limits(1, user_api="blas"):
        chunks = range(0, len(x), CHUNK_EVENTS)
        if len(chunks) <= 1 or threads <= 1:
            outs = [run(start) for start in chunks]
        else:
            with ThreadPoolExecutor(threads) as pool:
                outs = list(pool.map(run, chunks))
    out = np.concatenate(outs) if outs else np.zeros((0, *graph.output_shape), dtype)
    return out if graph.output_format.width > 63 else out.astype(np.int64)


def emulate(graph: Graph, x: np.ndarray) -> np.ndarray:
    """Run `graph` on real-valued inputs (cast to the input format first); float64 exact outputs."""
    return graph.output_format.to_float(emulate_ints(graph, graph.input_format.quantize(x)))


def _compile(graph: Graph, dtype) -> list[Step]:
    """One function per operation, its weights shifted onto the exact grid and cast to `dtype` once."""
    steps, fmt, shape = [], graph.input_format, tuple(graph.input_shape)
    for op, out_shape in zip(graph.ops, graph.output_shapes):
        if isinstance(op, Quantize):
            steps.append(lambda v, op=op, frac=fmt.frac: op.output_format.requantize(v, frac, relu=op.relu))
        elif isinstance(op, Dense):
            steps.append(_affine(op, _shifted(op, op.weight, fmt.frac, dtype), dtype, lambda v: v))
        elif isinstance(op, Conv2D):
            steps.append(_conv(op, shape, out_shape, fmt.frac, dtype))
        elif isinstance(op, Scale):
            steps.append(_affine(op, _shifted(op, op.weight, fmt.frac, dtype), dtype, lambda v: v, product=np.multiply))
        elif isinstance(op, Pool2D):
            steps.append(lambda v, op=op, fmt=fmt: _pool(op, v, fmt))
        elif isinstance(op, Upsample2D):
            steps.append(lambda v, op=op: gather(v, op.indices(v.shape[1:3]), 0)[..., 0, :])
        elif isinstance(op, Reshape):
            steps.append(lambda v, op=op: v.reshape(len(v), *op.shape))
        fmt, shape = op.output_format, out_shape
    return steps


def _fused_stages(graph: Graph) -> list[Stage] | None:
    """The graph as `fused` kernel stages: each weighted op with the casts before it (the graph's input cast)
    and after it.  None for graphs with other operations than Quantize, Reshape, Dense and Conv2D (a Reshape
    keeps channels-last counts in order), with none of the weighted ones, or with a value float64 does not hold
    exactly."""
    from codesign.fixed.fused import acc_dtype, cast_bits, cast_row  # imports numba: only for calls that use it
    if graph.max_width > FLOAT_BITS or not all(isinstance(op, (Quantize, Reshape, Dense, Conv2D)) for op in graph.ops):
        return None
    segments: list[list] = [[]]  # the casts before the first weighted op; each weighted op and the casts after it
    for op, shape in zip(graph.ops, [tuple(graph.input_shape), *graph.output_shapes]):
        if isinstance(op, (Dense, Conv2D)):
            segments.append([(op, shape)])
        elif isinstance(op, Quantize):
            segments[-1].append(op)
    stages, fmt = [], graph.input_format
    for n, ((op, shape), *quantizes) in enumerate(segments[1:]):
        pre, post, frac, width, bits = [], [], fmt.frac, None, []  # width None: the graph's input (`in_limit`)
        for cast in segments[0] if n == 0 else []:
            pre.append(cast_row(cast.output_format, frac, cast.relu))
            bits.append(cast.output_format.width if width is None else cast_bits(width, pre[-1]))
            frac, width = cast.output_format.frac, cast.output_format.width
        frac_in, frac, width = frac, op.sum_format.frac, op.sum_format.width
        bits.append(width)
        explicit = [(f, False) for f in (None if op.accum_holds else op.accum, op.result) if f is not None]
        for cast, relu in explicit + [(q.output_format, q.relu) for q in quantizes]:
            post.append(cast_row(cast, frac, relu))
            bits.append(cast_bits(width, post[-1]))
            frac, width = cast.frac, cast.width
        if max(bits) > FLOAT_BITS:
            return None
        stages.append(_fused_stage(op, frac_in, shape, _rows(pre), _rows(post), graph.input_format if n == 0 else None))
        fmt = quantizes[-1].output_format if quantizes else op.output_format
    return stages or None


def _fused_stage(op: Dense | Conv2D, frac_in: int, shape: tuple[int, ...], pre: np.ndarray, post: np.ndarray,
                 input_format: FixedFormat | None) -> Stage:
    """The weighted op's stage: its taps, and its weights and bias on its sum grid in the summing type
    (`acc_dtype`).  `input_format`: the graph's, for its first weighted op, whose inputs must stay exact float64
    counts after the first cast's left shift (or lie in the input format when no cast comes first), else the
    chunk takes the numpy path."""
    from codesign.fixed.fused import Stage, acc_dtype

    dtype = acc_dtype(op.sum_format.width)
    if isinstance(op, Conv2D):
        idx, channels, matrix = op.window.indices(shape[:2]).reshape(-1, len(op.matrix) // shape[2]), shape[2], op.matrix
    else:
        # a Dense acts on the last axis: every position of the others is a one-tap window onto itself
        idx, channels, matrix = np.arange(int(np.prod(shape[:-1]))).reshape(-1, 1), shape[-1], op.weight
    limit = 0.0
    if input_format is not None and len(pre):
        limit = 2.0 ** (FLOAT_BITS + min(int(pre[0, 0]), 0))
    elif input_format is not None:
        limit = max(-input_format.min_int, input_format.max_int) + 1.0
    return Stage(idx.astype(np.int64), channels, np.ascontiguousarray(_shifted(op, matrix, frac_in, dtype).T),
                 _scaled(op.bias, _grid(op) - op.bias_format.frac, dtype), pre, post, limit)


def _rows(casts: list[np.ndarray]) -> np.ndarray:
    return np.array(casts, np.float64).reshape(-1, 8)


def _grid(op: Dense | Scale | Conv2D) -> int:
    """The fractional bits the op's sums are computed on (`_Affine.sum_format`; a Scale's exact sum)."""
    return (op.exact_format if isinstance(op, Scale) else op.sum_format).frac


def _shifted(op: Dense | Scale | Conv2D, weight: np.ndarray, frac_in: int, dtype) -> np.ndarray:
    """Integer weights onto the op's sum grid, as `dtype`."""
    return _scaled(weight, _grid(op) - frac_in - op.weight_format.frac, dtype)


def _scaled(ints: np.ndarray, shift: int, dtype) -> np.ndarray:
    """``ints * 2**shift`` as `dtype` (every shift onto a sum grid is a left shift: exact)."""
    if np.dtype(dtype).kind == "f":
        return ints.astype(dtype) * 2.0**shift
    return ints.astype(dtype) << shift


def _affine(op: Dense | Scale | Conv2D, matrix: np.ndarray, dtype, prepare: Step, product=np.matmul,
            finish: Step = lambda v: v) -> Step:
    """``product(prepare(x), matrix) + bias`` on the op's sum grid, then the explicit accumulator (unless it
    holds the sum: see `graph._explicit_accumulator`, it wraps) and result."""
    frac_sum = _grid(op)
    bias = _scaled(op.bias, frac_sum - op.bias_format.frac, dtype) if op.bias.any() else None
    formats = (None if op.accum_holds else op.accum, op.result) if isinstance(op, (Dense, Conv2D)) else ()
    casts = [(fmt, fmt.frac) for fmt in formats if fmt is not None]

    def step(values: np.ndarray) -> np.ndarray:
        out = finish(product(prepare(values), matrix))
        if bias is not None:
            out += bias
        frac = frac_sum
        for fmt, fmt_frac in casts:
            out, frac = fmt.requantize(out, frac), fmt_frac
        return out

    return step


def _conv(op: Conv2D, in_shape: tuple[int, ...], out_shape: tuple[int, ...], frac_in: int, dtype) -> Step:
    """The convolution as one matrix product per band of kernel-height input rows (`_band_matrix`): each
    output row is its band (kh input rows, contiguous) times the band matrix.  Rows are padded with zeros
    for 'same' padding; when the stride equals the kernel height the bands are a reshape of the input (no
    copy), else an overlapping strided view copied once."""
    (h, w, c), (oh, ow, cout), kh, sh = in_shape, out_shape, op.window.size[0], op.window.strides[0]
    top = op.window.pads((h, w))[0]
    bottom = (oh - 1) * sh + kh - top - h  # negative: 'valid' leaves the last rows out
    matrix = _shifted(op, _band_matrix(op, in_shape, out_shape), frac_in, dtype)
    band = kh * w * c

    def bands(values: np.ndarray) -> np.ndarray:
        n = len(values)
        rows = values.reshape(n, h, w * c)
        if top or bottom > 0:
            pad = np.zeros((n, top + h + max(bottom, 0), w * c), values.dtype)
            pad[:, top : top + h] = rows
            rows = pad
        rows = np.ascontiguousarray(rows[:, : (oh - 1) * sh + kh])
        if sh == kh:
            return rows.reshape(n * oh, band)
        view = as_strided(rows, (n, oh, band), (rows.strides[0], sh * rows.strides[1], rows.strides[2]), writeable=False)
        return view.reshape(n * oh, band)

    return _affine(op, matrix, dtype, bands, finish=lambda v: v.reshape(-1, oh, ow, cout))


def _band_matrix(op: Conv2D, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> np.ndarray:
    """The (kh * W * cin, out_w * cout) int64 matrix taking one band of kh input rows to one output row:
    entry ``[(a, x, ci), (j, co)]`` is the kernel's ``[a, x - (j * stride_w - left), ci, co]`` inside the
    kernel, else 0 (also where the window lies in the padding)."""
    (_, w, c), (_, ow, cout) = in_shape, out_shape
    (kh, kw), sw, left = op.window.size, op.window.strides[1], op.window.pads(in_shape[:2])[1]
    matrix = np.zeros((kh, w, c, ow, cout), np.int64)
    for j in range(ow):
        for b in range(kw):
            x = j * sw - left + b
            if 0 <= x < w:
                matrix[:, x, :, j, :] = op.weight[:, b]
    return matrix.reshape(kh * w * c, ow * cout)


def _pool(op: Pool2D, values: np.ndarray, fmt) -> np.ndarray:
    """Max (the padding never wins: it holds the smallest count), or the window sum, which is the average
    on the output grid of log2(n) more fractional bits (see `graph.Pool2D`)."""
    windows = gather(values, op.window.indices(values.shape[1:3]), fmt.min_int if op.kind == "max" else 0)
    return windows.max(axis=-2) if op.kind == "max" else windows.sum(axis=-2)
