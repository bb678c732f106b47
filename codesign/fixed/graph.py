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
* `Reshape`: a change of shape only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Union

import numpy as np

from codesign.fixed.fixed_format import FixedFormat, exact_sum_format


@dataclass
class Dense:
    name: str
    weight: np.ndarray  # int64 (n_in, n_out), counts of weight_format's LSB
    weight_format: FixedFormat
    bias: np.ndarray  # int64 (n_out,), counts of bias_format's LSB (zeros when the layer has none)
    bias_format: FixedFormat
    output_format: FixedFormat = field(init=False)  # set by Graph: the exact accumulator

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


Op = Union[Dense, Scale, Quantize, Reshape]


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
        """Exact accumulator formats for Dense ops from the value ranges flowing into them."""
        fmt, shape = self.input_format, self.input_shape
        for op in self.ops:
            if isinstance(op, (Dense, Scale)):
                if shape[-1] != op.weight.shape[0]:
                    raise ValueError(f"{op.name}: expects {op.weight.shape[0]} inputs, gets {shape[-1]}")
                frac = max(fmt.frac + op.weight_format.frac, op.bias_format.frac)
                largest_input = max(abs(fmt.min_int), abs(fmt.max_int))
                product_shift, bias_shift = frac - fmt.frac - op.weight_format.frac, frac - op.bias_format.frac
                # the largest sum of |weights| into one output (a Dense column, a Scale channel), exact ints
                weights = np.abs(op.weight).astype(object)
                weight_sum = int(np.max(weights.sum(axis=0) if isinstance(op, Dense) else weights, initial=0))
                bound = weight_sum * largest_input << product_shift
                bound += int(np.abs(op.bias).max(initial=0)) << bias_shift
                op.output_format = exact_sum_format(bound, frac)
                shape = (*shape[:-1], op.n_out)
            elif isinstance(op, Reshape):
                op.output_format = fmt
                shape = op.shape
            elif op.output_format is None:
                op.output_format = fmt
            fmt = op.output_format
        self.output_shape = shape
        self.output_format = fmt

    @property
    def max_width(self) -> int:
        """The widest format anywhere in the graph (decides the emulator's number type)."""
        return max(fmt.width for _, fmt in self.formats())

    def formats(self) -> list[tuple[str, FixedFormat]]:
        """(name, output format) of the input and of every operation, in order."""
        return [("input", self.input_format)] + [(op.name, op.output_format) for op in self.ops]

    def to_json(self) -> str:
        """A deterministic description (formats and integer weights) for reports and diffs."""
        ops = []
        for op in self.ops:
            entry = {"type": type(op).__name__, "name": op.name, "output_format": op.output_format.to_dict()}
            if isinstance(op, (Dense, Scale)):
                entry |= {
                    "weight_format": op.weight_format.to_dict(), "weight": op.weight.tolist(),
                    "bias_format": op.bias_format.to_dict(), "bias": op.bias.tolist(),
                }
            elif isinstance(op, Quantize):
                entry["relu"] = op.relu
            else:
                entry["shape"] = list(op.shape)
            ops.append(entry)
        return json.dumps(
            {"name": self.name, "input_shape": list(self.input_shape), "input_format": self.input_format.to_dict(),
             "ops": ops}, indent=1, sort_keys=True,
        )
