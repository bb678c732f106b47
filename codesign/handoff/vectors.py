"""The bundle's test vectors: integer words of the firmware ports, as hex text, with the emulator's outputs.

A zoo model's vectors drive the whole trigger (raw hardware inputs in; network outputs, score and one
pass bit per working point out); a bare network's drive the network.  Every word is the two's-complement
bit pattern of a port value (its count of LSBs), masked to the port's width, in hex; one vector per line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codesign.errors import CodesignError
from codesign.fixed.emulator import emulate_ints
from codesign.fixed.fixed_format import FixedFormat
from codesign.zoo.loading import LoadedModel

MAX_WORD_BITS = 64  # the C++ testbench reads each word as one unsigned 64-bit number
BIT = FixedFormat(1, 1, signed=False)  # a pass bit


@dataclass(frozen=True)
class Port:
    """One array port of the top function: its name, element count and element format."""

    name: str
    size: int
    format: FixedFormat


@dataclass
class Vectors:
    """Input and expected output counts of every port (int64 arrays, one row per vector)."""

    inputs: list[Port]
    outputs: list[Port]
    input_counts: np.ndarray
    output_counts: np.ndarray

    def write(self, folder: Path) -> list[Path]:
        """`inputs.hex` and `expected.hex` in `folder`; returns them."""
        folder.mkdir(parents=True, exist_ok=True)
        files = [folder / "inputs.hex", folder / "expected.hex"]
        files[0].write_text(_hex_lines(self.input_counts, _widths(self.inputs)))
        files[1].write_text(_hex_lines(self.output_counts, _widths(self.outputs)))
        return files


def ports(model: LoadedModel) -> tuple[list[Port], list[Port]]:
    """(inputs, outputs) of the firmware top: the trigger for zoo models, else the network."""
    graph = model.graph
    n_in, n_out = int(np.prod(graph.input_shape)), int(np.prod(graph.output_shape))
    if model.chain is None:
        inputs, outputs = [Port("input", n_in, graph.input_format)], [Port("result", n_out, graph.output_format)]
    else:
        chain = model.chain
        inputs = [Port("raw", n_in, chain.scaling.raw_format)]
        outputs = [Port("network_out", n_out, graph.output_format), Port("score", 1, chain.score.format),
                   Port("pass", len(chain.thresholds), BIT)]
    for port in inputs + outputs:
        if port.format.width > MAX_WORD_BITS:
            raise CodesignError(f"port {port.name} is {port.format.width} bits wide; the bundle's testbench reads "
                                f"words of at most {MAX_WORD_BITS} bits; narrow the model's output quantizer")
    return inputs, outputs


def make_vectors(model: LoadedModel, x: np.ndarray) -> Vectors:
    """The emulator's expected outputs for inputs `x` (real values; raw hardware units for zoo models)."""
    inputs, outputs = ports(model)
    x = x.reshape(len(x), -1)
    in_counts = inputs[0].format.quantize(x)
    if model.chain is None:
        out = emulate_ints(model.graph, in_counts.reshape(len(x), *model.graph.input_shape)).reshape(len(x), -1)
        return Vectors(inputs, outputs, _int64(in_counts), _int64(out))
    chain = model.chain
    network = emulate_ints(chain.graph, chain.scaling.apply(in_counts, chain.graph.input_format)
                           .reshape(len(x), *chain.graph.input_shape)).reshape(len(x), -1)
    score = chain.score.apply(network, chain.graph.output_format)
    passes = [score > threshold for threshold in chain.thresholds.values()]
    out = np.column_stack([network, score, *passes])
    return Vectors(inputs, outputs, _int64(in_counts), _int64(out))


def _int64(counts: np.ndarray) -> np.ndarray:
    return np.asarray(counts).astype(np.int64)


def _widths(ports_: list[Port]) -> np.ndarray:
    return np.concatenate([np.full(p.size, p.format.width) for p in ports_])


def _hex_lines(counts: np.ndarray, widths: np.ndarray) -> str:
    """Rows of counts as space-separated hex words of their widths (two's complement, masked)."""
    masks = np.array([(1 << int(w)) - 1 for w in widths], dtype=np.uint64)
    words = counts.view(np.uint64) & masks
    digits = [(int(w) + 3) // 4 for w in widths]
    return "".join(" ".join(f"{v:0{d}x}" for v, d in zip(row, digits)) + "\n" for row in words.tolist())
