"""The hls4ml configuration of a (Q)Keras model, with every precision taken from its fixed-point graph.

hls4ml names its layers after the Keras layers, except that a Dense layer with an activation is
split into the dense layer and a ``<dense>_<activation>`` layer (``d1_quantized_relu``, ``d1_relu``,
``d1_linear``).  The graph names that activation ``<dense>_act``, so the two chains are aligned in
order rather than by name; anything left unmatched on either side is an error.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

import hls4ml
import numpy as np
from hls4ml.backends.fpga.fpga_types import APTypeConverter
from hls4ml.model.types import FixedPrecisionType

from codesign.errors import CodesignError
from codesign.fixed.fixed_format import FixedFormat
from codesign.fixed.graph import Dense, Graph, Quantize, Scale

#: Used by hls4ml only for types the graph has no say in (activation tables, never used by ReLU/linear).
DEFAULT_PRECISION = "ap_fixed<16,6>"


@dataclass(frozen=True)
class LayerPrecision:
    """The formats one hls4ml layer must use, from its graph operation."""

    op: str  # the graph operation's name ("input" for the input layer)
    result: FixedFormat
    dense: Dense | None = None  # weight, bias and accumulator formats and the weight values
    relu: bool = False
    scale: Scale | None = None  # a BatchNormalization: scale and shift formats and values

    def config(self) -> dict[str, str]:
        """The layer's ``Precision`` entry of the hls4ml configuration."""
        precision = {"result": self.result.hls()}
        if self.dense is not None:
            precision |= {
                "weight": self.dense.weight_format.hls(),
                "bias": self.dense.bias_format.hls(),
                "accum": self.dense.output_format.hls(),
            }
        if self.scale is not None:
            precision |= {"scale": self.scale.weight_format.hls(), "bias": self.scale.bias_format.hls()}
        return precision


def hls_precision(fmt: FixedFormat) -> FixedPrecisionType:
    """The hls4ml precision type of a fixed-point format."""
    return FixedPrecisionType(fmt.width, fmt.integer, fmt.signed, fmt.rounding, fmt.overflow)


def layer_precisions(model, graph: Graph) -> dict[str, LayerPrecision]:
    """hls4ml layer name -> the formats it must use, in model order (the input layer first)."""
    with contextlib.redirect_stdout(io.StringIO()):
        names = list(hls4ml.utils.config_from_keras_model(model, granularity="name")["LayerName"])
    keras_names = {layer.name for layer in model.layers}
    precisions = {names[0]: LayerPrecision("input", graph.input_format)}
    ops, fmt, dense = list(graph.ops), graph.input_format, None
    for name in names[1:]:
        op = ops[0] if ops else None
        if op is not None and (op.name == name or (dense is not None and op.name not in keras_names
                                                   and name.startswith(f"{dense.name}_"))):
            ops.pop(0)
            relu = isinstance(op, Quantize) and op.relu
            precisions[name] = LayerPrecision(op.name, op.output_format, op if isinstance(op, Dense) else None, relu,
                                              op if isinstance(op, Scale) else None)
            fmt, dense = op.output_format, op if isinstance(op, Dense) else None
        elif _is_linear_activation(model, name, dense):
            precisions[name] = LayerPrecision(f"{name} (identity)", fmt)
            dense = None
        else:
            raise CodesignError(f"hls4ml layer {name} has no counterpart in the fixed-point graph of {graph.name}")
    if ops:
        raise CodesignError(f"graph operation {ops[0].name} of {graph.name} has no hls4ml layer")
    return precisions


def _is_linear_activation(model, name: str, dense: Dense | None) -> bool:
    """Whether hls4ml layer `name` is a linear activation (which the graph omits)."""
    if dense is not None and name == f"{dense.name}_linear":
        return True
    layer = next((layer for layer in model.layers if layer.name == name), None)
    activation = getattr(getattr(layer, "activation", None), "__name__", None)
    return type(layer).__name__ == "Activation" and activation == "linear"


