"""The emulator's number types (float32, float64, int64, Python ints) and its fused kernels agree bit for bit on
convolutional and dense graphs, edge cases included (wrapping accumulators, every cast mode); convolutions (band
matrices) equal a per-window Python-int reference."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from codesign.fixed import Conv2D, Dense, FixedFormat, emulate_ints, lower_keras
from codesign.fixed import emulator
from codesign.fixed.emulator import CHUNK_EVENTS, _compile, _fused_stages
from codesign.fixed.fixed_format import FLOAT32_BITS, OVERFLOW_MODES, ROUNDING_MODES
from codesign.fixed.fused import _casts, cast_row
from codesign.fixed.graph import Graph, gather
from codesign.fixed.precisions import parse_precisions
from codesign.hls import edge_case_vectors
from codesign.zoo.card import load_card
from codesign.zoo.loading import load_model
from codesign.zoo.cicada import student

from tests.fixed.test_conv import CASES, conv_net

DTYPES = (np.float32, np.float64, np.int64, object)


def run(graph: Graph, counts: np.ndarray, dtype) -> np.ndarray:
    values = counts.astype(np.int64).astype(dtype)
    for step in _compile(graph, dtype):
        values = step(values)
    return values.astype(np.int64)


STUDENTS = ("cicada_v2", "cicada_v1")
NAMES = [*STUDENTS, *CASES]


@pytest.fixture(scope="module")
def graphs():
    made = {}

    def get(name: str) -> Graph:
        if name not in made:
            if name in STUDENTS:  # the deployed wrapping accumulators of the card
                model = student(name[-2:], seed=1)
                layers = load_card("cicada").data["hls_config"]["LayerName"]
                config = {"LayerName": {k: v for k, v in layers.items() if k in {layer.name for layer in model.layers}}}
                made[name] = lower_keras(model, precisions=parse_precisions(config, "cicada card"))[0]
            else:
                made[name] = lower_keras(conv_net(name))[0]
        return made[name]

    return get


@pytest.fixture
def fused_always(monkeypatch):
    """The fused kernels for calls of any size (`FUSED_MIN_EVENTS`)."""
    monkeypatch.setattr(emulator, "FUSED_MIN_EVENTS", 0)


@pytest.mark.parametrize("name", NAMES)
def test_number_types_agree(graphs, name, monkeypatch):
    graph = graphs(name)
    rng = np.random.default_rng(3)
    x = graph.input_format.quantize(edge_case_vectors(graph, 3000, rng)).astype(np.int64)
    if name in STUDENTS:  # region ETs: quiet, hot, saturated
        hot = np.where(rng.random((2000, 252)) < 0.1, rng.integers(0, 1024, (2000, 252)), rng.integers(0, 4, (2000, 252)))
        x = np.concatenate([x, hot, np.full((1, 252), 1023)])
    exact_types = DTYPES[:-1] if graph.max_width <= FLOAT32_BITS else DTYPES[1:-1]
    if name in STUDENTS:  # v2 runs on float32 (its accumulators hold its sums); v1's first one wraps: 26 bits
        assert (np.float32 in exact_types) == (name == "cicada_v2")
    want = run(graph, x, object)
    for dtype in exact_types:
        assert np.array_equal(run(graph, x, dtype), want), dtype
    assert np.array_equal(emulate_ints(graph, x), want)
    monkeypatch.setattr(emulator, "FUSED_MIN_EVENTS", 0)  # the fused kernels where the graph has them
    assert (_fused_stages(graph) is not None) == (name in STUDENTS or name == "cicada_v2_like")
    assert np.array_equal(emulate_ints(graph, x), want)


def test_counts_beyond_float32_take_float64(graphs):
    """A chunk holding counts float32 cannot hold (beyond the input format) runs on float64: exact."""
    graph = graphs("cicada_v2")
    x = np.random.default_rng(4).integers(0, 1024, (2 * CHUNK_EVENTS + 5, 252))
    x[CHUNK_EVENTS + 3, 7] = 2**FLOAT32_BITS + 1  # saturates to 1023 in the input cast
    want = run(graph, x, object)
    assert np.array_equal(emulate_ints(graph, x, threads=2), want)
    assert np.array_equal(emulate_ints(graph, x, threads=1), want)
    assert emulate_ints(graph, x[:0]).shape == (0, 1)


@pytest.mark.parametrize("name", list(CASES))
def test_conv_equals_per_window_reference(graphs, name):
    """Every Conv2D's output (band matrix product) against the window sums of Python ints (im2col by
    `Window.indices`), on the values reaching it."""
    graph = graphs(name)
    x = graph.input_format.quantize(edge_case_vectors(graph, 500, np.random.default_rng(5))).astype(np.int64)
    values, fmt = x.astype(object), graph.input_format
    for op, step in zip(graph.ops, _compile(graph, object)):
        out = step(values)
        if isinstance(op, Conv2D):
            cols = gather(values, op.window.indices(values.shape[1:3]), 0).reshape(*out.shape[:3], -1)
            shift = op.exact_format.frac - fmt.frac - op.weight_format.frac
            bias_shift = op.exact_format.frac - op.bias_format.frac
            want = np.array([[[[sum(int(a) * int(w) for a, w in zip(cols[n, i, j], op.matrix[:, o])) << shift
                                for o in range(op.n_out)] for j in range(out.shape[2])] for i in range(out.shape[1])]
                             for n in range(len(out))], dtype=object) + (op.bias.astype(object) << bias_shift)
            assert op.accum is None and np.array_equal(out, want)
        values, fmt = out, op.output_format


FORMATS = [FixedFormat(w, i, s, r, o) for w, i, s in ((10, 6, False), (8, 1, True), (26, 14, True), (40, 30, True), (1, 1, True))
           for r in ROUNDING_MODES for o in OVERFLOW_MODES if s or o != "SAT_SYM"]


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_fused_cast_equals_integer_requantize(fmt):
    """The kernel's cast (float64 counts) against `requantize` on Python ints: every mode, right shifts with
    ties of both parities, left shifts, ReLU, counts past both ends (wrap and saturation), zeros, negatives."""
    rng = np.random.default_rng(7)
    for frac in (fmt.frac - 5, fmt.frac, fmt.frac + 1, fmt.frac + 6):
        reach = 2 ** min(fmt.width + 3 + max(frac - fmt.frac, 0), 50)
        counts = np.concatenate([rng.integers(-reach, reach, 3000), np.arange(-70, 70), [0, reach - 1, -reach],
                                 (np.arange(-40, 40) * 2 + 1) << max(frac - fmt.frac - 1, 0)])  # ties when dropping bits
        for relu in (False, True):
            want = fmt.requantize(counts.astype(object), frac, relu=relu)
            got = counts.astype(np.float64).reshape(1, -1)
            _casts(got, cast_row(fmt, frac, relu).reshape(1, -1))
            assert np.array_equal(got.ravel().astype(np.int64), want.astype(np.int64)), (frac, relu)


def _dense_input(graph: Graph, x: np.ndarray) -> tuple[np.ndarray, Dense]:
    """The values reaching the graph's first Dense (Python ints, flattened) and the op."""
    values = x.astype(object)
    for op, step in zip(graph.ops, _compile(graph, object)):
        if isinstance(op, Dense):
            return values.reshape(len(values), -1), op
        values = step(values)
    raise AssertionError("no Dense")


