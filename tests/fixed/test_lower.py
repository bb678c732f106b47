"""QKeras model == lowered graph emulation, bit for bit; unsupported models refused clearly."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from qkeras import QActivation, QDense, quantized_bits, quantized_relu

from codesign.errors import CodesignError
from codesign.fixed import emulate, lower_keras
from codesign.fixed.lower import DEFAULT_INPUT_FORMAT


def _model(n_in, layers, input_quantizer=None, seed=0):
    rng = np.random.default_rng(seed)
    inputs = keras.Input((n_in,))
    x = QActivation(input_quantizer)(inputs) if input_quantizer else inputs
    for units, kernel, bias, act in layers:
        x = QDense(units, kernel_quantizer=kernel, bias_quantizer=bias, activation=act)(x)
    model = keras.Model(inputs, x)
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([rng.normal(0, 1.5, w.shape) for w in layer.get_weights()])
    return model


MODELS = {
    "axol1tl_like": (
        57,
        [
            (32, quantized_bits(6, 2, alpha=1), quantized_bits(10, 6, alpha=1), quantized_relu(10, 6)),
            (16, quantized_bits(6, 2, alpha=1), quantized_bits(10, 6, alpha=1), quantized_relu(10, 6)),
            (8, quantized_bits(6, 2, alpha=1), quantized_bits(10, 6, alpha=1), quantized_bits(10, 6, alpha=1)),
        ],
        quantized_bits(8, 5, alpha=1),
    ),
    "narrow_saturating": (
        6,
        [
            (5, quantized_bits(4, 1, alpha=1), quantized_bits(4, 1, alpha=1), quantized_relu(3, 1)),
            (3, quantized_bits(3, 0, alpha=1, symmetric=1), quantized_bits(5, 2, alpha=1), quantized_bits(4, 1, alpha=1)),
        ],
        quantized_bits(6, 3, alpha=1),
    ),
    "unsigned_input_wide": (
        10,
        [
            (12, quantized_bits(8, 3, alpha=1), quantized_bits(12, 4, alpha=1), quantized_relu(12, 4)),
            (4, quantized_bits(8, 0, alpha=1), quantized_bits(8, 0, alpha=1), None),
        ],
        quantized_bits(10, 4, keep_negative=False, alpha=1),
    ),
}


def _edge_inputs(fmt, n_in, rng, n_random=4000):
    lo, hi = fmt.min_value, fmt.max_value
    x = rng.uniform(lo - 2, hi + 2, (n_random, n_in))
    edges = [np.zeros((1, n_in)), np.full((1, n_in), hi), np.full((1, n_in), lo), np.full((1, n_in), 10 * hi)]
    edges.append(np.eye(n_in) * hi)
    edges.append(np.eye(n_in) * lo)
    ties = (np.round(rng.uniform(lo, hi, (500, n_in)) / fmt.lsb) + 0.5) * fmt.lsb  # half-LSB inputs
    return np.concatenate([x, *edges, ties])


@pytest.mark.parametrize("name", sorted(MODELS))
def test_qkeras_equals_emulator(name):
    n_in, layers, input_quantizer = MODELS[name]
    model = _model(n_in, layers, input_quantizer)
    graph, note = lower_keras(model)
    assert "input quantizer" in note
    x = _edge_inputs(graph.input_format, n_in, np.random.default_rng(1))
    # QKeras' own input quantizer does the input cast; the emulator does its own
    want = model.predict(x, batch_size=4096, verbose=0).astype(np.float64)
    got = emulate(graph, x)
    assert np.array_equal(want, got), f"{np.sum(want != got)} of {want.size} values differ"
    assert len(np.unique(got)) > 10  # not a degenerate (all-saturated) model


def test_model_without_input_quantizer_states_the_assumed_format():
    n_in, layers, _ = MODELS["axol1tl_like"]
    graph, note = lower_keras(_model(n_in, layers))
    assert graph.input_format == DEFAULT_INPUT_FORMAT and "assumed" in note and DEFAULT_INPUT_FORMAT.hls() in note


def test_unsupported_layer_is_named():
    inputs = keras.Input((4, 4))
    x = keras.layers.LSTM(2, name="my_lstm")(inputs)
    with pytest.raises(CodesignError, match=r"layer my_lstm \(LSTM\) is not supported"):
        lower_keras(keras.Model(inputs, x))


def test_alpha_auto_is_refused_with_a_fix():
    model = _model(4, [(2, quantized_bits(4, 0, alpha="auto", symmetric=1), quantized_bits(4, 0, alpha=1), None)])
    with pytest.raises(CodesignError, match="alpha='auto'.*retrain with alpha=1"):
        lower_keras(model)


def test_float_dense_off_grid_is_refused():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="plain")(inputs))
    model.layers[1].set_weights([np.full((3, 2), 0.1), np.zeros(2)])
    with pytest.raises(CodesignError, match=r"layer plain \(Dense\) kernel: float weights are not on a fixed-point grid"):
        lower_keras(model)
