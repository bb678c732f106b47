"""One ONNX `PRelu` node for each PReLU that tf2onnx writes out as element-wise pieces.

Keras computes PReLU as ``relu(x) - alpha * relu(-x)`` and tf2onnx exports exactly that: Relu, Neg, Relu,
Mul by the constant ``-alpha`` and Add, with a Transpose pair around the Mul when the network runs in NCHW
(convolutions) while ``alpha`` is laid out as Keras' (H, W, C).  onnxruntime then makes five or seven passes
over every activation tensor; one `PRelu` (``max(x, 0) + alpha * min(x, 0)``) makes one.  The two give
identical floats: one of the two terms is always zero, and negating is exact.  On the SUEP ConvAE
(288 x 360 x 3, one core, quiet machine, two alternating runs each) it takes onnxruntime from 24.9-25.2 to
21.2-23.6 ms of CPU per event.  tf2onnx has no rewriter for this pattern, hence this pass.
"""

from __future__ import annotations

import numpy as np
from onnx import GraphProto, NodeProto, helper, numpy_helper


def fuse_prelu(graph: GraphProto) -> int:
    """Replace every ``Add(Relu(x), [Transpose](Mul(c, [Transpose](Relu(Neg(x))))))`` with a constant `c` by
    ``PRelu(x, -c)`` (the slope laid out as `x`), drop the nodes left unused; returns how many were fused."""
    producers = {out: node for node in graph.node for out in node.output}
    constants = {init.name: init for init in graph.initializer}
    fused = []
    for add in [node for node in graph.node if node.op_type == "Add"]:
        slope = _prelu_slope(add, producers, constants)
        if slope is not None:
            x, alpha = slope
            name = f"{add.name}/prelu_slope"
            graph.initializer.append(numpy_helper.from_array(alpha.astype(np.float32), name))
            fused.append((add, helper.make_node("PRelu", [x, name], list(add.output), name=f"{add.name}/prelu")))
    for add, prelu in fused:
        graph.node.insert(list(graph.node).index(add), prelu)
        graph.node.remove(add)
    _drop_unused(graph)
    return len(fused)


def _prelu_slope(add: NodeProto, producers: dict, constants: dict) -> tuple[str, np.ndarray] | None:
    """(x, alpha laid out as x) when `add` ends a PReLU written as pieces, else None."""
    for positive, negative in (add.input, add.input[::-1]):
        relu, node = producers.get(positive), producers.get(negative)
        if relu is None or relu.op_type != "Relu" or node is None:
            continue
        outer = _perm(node)
        mul = producers.get(node.input[0]) if outer is not None else node
        if mul is None or mul.op_type != "Mul":
            continue
        for const, other in (mul.input, mul.input[::-1]):
            inner_node = producers.get(other)
            if const not in constants or inner_node is None:
                continue
            inner = _perm(inner_node)
            if (inner is None) != (outer is None):
                continue
            neg_relu = producers.get(inner_node.input[0]) if inner is not None else inner_node
            neg = producers.get(neg_relu.input[0]) if neg_relu is not None and neg_relu.op_type == "Relu" else None
            if neg is None or neg.op_type != "Neg" or neg.input[0] != relu.input[0]:
                continue
            if inner is not None and [inner[i] for i in outer] != list(range(len(inner))):
                continue  # the two transposes must undo each other
            c = numpy_helper.to_array(constants[const])
            if outer is not None:
                c = c.reshape((1,) * (len(outer) - c.ndim) + c.shape).transpose(outer)
            return relu.input[0], -c
    return None


def _perm(node: NodeProto) -> list[int] | None:
    """A Transpose's permutation, None for any other node."""
    if node.op_type != "Transpose":
        return None
    return next(list(a.ints) for a in node.attribute if a.name == "perm")


def _drop_unused(graph: GraphProto) -> None:
    """Remove nodes none of whose outputs is used, until none is left."""
    while True:
        used = {name for node in graph.node for name in node.input} | {out.name for out in graph.output}
        dead = [node for node in graph.node if not any(out in used for out in node.output)]
        if not dead:
            return
        for node in dead:
            graph.node.remove(node)
