"""Small saved QKeras models for the end-to-end flow tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def save_small_model(path: Path, seed: int = 0, extra_layer=None) -> Path:
    import keras
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    rng = np.random.default_rng(seed)
    inputs = keras.Input((6,), name="x")
    x = QActivation(quantized_bits(8, 3, alpha=1), name="in_q")(inputs)
    x = QDense(5, kernel_quantizer=quantized_bits(5, 1, alpha=1), bias_quantizer=quantized_bits(6, 2, alpha=1),
               activation=quantized_relu(6, 3), name="d1")(x)
    if extra_layer is not None:
        x = extra_layer(x)
    x = QDense(3, kernel_quantizer=quantized_bits(5, 1, alpha=1), bias_quantizer=quantized_bits(6, 2, alpha=1),
               name="d2")(x)
    x = QActivation(quantized_bits(8, 4, alpha=1), name="out_q")(x)
    model = keras.Model(inputs, x, name="small")
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([rng.normal(0, 1, w.shape) for w in layer.get_weights()])
    model.save(path, save_format="h5")
    return path


@pytest.fixture(scope="session")
def small_h5(tmp_path_factory) -> Path:
    return save_small_model(tmp_path_factory.mktemp("models") / "small.h5")