def _extreme_inputs(graph: Graph) -> np.ndarray:
    """Per output of the first Dense, the region ETs (0 or 1023) that maximise and that minimise its sum, chosen
    per group of regions feeding Dense inputs of their own: each region (v1), each 2x2 conv patch (v2)."""
    conv = any(isinstance(op, Conv2D) for op in graph.ops)
    if conv:  # patch (i, j) of the 18 x 14 image: its four regions feed conv outputs (i * 7 + j) * 4 + channel
        groups = [([(2 * i + a) * 14 + 2 * j + b for a in (0, 1) for b in (0, 1)], [(i * 7 + j) * 4 + c for c in range(4)])
                  for i in range(9) for j in range(7)]
    else:
        groups = [([r], [r]) for r in range(252)]
    levels, size = np.array([0, 16, 64, 256, 1023]), len(groups[0][0])
    patterns = levels[np.stack(np.meshgrid(*[np.arange(len(levels))] * size, indexing="ij"), -1).reshape(-1, size)]
    x = np.zeros((len(patterns), 252), np.int64)
    for regions, _ in groups:
        x[:, regions] = patterns
    values, dense = _dense_input(graph, x)
    weight = dense.weight.astype(object)
    contrib = np.array([[values[k, feeds] @ weight[feeds] for k in range(len(patterns))] for _, feeds in groups])
    out = []
    for o in range(weight.shape[1]):
        for pick in (np.argmax, np.argmin):
            chosen = pick(contrib[:, :, o].astype(np.int64), axis=1)
            event = np.zeros(252, np.int64)
            for (regions, _), k in zip(groups, chosen):
                event[regions] = patterns[k]
            out.append(event)
    return np.array(out)


