"""Explicit accumulator/result precisions (hls4ml-style): parsed, refused when not exactly emulable, and honoured
bit for bit, wrap-around included, by the emulator, the RTL logic and the hls4ml C-simulation (issue 11)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codesign.errors import CodesignError
from codesign.fixed import FixedFormat, emulate, emulate_ints, lower_keras
from codesign.fixed.precisions import parse_precisions, read_hls_config
from codesign.hls import compare, edge_case_vectors, write_project
from codesign.rtl import run_logic, trace_graph

#: d0's exact accumulator is ap_fixed<16,8>: 12 bits with one more fractional bit wrap on large inputs.
NARROW = {"LayerName": {"d0": {"Precision": {"accum": "ap_fixed<12,3>", "result": "ap_fixed<10,2,AP_RND,AP_SAT>"}},
                        "d1": {"Precision": {"accum": "ap_fixed<20,8>"}}}}


def small_dense(seed: int = 0):
    import keras
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    rng = np.random.default_rng(seed)
    inputs = keras.Input((8,))
    x = QActivation(quantized_bits(8, 3, alpha=1), name="q_in")(inputs)
    x = QDense(6, kernel_quantizer=quantized_bits(6, 1, alpha=1), bias_quantizer=quantized_bits(6, 2, alpha=1), name="d0")(x)
    x = QActivation(quantized_relu(8, 4), name="a0")(x)
    x = QDense(2, kernel_quantizer=quantized_bits(6, 1, alpha=1), bias_quantizer=quantized_bits(6, 2, alpha=1), name="d1")(x)
    model = keras.Model(inputs, x, name="narrow")
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([rng.uniform(-2, 2, w.shape) for w in layer.get_weights()])
    return model


@pytest.fixture(scope="module")
def narrow():
    model = small_dense()
    graph, _ = lower_keras(model, precisions=parse_precisions(NARROW, "test"))
    exact, _ = lower_keras(model)
    return model, graph, exact, edge_case_vectors(graph, 3000, np.random.default_rng(2))


def test_formats_and_defaults(narrow):
    _, graph, exact, _ = narrow
    d0, d1 = graph.ops[1], graph.ops[3]
    assert exact.ops[1].output_format == FixedFormat(16, 8)  # the exact sum this test narrows
    assert d0.accum_format == FixedFormat(12, 3) and d0.accum_format.overflow == "WRAP"  # ap_fixed defaults
    assert d0.output_format == FixedFormat(10, 2, True, "RND", "SAT") and d1.output_format == FixedFormat(20, 8)


def test_emulator_wraps_like_ap_fixed(narrow):
    """Independently: the exact first-layer sums wrapped to 12 bits, then rounded and saturated to the result."""
    _, graph, exact, x = narrow
    counts = graph.input_format.quantize(x)
    from codesign.fixed import Graph

    sums = emulate_ints(Graph("p", exact.input_shape, exact.input_format, exact.ops[:2]), counts)  # frac 8
    wrapped = (2 * sums + 2**11) % 2**12 - 2**11  # ap_fixed<12,3>: frac 9, wraps
    want = np.clip(np.floor(wrapped / 2 + 0.5), -512, 511)  # ap_fixed<10,2,AP_RND,AP_SAT>: frac 8
    got = emulate_ints(Graph("p", graph.input_shape, graph.input_format, graph.ops[:2]), counts)
    np.testing.assert_array_equal(got, want)
    assert (wrapped != 2 * sums).mean() > 0.05  # the edge cases do overflow the accumulator


def test_rtl_and_csim_honour_explicit_precisions(narrow, tmp_path: Path):
    model, graph, exact, x = narrow
    counts = graph.input_format.quantize(x)
    np.testing.assert_array_equal(run_logic(trace_graph(graph), graph, counts), emulate_ints(graph, counts))
    project = write_project(model, graph, tmp_path / "prj", "xcvu9p-flga2104-2L-e", 5.0)
    emulated = emulate(graph, x)
    result = compare(emulated, project.predict(x), x)
    assert result.equal, result.summary()
    assert not np.array_equal(emulated, emulate(exact, x))
    text = (project.path / "firmware" / "parameters.h").read_text()
    assert "ap_fixed<12,3>" in text or "ap_fixed<12,3>" in (project.path / "firmware" / "defines.h").read_text()


def test_yaml_file(tmp_path: Path):
    import yaml

    path = tmp_path / "hls.yml"
    path.write_text(yaml.safe_dump(NARROW))
    assert read_hls_config(path)["d0"]["accum"] == FixedFormat(12, 3)


@pytest.mark.parametrize("config, message", [
    ({"d0": {"Precision": {"accum": "ap_fixed<12,3>"}}}, "one key, LayerName"),
    ({"LayerName": {"d0": {"Precision": {"weight": "ap_fixed<8,2>"}}}}, "accum and/or result"),
    ({"LayerName": {"d0": {"Precision": {"accum": "float"}}}}, "not an HLS type"),
])
def test_bad_configs_are_refused(config, message):
    with pytest.raises(CodesignError, match=message):
        parse_precisions(config, "cfg.yml")


@pytest.mark.parametrize("precision, message", [
    ({"a0": {"accum": FixedFormat(12, 3)}}, "only Dense/Conv2D"),
    ({"d0": {"accum": FixedFormat(12, 5)}}, "fewer than the products' 8"),
    ({"d0": {"accum": FixedFormat(12, 3, True, "TRN", "SAT")}}, "AP_WRAP"),
])
def test_what_cannot_be_emulated_exactly_is_refused(precision, message):
    with pytest.raises(CodesignError, match=message):
        lower_keras(small_dense(), precisions=precision)
