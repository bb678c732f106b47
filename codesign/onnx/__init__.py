"""Generic Keras -> ONNX export (tf2onnx) and onnxruntime inference, shared by DQM and HLT models."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from codesign.atomic import atomic_path
from codesign.errors import CodesignError
from codesign.onnx.prelu import fuse_prelu

OPSET = 17


def export_keras(model, path: Path, opset: int = OPSET) -> Path:
    """Convert a Keras model to an ONNX file at `path` (written atomically); returns `path`."""
    import tensorflow as tf
    import tf2onnx

    spec = tuple(tf.TensorSpec((None, *i.shape[1:]), tf.float32, name=f"input_{k}")
                 for k, i in enumerate(model.inputs))
    proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=opset)
    fuse_prelu(proto.graph)
    canonical_names(proto.graph)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(proto.SerializeToString())
    return path


def canonical_names(graph) -> None:
    """Rename tf2onnx's generated names (`base__<counter>`) to `<op type>__<k>` (nodes) or `gen__<k>`
    (tensors, unknown dimensions), numbered in graph order, and sort the initializers.  Both the counters and the bases follow
    Python's per-process hash order (e.g. which of two equal constants survives deduplication:
    `Const__16` or `const_axes__16`), so without this the same model gives other bytes."""
    auto = re.compile(r"^.*__\d+(:\d+)?$")
    ops = {node.name: node.op_type for node in graph.node}
    names: dict[str, str] = {}

    def rename(name: str) -> str:
        match = auto.match(name)
        if not match:
            return name
        if name not in names:
            names[name] = f"{ops.get(name, 'gen')}__{len(names)}{match[1] or ''}"
        return names[name]

    for node in graph.node:
        node.name = rename(node.name)
        node.input[:] = [rename(n) for n in node.input]
        node.output[:] = [rename(n) for n in node.output]
    for item in (*graph.initializer, *graph.value_info, *graph.input, *graph.output):
        item.name = rename(item.name)
    for item in (*graph.input, *graph.output, *graph.value_info):  # unknown dimensions: `unk__<counter>`
        for dim in item.type.tensor_type.shape.dim:
            if dim.HasField("dim_param"):
                dim.dim_param = rename(dim.dim_param)
    ordered = sorted(graph.initializer, key=lambda t: t.name)
    graph.ClearField("initializer")
    graph.initializer.extend(ordered)


#: onnxruntime graph optimisation levels by name (`OnnxModel(optimization=...)`).
OPTIMIZATION_LEVELS = ("disable", "basic", "extended", "all")


class OnnxModel:
    """An onnxruntime CPU session with a numpy call: `OnnxModel(path, threads=1)(x)`; `optimization` is
    onnxruntime's graph optimisation level (one of `OPTIMIZATION_LEVELS`, default all)."""

    def __init__(self, path: Path, threads: int | None = 1, optimization: str = "all") -> None:
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise CodesignError(f"ONNX model {path} not found; run the training/export step first")
        ort.set_default_logger_severity(3)
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if optimization not in OPTIMIZATION_LEVELS:
            raise CodesignError(f"unknown graph optimisation {optimization!r}; choose one of {', '.join(OPTIMIZATION_LEVELS)}")
        opts.graph_optimization_level = getattr(
            ort.GraphOptimizationLevel, {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC",
                                         "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}[optimization])
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own unrelated types
            raise CodesignError(f"cannot load ONNX model {path}: {' '.join(str(err).split())[:200]}") from err
        self.input = self.session.get_inputs()[0].name

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input: np.ascontiguousarray(x, np.float32)})[0]
