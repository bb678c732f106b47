"""BatchNormalization as a fixed-point scale-and-shift op with its own precision (issue 17, case 2)."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.errors import CodesignError
from codesign.fixed import Scale, emulate, emulate_ints, lower_keras
from codesign.fixed.lower import BN_BITS
from codesign.hls import edge_case_vectors
from codesign.rtl import run_logic, trace_graph
from codesign.verify.qkeras_reference import qkeras_float64


def bn_net(seed: int = 0, activation_before_bn=None):
    """12-16-BN-4: 8-bit weights, BatchNormalization with wide-ranging statistics, then a 8-bit ReLU."""
    import keras
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    rng = np.random.default_rng(seed)
    inputs = keras.Input((12,))
    x = QActivation(quantized_bits(10, 4, alpha=1), name="q_in")(inputs)
    x = QDense(16, kernel_quantizer=quantized_bits(8, 1, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1),
               activation=activation_before_bn, name="d1")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = QActivation(quantized_relu(8, 4), name="act")(x)
    x = QDense(4, kernel_quantizer=quantized_bits(8, 1, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1),
               name="d2")(x)
    x = QActivation(quantized_bits(12, 6, alpha=1), name="q_out")(x)
    model = keras.Model(inputs, x, name="bn_net")
    for layer in model.layers:
        weights = layer.get_weights()
        if layer.name == "bn":  # gamma, beta, mean, variance
            layer.set_weights([rng.uniform(0.3, 3, 16), rng.normal(0, 2, 16), rng.normal(0, 4, 16), rng.uniform(0.5, 30, 16)])
        elif weights:
            layer.set_weights([rng.uniform(-2, 2, w.shape) for w in weights])
    return model


def test_batchnorm_is_a_scale_op_close_to_qkeras():
    """Not folded into the weights: its own op, whose scale and shift keep BN_BITS bits.  Against QKeras
    in float64 only outputs whose BN result lies within that rounding of a cast boundary may differ, by
    the hidden activations' 1-LSB flips at most (re-quantizing folded weights changed 68% of them)."""
    model = bn_net()
    graph, _ = lower_keras(model)
    scale = next(op for op in graph.ops if isinstance(op, Scale))
    assert scale.name == "bn" and scale.weight_format.width == scale.bias_format.width == BN_BITS
    x = edge_case_vectors(graph, 20_000, np.random.default_rng(1))
    want, got = qkeras_float64(model, x), emulate(graph, x)
    differ = (want != got).any(axis=1)
    act_lsb = 2.0**-4
    flip_bound = np.abs(model.get_layer("d2").get_weights()[0]).sum(axis=0).max() * act_lsb
    assert differ.mean() < 0.01 and np.abs(want - got).max() <= flip_bound + graph.output_format.lsb


def test_batchnorm_rtl_equals_emulator():
    graph, _ = lower_keras(bn_net(seed=2))
    x = graph.input_format.quantize(edge_case_vectors(graph, 3000, np.random.default_rng(0)))
    np.testing.assert_array_equal(run_logic(trace_graph(graph), graph, x), emulate_ints(graph, x))


def test_batchnorm_anywhere_and_over_other_axes():
    """After an activation BN is still an elementwise op; BN over a non-last axis is refused."""
    from qkeras import quantized_relu
    import keras

    graph, _ = lower_keras(bn_net(activation_before_bn=quantized_relu(8, 4)))
    assert any(isinstance(op, Scale) for op in graph.ops)
    inputs = keras.Input((3, 4))
    model = keras.Model(inputs, keras.layers.BatchNormalization(axis=1, name="bn1")(inputs))
    with pytest.raises(CodesignError, match="bn1.*last axis"):
        lower_keras(model)
