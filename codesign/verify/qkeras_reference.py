"""The user's QKeras model itself as a reference, evaluated layer by layer in float64.

Independent of codesign's lowering: weights go through the model's own QKeras quantizers, sums are
float64 (exact up to 53 significant bits, where Keras' float32 would round), and every activation is
the model's own QKeras quantizer.  QKeras quantizers compute in float32, so each float64 value `v` is
handed to them as a float32 that quantizes exactly like `v`: `v` itself when float32 holds it, else
its float32 neighbour with an odd mantissa (rounding boundaries, multiples of half an LSB, have even
mantissas, so no boundary lies between `v` and that neighbour for quantizers up to ~21 bits).  Values
beyond four times a quantizer's range are first clipped to that (its result saturates either way):
QKeras' straight-through ``x + (q(x) - x)`` in float32 would lose the result's low bits for huge `x`.
BatchNormalization is float64 ``(x - mean) / sqrt(var + eps) * gamma + beta``.  Convolutions and
pooling are written here directly (padded arrays, a sum over kernel offsets), independently of the
graph's window index maps.
"""

from __future__ import annotations

import numpy as np

from codesign.errors import CodesignError


def qkeras_float64(model, x: np.ndarray) -> np.ndarray:
    """The model's outputs for real inputs `x` (N, *input_shape), layer by layer in float64."""
    values = np.asarray(x, dtype=np.float64)
    for layer in model.layers:
        values = _layer(layer, values)
    return values


def _layer(layer, values: np.ndarray) -> np.ndarray:
    kind = type(layer).__name__
    if kind in ("InputLayer", "Dropout"):
        return values
    if kind in ("QDense", "Dense", "QConv2D", "Conv2D"):
        weights = layer.get_weights()
        kernel = _quantized(getattr(layer, "kernel_quantizer_internal", None), weights[0])
        out = _conv(values, kernel, layer) if kind.endswith("Conv2D") else values @ kernel
        if layer.use_bias:
            out = out + _quantized(getattr(layer, "bias_quantizer_internal", None), weights[1])
        return _activation(layer.activation, out)
    if kind in ("AveragePooling2D", "MaxPooling2D"):
        return _pool(values, layer, np.nanmean if kind == "AveragePooling2D" else np.nanmax)
    if kind == "UpSampling2D":
        return values.repeat(layer.size[0], axis=1).repeat(layer.size[1], axis=2)
    if kind == "QActivation":
        return _activation(layer.quantizer, values)
    if kind == "Activation":
        return _activation(layer.activation, values)
    if kind in ("Flatten", "Reshape"):
        return values.reshape(len(values), *[int(d) for d in layer.output_shape[1:]])
    if kind == "BatchNormalization":
        n = int(layer.moving_mean.shape[0])
        gamma = layer.gamma.numpy().astype(np.float64) if layer.scale else np.ones(n)
        beta = layer.beta.numpy().astype(np.float64) if layer.center else np.zeros(n)
        mean, var = (w.numpy().astype(np.float64) for w in (layer.moving_mean, layer.moving_variance))
        return (values - mean) / np.sqrt(var + layer.epsilon) * gamma + beta
    raise CodesignError(f"layer {layer.name} ({kind}) has no float64 QKeras reference")


def _padded(values: np.ndarray, size, strides, padding: str, fill: float) -> tuple[np.ndarray, tuple[int, int]]:
    """Keras' padding of (N, H, W, C) values (the odd row/column at the bottom/right) and the output size."""
    if padding == "valid":
        return values, tuple((n - k) // s + 1 for n, k, s in zip(values.shape[1:3], size, strides))
    out = tuple(-(-n // s) for n, s in zip(values.shape[1:3], strides))
    total = [max((o - 1) * s + k - n, 0) for o, s, k, n in zip(out, strides, size, values.shape[1:3])]
    pads = [(0, 0), *[(t // 2, t - t // 2) for t in total], (0, 0)]
    return np.pad(values, pads, constant_values=fill), out


def _conv(values: np.ndarray, kernel: np.ndarray, layer) -> np.ndarray:
    (kh, kw), (sh, sw) = kernel.shape[:2], layer.strides
    x, (oh, ow) = _padded(values, (kh, kw), (sh, sw), layer.padding, 0.0)
    out = np.zeros((len(x), oh, ow, kernel.shape[3]))
    for i in range(kh):
        for j in range(kw):
            out += x[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw, :] @ kernel[i, j]
    return out


def _pool(values: np.ndarray, layer, reduce) -> np.ndarray:
    """Keras pooling: padding never counts (NaN-padded, reduced with the NaN-ignoring reduction)."""
    (kh, kw), (sh, sw) = layer.pool_size, layer.strides
    x, (oh, ow) = _padded(values, (kh, kw), (sh, sw), layer.padding, np.nan)
    stack = [x[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw, :] for i in range(kh) for j in range(kw)]
    return reduce(np.stack(stack), axis=0)


def _quantized(quantizer, weights: np.ndarray) -> np.ndarray:
    if quantizer is None:
        return weights.astype(np.float64)
    return np.asarray(quantizer(weights.astype(np.float32)), dtype=np.float64)


def _activation(fn, values: np.ndarray) -> np.ndarray:
    name = getattr(fn, "__name__", type(fn).__name__)
    if name == "linear":
        return values
    if name == "relu":
        return np.maximum(values, 0.0)
    if hasattr(fn, "bits"):  # a QKeras quantizer
        import tensorflow as tf

        bound = 2.0 ** (int(fn.integer) + 2)  # beyond the range either way: the result saturates
        return np.asarray(fn(tf.constant(as_float32(np.clip(values, -bound, bound)))), dtype=np.float64)
    raise CodesignError(f"activation {name} has no float64 QKeras reference")


def as_float32(values: np.ndarray) -> np.ndarray:
    """float32 values that every quantizer of up to ~21 bits rounds exactly as the float64 `values`."""
    values = np.asarray(values, dtype=np.float64)
    near = values.astype(np.float32)
    off = near.astype(np.float64) != values
    below = np.where(near.astype(np.float64) > values, np.nextafter(near, np.float32(-np.inf)), near)
    above = np.nextafter(below, np.float32(np.inf))
    odd = np.where((below.view(np.int32) & 1) == 1, below, above)
    return np.where(off, odd, near)
