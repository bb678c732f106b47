"""Lowering a trained (Q)Keras model to a fixed-point graph, matching QKeras' arithmetic exactly.

QKeras semantics reproduced (qkeras 0.9, `alpha` = 1 or None):

* `quantized_bits(bits, integer, symmetric, keep_negative)` = `ap_fixed<bits, integer + 1>` (signed)
  or `ap_ufixed<bits, integer>`, ties to even (`tf.round`), saturating (`SAT_SYM` if symmetric);
* `quantized_relu(bits, integer)` = ReLU then `ap_ufixed<bits, integer, AP_RND_CONV, AP_SAT>`.

BatchNormalization is a float operation in Keras; at inference it is ``x * s + b`` per channel with
``s = gamma / sqrt(var + eps)``, ``b = beta - mean * s``.  It becomes a `Scale` op whose `s` and `b`
are rounded to `BN_BITS` significant bits each (its own precision, never folded into the weights):
the one place where the graph is not QKeras exactly, and `codesign synth` measures by how much.

What cannot be reproduced exactly is refused with an error that says how to change the model.
"""

from __future__ import annotations

import numpy as np

from codesign.errors import CodesignError
from codesign.fixed.fixed_format import FixedFormat
from codesign.fixed.graph import Conv2D, Dense, Graph, Op, Pool2D, Quantize, Reshape, Scale, Upsample2D, Window
from codesign.fixed.precisions import Precisions

#: The input format assumed for models without an input quantizer: the width of hls4ml's default
#: ap_fixed<16,6>, with rounding and saturation so out-of-range inputs clip instead of wrapping.
DEFAULT_INPUT_FORMAT = FixedFormat(16, 6, True, "RND_CONV", "SAT")
SUPPORTED_LAYERS = ("InputLayer", "QDense", "Dense", "QConv2D", "Conv2D", "AveragePooling2D", "MaxPooling2D",
                    "UpSampling2D", "QActivation", "Activation", "Flatten", "Reshape", "Dropout", "BatchNormalization")
POOLS = {"AveragePooling2D": "average", "MaxPooling2D": "max"}
#: Significant bits (sign included) of a BatchNormalization's scale and of its shift.
BN_BITS = 18
_MAX_GRID_FRAC = 24
_MAX_GRID_WIDTH = 16  # float weights needing more bits are not quantized weights


def quantizer_format(quantizer, where: str) -> tuple[FixedFormat, bool]:
    """(format, applies ReLU) of a QKeras quantizer; anything not exactly representable is refused."""
    kind = type(quantizer).__name__
    if kind == "quantized_bits":
        if quantizer.alpha not in (None, 1, 1.0):
            raise CodesignError(
                f"{where}: quantized_bits with alpha={quantizer.alpha!r} scales by a learned factor that has no"
                " exact fixed-point image; retrain with alpha=1"
            )
        if quantizer.use_stochastic_rounding:
            raise CodesignError(f"{where}: stochastic rounding cannot be emulated; set use_stochastic_rounding=False")
        bits, integer = int(quantizer.bits), int(quantizer.integer)
        if bits - int(quantizer.keep_negative) < 1:
            raise CodesignError(f"{where}: {bits}-bit quantized_bits is a binary quantizer; use at least 2 bits")
        if quantizer.keep_negative:
            overflow = "SAT_SYM" if quantizer.symmetric else "SAT"
            return FixedFormat(bits, integer + 1, True, "RND_CONV", overflow), False
        return FixedFormat(bits, integer, False, "RND_CONV", "SAT"), False
    if kind == "quantized_relu":
        if quantizer.use_sigmoid or quantizer.negative_slope or quantizer.relu_upper_bound is not None:
            raise CodesignError(
                f"{where}: quantized_relu with use_sigmoid, negative_slope or relu_upper_bound is not supported;"
                " use plain quantized_relu(bits, integer)"
            )
        if quantizer.use_stochastic_rounding:
            raise CodesignError(f"{where}: stochastic rounding cannot be emulated; set use_stochastic_rounding=False")
        return FixedFormat(int(quantizer.bits), int(quantizer.integer), False, "RND_CONV", "SAT"), True
    raise CodesignError(f"{where}: quantizer {kind} is not supported; use quantized_bits or quantized_relu")


