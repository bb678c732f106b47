"""QONNX export of the fixed-point graph: `Quant` nodes with the graph's exact widths, rounding and signedness.

Lowering (QONNX has no QKeras converter any more; this reads the graph, the one source of the formats):
* the graph input's cast and every `Quantize` become `Quant(x, scale=2**-frac, zeropt=0, bitwidth=width)`
  with `signed`, `narrow` (SAT_SYM) and `rounding_mode` (RND_CONV: ROUND, half to even; TRN: FLOOR;
  RND, half up, is `Add(half an LSB)` then FLOOR), after a `Relu` for quantized ReLUs.  `Quant` saturates:
  a WRAP format is exported only where its input can never overflow it.
* `Dense` is `MatMul` + `Add` with the integer weights times their LSB, `Scale` is `Mul` + `Add`, each
  followed by a `Quant` to its exact accumulator format (a no-op that records the width); `Reshape` is `Reshape`.
Tensors are float32, so every format must fit the 24-bit float32 significand (then every sum is exact).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codesign.atomic import atomic_path, check_output
from codesign.errors import CodesignError
from codesign.fixed.fixed_format import FixedFormat
from codesign.fixed.graph import Conv2D, Dense, Graph, Pool2D, Quantize, Reshape, Scale, Upsample2D

FLOAT32_BITS = 24
OPSET = 13
ROUNDING = {"RND_CONV": "ROUND", "TRN": "FLOOR", "RND": "FLOOR"}  # RND: half an LSB is added first


class _Builder:
    """Nodes and initializers of one ONNX graph, with fresh tensor names."""

    def __init__(self) -> None:
        self.nodes, self.initializers, self.count = [], [], 0

    def constant(self, name: str, value) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], name: str, domain: str = "", **attrs) -> str:
        from onnx import helper

        self.count += 1
        out = f"{name}_{op.lower()}{self.count}"
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, domain=domain, **attrs))
        return out

    def quant(self, x: str, fmt: FixedFormat, name: str) -> str:
        if fmt.rounding == "RND":
            x = self.node("Add", [x, self.constant(f"{name}_half_lsb", fmt.lsb / 2)], name)
        inputs = [x, self.constant(f"{name}_scale", fmt.lsb), self.constant(f"{name}_zeropt", 0.0),
                  self.constant(f"{name}_bitwidth", fmt.width)]
        return self.node("Quant", inputs, name, domain="qonnx.custom_op.general", signed=int(fmt.signed),
                         narrow=int(fmt.overflow == "SAT_SYM"), rounding_mode=ROUNDING[fmt.rounding])


def _check(graph: Graph) -> None:
    windowed = next((op for op in graph.ops if isinstance(op, (Conv2D, Pool2D, Upsample2D))), None)
    if windowed is not None:
        raise CodesignError(f"{windowed.name}: QONNX export handles dense graphs only (no Conv2D, pooling or"
                            " upsampling yet); hand off a convolutional model with 'codesign handoff'")
    wide = [(name, fmt) for name, fmt in graph.formats() if fmt.width > FLOAT32_BITS]
    if wide:
        name, fmt = wide[0]
        raise CodesignError(f"{name} is {fmt.hls()} ({fmt.width} bits); QONNX export computes in float32 and "
                            f"allows at most {FLOAT32_BITS} bits; narrow that layer's quantizer")
    fmt = graph.input_format
    if fmt.overflow == "WRAP":
        raise CodesignError(f"the input format {fmt.hls()} wraps on overflow, which QONNX's Quant (saturating) "
                            "cannot express; give the model a saturating input quantizer")
    for op in graph.ops:
        if isinstance(op, Quantize) and op.output_format.overflow == "WRAP" and op.output_format != fmt:
            out = op.output_format
            low = 0.0 if op.relu else fmt.min_value
            if low < out.min_value or fmt.max_value > out.max_value:
                raise CodesignError(f"{op.name}: {out.hls()} wraps on overflow, which QONNX's Quant (saturating) "
                                    "cannot express; use a saturating quantizer")
        fmt = op.output_format


def to_qonnx(graph: Graph, batch: int = 1):
    """The graph as a QONNX `ModelWrapper` (input `global_in`, output `global_out`, float32, shapes inferred for
    `batch` events: qonnx's executor takes inputs of exactly the declared shape)."""
    from onnx import TensorProto, helper
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.infer_shapes import InferShapes

    _check(graph)
    b = _Builder()
    x = b.quant("global_in", graph.input_format, "input")
    for op in graph.ops:
        if isinstance(op, Dense):
            x = b.node("MatMul", [x, b.constant(f"{op.name}_w", op.weight * op.weight_format.lsb)], op.name)
            x = b.quant(b.node("Add", [x, b.constant(f"{op.name}_b", op.bias * op.bias_format.lsb)], op.name),
                        op.output_format, op.name)
        elif isinstance(op, Scale):
            x = b.node("Mul", [x, b.constant(f"{op.name}_s", op.weight * op.weight_format.lsb)], op.name)
            x = b.quant(b.node("Add", [x, b.constant(f"{op.name}_b", op.bias * op.bias_format.lsb)], op.name),
                        op.output_format, op.name)
        elif isinstance(op, Reshape):
            shape = helper.make_tensor(f"{op.name}_shape", TensorProto.INT64, [len(op.shape) + 1], [-1, *op.shape])
            b.initializers.append(shape)
            x = b.node("Reshape", [x, shape.name], op.name)
        else:
            if op.relu:
                x = b.node("Relu", [x], op.name)
            if op.output_format is not None:
                x = b.quant(x, op.output_format, op.name)
    b.nodes.append(helper.make_node("Identity", [x], ["global_out"], name="global_out"))
    onnx_graph = helper.make_graph(
        b.nodes, graph.name,
        [helper.make_tensor_value_info("global_in", TensorProto.FLOAT, [batch, *graph.input_shape])],
        [helper.make_tensor_value_info("global_out", TensorProto.FLOAT, [batch, *graph.output_shape])],
        b.initializers,
    )
    model = helper.make_model(onnx_graph, producer_name="codesign",
                              opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("qonnx.custom_op.general", 1)])
    return ModelWrapper(model).transform(InferShapes())


def run_qonnx(model, x: np.ndarray) -> np.ndarray:
    """The exported model on all inputs `x` at once through qonnx's executor (re-declared for len(x) events)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes

    x = np.asarray(x, dtype=np.float32)
    proto = type(model.model)()
    proto.CopyFrom(model.model)
    del proto.graph.value_info[:]
    for value in (*proto.graph.input, *proto.graph.output):
        value.type.tensor_type.shape.dim[0].dim_value = len(x)
    batch = ModelWrapper(proto).transform(InferShapes())
    return execute_onnx(batch, {"global_in": x})["global_out"]


def export(target: str, output: Path, fmt: str = "qonnx") -> str:
    """`codesign export MODEL --format qonnx -o model.onnx`; returns a summary."""
    from codesign.zoo.loading import load_model

    if fmt != "qonnx":
        raise CodesignError(f"unknown export format {fmt!r}; the one format is qonnx")
    output = check_output(output, folder=False, inputs=(target,))
    model = load_model(target)
    exported = to_qonnx(model.graph)
    with atomic_path(output, folder=False) as tmp:
        exported.save(str(tmp))
    quants = sum(node.op_type == "Quant" for node in exported.graph.node)
    return f"wrote {output}: {model.graph.name} as QONNX ({len(exported.graph.node)} nodes, {quants} Quant)"
