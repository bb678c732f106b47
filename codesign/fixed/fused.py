"""The emulator's fused kernels: each Dense / Conv2D with the casts around it, in one numba pass per block of events.

Why hand-written kernels: numpy runs one operation at a time over a whole chunk, and on the CICADA v2 student
the element-wise casts between the products cost more than the products (one thread, CPU ns per event: input
cast 1770, band-matrix conv 1140, its ReLU cast 1010, dense 820; in float32 the steps still add up to more
than 2 us).  Here a block of `BLOCK` events is cast, summed and cast again while it is in cache, every buffer
laid out (value, event) so the innermost loops run over the block's events, the same operation on each
(vectorised).  Measured on the way (2-core AVX2 machine, shared): int32/int64 casts did not vectorise (numba
widens int32 arithmetic to int64, AVX2 has no 64-bit arithmetic shift or min), one array view per row cost more
than the row's loop, and copies between two arrays of one type are checked for overlap; so the casts run on
float64 counts over flat views (`FixedFormat.requantize`'s float path: exact below 2**52) and the products in
float32 where every partial sum of the op stays below 2**24 (`acc_dtype`, from its formats), else float64:
integers either way, so the sums are exact in any order (fastmath may reorder them).

A stage is ``post(affine(pre(x)))`` per output pixel: `pre`, the casts of the graph's input (its input cast,
before its first weighted op); `affine`, the sum of the pixel's taps (`idx`: a Conv2D's im2col map
`Window.indices`, a Dense's one pixel of all inputs) times the weights, plus the bias; `post`, the op's
explicit accumulator (wrapping) and result and the Quantize ops after it.  The emulator builds the stages
(`emulator._fused_stages`) and keeps its numpy steps for other graphs and for inputs beyond `Stage.in_limit`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codesign.cache import configure_numba_cache
from codesign.fixed.fixed_format import FixedFormat

configure_numba_cache()  # before numba is imported: its compiled kernels are cached per machine

import numba  # noqa: E402

FLOAT32_SUM_BITS = 25  # signed sums this wide (|s| < 2**24), and every partial sum of them, are exact float32
BLOCK = 32  # events per pass: a block's buffers (values, BLOCK) stay in the L2 cache, its loops are long enough
_ROUNDING = {"TRN": 0, "RND": 1, "RND_CONV": 2}


def acc_dtype(width: int):
    """The faster float in which sums of `width`-bit signed integers (partial sums included) are exact."""
    return np.float32 if width <= FLOAT32_SUM_BITS else np.float64


def cast_row(fmt: FixedFormat, frac: int, relu: bool = False) -> np.ndarray:
    """`fmt.requantize(counts, frac, relu)` as the kernel's parameters: drop (fractional bits removed; negative:
    a left shift), rounding, saturate, relu, lo, hi, width, low (the wrap's smallest count)."""
    low = -(1 << (fmt.width - 1)) if fmt.signed else 0
    return np.array([frac - fmt.frac, _ROUNDING[fmt.rounding], fmt.overflow != "WRAP", relu, fmt.min_int,
                     fmt.max_int, fmt.width, low], np.float64)


def cast_bits(width: int, row: np.ndarray) -> int:
    """The bits (sign included) of every intermediate of the cast `row` of counts of at most `width` bits."""
    return max(width + max(-int(row[0]), 0), int(row[6]))


@dataclass
class Stage:
    """One weighted op with its casts; `run` on a chunk of events."""

    idx: np.ndarray  # (out pixels, taps) int64: the input pixel of each tap; the input's pixel count marks padding
    channels: int  # input channels per pixel
    weight: np.ndarray  # (cout, taps * channels) on the sum grid, in the summing type (`acc_dtype`)
    bias: np.ndarray  # (cout,) the same
    pre: np.ndarray  # (k, 8) `cast_row`s of the graph's input, for the first stage
    post: np.ndarray  # (m, 8) `cast_row`s of every sum
    in_limit: float  # the graph's inputs must lie below this in magnitude (else `run` gives up)

    def run(self, x: np.ndarray, first: bool) -> np.ndarray | None:
        """The stage's outputs in blocks (blocks, out pixels * cout, `BLOCK` events), float64 counts, from the
        graph's inputs (events, ...) when `first`, else from the blocks of the stage before; None when the
        graph's inputs break `in_limit`."""
        x = np.ascontiguousarray(x.reshape(len(x), -1)) if first else x
        n_in, blocks = (x.shape[1], -(-len(x) // BLOCK)) if first else x.shape[1::-1]
        out = np.empty((blocks, self.idx.shape[0] * self.weight.shape[0], BLOCK))
        values, sums = np.zeros((n_in, BLOCK), self.weight.dtype), np.zeros((out.shape[1], BLOCK), self.weight.dtype)
        if first:
            return out if _first_stage(x, self.idx, self.channels, self.weight, self.bias, self.pre, self.post,
                                       self.in_limit, out, np.zeros((n_in, BLOCK)), values, sums) else None
        _stage(x, self.idx, self.channels, self.weight, self.bias, self.post, out, values, sums)
        return out


@numba.njit(nogil=True, cache=True)
def _cast(values, drop, rounding, saturate, relu, lo, hi, width, low):
    """One ap_fixed cast of the float64 counts `values` (contiguous), in place: `FixedFormat.requantize`'s float path
    (ReLU, scaling by a power of two, rounding, overflow: exact below 2**52; parameters: `cast_row`), one loop
    per step with its branches outside it (vectorised)."""
    scale, modulus = 2.0**-drop, 2.0**width
    flat = values.reshape(values.size)  # one view: a view per row costs more than its loops
    if relu:
        for i in range(flat.size):
            flat[i] = max(flat[i], 0.0)
    if drop != 0:
        for i in range(flat.size):
            flat[i] *= scale
    if drop > 0 and rounding == 0:
        for i in range(flat.size):
            flat[i] = np.floor(flat[i])
    elif drop > 0 and rounding == 1:
        for i in range(flat.size):
            flat[i] = np.floor(flat[i] + 0.5)
    elif drop > 0:
        for i in range(flat.size):
            flat[i] = np.rint(flat[i])  # ties to even
    if saturate:
        for i in range(flat.size):
            flat[i] = min(max(flat[i], lo), hi)
    else:
        for i in range(flat.size):
            flat[i] -= modulus * np.floor((flat[i] - low) / modulus)


@numba.njit(nogil=True, cache=True)
def _casts(values, rows):
    for k in range(rows.shape[0]):
        _cast(values, rows[k, 0], rows[k, 1], rows[k, 2], rows[k, 3], rows[k, 4], rows[k, 5], rows[k, 6], rows[k, 7])


@numba.njit(nogil=True, cache=True, fastmath=True)
def _products(values, idx, channels, weight, bias, sums):
    """The block's sums: ``sums[p * cout + o] = bias[o] + sum over taps t, channels c of weight[o, t * channels + c]
    * values[idx[p, t] * channels + c]`` (a tap in the padding adds nothing).  fastmath lets LLVM fuse and
    reorder: the sums are of integers whose partial sums are exact in any order."""
    cout, pixels_in = weight.shape[0], len(values) // channels
    for p in range(idx.shape[0]):
        for o in range(cout):
            for e in range(BLOCK):
                sums[p * cout + o, e] = bias[o]
        for t in range(idx.shape[1]):
            pixel = idx[p, t]
            if pixel < pixels_in:
                for c in range(channels):
                    row = pixel * channels + c
                    for o in range(cout):
                        w = weight[o, t * channels + c]
                        if w != 0:
                            for e in range(BLOCK):
                                sums[p * cout + o, e] += w * values[row, e]


@numba.njit(nogil=True, cache=True)
def _first_stage(x, idx, channels, weight, bias, pre, post, in_limit, out, raw, values, sums):
    """`Stage.run` on the graph's inputs (events, values): `BLOCK` events at a time into `raw` (value, event),
    checked against `in_limit`, cast by `pre`, then as `_stage`."""
    n, n_in = x.shape
    flat, bad = x.reshape(x.size), False
    for i in range(flat.size):  # one flat pass: vectorised
        bad |= not abs(flat[i]) < in_limit
    if bad:
        return False
    for b in range(out.shape[0]):
        start = b * BLOCK
        for i in range(n_in):  # reads 8 events' values per cache line of x, writes rows of raw
            for e in range(min(BLOCK, n - start)):
                raw[i, e] = x[start + e, i]
        _casts(raw, pre)
        _block(raw, idx, channels, weight, bias, post, values, sums, out[b])
    return True


@numba.njit(nogil=True, cache=True)
def _stage(x, idx, channels, weight, bias, post, out, values, sums):
    """`Stage.run` on the blocks of the stage before (blocks, values, `BLOCK` events)."""
    for b in range(out.shape[0]):
        _block(x[b], idx, channels, weight, bias, post, values, sums, out[b])


@numba.njit(nogil=True, cache=True)
def _block(counts, idx, channels, weight, bias, post, values, sums, out):
    """One block of float64 `counts` (value, event): in the summing type, the sums (`_products`), back to
    float64 in `out`, cast by `post`.  The innermost loops run over the block's events (vectorised)."""
    for i in range(len(counts)):
        for e in range(BLOCK):
            values[i, e] = counts[i, e]
    _products(values, idx, channels, weight, bias, sums)
    for j in range(len(out)):
        for e in range(BLOCK):
            out[j, e] = sums[j, e]
    _casts(out, post)
