"""Convolutions, pooling and upsampling in the fixed-point graph: emulator, QKeras (float64 and Keras itself),
RTL logic and hls4ml C-simulation agree bit for bit on small conv nets (issue 11)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codesign.errors import CodesignError
from codesign.fixed import Conv2D, Pool2D, Scale, Upsample2D, Window, emulate, emulate_ints, lower_keras
from codesign.hls import compare, edge_case_vectors, write_project
from codesign.rtl import run_logic, trace_graph
from codesign.verify.qkeras_reference import qkeras_float64
from codesign.verify.verify import graph_from_json

CASES = {  # name: (input shape, layers after the input quantizer)
    "cicada_v2_like": ((6, 4, 1), [("conv", 3, (2, 2), (2, 2), "valid", False)]),
    "same_stride": ((5, 6, 2), [("conv", 3, (3, 2), (2, 1), "same", True), ("maxpool", (2, 2), None, "valid")]),
    "pool_upsample": ((4, 4, 2), [("conv", 2, (1, 1), (1, 1), "valid", True), ("avgpool", (2, 2), None, "valid"),
                                  ("upsample", (2, 1)), ("avgpool", (1, 2), (1, 1), "valid")]),
    "bn_after_conv": ((5, 5, 1), [("conv", 2, (3, 3), (1, 1), "same", True), ("bn",),
                                  ("maxpool", (3, 3), (2, 2), "same")]),
}


def conv_net(name: str, seed: int = 0):
    """A small QKeras conv net: input quantizer, the case's layers (each conv with a quantized ReLU), Dense(3)."""
    import keras
    from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_relu

    shape, layers = CASES[name]
    rng = np.random.default_rng(seed)
    inputs = keras.Input(shape)
    x = QActivation(quantized_bits(8, 3, alpha=1), name="q_in")(inputs)
    for i, (kind, *args) in enumerate(layers):
        if kind == "conv":
            filters, kernel, strides, padding, bias = args
            x = QConv2D(filters, kernel, strides=strides, padding=padding, use_bias=bias, name=f"conv{i}",
                        kernel_quantizer=quantized_bits(6, 1, alpha=1), bias_quantizer=quantized_bits(6, 2, alpha=1),
                        activation=None if name == "bn_after_conv" else quantized_relu(8, 4))(x)
        elif kind == "bn":
            x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
            x = QActivation(quantized_bits(8, 3, alpha=1), name=f"bn_act{i}")(x)
        elif kind in ("maxpool", "avgpool"):
            pool = keras.layers.MaxPooling2D if kind == "maxpool" else keras.layers.AveragePooling2D
            x = pool(args[0], strides=args[1], padding=args[2], name=f"{kind}{i}")(x)
        else:
            x = keras.layers.UpSampling2D(args[0], name=f"up{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = QDense(3, kernel_quantizer=quantized_bits(6, 1, alpha=1), bias_quantizer=quantized_bits(6, 2, alpha=1),
               name="out")(x)
    model = keras.Model(inputs, x, name=name)
    for layer in model.layers:
        weights = layer.get_weights()
        if type(layer).__name__ == "BatchNormalization":  # gamma, beta, mean, variance
            n = len(weights[0])
            layer.set_weights([rng.uniform(0.5, 2, n), rng.normal(0, 1, n), rng.normal(0, 2, n), rng.uniform(0.5, 4, n)])
        elif weights:
            layer.set_weights([rng.uniform(-2, 2, w.shape) for w in weights])
    return model


@pytest.fixture(scope="module")
def nets():
    made = {}

    def get(name: str):
        if name not in made:
            model = conv_net(name)
            graph, _ = lower_keras(model)
            x = edge_case_vectors(graph, 2000, np.random.default_rng(1))
            made[name] = model, graph, x
        return made[name]

    return get


@pytest.mark.parametrize("name", [n for n in CASES if n != "bn_after_conv"])
def test_emulator_equals_qkeras_and_keras(nets, name):
    model, graph, x = nets(name)
    emulated = emulate(graph, x)
    np.testing.assert_array_equal(emulated, qkeras_float64(model, x))
    np.testing.assert_array_equal(emulated[:300], model.predict(x[:300], verbose=0).astype(np.float64))


@pytest.mark.parametrize("name", list(CASES))
def test_rtl_equals_emulator(nets, name):
    _, graph, x = nets(name)
    counts = graph.input_format.quantize(x)
    np.testing.assert_array_equal(run_logic(trace_graph(graph), graph, counts), emulate_ints(graph, counts))