def dense_on_last_axis_graph(seed: int) -> Graph:
    """QDense(5) on a (3, 4) input (it acts on each of the 3 rows), Flatten, QDense(2), with random weights."""
    import keras
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    inp = keras.Input((3, 4))
    x = QActivation(quantized_bits(8, 3, alpha=1))(inp)
    x = QDense(5, kernel_quantizer=quantized_bits(5, 0, alpha=1), bias_quantizer=quantized_bits(5, 0, alpha=1))(x)
    x = QActivation(quantized_relu(6, 2))(x)
    x = keras.layers.Flatten()(x)
    x = QDense(2, kernel_quantizer=quantized_bits(5, 0, alpha=1), bias_quantizer=quantized_bits(5, 0, alpha=1))(x)
    x = QActivation(quantized_bits(8, 3, alpha=1))(x)
    model = keras.Model(inp, x)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([rng.uniform(-1, 1, w.shape) for w in layer.get_weights()])
    return lower_keras(model)[0]


def test_fused_dense_on_last_axis_acts_at_every_position(fused_always):
    """The fused stage runs a Dense at every position of a multi-axis input, like the numpy and Python-int steps
    (it once ran the first row only)."""
    graph = dense_on_last_axis_graph(6)
    x = graph.input_format.quantize(edge_case_vectors(graph, 2000, np.random.default_rng(6))).astype(np.int64)
    assert _fused_stages(graph) is not None
    assert np.array_equal(emulate_ints(graph, x), run(graph, x, object))


@pytest.mark.parametrize("name", ["cicada", "cicada_v1"])
def test_fused_path_wraps_like_python_ints(name, fused_always):
    """The fused kernels (the emulator's path for the committed students) against the Python-int steps on inputs
    that make the dense accumulator wrap, checked to wrap: per output the region ETs that drive its sum to either
    extreme, random 0/1023 patterns, all zero, all saturated, over-range counts.  v1's deployed 26-bit accumulator
    wraps; v2's is not reached (these inputs reach 60% of its range), so v2's is narrowed to ap_fixed<24,12>."""
    graph = load_model(name).graph
    if name == "cicada":
        ops = [replace(op, accum=FixedFormat(24, 12)) if op.name == "dense1" else op for op in graph.ops]
        graph = Graph(graph.name, graph.input_shape, graph.input_format, ops)
    assert _fused_stages(graph) is not None
    rng = np.random.default_rng(11)
    x = np.concatenate([_extreme_inputs(graph), np.zeros((1, 252)), np.full((1, 252), 1023), np.full((1, 252), 5000),
                        rng.choice([0, 1023], (3000, 252)), rng.choice([0, 1023], (3000, 252), p=[0.9, 0.1]),
                        rng.integers(0, 1024, (2000, 252))]).astype(np.int64)
    values, dense = _dense_input(graph, x)
    sums = (values @ dense.weight.astype(object) + dense.bias.astype(object)) * 2 ** (dense.accum.frac - dense.exact_format.frac)
    assert ((sums > dense.accum.max_int) | (sums < dense.accum.min_int)).any(), "no input made the accumulator wrap"
    want = run(graph, x, object)
    for threads in (1, 2):
        assert np.array_equal(emulate_ints(graph, x.astype(np.float64), threads=threads), want)
    assert np.array_equal(emulate_ints(graph, x[:7]), want[:7])  # a chunk shorter than a block


def test_fused_gives_way_to_numpy_beyond_float64(fused_always):
    """Counts whose left-shifted images float64 cannot hold make the chunk take the numpy path, exactly."""
    graph = load_model("cicada_v1").graph
    x = np.random.default_rng(12).integers(0, 1024, (300, 252))
    x[5, 3], x[7, 0] = 2**60, -(2**61)  # saturate in the input cast
    first = _fused_stages(graph)[0]
    assert first.run(x, first=True) is None and first.run(x[8:], first=True) is not None
    assert np.array_equal(emulate_ints(graph, x), run(graph, x, object))
