"""Keras -> ONNX export and onnxruntime inference agree with Keras."""

import numpy as np
import pytest

from codesign.errors import CodesignError


@pytest.mark.parametrize("region", ["EB", "EE+"])
def test_onnx_matches_keras(tmp_path, region):
    from codesign.dqm.data import SHAPES
    from codesign.dqm.model import build_autoencoder
    from codesign.onnx import OnnxModel, export_keras

    model = build_autoencoder(region, filters=(4,), latent=4, seed=3)
    x = np.random.default_rng(0).gamma(2.0, 0.5, (3, *SHAPES[region], 1)).astype(np.float32)
    path = export_keras(model, tmp_path / "m.onnx")
    got = OnnxModel(path, threads=1)(x)
    want = model.predict(x, verbose=0)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_onnx_errors(tmp_path):
    from codesign.onnx import OnnxModel

    with pytest.raises(CodesignError, match="not found"):
        OnnxModel(tmp_path / "missing.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    with pytest.raises(CodesignError, match="cannot load"):
        OnnxModel(tmp_path / "bad.onnx")


def _graph(shared_constant: str, counter: int):
    """Slice + Gather sharing one int64 constant, as tf2onnx leaves it after merging equal constants:
    which name survives depends on the process' hash order, the counters on what was converted before."""
    from onnx import TensorProto, helper, numpy_helper

    axes = numpy_helper.from_array(np.array([1, 2], np.int64), shared_constant)
    starts = numpy_helper.from_array(np.array([1, 1], np.int64), f"const_starts__{counter + 2}")
    nodes = [helper.make_node("Slice", ["x", starts.name, starts.name, shared_constant], ["y"], name="crop"),
             helper.make_node("Shape", ["y"], [f"Shape__{counter + 5}:0"], name=f"Shape__{counter + 5}"),
             helper.make_node("Gather", [f"Shape__{counter + 5}:0", shared_constant], ["z"],
                              name=f"Gather__{counter + 7}")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [f"unk__{counter + 80}", 4, 4])],
                              [helper.make_tensor_value_info("z", TensorProto.INT64, [2])], [axes, starts])
    return graph


def test_canonical_names_do_not_depend_on_which_duplicate_survived():
    from codesign.onnx import canonical_names

    a, b = _graph("Const__16", 16), _graph("const_axes__3", 3)
    canonical_names(a)
    canonical_names(b)
    assert a.SerializeToString() == b.SerializeToString()
    assert [n.name for n in a.node] == ["crop", "Shape__2", "Gather__4"]
    assert [t.name for t in a.initializer] == sorted(t.name for t in a.initializer)
    assert "x" in [i.name for i in a.input] and "z" in [o.name for o in a.output]  # user names kept
