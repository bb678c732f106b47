"""The fixed-point graph (FPG): the one description every downstream path is generated from.

A graph is a chain of operations on integer tensors with explicit formats.  Each operation
carries its output format; the emulator, the hls4ml configuration and the RTL all read the
formats from here and nowhere else.

Operations:

* `Dense`: ``y = x @ W + b`` with integer weights, computed exactly (its output format is the
  exact accumulator: no rounding, no overflow);
* `Scale`: ``y = x * s + b`` per channel (last axis) with integer scale and shift, computed exactly
  (inference-time BatchNormalization, with its own precision for `s` and `b`);
* `Quantize`: cast to a format with rounding/overflow, optionally after a ReLU (QKeras
  `quantized_bits` / `quantized_relu`, also the cast of the graph input);
* `Reshape`: a change of shape only;
* `Conv2D`: a 2-D convolution over channels-last (height, width, channels) tensors with integer weights
  (kernel ``(kh, kw, cin, cout)`` as Keras stores it), computed exactly like `Dense` on the window's
  elements (im2col: ``y[p] = window(x, p) @ W + b``);
* `Pool2D`: max or average over windows (per channel).  The average is the exact sum with
  ``log2(n)`` more fractional bits: only windows of ``n = 2**k`` input elements are accepted, so the
  division is exact and multiplier-free (hls4ml's ``avg``: sum in ``accum_t``, ``/= n``, cast);
* `Upsample2D`: nearest-neighbour upsampling by integer factors.

The window geometry (sizes, strides, Keras' ``valid``/``same`` padding) is written once, in `Window`:
its index map (`Window.indices`) is what the emulator gathers on numbers and the RTL tracer on
traced variables (`gather`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from math import ceil
from typing import Union

import numpy as np

from codesign.errors import CodesignError
from codesign.fixed.fixed_format import FixedFormat, exact_sum_format


@dataclass(frozen=True)
class Window:
    """A 2-D sliding window over (height, width), with Keras' `valid` / `same` padding."""

    size: tuple[int, int]
    strides: tuple[int, int]
    padding: str = "valid"

    def __post_init__(self) -> None:
        if self.padding not in ("valid", "same"):
            raise CodesignError(f"padding {self.padding!r} is not supported; use 'valid' or 'same'")
        if min(*self.size, *self.strides) < 1:
            raise CodesignError(f"window {self.size} with strides {self.strides} must be positive")

    def out_size(self, in_hw: tuple[int, int]) -> tuple[int, int]:
        if self.padding == "same":
            return tuple(ceil(n / s) for n, s in zip(in_hw, self.strides))
        out = tuple((n - k) // s + 1 for n, k, s in zip(in_hw, self.size, self.strides))
        if min(out) < 1:
            raise CodesignError(f"a {self.size} window does not fit a {in_hw} input with 'valid' padding")
        return out

    def pads(self, in_hw: tuple[int, int]) -> tuple[int, int]:
        """(top, left) padding; Keras puts the odd one at the bottom / right."""
        out = self.out_size(in_hw)
        return tuple(max((o - 1) * s + k - n, 0) // 2 for o, s, k, n in zip(out, self.strides, self.size, in_hw))

    def indices(self, in_hw: tuple[int, int]) -> np.ndarray:
        """(out_h, out_w, kh * kw) flat pixel indices ``h * W + w`` of each window, row-major over the
        window; ``H * W`` marks a position in the padding."""
        (oh, ow), (top, left), (kh, kw) = self.out_size(in_hw), self.pads(in_hw), self.size
        rows = np.arange(oh)[:, None] * self.strides[0] + np.arange(kh)[None, :] - top  # (oh, kh)
        cols = np.arange(ow)[:, None] * self.strides[1] + np.arange(kw)[None, :] - left  # (ow, kw)
        r, c = rows[:, None, :, None], cols[None, :, None, :]
        inside = (r >= 0) & (r < in_hw[0]) & (c >= 0) & (c < in_hw[1])
        return np.where(inside, r * in_hw[1] + c, in_hw[0] * in_hw[1]).reshape(oh, ow, kh * kw)


def gather(x: np.ndarray, indices: np.ndarray, fill) -> np.ndarray:
    """Window elements of ``x`` (..., H, W, C) -> (..., out_h, out_w, k, C), `fill` in the padding.

    Works on numbers (the emulator) and on object arrays of traced variables (the RTL)."""
    *lead, h, w, c = x.shape
    flat = x.reshape(*lead, h * w, c)
    pad = np.full((*lead, 1, c), fill, dtype=x.dtype)
    return np.concatenate([flat, pad], axis=-2)[..., indices, :]


@dataclass
class _Affine:
    """What Dense and Conv2D share: integer weights and bias, and the accumulator / result formats."""

    name: str
    weight: np.ndarray  # int64 counts of weight_format's LSB (Dense: (n_in, n_out); Conv2D: (kh, kw, cin, cout))
    weight_format: FixedFormat
    bias: np.ndarray  # int64 (n_out,), counts of bias_format's LSB (zeros when the layer has none)
    bias_format: FixedFormat
    accum: FixedFormat | None = None  # an explicit accumulator (hls4ml's accum_t); None: exact
    result: FixedFormat | None = None  # an explicit result (hls4ml's result_t); None: the accumulator
    exact_format: FixedFormat = field(init=False)  # set by Graph: the exact sum
    accum_format: FixedFormat = field(init=False)  # `accum`, else exact
    output_format: FixedFormat = field(init=False)  # `result`, else the accumulator

    @property
    def accum_holds(self) -> bool:
        """Whether the explicit accumulator holds every exact sum (signed, at least its integer bits; its grid is
        never coarser): then it never wraps, and the sum on its grid is exact."""
        accum, exact = self.accum, self.exact_format
        return accum is not None and accum.signed and accum.integer >= exact.integer

    @property
    def sum_format(self) -> FixedFormat:
        """The exact sum on the grid of an accumulator that holds it (`accum_holds`), else the exact sum."""
        exact = self.exact_format
        return FixedFormat(self.accum.frac + exact.integer, exact.integer) if self.accum_holds else exact


@dataclass
class Dense(_Affine):
    @property
    def n_out(self) -> int:
        return self.weight.shape[1]


@dataclass
class Scale:
    name: str
    weight: np.ndarray  # int64 (n,), the per-channel scale, counts of weight_format's LSB
    weight_format: FixedFormat
    bias: np.ndarray  # int64 (n,), the per-channel shift, counts of bias_format's LSB
    bias_format: FixedFormat
    exact_format: FixedFormat = field(init=False)  # set by Graph
    output_format: FixedFormat = field(init=False)  # set by Graph: exact

    @property
    def n_out(self) -> int:
        return len(self.weight)


@dataclass
class Quantize:
    name: str
    output_format: FixedFormat | None  # None: keep the incoming format (an exact ReLU)
    relu: bool = False


@dataclass
class Reshape:
    name: str
    shape: tuple[int, ...]
    output_format: FixedFormat = field(init=False)


@dataclass
class Conv2D(_Affine):
    strides: tuple[int, int] = (1, 1)
    padding: str = "valid"

    @property
    def window(self) -> Window:
        return Window(tuple(self.weight.shape[:2]), tuple(self.strides), self.padding)

    @property
    def matrix(self) -> np.ndarray:
        """The kernel as the (kh * kw * cin, cout) matrix applied to each window (im2col order)."""
        return self.weight.reshape(-1, self.weight.shape[3])

    @property
    def n_out(self) -> int:
        return self.weight.shape[3]


@dataclass
class Pool2D:
    name: str
    kind: str  # "max" or "average"
    window: Window
    output_format: FixedFormat = field(init=False)  # set by Graph
    accum_format: FixedFormat = field(init=False)  # the exact window sum (average) or the input format (max)


@dataclass
class Upsample2D:
    name: str
    factor: tuple[int, int]
    output_format: FixedFormat = field(init=False)

    def indices(self, in_hw: tuple[int, int]) -> np.ndarray:
        """(out_h, out_w, 1) flat input pixel of each output pixel (nearest)."""
        rows = np.arange(in_hw[0] * self.factor[0]) // self.factor[0]
        cols = np.arange(in_hw[1] * self.factor[1]) // self.factor[1]
        return (rows[:, None] * in_hw[1] + cols[None, :])[..., None]


Op = Union[Dense, Scale, Quantize, Reshape, Conv2D, Pool2D, Upsample2D]
WEIGHTED = (Dense, Scale, Conv2D)


@dataclass
class Graph:
    """A chain of fixed-point operations from one input tensor to one output tensor."""

    name: str
    input_shape: tuple[int, ...]
    input_format: FixedFormat
    ops: list[Op]

    def __post_init__(self) -> None:
        self._infer_formats()

    def _infer_formats(self) -> None:
        """Output formats and shapes: exact accumulators for weighted ops from the value ranges flowing in."""
        fmt, shape = self.input_format, tuple(self.input_shape)
        self.output_shapes: list[tuple[int, ...]] = []  # of every op, in order
        for op in self.ops:
            if isinstance(op, WEIGHTED):
                op.exact_format = op.output_format = _accumulator(op, fmt, shape)
                if isinstance(op, _Affine):
                    op.accum_format = _explicit_accumulator(op) if op.accum else op.exact_format
                    op.output_format = op.result or op.accum_format
                shape = _conv_shape(op, shape) if isinstance(op, Conv2D) else (*shape[:-1], op.n_out)
            elif isinstance(op, Pool2D):
                shape = _pool(op, fmt, shape)
            elif isinstance(op, Upsample2D):
                _check_image(op.name, shape)
                op.output_format = fmt
                shape = (shape[0] * op.factor[0], shape[1] * op.factor[1], shape[2])
            elif isinstance(op, Reshape):
                op.output_format = fmt
                shape = op.shape
            elif op.output_format is None:
                op.output_format = fmt
            fmt = op.output_format
            self.output_shapes.append(tuple(shape))
        self.output_shape = shape
        self.output_format = fmt

    @property
    def max_width(self) -> int:
        """The widest format a value takes anywhere in the graph, exact sums included, accumulators that hold
        them not (decides the emulator's number type)."""
        formats = [self.input_format]
        for op in self.ops:
            if isinstance(op, _Affine):
                formats += [op.sum_format, *(f for f in (not op.accum_holds and op.accum, op.result) if f)]
            else:
                formats.append(op.output_format)
        return max(fmt.width for fmt in formats)

    def formats(self) -> list[tuple[str, FixedFormat]]:
        """(name, output format) of the input and of every operation, in order."""
        return [("input", self.input_format)] + [(op.name, op.output_format) for op in self.ops]

    def to_json(self) -> str:
        """A deterministic description (formats and integer weights) for reports and diffs."""
        ops = []
        for op in self.ops:
            entry = {"type": type(op).__name__, "name": op.name, "output_format": op.output_format.to_dict()}
            if isinstance(op, WEIGHTED):
                entry |= {
                    "weight_format": op.weight_format.to_dict(), "weight": op.weight.tolist(),
                    "bias_format": op.bias_format.to_dict(), "bias": op.bias.tolist(),
                }
                if isinstance(op, Conv2D):
                    entry |= {"strides": list(op.strides), "padding": op.padding}
                if isinstance(op, _Affine):
                    entry |= {key: fmt.to_dict() for key, fmt in (("accum", op.accum), ("result", op.result)) if fmt}
            elif isinstance(op, Quantize):
                entry["relu"] = op.relu
            elif isinstance(op, Pool2D):
                entry |= {"kind": op.kind, "size": list(op.window.size), "strides": list(op.window.strides),
                          "padding": op.window.padding}
            elif isinstance(op, Upsample2D):
                entry["factor"] = list(op.factor)
            else:
                entry["shape"] = list(op.shape)
            ops.append(entry)
        return json.dumps(
            {"name": self.name, "input_shape": list(self.input_shape), "input_format": self.input_format.to_dict(),
             "ops": ops}, indent=1, sort_keys=True,
        )


def _accumulator(op: Dense | Scale | Conv2D, fmt: FixedFormat, shape: tuple[int, ...]) -> FixedFormat:
    """The exact format of ``x @ W + b`` (``x * s + b`` for a Scale) for inputs of format `fmt`."""
    n_in = op.weight.shape[2] if isinstance(op, Conv2D) else op.weight.shape[0]
    if isinstance(op, Conv2D):
        _check_image(op.name, shape)
    if shape[-1] != n_in:
        raise ValueError(f"{op.name}: expects {n_in} inputs, gets {shape[-1]}")
    frac = max(fmt.frac + op.weight_format.frac, op.bias_format.frac)
    largest_input = max(abs(fmt.min_int), abs(fmt.max_int))
    product_shift, bias_shift = frac - fmt.frac - op.weight_format.frac, frac - op.bias_format.frac
    # the largest sum of |weights| into one output (a Dense column, a kernel, a Scale channel), exact ints
    weights = np.abs(op.matrix if isinstance(op, Conv2D) else op.weight).astype(object)
    weight_sum = int(np.max(weights if isinstance(op, Scale) else weights.sum(axis=0), initial=0))
    bound = weight_sum * largest_input << product_shift
    bound += int(np.abs(op.bias).max(initial=0)) << bias_shift
    return exact_sum_format(bound, frac)


def _explicit_accumulator(op: _Affine) -> FixedFormat:
    """An explicit accumulator the emulator reproduces exactly: every product and the bias lie on its grid
    (no per-product rounding) and it wraps (hls4ml adds one product at a time: a saturating accumulator's
    result depends on that order, a wrapping one's does not: it is the exact sum modulo 2**width)."""
    accum, exact = op.accum, op.exact_format
    if accum.frac < exact.frac:
        raise CodesignError(f"{op.name}: accumulator {accum.hls()} has {accum.frac} fractional bits, fewer than the"
                            f" products' {exact.frac}; give it at least {exact.frac} (e.g. ap_fixed<{exact.frac + accum.integer},"
                            f"{accum.integer}>) or leave it exact")
    if accum.overflow != "WRAP":
        raise CodesignError(f"{op.name}: accumulator {accum.hls()} saturates after every addition, in hls4ml's order;"
                            " use AP_WRAP (the ap_fixed default) or leave it exact")
    return accum


def _check_image(name: str, shape: tuple[int, ...]) -> None:
    if len(shape) != 3:
        raise CodesignError(f"{name}: expects (height, width, channels) inputs, gets shape {shape}; add a Reshape")


def _conv_shape(op: Conv2D, shape: tuple[int, ...]) -> tuple[int, ...]:
    return (*op.window.out_size(shape[:2]), op.n_out)


def _pool(op: Pool2D, fmt: FixedFormat, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Set the pool's formats; returns its output shape.  Refuses what has no exact multiplier-free image."""
    _check_image(op.name, shape)
    inside = op.window.indices(shape[:2]) < shape[0] * shape[1]
    counts = inside.sum(axis=-1)
    if op.kind == "max":
        if not fmt.signed and not inside.all():
            raise CodesignError(f"{op.name}: max pooling over padding of an unsigned input pads with hls4ml's"
                                " 'most negative' value, which is the MSB of an unsigned type; use padding='valid'")
        op.accum_format = op.output_format = fmt
    elif op.kind == "average":
        n = int(counts.max())
        if n & (n - 1) or not (counts == n).all():
            raise CodesignError(f"{op.name}: average pooling over windows of {sorted(set(counts.ravel().tolist()))}"
                                " elements; only windows of a power-of-two number of elements (not cut by 'same'"
                                " padding) divide exactly without multipliers: use pool sizes like (2, 2), (2, 4)")
        extra = n.bit_length() - 1
        op.accum_format = FixedFormat(fmt.width + 2 * extra, fmt.integer + extra, fmt.signed)
        op.output_format = FixedFormat(fmt.width + extra, fmt.integer, fmt.signed)
    else:
        raise ValueError(f"{op.name}: unknown pooling {op.kind!r}")
    return (*op.window.out_size(shape[:2]), shape[2])
