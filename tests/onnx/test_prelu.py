"""`fuse_prelu`: tf2onnx's element-wise PReLU pieces become one `PRelu` node with identical outputs."""

from __future__ import annotations

import numpy as np
import pytest


def _model(conv: bool):
    """A PReLU with per-element slopes after a convolution (NCHW in ONNX: a Transpose pair around the Mul) or
    after a dense layer (no transpose), with slopes of both signs and inputs of both signs."""
    import keras

    rng = np.random.default_rng(4)
    inputs = keras.Input((6, 5, 2) if conv else (7,))
    layer = keras.layers.Conv2D(3, 3, padding="same") if conv else keras.layers.Dense(4)
    prelu = keras.layers.PReLU()
    x = prelu(layer(inputs))
    outputs = keras.layers.Conv2D(2, 1)(x) if conv else keras.layers.Dense(3)(x)
    model = keras.Model(inputs, outputs)
    prelu.set_weights([rng.normal(0, 1, w.shape) for w in prelu.get_weights()])
    return model


@pytest.mark.parametrize("conv", [True, False])
def test_fused_prelu_gives_identical_outputs(tmp_path, conv):
    import onnx
    import onnxruntime as ort
    import tensorflow as tf
    import tf2onnx

    from codesign.onnx.prelu import fuse_prelu

    model = _model(conv)
    spec = (tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32, name="x"),)
    plain, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=17)
    fused = onnx.ModelProto()
    fused.CopyFrom(plain)
    assert fuse_prelu(fused.graph) == 1
    ops = [node.op_type for node in fused.graph.node]
    assert ops.count("PRelu") == 1 and "Neg" not in ops and "Relu" not in ops
    onnx.checker.check_model(fused)

    x = np.random.default_rng(0).normal(0, 2, (64, *model.inputs[0].shape[1:])).astype(np.float32)
    x[0] = 0.0
    outputs = [ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
               for m in (plain, fused)]
    np.testing.assert_array_equal(outputs[0], outputs[1])
    np.testing.assert_allclose(outputs[1], model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


def test_a_graph_without_prelu_is_left_alone(tmp_path):
    import keras
    import onnx
    import tensorflow as tf
    import tf2onnx

    from codesign.onnx.prelu import fuse_prelu

    inputs = keras.Input((5,))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="relu")(inputs))
    proto, _ = tf2onnx.convert.from_keras(model, input_signature=(tf.TensorSpec((None, 5), tf.float32),), opset=17)
    before = proto.SerializeToString()
    assert fuse_prelu(proto.graph) == 0
    assert proto.SerializeToString() == before
    onnx.checker.check_model(proto)
