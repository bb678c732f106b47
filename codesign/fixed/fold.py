"""Folding BatchNormalization into the preceding QDense, before lowering.

Inference-time BatchNormalization is an affine map, ``y = s (x - mean) + beta`` with
``s = gamma / sqrt(var + eps)``; after a QDense without activation it folds into the dense layer:
``W' = W_q s`` and ``b' = (b_q - mean) s + beta``.  The folded weights are re-quantized with the
layer's kernel and bias bit widths, the integer bits widened just enough to hold them (no
saturation).  That re-quantization is the fold's only approximation: every downstream path (the
emulator, hls4ml, the RTL) is generated from the folded model and equals it bit for bit, and the
note returned says which layers were folded.
"""

from __future__ import annotations

import math

import numpy as np

from codesign.errors import CodesignError


def _integer_bits(values: np.ndarray) -> int:
    """quantized_bits' `integer`: the smallest with 2**integer > max |values|."""
    largest = float(np.max(np.abs(values), initial=0.0))
    return max(0, math.floor(math.log2(largest)) + 1) if largest > 0 else 0


def _quantized(layer, values: np.ndarray, quantizer) -> np.ndarray:
    return np.asarray(quantizer(values.astype(np.float32)), dtype=np.float64) if quantizer else values


def _folded_dense(dense, bn):
    """A new QDense equal to `dense` followed by the inference-time `bn`, and its weights."""
    from qkeras import QDense, quantized_bits

    where = f"layer {bn.name} (BatchNormalization)"
    activation = getattr(dense.activation, "__name__", type(dense.activation).__name__)
    if type(dense).__name__ != "QDense" or activation != "linear":
        raise CodesignError(f"{where} can only be folded into a preceding QDense without activation; "
                            "move the activation after the BatchNormalization")
    kernel_q, bias_q = dense.kernel_quantizer_internal, dense.bias_quantizer_internal
    if kernel_q is None:
        raise CodesignError(f"{where}: the QDense before it has no kernel_quantizer; give it quantized_bits")
    weights = dense.get_weights()
    kernel = _quantized(dense, weights[0].astype(np.float64), kernel_q)
    bias = _quantized(dense, weights[1].astype(np.float64), bias_q) if dense.use_bias else np.zeros(kernel.shape[1])
    gamma = bn.gamma.numpy() if bn.scale else np.ones(kernel.shape[1])
    beta = bn.beta.numpy() if bn.center else np.zeros(kernel.shape[1])
    scale = gamma / np.sqrt(bn.moving_variance.numpy() + bn.epsilon)
    new_kernel = kernel * scale
    new_bias = (bias - bn.moving_mean.numpy()) * scale + beta
    bias_bits = int(bias_q.bits) if bias_q is not None else int(kernel_q.bits) + 4
    folded = QDense(
        kernel.shape[1], name=dense.name,
        kernel_quantizer=quantized_bits(int(kernel_q.bits), _integer_bits(new_kernel), alpha=1),
        bias_quantizer=quantized_bits(bias_bits, _integer_bits(new_bias), alpha=1),
    )
    return folded, [new_kernel.astype(np.float32), new_bias.astype(np.float32)]


def fold_batchnorm(model):
    """(model, note): `model` with every BatchNormalization folded into its QDense; unchanged without any."""
    import keras

    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    if not any(type(layer).__name__ == "BatchNormalization" for layer in layers):
        return model, ""
    inputs = keras.Input(model.input_shape[1:], name=model.input_names[0])
    x, folded_names, i = inputs, [], 0
    while i < len(layers):
        layer = layers[i]
        following = layers[i + 1] if i + 1 < len(layers) else None
        if type(layer).__name__ == "BatchNormalization":
            raise CodesignError(f"layer {layer.name} (BatchNormalization) does not follow a QDense; it cannot be folded")
        if following is not None and type(following).__name__ == "BatchNormalization":
            new, weights = _folded_dense(layer, following)
            x = new(x)
            new.set_weights(weights)
            folded_names.append(f"{following.name} into {layer.name}")
            i += 2
        else:
            x = layer(x)
            i += 1
    note = "folded BatchNormalization " + ", ".join(folded_names) + " (folded weights re-quantized)"
    return keras.Model(inputs, x, name=model.name), note