def hls_config(model, graph: Graph, reuse_factor: int = 1) -> dict:
    """The hls4ml ``hls_config``: Latency strategy, every layer's precisions explicit from `graph`."""
    if reuse_factor < 1:
        raise CodesignError(f"reuse factor must be at least 1, got {reuse_factor}")
    layers = {
        name: {"Precision": precision.config(), "ReuseFactor": reuse_factor, "Trace": False}
        for name, precision in layer_precisions(model, graph).items()
    }
    return {
        "Model": {"Precision": {"default": DEFAULT_PRECISION}, "ReuseFactor": reuse_factor, "Strategy": "Latency",
                  "BramFactor": 1_000_000_000, "TraceOutput": False},
        "LayerName": layers,
    }


def enforce_precisions(hls_model, model, graph: Graph) -> None:
    """Give weights and biases the graph's types, then check every hls4ml layer against the graph.

    hls4ml takes the weight and bias types of QKeras layers from their quantizers (truncating,
    wrapping) whatever the configuration says; the values are the same, the types are set here.
    """
    precisions = layer_precisions(model, graph)
    layers = {layer.name: layer for layer in hls_model.get_layers()}
    previous = None
    for name, expected in precisions.items():
        if name not in layers and (previous is None or expected.result != previous or expected.relu):
            raise CodesignError(f"hls4ml dropped layer {name}, which is not an identity in the graph")
        previous = expected.result
    for name, layer in layers.items():
        expected = precisions.get(name)
        if expected is None:
            raise CodesignError(f"hls4ml layer {name} ({layer.class_name}) has no counterpart in the fixed-point graph")
        if (expected.dense is None) != (layer.class_name != "Dense"):
            raise CodesignError(f"hls4ml layer {name} ({layer.class_name}) does not match graph op {expected.op}")
        if (expected.scale is None) != (layer.class_name != "BatchNormalization"):
            raise CodesignError(f"hls4ml layer {name} ({layer.class_name}) does not match graph op {expected.op}")
        if expected.dense is not None:
            _set_weights_type(layer, expected.dense)
        if expected.scale is not None:
            _set_scale(layer, expected.scale)
        for kind, precision, fmt in _types(layer, expected):
            if precision != hls_precision(fmt):
                raise CodesignError(f"hls4ml layer {name}: {kind} precision {precision} is not the graph's {fmt.hls()}")


def _types(layer, expected: LayerPrecision) -> list[tuple[str, object, FixedFormat]]:
    """(kind, hls4ml precision, graph format) of every type of a layer the graph determines."""
    types = [("result", layer.get_output_variable().type.precision, expected.result)]
    dense = expected.dense
    if dense is not None:
        types += [
            ("accum", layer.get_attr("accum_t").precision, dense.output_format),
            ("weight", layer.weights["weight"].type.precision, dense.weight_format),
            ("bias", layer.weights["bias"].type.precision, dense.bias_format),
        ]
    if expected.scale is not None:
        types += [
            ("scale", layer.weights["scale"].type.precision, expected.scale.weight_format),
            ("bias", layer.weights["bias"].type.precision, expected.scale.bias_format),
        ]
    return types


def _set_weights_type(layer, dense: Dense) -> None:
    """Check the values hls4ml will write against the graph's, then give them the graph's types."""
    for key, ints, fmt in (("weight", dense.weight, dense.weight_format), ("bias", dense.bias, dense.bias_format)):
        variable = layer.weights[key]
        values = np.asarray(variable.data, dtype=np.float64).reshape(ints.shape)
        if not np.array_equal(values, fmt.to_float(ints)):
            raise CodesignError(f"hls4ml layer {layer.name}: {key} values differ from the fixed-point graph's")
        variable.update_precision(APTypeConverter().convert(hls_precision(fmt)))


def _set_scale(layer, scale: Scale) -> None:
    """A BatchNormalization's scale and shift: hls4ml computes them in float; the graph's rounded values replace them."""
    for key, ints, fmt in (("scale", scale.weight, scale.weight_format), ("bias", scale.bias, scale.bias_format)):
        variable = layer.weights[key]
        variable.data = fmt.to_float(ints).reshape(np.shape(variable.data))
        variable.update_precision(APTypeConverter().convert(hls_precision(fmt)))
