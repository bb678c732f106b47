"""The emulator's number types (float32, float64, int64, Python ints) agree bit for bit on convolutional and
dense graphs, edge cases included; convolutions (band matrices) equal a per-window Python-int reference."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.fixed import Conv2D, emulate_ints, lower_keras
from codesign.fixed.emulator import CHUNK_EVENTS, _compile
from codesign.fixed.fixed_format import FLOAT32_BITS
from codesign.fixed.graph import Graph, gather
from codesign.fixed.precisions import parse_precisions
from codesign.hls import edge_case_vectors
from codesign.zoo.card import load_card
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


@pytest.mark.parametrize("name", NAMES)
def test_number_types_agree(graphs, name):
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