def grid_format(values: np.ndarray, where: str) -> FixedFormat:
    """The narrowest exact format for float values that already lie on a power-of-two grid."""
    values = np.asarray(values, dtype=np.float64)
    for frac in range(-8, _MAX_GRID_FRAC + 1):
        scaled = values * 2.0**frac
        if np.all(scaled == np.round(scaled)):
            bound = int(np.abs(scaled).max(initial=0))
            width = max(bound.bit_length() + 1, 2)
            if width <= _MAX_GRID_WIDTH:
                return FixedFormat(width, width - frac, True, "RND_CONV", "SAT")
            break
    raise CodesignError(
        f"{where}: float weights are not on a fixed-point grid; use a QDense with kernel_quantizer and"
        " bias_quantizer (quantized_bits) so the weights have an exact fixed-point image"
    )


def lower_keras(model, input_format: FixedFormat | None = None,
                precisions: Precisions | None = None) -> tuple[Graph, str]:
    """Lower a sequential (Q)Keras model; returns the graph and a note on where the input format came from.

    `precisions`: explicit accumulator/result formats per Dense/Conv2D layer (`codesign.fixed.precisions`)."""
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    _check_chain(model)
    ops: list[Op] = []
    for layer in layers:
        ops += _lower_layer(layer)
    _set_precisions(ops, precisions or {})
    note = ""
    if input_format is None:
        first = ops[0] if ops else None
        if isinstance(first, Quantize) and not first.relu:
            input_format, note = first.output_format, f"input format {first.output_format.hls()} from the model's input quantizer"
        else:
            input_format = DEFAULT_INPUT_FORMAT
            note = f"the model has no input quantizer: inputs assumed to be {input_format.hls()}"
    input_shape = tuple(int(d) for d in model.input_shape[1:])
    return Graph(model.name, input_shape, input_format, ops), note


def _set_precisions(ops: list[Op], precisions: Precisions) -> None:
    by_name = {op.name: op for op in ops}
    for layer, formats in precisions.items():
        op = by_name.get(layer)
        if not isinstance(op, (Dense, Conv2D)):
            names = ", ".join(op.name for op in ops if isinstance(op, (Dense, Conv2D)))
            raise CodesignError(f"explicit precisions for {layer!r}: only Dense/Conv2D layers take them ({names})")
        op.accum, op.result = formats.get("accum"), formats.get("result")


def _check_chain(model) -> None:
    for layer in model.layers:
        inbound = getattr(layer, "_inbound_nodes", [])
        if any(len(node.inbound_layers) > 1 if isinstance(node.inbound_layers, list) else False for node in inbound):
            raise CodesignError(f"layer {layer.name} ({type(layer).__name__}) has several inputs; only chains are supported")


def _lower_layer(layer) -> list[Op]:
    kind = type(layer).__name__
    where = f"layer {layer.name} ({kind})"
    if kind in ("QDense", "Dense", "QConv2D", "Conv2D"):
        return _lower_weighted(layer, kind, where)
    if kind in POOLS:
        _check_channels_last(layer, where)
        window = Window(tuple(layer.pool_size), tuple(layer.strides), layer.padding)
        return [Pool2D(layer.name, POOLS[kind], window)]
    if kind == "UpSampling2D":
        _check_channels_last(layer, where)
        if layer.interpolation != "nearest":
            raise CodesignError(f"{where}: {layer.interpolation!r} interpolation is not supported; use 'nearest'")
        return [Upsample2D(layer.name, tuple(int(f) for f in layer.size))]
    if kind == "QActivation":
        return [_activation_op(layer.quantizer, layer.name, where)]
    if kind == "Activation":
        return _keras_activation(layer.activation, layer.name, where)
    if kind == "Dropout":  # the identity at inference
        return []
    if kind in ("Flatten", "Reshape"):
        return [Reshape(layer.name, tuple(int(d) for d in layer.output_shape[1:]))]
    if kind == "BatchNormalization":
        return [_lower_batchnorm(layer, where)]
    raise CodesignError(f"{where} is not supported; supported layers: {', '.join(SUPPORTED_LAYERS)}")


