"""The hls4ml configuration of a (Q)Keras model, with every precision taken from its fixed-point graph.

hls4ml names its layers after the Keras layers, except that a Dense layer with an activation is
split into the dense layer and a ``<dense>_<activation>`` layer (``d1_quantized_relu``, ``d1_relu``,
``d1_linear``).  The graph names that activation ``<dense>_act``, so the two chains are aligned in
order rather than by name; anything left unmatched on either side is an error.  The same holds for a
Conv2D and its activation.

Convolutions: io_parallel with the Latency strategy, i.e. ``conv_2d_latency_cl``: hls4ml's generated
im2col (``fill_buffer``) feeds every output pixel's window to one unrolled matrix multiply, accumulated
in ``accum_t`` and cast to the result.  It is chosen because its arithmetic is the graph's exactly
(products and bias into the exact accumulator, one cast), and `ParallelizationFactor` = every output
pixel makes it fully parallel like the dense layers (the Resource strategy shares multipliers through
a reuse factor instead; the io_stream line-buffer implementations do not apply to io_parallel).
Pooling is ``pooling2d_cl`` (sum in ``accum_t``, ``/= n``, cast: exact with the graph's formats) and
UpSampling2D hls4ml's ``Resize`` (nearest).
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
from codesign.fixed.graph import Conv2D, Dense, Graph, Pool2D, Quantize, Scale

#: Used by hls4ml only for types the graph has no say in (activation tables, never used by ReLU/linear).
DEFAULT_PRECISION = "ap_fixed<16,6>"


@dataclass(frozen=True)
class LayerPrecision:
    """The formats one hls4ml layer must use, from its graph operation."""

    op: str  # the graph operation's name ("input" for the input layer)
    result: FixedFormat
    dense: Dense | Conv2D | None = None  # weight, bias and accumulator formats and the weight values
    relu: bool = False
    scale: Scale | None = None  # a BatchNormalization: scale and shift formats and values
    pool: Pool2D | None = None  # the pooling's accumulator

    @property
    def hls_class(self) -> str | None:
        """The hls4ml layer class this layer must be, for the graph's weighted and pooling ops."""
        for op, name in ((self.dense, "Dense"), (self.scale, "BatchNormalization"), (self.pool, "Pooling2D")):
            if op is not None:
                return "Conv2D" if isinstance(op, Conv2D) else name
        return None

    def config(self) -> dict[str, str]:
        """The layer's ``Precision`` entry of the hls4ml configuration."""
        precision = {"result": self.result.hls()}
        if self.dense is not None:
            precision |= {
                "weight": self.dense.weight_format.hls(),
                "bias": self.dense.bias_format.hls(),
                "accum": self.dense.accum_format.hls(),
            }
        if self.scale is not None:
            precision |= {"scale": self.scale.weight_format.hls(), "bias": self.scale.bias_format.hls()}
        if self.pool is not None:
            precision["accum"] = self.pool.accum_format.hls()
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
            weighted = op if isinstance(op, (Dense, Conv2D)) else None
            precisions[name] = LayerPrecision(op.name, op.output_format, weighted, relu,
                                              op if isinstance(op, Scale) else None, op if isinstance(op, Pool2D) else None)
            fmt, dense = op.output_format, weighted
        elif _is_linear_activation(model, name, dense):
            precisions[name] = LayerPrecision(f"{name} (identity)", fmt)
            dense = None
        else:
            raise CodesignError(f"hls4ml layer {name} has no counterpart in the fixed-point graph of {graph.name}")
    if ops:
        raise CodesignError(f"graph operation {ops[0].name} of {graph.name} has no hls4ml layer")
    return precisions


def _is_linear_activation(model, name: str, dense: Dense | Conv2D | None) -> bool:
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
    for op in graph.ops:  # every output pixel of a convolution at once (see the module docstring)
        if isinstance(op, Conv2D):
            layers[op.name]["ParallelizationFactor"] = int(np.prod(_conv_pixels(model, op.name)))
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
        kind = {"PointwiseConv2D": "Conv2D"}.get(layer.class_name, layer.class_name)  # hls4ml's name for 1x1 kernels
        if expected.hls_class != (kind if kind in ("Dense", "Conv2D", "BatchNormalization", "Pooling2D") else None):
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
            ("accum", layer.get_attr("accum_t").precision, dense.accum_format),
            ("weight", layer.weights["weight"].type.precision, dense.weight_format),
            ("bias", layer.weights["bias"].type.precision, dense.bias_format),
        ]
    if expected.scale is not None:
        types += [
            ("scale", layer.weights["scale"].type.precision, expected.scale.weight_format),
            ("bias", layer.weights["bias"].type.precision, expected.scale.bias_format),
        ]
    if expected.pool is not None:
        types.append(("accum", layer.get_attr("accum_t").precision, expected.pool.accum_format))
    return types


def _conv_pixels(model, name: str) -> tuple[int, int]:
    """(height, width) of a Keras convolution's output."""
    return tuple(int(d) for d in model.get_layer(name).output_shape[1:3])


def _set_weights_type(layer, dense: Dense | Conv2D) -> None:
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
