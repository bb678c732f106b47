"""hls4ml projects from the fixed-point graph: explicit precisions, determinism, and bit-exact C simulation."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import keras
import numpy as np
import pytest
from qkeras import QActivation, QDense, quantized_bits, quantized_relu

from codesign.errors import CodesignError
from codesign.fixed import Dense, Graph, emulate, emulate_ints, lower_keras
from codesign.hls import HLSProject, compare, edge_case_vectors, hls_config, write_project

PART = "xcvu9p-flga2104-2L-e"


@dataclass(frozen=True)
class Spec:
    """A tiny random QKeras MLP: inputs, hidden widths, quantizers, weight scale."""

    n_in: int
    widths: tuple[int, ...]
    weight: tuple[int, int]  # quantized_bits(bits, integer) of kernels and biases
    activation: object  # a QKeras quantizer
    input_quantizer: object | None
    fused: bool  # activation passed to QDense (hls4ml splits it) or a separate QActivation
    scale: float = 1.0  # weights are uniform in [-scale, scale] before quantization
    relu_head: bool = False  # a last hidden Dense with a plain Keras "relu" (an exact ReLU)


SPECS = {
    "signed": Spec(6, (8, 4), (6, 0), quantized_bits(8, 3, alpha=1), quantized_bits(10, 4, alpha=1), fused=False),
    "no_input_q": Spec(7, (16, 8), (8, 1), quantized_relu(6, 2), None, fused=True, relu_head=True),
    "saturating": Spec(5, (12, 6), (8, 3), quantized_relu(4, 1), quantized_bits(8, 4, keep_negative=False, alpha=1),
                       fused=True, scale=6.0),
    "wide": Spec(20, (32,), (12, 1), quantized_relu(12, 4), quantized_bits(14, 5, alpha=1), fused=False, scale=1.5),
}


def _model(name: str, spec: Spec, seed: int = 0) -> keras.Model:
    quantizers = {"kernel_quantizer": quantized_bits(*spec.weight, alpha=1),
                  "bias_quantizer": quantized_bits(*spec.weight, alpha=1)}
    x = inputs = keras.Input((spec.n_in,), name="inputs")
    if spec.input_quantizer is not None:
        x = QActivation(spec.input_quantizer, name="input_q")(x)
    for i, width in enumerate(spec.widths):
        if spec.fused:
            x = QDense(width, activation=spec.activation, name=f"dense{i}", **quantizers)(x)
        else:
            x = QDense(width, name=f"dense{i}", **quantizers)(x)
            x = QActivation(spec.activation, name=f"act{i}")(x)
    if spec.relu_head:
        x = QDense(4, activation="relu", name="relu_head", **quantizers)(x)
    x = QDense(3, name="out", **quantizers)(x)
    model = keras.Model(inputs, x, name=name)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([rng.uniform(-spec.scale, spec.scale, w.shape) for w in layer.get_weights()])
    return model


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[keras.Model, Graph, HLSProject]]:
    """name -> (model, graph, compiled HLSProject) for every spec; the g++ builds run in parallel."""
    built = {}
    for name, spec in SPECS.items():
        model = _model(name, spec)
        graph, _ = lower_keras(model)
        out = tmp_path_factory.mktemp(name) / "prj"
        built[name] = model, graph, write_project(model, graph, out, PART, 5.0, compile_csim=False)
    with ThreadPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(HLSProject.compile, [project for _, _, project in built.values()]))
    return built


@pytest.mark.parametrize("name", SPECS)
def test_csim_equals_emulator_bit_for_bit(built, name: str, tmp_path: Path):
    _, graph, project = built[name]
    x = edge_case_vectors(graph, 10_000, np.random.default_rng(1))
    assert len(x) >= 10_000
    result = compare(emulate(graph, x), project.predict(x), x, save_to=tmp_path / "mismatches.npz")
    assert result.equal, result.summary()


def test_saturating_model_saturates_its_hidden_layers():
    graph, _ = lower_keras(_model("saturating", SPECS["saturating"]))
    x_ints = graph.input_format.quantize(edge_case_vectors(graph, 1000, np.random.default_rng(2)))
    for i, op in enumerate(graph.ops):
        if op.name.endswith("_act"):
            ops = [copy.copy(o) for o in graph.ops[: i + 1]]
            prefix = Graph(graph.name, graph.input_shape, graph.input_format, ops)
            assert (emulate_ints(prefix, x_ints) == op.output_format.max_int).mean() > 0.2, op.name


def test_config_is_explicit_everywhere():
    for name, spec in SPECS.items():
        model = _model(name, spec)
        graph, _ = lower_keras(model)
        config = hls_config(model, graph, reuse_factor=2)
        assert "auto" not in json.dumps(config).lower()
        layers = config["LayerName"]
        assert layers["inputs"]["Precision"]["result"] == graph.input_format.hls()
        for op in graph.ops:
            if isinstance(op, Dense):
                assert layers[op.name]["Precision"] == {
                    "result": op.output_format.hls(), "accum": op.output_format.hls(),
                    "weight": op.weight_format.hls(), "bias": op.bias_format.hls(),
                }
        assert {layer["ReuseFactor"] for layer in layers.values()} == {2}
    fused = lower_keras(_model("f", SPECS["no_input_q"]))[0]
    names = hls_config(_model("f", SPECS["no_input_q"]), fused)["LayerName"]
    assert names["dense0_quantized_relu"]["Precision"]["result"] == "ap_ufixed<6,2,AP_RND_CONV,AP_SAT>"
    assert names["relu_head_relu"]["Precision"]["result"] == fused.ops[-2].output_format.hls()


def test_graph_of_another_model_is_refused():
    graph, _ = lower_keras(_model("wide", SPECS["wide"]))
    with pytest.raises(CodesignError, match="no counterpart|no hls4ml layer"):
        hls_config(_model("signed", SPECS["signed"]), graph)


def test_hls4ml_precision_other_than_the_graphs_is_an_error(monkeypatch, tmp_path: Path):
    model = _model("signed", SPECS["signed"])
    graph, _ = lower_keras(model)
    def off_by_one(*args, **kwargs):
        config = hls_config(*args, **kwargs)
        config["LayerName"]["act0"]["Precision"]["result"] = "ap_fixed<9,4,AP_RND_CONV,AP_SAT>"
        return config

    monkeypatch.setattr("codesign.hls.project.hls_config", off_by_one)
    with pytest.raises(CodesignError, match="act0: result precision"):
        write_project(model, graph, tmp_path / "prj", PART, 5.0, compile_csim=False)
    assert not (tmp_path / "prj").exists()


def test_written_sources_are_deterministic(built, tmp_path: Path):
    model, graph, first = built["signed"]
    second = write_project(model, graph, tmp_path / "again", PART, 5.0, compile_csim=False)
    files = first.source_files()
    assert files == second.source_files()
    assert first.name == "m_signed"  # "signed" is a C++ keyword
    assert Path("firmware/m_signed.cpp") in files and Path("build_prj.tcl") in files
    for path in files:
        assert (first.path / path).read_bytes() == (second.path / path).read_bytes(), path
    # hls4ml's own config differs only by the absolute project path
    yml = [(p.path / "hls4ml_config.yml").read_text().replace(str(p.path), "PRJ") for p in (first, second)]
    assert yml[0] == yml[1]


def test_corrupted_weight_is_caught(built, tmp_path: Path):
    _, graph, project = built["signed"]
    mutant = HLSProject(tmp_path / "mutant", project.name, project.stamp, graph)
    shutil.copytree(project.path, mutant.path)
    header = sorted((mutant.path / "firmware" / "weights").glob("w*.h"))[0]
    text = header.read_text()
    first = re.search(r"= \{(-?[0-9.]+)", text)
    value = float(first.group(1))
    corrupted = f"{value + 0.5 if value < 0 else value - 0.5:.5f}"  # still representable in ap_fixed<6,1>
    header.write_text(text[: first.start(1)] + corrupted + text[first.end(1):])
    mutant.compile()
    x = edge_case_vectors(graph, 10_000, np.random.default_rng(3))
    result = compare(emulate(graph, x), mutant.predict(x), x, save_to=tmp_path / "mismatches.npz")
    assert result.mismatches > 0 and len(result.first_mismatches) > 0
    saved = np.load(result.saved)
    assert np.array_equal(saved["inputs"][0], x[result.first_mismatches[0]])


@pytest.mark.parametrize("name", ["signed", "saturating", "wide"])
def test_input_cast_wrapping_instead_of_saturating_is_caught_on_every_input(name: str):
    """The input cast's overflow mode (SAT -> WRAP) shows on >= 10 vectors, and on every input alone: the
    one-hot vectors past either end of the input range (`overrange_counts`)."""
    graph, _ = lower_keras(_model(name, SPECS[name]))
    fmt = graph.input_format
    x = edge_case_vectors(graph, 10_000, np.random.default_rng(4))
    wrapping = replace(fmt, overflow="WRAP")
    caught = (emulate_ints(graph, fmt.quantize(x)) != emulate_ints(graph, wrapping.quantize(x))).any(axis=1)
    assert caught.sum() >= 10
    flat = x.reshape(len(x), -1)
    past_the_range = (flat > fmt.max_value) | (flat < fmt.min_value)
    alone = past_the_range.sum(axis=1) == 1
    assert np.all(past_the_range[caught & alone].any(axis=0)), "an input whose wrapping no one-hot vector shows"