def _check_channels_last(layer, where: str) -> None:
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise CodesignError(f"{where}: only channels_last data is supported; build the model with"
                            " data_format='channels_last'")


def _lower_weighted(layer, kind: str, where: str) -> list[Op]:
    """QDense/Dense or QConv2D/Conv2D: integer weights in their quantizers' formats, then the activation."""
    conv = kind.endswith("Conv2D")
    if conv:
        _check_channels_last(layer, where)
        if tuple(layer.dilation_rate) != (1, 1) or getattr(layer, "groups", 1) != 1:
            raise CodesignError(f"{where}: dilated or grouped convolutions are not supported; use dilation_rate=1,"
                                " groups=1")
    weights = layer.get_weights()
    kernel = weights[0].astype(np.float64)
    bias = weights[1].astype(np.float64) if layer.use_bias else np.zeros(kernel.shape[-1])
    kernel_q = getattr(layer, "kernel_quantizer_internal", None)
    bias_q = getattr(layer, "bias_quantizer_internal", None)
    kernel_fmt = quantizer_format(kernel_q, f"{where} kernel")[0] if kernel_q else grid_format(kernel, f"{where} kernel")
    if not layer.use_bias:
        bias_fmt = FixedFormat(2, 2, True)
    elif bias_q:
        bias_fmt = quantizer_format(bias_q, f"{where} bias")[0]
    else:
        bias_fmt = grid_format(bias, f"{where} bias")
    args = (layer.name, kernel_fmt.quantize(kernel).astype(np.int64), kernel_fmt,
            bias_fmt.quantize(bias).astype(np.int64), bias_fmt)
    ops: list[Op] = [Conv2D(*args, strides=tuple(layer.strides), padding=layer.padding) if conv else Dense(*args)]
    activation = layer.activation
    if kind.startswith("Q") and hasattr(activation, "bits"):
        ops.append(_activation_op(activation, f"{layer.name}_act", where))
    else:
        ops += _keras_activation(activation, f"{layer.name}_act", where)
    return ops


def batchnorm_affine(layer) -> tuple[np.ndarray, np.ndarray]:
    """The float64 (scale, shift) of an inference-time BatchNormalization."""
    n = int(layer.moving_mean.shape[0])
    gamma = layer.gamma.numpy().astype(np.float64) if layer.scale else np.ones(n)
    beta = layer.beta.numpy().astype(np.float64) if layer.center else np.zeros(n)
    scale = gamma / np.sqrt(layer.moving_variance.numpy().astype(np.float64) + layer.epsilon)
    return scale, beta - layer.moving_mean.numpy().astype(np.float64) * scale


def _bn_format(values: np.ndarray) -> FixedFormat:
    """`BN_BITS` signed bits, the integer part just wide enough for max |values|, rounded to nearest."""
    largest = float(np.max(np.abs(values), initial=0.0))
    integer = int(np.floor(np.log2(largest))) + 2 if largest > 0 else 1  # 2**(integer - 1) > largest
    return FixedFormat(BN_BITS, integer, True, "RND_CONV", "SAT")


def _lower_batchnorm(layer, where: str) -> Scale:
    axis = layer.axis[0] if isinstance(layer.axis, (list, tuple)) else layer.axis
    if axis not in (-1, len(layer.input_shape) - 1):
        raise CodesignError(f"{where}: only BatchNormalization over the last axis is supported (axis=-1)")
    scale, shift = batchnorm_affine(layer)
    scale_fmt, shift_fmt = _bn_format(scale), _bn_format(shift)
    return Scale(layer.name, scale_fmt.quantize(scale).astype(np.int64), scale_fmt,
                 shift_fmt.quantize(shift).astype(np.int64), shift_fmt)


def _activation_op(quantizer, name: str, where: str) -> Quantize:
    fmt, relu = quantizer_format(quantizer, where)
    return Quantize(name, fmt, relu)


def _keras_activation(activation, name: str, where: str) -> list[Op]:
    act = getattr(activation, "__name__", type(activation).__name__)
    if act == "linear":
        return []
    if act == "relu":
        return [Quantize(name, None, relu=True)]  # exact ReLU: keeps the incoming format
    raise CodesignError(f"{where}: activation {act!r} is not supported; use linear, relu or a QKeras quantizer")