@pytest.mark.parametrize("name", ["same_stride", "pool_upsample", "bn_after_conv"])
def test_hls_csim_equals_emulator(nets, name, tmp_path: Path):
    model, graph, x = nets(name)
    project = write_project(model, graph, tmp_path / "prj", "xcvu9p-flga2104-2L-e", 5.0)
    result = compare(emulate(graph, x), project.predict(x), x)
    assert result.equal, result.summary()


def test_ops_and_formats(nets):
    """The ops lowered, BN after a conv as a per-channel Scale, the average's exact format, json round trip."""
    _, graph, _ = nets("pool_upsample")
    kinds = [type(op).__name__ for op in graph.ops]
    assert kinds == ["Quantize", "Conv2D", "Quantize", "Pool2D", "Upsample2D", "Pool2D", "Reshape", "Dense"]
    pool = graph.ops[3]
    assert pool.kind == "average" and pool.output_format.frac == graph.ops[2].output_format.frac + 2
    assert graph.output_shapes[4] == (4, 2, 2) and graph.output_shapes[5] == (4, 1, 2)
    again = graph_from_json(graph.to_json())
    assert again.to_json() == graph.to_json()
    _, bn_graph, _ = nets("bn_after_conv")
    scale = next(op for op in bn_graph.ops if isinstance(op, Scale))
    assert scale.weight.shape == (2,)  # one scale per channel


def test_window_indices_same_padding():
    """Keras' 'same': the extra padding row/column goes at the bottom/right; H*W marks padding."""
    idx = Window((2, 2), (2, 2), "same").indices((3, 3))
    assert idx.shape == (2, 2, 4)
    np.testing.assert_array_equal(idx[0, 0], [0, 1, 3, 4])
    np.testing.assert_array_equal(idx[1, 1], [8, 9, 9, 9])


def test_edge_vectors_drive_each_conv_output_to_its_extremes(nets):
    """Among the edge cases: for every kernel, inputs giving its largest and smallest pre-activation sum."""
    _, graph, x = nets("cicada_v2_like")
    conv = next(op for op in graph.ops if isinstance(op, Conv2D))
    sums = emulate_ints(graph.__class__(graph.name, graph.input_shape, graph.input_format, graph.ops[:2]),
                        graph.input_format.quantize(x))
    fmt_in = graph.ops[0].output_format
    bound = np.abs(conv.matrix).sum(axis=0) * max(-fmt_in.min_int, fmt_in.max_int)
    assert (sums.max(axis=(0, 1, 2)) >= 0.9 * bound).all() and (sums.min(axis=(0, 1, 2)) <= -0.9 * bound).all()


def _one_layer(layer, shape=(4, 4, 1), signed=False):
    import keras
    from qkeras import QActivation, quantized_bits

    inputs = keras.Input(shape)
    x = QActivation(quantized_bits(6, 3 if signed else 6, keep_negative=signed, alpha=1), name="q")(inputs)
    return keras.Model(inputs, layer(x))


@pytest.mark.parametrize("make, message", [
    (lambda k: k.layers.AveragePooling2D((3, 1)), "power-of-two"),
    (lambda k: k.layers.AveragePooling2D((2, 2), strides=(1, 1), padding="same"), "power-of-two"),
    (lambda k: k.layers.MaxPooling2D((3, 3), strides=(1, 1), padding="same"), "unsigned"),
    (lambda k: k.layers.Conv2D(1, (2, 2), dilation_rate=(2, 2)), "dilated"),
    (lambda k: k.layers.UpSampling2D((2, 2), interpolation="bilinear"), "nearest"),
])
def test_what_has_no_exact_image_is_refused(make, message):
    import keras

    with pytest.raises(CodesignError, match=message):
        lower_keras(_one_layer(make(keras)))


def test_window_ops_need_image_inputs():
    from codesign.fixed import FixedFormat, Graph

    fmt = FixedFormat(8, 4)
    with pytest.raises(CodesignError, match="height, width, channels"):
        Graph("g", (16,), fmt, [Pool2D("p", "max", Window((2, 2), (2, 2)))])
    with pytest.raises(CodesignError, match="height, width, channels"):
        Graph("g", (16,), fmt, [Upsample2D("u", (2, 2))])
