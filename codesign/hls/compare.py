"""Edge-case input vectors and the bit-for-bit comparison of the emulator with the hls4ml C simulation."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codesign.cache import cached_array
from codesign.errors import CodesignError
from codesign.fixed.emulator import emulate_ints
from codesign.fixed.graph import Conv2D, Dense, Graph, Pool2D, Quantize, Reshape, Upsample2D
from codesign.verify.vectors import overrange_counts, sensitivity_counts

FIRST_SHOWN = 10
TIES_PER_CAST = 256
TIE_CANDIDATES = 16384
WITNESSES_PER_END = 2  # per saturating cast and end
NEIGHBOURS = 9  # per witness: copies one LSB away on random inputs


@dataclass(frozen=True)
class CompareResult:
    """How many vectors were compared, how many differ, and which differ first."""

    vectors: int
    mismatches: int
    first_mismatches: np.ndarray  # indices of the first mismatching vectors (at most FIRST_SHOWN)
    saved: Path | None = None  # the .npz holding the first mismatching vectors, when any were saved
    max_deviation_lsb: float | None = None  # the largest |difference| in output LSBs, when an LSB was given

    @property
    def equal(self) -> bool:
        return self.mismatches == 0

    def summary(self) -> str:
        if self.equal:
            return f"{self.vectors} vectors, all bit-exact"
        where = f"; saved to {self.saved}" if self.saved else ""
        return f"{self.mismatches} of {self.vectors} vectors differ (first: {self.first_mismatches.tolist()}){where}"


def compare(
    emulator_out: np.ndarray, csim_out: np.ndarray, inputs: np.ndarray, save_to: Path | None = None,
    n_saved: int = 100, lsb: float | None = None,
) -> CompareResult:
    """Compare outputs exactly, vector by vector; the first `n_saved` mismatching vectors go to `save_to` (.npz).

    With `lsb` (the outputs' LSB), also the largest deviation in LSBs."""
    emulator_out, csim_out = np.asarray(emulator_out), np.asarray(csim_out)
    if emulator_out.shape != csim_out.shape or len(inputs) != len(emulator_out):
        raise CodesignError(
            f"cannot compare outputs {emulator_out.shape} with {csim_out.shape} for {len(inputs)} input vectors"
        )
    differ = np.flatnonzero((emulator_out != csim_out).reshape(len(emulator_out), -1).any(axis=1))
    saved = None
    if len(differ) and save_to is not None:
        first = differ[:n_saved]
        saved = Path(save_to)
        inputs = np.asarray(inputs)
        np.savez(saved, index=first, inputs=inputs[first], emulator=emulator_out[first], csim=csim_out[first])
    deviation = None
    if lsb is not None:
        diff = np.abs(emulator_out.astype(np.float64) - csim_out.astype(np.float64))
        deviation = float(diff.max(initial=0.0)) / lsb
    return CompareResult(len(emulator_out), len(differ), differ[:FIRST_SHOWN], saved, deviation)


def edge_case_vectors(graph: Graph, n_random: int, rng: np.random.Generator) -> np.ndarray:
    """Real-valued inputs, shape (n, *input_shape), n > n_random.

    On the input grid: `n_random` uniform over the full input range, zeros, all-max, all-min,
    one-hot sensitivity vectors (each input alone at every power-of-two magnitude and both ends,
    `verify.vectors.sensitivity_counts`), each input alone 1, 2 and half a range past either end
    (`overrange_counts`, saturated by the input cast), inputs driving each output of the first Dense or Conv2D from zero to
    its extremes (through the saturation of the cast after it), inputs found to land a
    downstream cast exactly on a rounding tie, and inputs that drive downstream saturating casts past
    their ends (`_saturation_witnesses`).  Off the grid by half an LSB (ties of the input
    cast itself, including just beyond both ends of the range): ``max(1000, n_random // 10)``.
    """
    fmt = graph.input_format
    n_in = int(np.prod(graph.input_shape))
    lo, hi = fmt.min_int, fmt.max_int
    on_grid = np.concatenate([
        rng.integers(lo, hi, size=(n_random, n_in), endpoint=True),
        np.zeros((1, n_in), np.int64), np.full((1, n_in), hi), np.full((1, n_in), lo),
        sensitivity_counts(fmt, n_in),
        overrange_counts(fmt, n_in),
        _first_layer_extremes(graph),
        _downstream_ties(graph, rng),
        _saturation_witnesses(graph, rng),
    ])
    half_lsb = np.concatenate([
        np.full((1, n_in), lo - 1), np.full((1, n_in), hi),
        rng.integers(lo - 1, hi, size=(max(1000, n_random // 10), n_in), endpoint=True),
    ])
    x = np.concatenate([fmt.to_float(on_grid), fmt.to_float(half_lsb) + fmt.lsb / 2])
    return x.reshape(-1, *graph.input_shape)


def _first_layer_extremes(graph: Graph, steps: int = 32) -> np.ndarray:
    """Per output (channel) of the first Dense or Conv2D, the inputs maximising and minimising it, scaled by
    k/steps; for a Conv2D the kernel's sign pattern is written into every window (overlaps keep one write)."""
    fmt, shape = graph.input_format, graph.input_shape
    first = next((op for op in graph.ops if isinstance(op, (Dense, Conv2D, Pool2D, Upsample2D))), None)
    if not isinstance(first, (Dense, Conv2D)):
        return np.zeros((0, int(np.prod(shape))), np.int64)
    for op in graph.ops[: graph.ops.index(first)]:
        shape = op.shape if isinstance(op, Reshape) else shape
    matrix = first.matrix if isinstance(first, Conv2D) else first.weight
    signs = np.sign(matrix.T)
    signs = np.concatenate([signs, -signs])
    extremes = np.where(signs > 0, fmt.max_int, np.where(signs < 0, fmt.min_int, 0))
    if isinstance(first, Conv2D):  # (rows, kh * kw * cin) kernels -> (rows, H * W, cin) images
        h, w, cin = shape
        images = np.zeros((len(extremes), h * w + 1, cin), np.int64)  # the last pixel collects the padding
        images[:, first.window.indices((h, w)).reshape(-1, first.window.size[0] * first.window.size[1])] = \
            extremes.reshape(len(extremes), 1, -1, cin)
        extremes = images[:, :-1].reshape(len(extremes), -1)
    scales = np.arange(1, steps + 1) / steps
    rows = np.round(extremes[:, None, :] * scales[None, :, None]).astype(np.int64).reshape(-1, extremes.shape[1])
    if isinstance(first, Conv2D):
        return rows
    # the Dense reads the last axis: repeat each row over the leading axes, then flatten in input order
    full = np.broadcast_to(rows.reshape(len(rows), *[1] * (len(shape) - 1), -1), (len(rows), *shape))
    return full.reshape(len(rows), -1)


def _saturation_witnesses(graph: Graph, rng: np.random.Generator) -> np.ndarray:
    """Per saturating cast and end, inputs (on the grid) that drive it past the end, each with `NEIGHBOURS`
    copies moved by one LSB on a quarter of the inputs.  Uniform, corner and hill-climbing inputs rarely
    get deep casts there, so their SAT could be WRAP unseen; the witnesses come from a MILP
    (`fixed.bounds.saturations`), cached per graph.  Graphs the MILP cannot model add none."""
    from codesign.fixed.bounds import saturations  # scipy's MILP solver: only when vectors are made

    fmt = graph.input_format
    n_in = int(np.prod(graph.input_shape))

    def solve() -> np.ndarray:
        try:
            found = [s.witness for s in saturations(graph, WITNESSES_PER_END) if s.reachable]
        except NotImplementedError:
            found = []
        return fmt.quantize(np.array(found).reshape(-1, n_in)).astype(np.int64)

    witnesses = cached_array("saturation", {"graph": graph.to_json(), "per_end": WITNESSES_PER_END}, solve)
    moved = rng.integers(-1, 2, size=(len(witnesses), NEIGHBOURS, n_in)) * (rng.random((len(witnesses), NEIGHBOURS, n_in)) < 0.25)
    neighbours = np.clip(witnesses[:, None, :] + moved, fmt.min_int, fmt.max_int).reshape(-1, n_in)
    return np.concatenate([witnesses, neighbours])


def _downstream_ties(graph: Graph, rng: np.random.Generator) -> np.ndarray:
    """Inputs (on the grid) that land some cast of the graph exactly half an LSB between two values."""
    fmt = graph.input_format
    n_in = int(np.prod(graph.input_shape))
    # random inputs at random magnitudes (2**-k of the range), so that deep layers are not all saturated
    scale = 2.0 ** -rng.integers(0, fmt.width, size=(TIE_CANDIDATES, 1))
    candidates = np.round(rng.uniform(fmt.min_int, fmt.max_int, (TIE_CANDIDATES, n_in)) * scale).astype(np.int64)
    found = [np.zeros((0, n_in), np.int64)]
    for i, op in enumerate(graph.ops):
        if not isinstance(op, Quantize):
            continue
        prefix = Graph(graph.name, graph.input_shape, fmt, [copy.copy(o) for o in graph.ops[:i]])
        shift = prefix.output_format.frac - op.output_format.frac
        if shift <= 0:
            continue
        values = emulate_ints(prefix, candidates.reshape(-1, *graph.input_shape)).reshape(TIE_CANDIDATES, -1)
        values = np.maximum(values, 0) if op.relu else values
        floor = values >> shift
        tie = (values & ((1 << shift) - 1)) == 1 << (shift - 1)
        tie &= (floor >= op.output_format.min_int) & (floor < op.output_format.max_int)
        found.append(candidates[np.flatnonzero(tie.any(axis=1))[:TIES_PER_CAST]])
    return np.concatenate(found)

